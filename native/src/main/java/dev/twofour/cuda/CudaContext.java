package dev.twofour.cuda;

/**
 * The primary context of a GPU (the one the CUDA runtime, cuBLAS and cuSPARSELt also use),
 * retained for as long as this object is open. CUDA calls act on the context current on the
 * calling thread: {@link #primary} makes it current on the creating thread; any other thread
 * that touches GPU objects calls {@link #setCurrent()} first.
 */
public final class CudaContext extends NativeOwner {
    private final CudaDevice device;
    private final long handle;

    /** Free and total device memory in bytes. */
    public record MemoryInfo(long free, long total) {}

    private CudaContext(CudaDevice device, long handle) {
        this.device = device;
        this.handle = handle;
    }

    /** Retains the primary context of GPU {@code ordinal} and makes it current on this thread. */
    public static CudaContext primary(int ordinal) {
        return primary(Cuda.device(ordinal));
    }

    public static CudaContext primary(CudaDevice device) {
        Cuda.requireAvailable();
        long ctx = Driver.primaryCtxRetain(device.handle());
        CudaContext c = new CudaContext(device, ctx);
        try {
            Driver.ctxSetCurrent(ctx);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    /** Makes this context current on the calling thread. */
    public void setCurrent() {
        ensureOpen();
        Driver.ctxSetCurrent(handle);
    }

    /** True when this context is current on the calling thread. */
    public boolean isCurrent() {
        ensureOpen();
        return Driver.ctxGetCurrent() == handle;
    }

    /** Waits for all work of this context; reports errors of earlier asynchronous work. */
    public void synchronize() {
        ensureOpen();
        Driver.ctxSynchronize();
    }

    /** Free and total memory of this context's GPU (this context is made current). */
    public MemoryInfo memoryInfo() {
        setCurrent();
        long[] m = Driver.memGetInfo();
        return new MemoryInfo(m[0], m[1]);
    }

    public CudaDevice device() { return device; }

    /** The CUcontext value. */
    public long handle() {
        ensureOpen();
        return handle;
    }

    @Override protected void release() {
        try {
            if (Driver.ctxGetCurrent() == handle) Driver.ctxSetCurrent(0L);
        } catch (CudaException ignored) {
            // the driver is shutting down; releasing below is all that matters
        }
        try {
            Driver.primaryCtxRelease(device.handle());
        } catch (CudaException e) {
            if (e.status() != 4) throw e; // CUDA_ERROR_DEINITIALIZED: the process is exiting
        }
    }

    @Override protected String describe() { return "CudaContext of GPU " + device.ordinal(); }
}
