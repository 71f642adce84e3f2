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
        prepareLaunch(sharedBytes);
        Driver.launchKernel(handle, grid, block, sharedBytes, stream.handle(), args.pointerArray(), name);
    }

    /** Checks a launch's dynamic shared memory and opts the kernel in to it above the current limit. */
    private void prepareLaunch(int sharedBytes) {
        module.checkOpen();
        if (sharedBytes < 0) throw new IllegalArgumentException("negative dynamic shared memory: " + sharedBytes);
        if (sharedBytes > dynamicSharedLimit) setMaxDynamicSharedMemory(sharedBytes);
    }

    /**
     * Enqueues the kernel with programmatic dependent launch (cuLaunchKernelEx, attribute
     * PROGRAMMATIC_STREAM_SERIALIZATION): it may start while the previous kernel in {@code stream} still runs, once
     * that kernel's blocks have all executed {@code griddepcontrol.launch_dependents} (or exited). Only for kernels
     * that execute {@code griddepcontrol.wait} (kernels/src/main/cuda/common.cuh: twofour_pdl_wait) before they
     * read or write any memory another kernel writes or reads; work before the wait may only read data that no
     * kernel in the stream writes (weights). Needs compute capability 9.0 and a driver with cuLaunchKernelEx
     * ({@link Cuda#supportsProgrammaticLaunch()}); the caller checks.
     */
    public void launchProgrammatic(Dim3 grid, Dim3 block, int sharedBytes, CudaStream stream, KernelArgs args) {
        prepareLaunch(sharedBytes);
        Driver.launchKernelProgrammatic(handle, grid, block, sharedBytes, stream.handle(), args.pointerArray(), name);
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
