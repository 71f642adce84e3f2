package dev.twofour.cuda;

import java.util.HashMap;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * Status codes to names, per library. The library's own translation (cuGetErrorName,
 * cublasGetStatusName, cusparseLtGetErrorName) is used once the library is loaded; these built-in
 * tables are the fallback (library absent, older library, unknown code) and what CPU tests check.
 */
final class StatusNames {
    private StatusNames() {}

    /** Set by the bindings once the library is loaded; return null when the library does not know the code. */
    static volatile IntFunction<String> driverLookup;
    static volatile IntFunction<String> cublasLookup;
    static volatile IntFunction<String> cusparseLtLookup;

    static final Map<Integer, String> DRIVER = driverTable();
    static final Map<Integer, String> CUBLAS = cublasTable();
    static final Map<Integer, String> CUSPARSE = cusparseTable();

    static String name(CudaException.Library library, int status) {
        IntFunction<String> lookup = switch (library) {
            case DRIVER -> driverLookup;
            case CUBLAS -> cublasLookup;
            case CUSPARSELT -> cusparseLtLookup;
        };
        if (lookup != null) {
            try {
                String n = lookup.apply(status);
                if (n != null && !n.isBlank() && !n.contains("UNRECOGNIZED") && !n.contains("unrecognized")) return n;
            } catch (RuntimeException e) {
                // fall back to the table
            }
        }
        return builtIn(library, status);
    }

    static String builtIn(CudaException.Library library, int status) {
        Map<Integer, String> table = switch (library) {
            case DRIVER -> DRIVER;
            case CUBLAS -> CUBLAS;
            case CUSPARSELT -> CUSPARSE;
        };
        String n = table.get(status);
        return n != null ? n : "UNKNOWN_STATUS_" + status;
    }

    private static void e(Map<Integer, String> m, int code, String name) { m.put(code, name); }

