package dev.twofour.cuda;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** cuBLAS (libcublas.so.13 or .12) through FFM; names as cublas_api.h maps them (the _v2 variants). */
final class CublasApi {
    private CublasApi() {}

    private static final String LIB = "libcublas";
    private static final SymbolLookup L = NativeSupport.load(CudaLibraries.Kind.CUBLAS);

    private static FunctionDescriptor fn(MemoryLayout... args) { return FunctionDescriptor.of(JAVA_INT, args); }

    private static MethodHandle h(FunctionDescriptor fd, String... names) { return NativeSupport.bind(L, LIB, fd, names); }

    static final MethodHandle cublasCreate = h(fn(ADDRESS), "cublasCreate_v2");
    static final MethodHandle cublasDestroy = h(fn(JAVA_LONG), "cublasDestroy_v2");
    static final MethodHandle cublasSetStream = h(fn(JAVA_LONG, JAVA_LONG), "cublasSetStream_v2");
    static final MethodHandle cublasSetWorkspace = h(fn(JAVA_LONG, JAVA_LONG, JAVA_LONG), "cublasSetWorkspace_v2");
    static final MethodHandle cublasGetVersion = h(fn(JAVA_LONG, ADDRESS), "cublasGetVersion_v2");
    static final MethodHandle cublasGetProperty = h(fn(JAVA_INT, ADDRESS), "cublasGetProperty");
    static final MethodHandle cublasGetStatusName =
            NativeSupport.bindOptional(L, FunctionDescriptor.of(ADDRESS, JAVA_INT), "cublasGetStatusName");
    static final MethodHandle cublasGemmEx = h(fn(JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
            ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT,
            JAVA_LONG, JAVA_INT, JAVA_INT,
            ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT,
            JAVA_INT, JAVA_INT), "cublasGemmEx");
    static final MethodHandle cublasGemmStridedBatchedEx = h(fn(JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
            ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG,
            JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG,
            ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG,
            JAVA_INT, JAVA_INT, JAVA_INT), "cublasGemmStridedBatchedEx");

    static {
        if (cublasGetStatusName != null) StatusNames.cublasLookup = CublasApi::statusName;
    }

    static String statusName(int status) {
        try {
            return NativeSupport.cString((MemorySegment) cublasGetStatusName.invokeExact(status));
        } catch (Throwable t) {
            return null;
        }
    }
}
