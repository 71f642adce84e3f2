package dev.twofour.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

/** Loading the discovered libraries (once per JVM) and binding their symbols to method handles. */
final class NativeSupport {
    private NativeSupport() {}

    static final Linker LINKER = Linker.nativeLinker();

    private static final Map<CudaLibraries.Kind, SymbolLookup> LOADED = new EnumMap<>(CudaLibraries.Kind.class);
    private static final Map<CudaLibraries.Kind, String> FAILED = new EnumMap<>(CudaLibraries.Kind.class);

    /**
     * The library of this kind, loaded from the path discovery found (never by bare name, so
     * what is loaded is what {@code twofour info} reports). Throws CudaException when it is
     * missing or does not load.
     */
    static synchronized SymbolLookup load(CudaLibraries.Kind kind) {
        SymbolLookup lookup = LOADED.get(kind);
        if (lookup != null) return lookup;
        String failure = FAILED.get(kind);
        if (failure != null) throw CudaException.unavailable(failure);
        CudaLibraries libs = CudaLibraries.system();
        Optional<CudaLibraries.Found> found = libs.find(kind);
        if (found.isEmpty()) {
            String msg = kind.displayName() + ": " + libs.describeSearch(kind);
            FAILED.put(kind, msg);
            throw CudaException.unavailable(msg);
        }
        try {
            if (kind == CudaLibraries.Kind.CUBLAS) {
                // Load cuBLASLt first, by path: cuBLAS's dependency on it is then resolved by soname to
                // this already-loaded copy, whatever the loader's own search path says.
                load(CudaLibraries.Kind.CUBLASLT);
            }
            lookup = SymbolLookup.libraryLookup(found.get().path(), Arena.global());
        } catch (CudaException e) {
            String msg = kind.displayName() + " needs " + e.getMessage();
            FAILED.put(kind, msg);
            throw CudaException.unavailable(msg);
        } catch (RuntimeException e) {
            String msg = kind.displayName() + " at " + found.get().path() + " could not be loaded (" + e.getMessage()
                    + "); check that its dependencies are in the same folder or on LD_LIBRARY_PATH";
            FAILED.put(kind, msg);
            throw CudaException.unavailable(msg);
        }
        LOADED.put(kind, lookup);
        return lookup;
    }

    static synchronized boolean isLoaded(CudaLibraries.Kind kind) {
        return LOADED.containsKey(kind);
    }

    /** A handle for the first of the names the library exports (e.g. "cuMemAlloc_v2"); throws when none is. */
    static MethodHandle bind(SymbolLookup lib, String libName, FunctionDescriptor fd, String... names) {
        MethodHandle mh = bindOptional(lib, fd, names);
        if (mh == null) {
            throw CudaException.unavailable(libName + " does not export " + String.join(" or ", names)
                    + ": the library is too old for twofour; install a newer one");
        }
        return mh;
    }

    /** Like {@link #bind} but null when the library exports none of the names. */
    static MethodHandle bindOptional(SymbolLookup lib, FunctionDescriptor fd, String... names) {
        for (String name : names) {
            Optional<MemorySegment> sym = lib.find(name);
            if (sym.isPresent()) return LINKER.downcallHandle(sym.get(), fd);
        }
        return null;
    }

    /** The NUL-terminated string at a native address; null for NULL. */
    static String cString(MemorySegment ptr) {
        if (ptr == null || ptr.address() == 0) return null;
        return ptr.reinterpret(Long.MAX_VALUE).getString(0);
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException("native call failed: " + t, t);
    }
}
