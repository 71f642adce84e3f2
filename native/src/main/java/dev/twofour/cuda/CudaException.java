package dev.twofour.cuda;

/**
 * A CUDA library call failed, or CUDA is not usable here. The message names the call, the
 * library's name for the status, what was being done and, for common statuses, what to do.
 */
public class CudaException extends RuntimeException {

    /** Which library's status enum {@link #status()} belongs to. */
    public enum Library { DRIVER, CUBLAS, CUSPARSELT }

    private final String call;
    private final Library library;
    private final int status;
    private final String errorName;

    private CudaException(String message, String call, Library library, int status, String errorName) {
        super(message);
        this.call = call;
        this.library = library;
        this.status = status;
        this.errorName = errorName;
    }

    /** CUDA (or one of its libraries) cannot be used here: nothing was called. */
    public static CudaException unavailable(String reason) {
        return new CudaException(reason, null, null, -1, null);
    }

    static CudaException of(Library library, int status, String call, String detail) {
        String name = StatusNames.name(library, status);
        StringBuilder sb = new StringBuilder();
        sb.append(call).append(" failed: ").append(name).append(" (").append(status).append(')');
        if (detail != null && !detail.isBlank()) sb.append(" while ").append(detail);
        String hint = hint(name);
        if (hint != null) sb.append(". ").append(hint);
        return new CudaException(sb.toString(), call, library, status, name);
    }

    static void checkDriver(int status, String call) {
        if (status != 0) throw of(Library.DRIVER, status, call, null);
    }

    static void checkDriver(int status, String call, String detail) {
        if (status != 0) throw of(Library.DRIVER, status, call, detail);
    }

    static void checkCublas(int status, String call, String detail) {
        if (status != 0) throw of(Library.CUBLAS, status, call, detail);
    }

    static void checkCusparseLt(int status, String call, String detail) {
        if (status != 0) throw of(Library.CUSPARSELT, status, call, detail);
    }

    private static String hint(String name) {
        return switch (name) {
            case "CUDA_ERROR_OUT_OF_MEMORY" -> "The GPU has not enough free memory: use a smaller model, batch or context, or free other GPU processes";
            case "CUDA_ERROR_INVALID_CONTEXT" -> "No CUDA context is current on this thread: call CudaContext.setCurrent() on it first";
            case "CUDA_ERROR_NO_DEVICE" -> "No CUDA GPU is visible (check CUDA_VISIBLE_DEVICES and the driver), or use --backend cpu";
            case "CUDA_ERROR_NO_BINARY_FOR_GPU" -> "The kernel image has no code for this GPU's architecture: rebuild the kernels for it";
            case "CUDA_ERROR_INSUFFICIENT_DRIVER", "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER" ->
                    "The NVIDIA driver is older than the CUDA libraries need: update the driver";
            case "CUDA_ERROR_STUB_LIBRARY" -> "A stub libcuda.so was loaded instead of the driver's: remove the stubs folder from TWOFOUR_CUDA_LIB_DIRS/LD_LIBRARY_PATH";
            case "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED" ->
                    "An operation that cannot be captured ran inside a CUDA graph capture";
            case "CUBLAS_STATUS_NOT_INITIALIZED" -> "cuBLAS could not start: check that a CUDA context is current and the GPU has free memory";
            case "CUSPARSE_STATUS_NOT_SUPPORTED" -> "cuSPARSELt does not support this shape, layout or data type on this GPU";
            default -> null;
        };
    }

    /** The library function that failed, e.g. "cuMemAlloc_v2"; null when nothing was called. */
    public String call() { return call; }

    /** The library whose status this is; null when nothing was called. */
    public Library library() { return library; }

    /** The raw status code; -1 when nothing was called. */
    public int status() { return status; }

    /** The library's name for the status, e.g. "CUDA_ERROR_OUT_OF_MEMORY"; null when nothing was called. */
    public String errorName() { return errorName; }
}
