package dev.twofour.cuda;

import java.lang.foreign.MemorySegment;

/** A kernel of a {@link CudaModule}; valid while its module is open. */
public final class CudaFunction {
    /** CUfunction_attribute values (cuda.h). */
    public static final int ATTR_MAX_THREADS_PER_BLOCK = 0;
    public static final int ATTR_SHARED_SIZE_BYTES = 1;
    public static final int ATTR_LOCAL_SIZE_BYTES = 3;
    public static final int ATTR_NUM_REGS = 4;
    public static final int ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

    /** Dynamic shared memory a kernel may use without opting in. */
    public static final int DEFAULT_DYNAMIC_SHARED_LIMIT = 48 * 1024;

    private final CudaModule module;
    private final long handle;
    private final String name;
    private volatile int dynamicSharedLimit = DEFAULT_DYNAMIC_SHARED_LIMIT;

    CudaFunction(CudaModule module, long handle, String name) {
        this.module = module;
        this.handle = handle;
        this.name = name;
    }

    public String name() { return name; }

    /** The CUfunction value. */
    public long handle() {
        module.checkOpen();
        return handle;
    }

    /**
     * Enqueues the kernel on {@code stream}. Above 48 KiB of dynamic shared memory the kernel is
     * opted in first (cuFuncSetAttribute MAX_DYNAMIC_SHARED_SIZE_BYTES), once per size increase.
     */
    public void launch(Dim3 grid, Dim3 block, int sharedBytes, CudaStream stream, KernelArgs args) {
        module.checkOpen();
        if (sharedBytes < 0) throw new IllegalArgumentException("negative dynamic shared memory: " + sharedBytes);
        if (sharedBytes > dynamicSharedLimit) setMaxDynamicSharedMemory(sharedBytes);
        MemorySegment params = args.pointerArray();
        Driver.launchKernel(handle, grid, block, sharedBytes, stream.handle(), params, name);
    }

    /** Allows launches with up to {@code bytes} of dynamic shared memory (needed above 48 KiB). */
    public void setMaxDynamicSharedMemory(int bytes) {
        module.checkOpen();
        Driver.funcSetAttribute(handle, ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
        dynamicSharedLimit = Math.max(bytes, DEFAULT_DYNAMIC_SHARED_LIMIT);
    }

    /** Any CUfunction_attribute value. */
    public int attribute(int cuFunctionAttribute) {
        module.checkOpen();
        return Driver.funcGetAttribute(handle, cuFunctionAttribute);
    }

    public void setAttribute(int cuFunctionAttribute, int value) {
        module.checkOpen();
        Driver.funcSetAttribute(handle, cuFunctionAttribute, value);
        if (cuFunctionAttribute == ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
            dynamicSharedLimit = Math.max(value, DEFAULT_DYNAMIC_SHARED_LIMIT);
        }
    }

    @Override public String toString() { return "kernel " + name; }
}
