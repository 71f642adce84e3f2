package dev.twofour.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Kernels loaded into the current context from an image in memory: a fatbin, a cubin or PTX text
 * (cuModuleLoadData). The image stays in native memory for the module's life.
 */
public final class CudaModule extends NativeOwner {
    private final long handle;
    private final Arena arena;
    private final ConcurrentMap<String, CudaFunction> functions = new ConcurrentHashMap<>();

    private CudaModule(long handle, Arena arena) {
        this.handle = handle;
        this.arena = arena;
    }

    /** Loads a fatbin, cubin or PTX image into the context current on this thread. */
    public static CudaModule load(byte[] image) {
        if (image == null || image.length == 0) throw new IllegalArgumentException("empty kernel image");
        Cuda.requireAvailable();
        Arena arena = Arena.ofShared();
        try {
            // One extra zero byte: PTX must be NUL-terminated; fatbins and cubins ignore it.
            MemorySegment img = arena.allocate(image.length + 1L, 64);
            MemorySegment.copy(image, 0, img, ValueLayout.JAVA_BYTE, 0, image.length);
            img.set(ValueLayout.JAVA_BYTE, image.length, (byte) 0);
            return new CudaModule(Driver.moduleLoadData(img), arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** The kernel of this (extern "C", unmangled) name; looked up once. */
    public CudaFunction function(String name) {
        ensureOpen();
        return functions.computeIfAbsent(name, n -> new CudaFunction(this, Driver.moduleGetFunction(handle, n), n));
    }

    /** The CUmodule value. */
    public long handle() {
        ensureOpen();
        return handle;
    }

    void checkOpen() { ensureOpen(); }

    @Override protected void release() {
        try {
            Driver.moduleUnload(handle);
        } finally {
            arena.close();
        }
    }

    @Override protected String describe() { return "CudaModule"; }
}