    private static Map<Integer, String> driverTable() {
        Map<Integer, String> m = new HashMap<>();
        // From the CUresult enum of CUDA 13.0's cuda.h.
        e(m, 0, "CUDA_SUCCESS");
        e(m, 1, "CUDA_ERROR_INVALID_VALUE");
        e(m, 2, "CUDA_ERROR_OUT_OF_MEMORY");
        e(m, 3, "CUDA_ERROR_NOT_INITIALIZED");
        e(m, 4, "CUDA_ERROR_DEINITIALIZED");
        e(m, 5, "CUDA_ERROR_PROFILER_DISABLED");
        e(m, 6, "CUDA_ERROR_PROFILER_NOT_INITIALIZED");
        e(m, 7, "CUDA_ERROR_PROFILER_ALREADY_STARTED");
        e(m, 8, "CUDA_ERROR_PROFILER_ALREADY_STOPPED");
        e(m, 34, "CUDA_ERROR_STUB_LIBRARY");
        e(m, 36, "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER");
        e(m, 46, "CUDA_ERROR_DEVICE_UNAVAILABLE");
        e(m, 100, "CUDA_ERROR_NO_DEVICE");
        e(m, 101, "CUDA_ERROR_INVALID_DEVICE");
        e(m, 102, "CUDA_ERROR_DEVICE_NOT_LICENSED");
        e(m, 200, "CUDA_ERROR_INVALID_IMAGE");
        e(m, 201, "CUDA_ERROR_INVALID_CONTEXT");
        e(m, 202, "CUDA_ERROR_CONTEXT_ALREADY_CURRENT");
        e(m, 205, "CUDA_ERROR_MAP_FAILED");
        e(m, 206, "CUDA_ERROR_UNMAP_FAILED");
        e(m, 207, "CUDA_ERROR_ARRAY_IS_MAPPED");
        e(m, 208, "CUDA_ERROR_ALREADY_MAPPED");
        e(m, 209, "CUDA_ERROR_NO_BINARY_FOR_GPU");
        e(m, 210, "CUDA_ERROR_ALREADY_ACQUIRED");
        e(m, 211, "CUDA_ERROR_NOT_MAPPED");
        e(m, 212, "CUDA_ERROR_NOT_MAPPED_AS_ARRAY");
        e(m, 213, "CUDA_ERROR_NOT_MAPPED_AS_POINTER");
        e(m, 214, "CUDA_ERROR_ECC_UNCORRECTABLE");
        e(m, 215, "CUDA_ERROR_UNSUPPORTED_LIMIT");
        e(m, 216, "CUDA_ERROR_CONTEXT_ALREADY_IN_USE");
        e(m, 217, "CUDA_ERROR_PEER_ACCESS_UNSUPPORTED");
        e(m, 218, "CUDA_ERROR_INVALID_PTX");
        e(m, 219, "CUDA_ERROR_INVALID_GRAPHICS_CONTEXT");
        e(m, 220, "CUDA_ERROR_NVLINK_UNCORRECTABLE");
        e(m, 221, "CUDA_ERROR_JIT_COMPILER_NOT_FOUND");
        e(m, 222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION");
        e(m, 223, "CUDA_ERROR_JIT_COMPILATION_DISABLED");
        e(m, 224, "CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY");
        e(m, 225, "CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC");
        e(m, 226, "CUDA_ERROR_CONTAINED");
        e(m, 300, "CUDA_ERROR_INVALID_SOURCE");
        e(m, 301, "CUDA_ERROR_FILE_NOT_FOUND");
        e(m, 302, "CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND");
        e(m, 303, "CUDA_ERROR_SHARED_OBJECT_INIT_FAILED");
        e(m, 304, "CUDA_ERROR_OPERATING_SYSTEM");
        e(m, 400, "CUDA_ERROR_INVALID_HANDLE");
        e(m, 401, "CUDA_ERROR_ILLEGAL_STATE");
        e(m, 402, "CUDA_ERROR_LOSSY_QUERY");
        e(m, 500, "CUDA_ERROR_NOT_FOUND");
        e(m, 600, "CUDA_ERROR_NOT_READY");
        e(m, 700, "CUDA_ERROR_ILLEGAL_ADDRESS");
        e(m, 701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES");
        e(m, 702, "CUDA_ERROR_LAUNCH_TIMEOUT");
        e(m, 703, "CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING");
        e(m, 704, "CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED");
        e(m, 705, "CUDA_ERROR_PEER_ACCESS_NOT_ENABLED");
        e(m, 708, "CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE");
        e(m, 709, "CUDA_ERROR_CONTEXT_IS_DESTROYED");
        e(m, 710, "CUDA_ERROR_ASSERT");
        e(m, 711, "CUDA_ERROR_TOO_MANY_PEERS");
        e(m, 712, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED");
        e(m, 713, "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED");
        e(m, 714, "CUDA_ERROR_HARDWARE_STACK_ERROR");
        e(m, 715, "CUDA_ERROR_ILLEGAL_INSTRUCTION");
        e(m, 716, "CUDA_ERROR_MISALIGNED_ADDRESS");
        e(m, 717, "CUDA_ERROR_INVALID_ADDRESS_SPACE");
        e(m, 718, "CUDA_ERROR_INVALID_PC");
        e(m, 719, "CUDA_ERROR_LAUNCH_FAILED");
        e(m, 720, "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE");
        e(m, 721, "CUDA_ERROR_TENSOR_MEMORY_LEAK");
        e(m, 800, "CUDA_ERROR_NOT_PERMITTED");
        e(m, 801, "CUDA_ERROR_NOT_SUPPORTED");
        e(m, 802, "CUDA_ERROR_SYSTEM_NOT_READY");
        e(m, 803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH");
        e(m, 804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE");
        e(m, 805, "CUDA_ERROR_MPS_CONNECTION_FAILED");
        e(m, 806, "CUDA_ERROR_MPS_RPC_FAILURE");
        e(m, 807, "CUDA_ERROR_MPS_SERVER_NOT_READY");
        e(m, 808, "CUDA_ERROR_MPS_MAX_CLIENTS_REACHED");
        e(m, 809, "CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED");
        e(m, 810, "CUDA_ERROR_MPS_CLIENT_TERMINATED");
        e(m, 811, "CUDA_ERROR_CDP_NOT_SUPPORTED");
        e(m, 812, "CUDA_ERROR_CDP_VERSION_MISMATCH");
        e(m, 900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED");
        e(m, 901, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED");
        e(m, 902, "CUDA_ERROR_STREAM_CAPTURE_MERGE");
        e(m, 903, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED");
        e(m, 904, "CUDA_ERROR_STREAM_CAPTURE_UNJOINED");
        e(m, 905, "CUDA_ERROR_STREAM_CAPTURE_ISOLATION");
        e(m, 906, "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT");
        e(m, 907, "CUDA_ERROR_CAPTURED_EVENT");
        e(m, 908, "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD");
        e(m, 909, "CUDA_ERROR_TIMEOUT");
        e(m, 910, "CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE");
        e(m, 911, "CUDA_ERROR_EXTERNAL_DEVICE");
        e(m, 912, "CUDA_ERROR_INVALID_CLUSTER_SIZE");
        e(m, 913, "CUDA_ERROR_FUNCTION_NOT_LOADED");
        e(m, 914, "CUDA_ERROR_INVALID_RESOURCE_TYPE");
        e(m, 915, "CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION");
        e(m, 916, "CUDA_ERROR_KEY_ROTATION");
        e(m, 999, "CUDA_ERROR_UNKNOWN");
        return Map.copyOf(m);
    }

    private static Map<Integer, String> cublasTable() {
        Map<Integer, String> m = new HashMap<>();
        e(m, 0, "CUBLAS_STATUS_SUCCESS");
        e(m, 1, "CUBLAS_STATUS_NOT_INITIALIZED");
        e(m, 3, "CUBLAS_STATUS_ALLOC_FAILED");
        e(m, 7, "CUBLAS_STATUS_INVALID_VALUE");
        e(m, 8, "CUBLAS_STATUS_ARCH_MISMATCH");
        e(m, 11, "CUBLAS_STATUS_MAPPING_ERROR");
        e(m, 13, "CUBLAS_STATUS_EXECUTION_FAILED");
        e(m, 14, "CUBLAS_STATUS_INTERNAL_ERROR");
        e(m, 15, "CUBLAS_STATUS_NOT_SUPPORTED");
        e(m, 16, "CUBLAS_STATUS_LICENSE_ERROR");
        return Map.copyOf(m);
    }

    /** cuSPARSELt returns cusparseStatus_t, the status enum of cuSPARSE. */
    private static Map<Integer, String> cusparseTable() {
        Map<Integer, String> m = new HashMap<>();
        e(m, 0, "CUSPARSE_STATUS_SUCCESS");
        e(m, 1, "CUSPARSE_STATUS_NOT_INITIALIZED");
        e(m, 2, "CUSPARSE_STATUS_ALLOC_FAILED");
        e(m, 3, "CUSPARSE_STATUS_INVALID_VALUE");
        e(m, 4, "CUSPARSE_STATUS_ARCH_MISMATCH");
        e(m, 5, "CUSPARSE_STATUS_MAPPING_ERROR");
        e(m, 6, "CUSPARSE_STATUS_EXECUTION_FAILED");
        e(m, 7, "CUSPARSE_STATUS_INTERNAL_ERROR");
        e(m, 8, "CUSPARSE_STATUS_MATRIX_TYPE_NOT_SUPPORTED");
        e(m, 9, "CUSPARSE_STATUS_ZERO_PIVOT");
        e(m, 10, "CUSPARSE_STATUS_NOT_SUPPORTED");
        e(m, 11, "CUSPARSE_STATUS_INSUFFICIENT_RESOURCES");
        return Map.copyOf(m);
    }
}
