package dev.twofour.cuda;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * cuSPARSELt (libcusparseLt.so.0) through FFM, signatures of the 0.6-0.8 API. Opaque structs are
 * passed as pointers (ADDRESS) to memory we own; device pointers and streams as long.
 * The *2 variants, the error-name functions and cusparseLtMatmulAlgSelectionDestroy are optional
 * (null when the installed version lacks them).
 */
final class CusparseLtApi {
    private CusparseLtApi() {}

    private static final String LIB = "libcusparseLt.so.0";
    private static final SymbolLookup L = NativeSupport.load(CudaLibraries.Kind.CUSPARSELT);

    private static FunctionDescriptor fn(MemoryLayout... args) { return FunctionDescriptor.of(JAVA_INT, args); }

    private static MethodHandle h(FunctionDescriptor fd, String name) { return NativeSupport.bind(L, LIB, fd, name); }

    private static MethodHandle opt(FunctionDescriptor fd, String name) { return NativeSupport.bindOptional(L, fd, name); }

    static final MethodHandle init = h(fn(ADDRESS), "cusparseLtInit");
    static final MethodHandle destroy = h(fn(ADDRESS), "cusparseLtDestroy");
    static final MethodHandle getVersion = h(fn(ADDRESS, ADDRESS), "cusparseLtGetVersion");
    static final MethodHandle getProperty = h(fn(JAVA_INT, ADDRESS), "cusparseLtGetProperty");
    static final MethodHandle getErrorName = opt(FunctionDescriptor.of(ADDRESS, JAVA_INT), "cusparseLtGetErrorName");
    static final MethodHandle getErrorString = opt(FunctionDescriptor.of(ADDRESS, JAVA_INT), "cusparseLtGetErrorString");

    static final MethodHandle denseDescriptorInit = h(fn(ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT,
            JAVA_INT, JAVA_INT), "cusparseLtDenseDescriptorInit");
    static final MethodHandle structuredDescriptorInit = h(fn(ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT,
            JAVA_INT, JAVA_INT, JAVA_INT), "cusparseLtStructuredDescriptorInit");
    static final MethodHandle matDescriptorDestroy = h(fn(ADDRESS), "cusparseLtMatDescriptorDestroy");

    static final MethodHandle matmulDescriptorInit = h(fn(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS,
            ADDRESS, ADDRESS, JAVA_INT), "cusparseLtMatmulDescriptorInit");

    static final MethodHandle algSelectionInit = h(fn(ADDRESS, ADDRESS, ADDRESS, JAVA_INT), "cusparseLtMatmulAlgSelectionInit");
    static final MethodHandle algSetAttribute = h(fn(ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG), "cusparseLtMatmulAlgSetAttribute");
    static final MethodHandle algGetAttribute = h(fn(ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG), "cusparseLtMatmulAlgGetAttribute");
    static final MethodHandle algSelectionDestroy = opt(fn(ADDRESS), "cusparseLtMatmulAlgSelectionDestroy");

    static final MethodHandle getWorkspace = h(fn(ADDRESS, ADDRESS, ADDRESS), "cusparseLtMatmulGetWorkspace");
    static final MethodHandle planInit = h(fn(ADDRESS, ADDRESS, ADDRESS, ADDRESS), "cusparseLtMatmulPlanInit");
    static final MethodHandle planDestroy = h(fn(ADDRESS), "cusparseLtMatmulPlanDestroy");

    static final MethodHandle matmul = h(fn(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG,
            JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT), "cusparseLtMatmul");
    static final MethodHandle matmulSearch = h(fn(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG,
            JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT), "cusparseLtMatmulSearch");

    static final MethodHandle prune = h(fn(ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG), "cusparseLtSpMMAPrune");
    static final MethodHandle pruneCheck = h(fn(ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG), "cusparseLtSpMMAPruneCheck");
    static final MethodHandle prune2 = opt(fn(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG),
            "cusparseLtSpMMAPrune2");
    static final MethodHandle pruneCheck2 = opt(fn(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            "cusparseLtSpMMAPruneCheck2");

    static final MethodHandle compressedSize = h(fn(ADDRESS, ADDRESS, ADDRESS, ADDRESS), "cusparseLtSpMMACompressedSize");
    static final MethodHandle compress = h(fn(ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), "cusparseLtSpMMACompress");
    static final MethodHandle compressedSize2 = opt(fn(ADDRESS, ADDRESS, ADDRESS, ADDRESS), "cusparseLtSpMMACompressedSize2");
    static final MethodHandle compress2 = opt(fn(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            "cusparseLtSpMMACompress2");

    static {
        if (getErrorName != null) StatusNames.cusparseLtLookup = CusparseLtApi::errorName;
    }

    static String errorName(int status) {
        if (getErrorName == null) return null;
        try {
            return NativeSupport.cString((MemorySegment) getErrorName.invokeExact(status));
        } catch (Throwable t) {
            return null;
        }
    }

    static String errorString(int status) {
        if (getErrorString == null) return null;
        try {
            return NativeSupport.cString((MemorySegment) getErrorString.invokeExact(status));
        } catch (Throwable t) {
            return null;
        }
    }
}
