package dev.twofour.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static dev.twofour.cuda.CudaException.checkDriver;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The CUDA driver API (libcuda.so.1) through FFM. Handles (CUcontext, CUstream, CUevent, CUmodule,
 * CUfunction, CUgraph, CUgraphExec) and device pointers travel as {@code long}: on x86-64 and
 * aarch64 a pointer and a 64-bit integer are passed the same way. Symbol names are the ones the
 * CUDA 13 header maps the API names to (the _v2 variants).
 *
 * <p>Only reached after {@link Cuda#requireAvailable()} succeeded, so the library is loadable.
 */
final class Driver {
    private Driver() {}

    private static final String LIB = "libcuda.so.1";
    private static final SymbolLookup L = NativeSupport.load(CudaLibraries.Kind.DRIVER);

    private static MethodHandle h(FunctionDescriptor fd, String... names) {
        return NativeSupport.bind(L, LIB, fd, names);
    }

    private static FunctionDescriptor fn(java.lang.foreign.MemoryLayout... args) {
        return FunctionDescriptor.of(JAVA_INT, args);
    }

    private static final MethodHandle cuGetErrorName = h(fn(JAVA_INT, ADDRESS), "cuGetErrorName");
    private static final MethodHandle cuGetErrorString = h(fn(JAVA_INT, ADDRESS), "cuGetErrorString");
    private static final MethodHandle cuInit = h(fn(JAVA_INT), "cuInit");
    private static final MethodHandle cuDriverGetVersion = h(fn(ADDRESS), "cuDriverGetVersion");
    private static final MethodHandle cuDeviceGetCount = h(fn(ADDRESS), "cuDeviceGetCount");
    private static final MethodHandle cuDeviceGet = h(fn(ADDRESS, JAVA_INT), "cuDeviceGet");
    private static final MethodHandle cuDeviceGetName = h(fn(ADDRESS, JAVA_INT, JAVA_INT), "cuDeviceGetName");
    private static final MethodHandle cuDeviceGetUuid = h(fn(ADDRESS, JAVA_INT), "cuDeviceGetUuid_v2", "cuDeviceGetUuid");
    private static final MethodHandle cuDeviceTotalMem = h(fn(ADDRESS, JAVA_INT), "cuDeviceTotalMem_v2");
    private static final MethodHandle cuDeviceGetAttribute = h(fn(ADDRESS, JAVA_INT, JAVA_INT), "cuDeviceGetAttribute");
    private static final MethodHandle cuDevicePrimaryCtxRetain = h(fn(ADDRESS, JAVA_INT), "cuDevicePrimaryCtxRetain");
    private static final MethodHandle cuDevicePrimaryCtxRelease = h(fn(JAVA_INT), "cuDevicePrimaryCtxRelease_v2");
    private static final MethodHandle cuCtxSetCurrent = h(fn(JAVA_LONG), "cuCtxSetCurrent");
    private static final MethodHandle cuCtxGetCurrent = h(fn(ADDRESS), "cuCtxGetCurrent");
    private static final MethodHandle cuCtxSynchronize = h(fn(), "cuCtxSynchronize");
    private static final MethodHandle cuMemGetInfo = h(fn(ADDRESS, ADDRESS), "cuMemGetInfo_v2");
    private static final MethodHandle cuMemAlloc = h(fn(ADDRESS, JAVA_LONG), "cuMemAlloc_v2");
    private static final MethodHandle cuMemFree = h(fn(JAVA_LONG), "cuMemFree_v2");
    private static final MethodHandle cuMemsetD8 = h(fn(JAVA_LONG, JAVA_BYTE, JAVA_LONG), "cuMemsetD8_v2");
    private static final MethodHandle cuMemsetD32 = h(fn(JAVA_LONG, JAVA_INT, JAVA_LONG), "cuMemsetD32_v2");
    private static final MethodHandle cuMemsetD8Async = h(fn(JAVA_LONG, JAVA_BYTE, JAVA_LONG, JAVA_LONG), "cuMemsetD8Async");
    private static final MethodHandle cuMemsetD32Async = h(fn(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG), "cuMemsetD32Async");
    private static final MethodHandle cuMemcpyHtoD = h(fn(JAVA_LONG, ADDRESS, JAVA_LONG), "cuMemcpyHtoD_v2");
    private static final MethodHandle cuMemcpyDtoH = h(fn(ADDRESS, JAVA_LONG, JAVA_LONG), "cuMemcpyDtoH_v2");
    private static final MethodHandle cuMemcpyDtoD = h(fn(JAVA_LONG, JAVA_LONG, JAVA_LONG), "cuMemcpyDtoD_v2");
    private static final MethodHandle cuMemcpyHtoDAsync = h(fn(JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG), "cuMemcpyHtoDAsync_v2");
    private static final MethodHandle cuMemcpyDtoHAsync = h(fn(ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG), "cuMemcpyDtoHAsync_v2");
    private static final MethodHandle cuMemcpyDtoDAsync = h(fn(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), "cuMemcpyDtoDAsync_v2");
    private static final MethodHandle cuMemHostAlloc = h(fn(ADDRESS, JAVA_LONG, JAVA_INT), "cuMemHostAlloc");
    private static final MethodHandle cuMemFreeHost = h(fn(JAVA_LONG), "cuMemFreeHost");
    private static final MethodHandle cuStreamCreate = h(fn(ADDRESS, JAVA_INT), "cuStreamCreate");
    private static final MethodHandle cuStreamDestroy = h(fn(JAVA_LONG), "cuStreamDestroy_v2");
    private static final MethodHandle cuStreamSynchronize = h(fn(JAVA_LONG), "cuStreamSynchronize");
    private static final MethodHandle cuStreamWaitEvent = h(fn(JAVA_LONG, JAVA_LONG, JAVA_INT), "cuStreamWaitEvent");
    private static final MethodHandle cuEventCreate = h(fn(ADDRESS, JAVA_INT), "cuEventCreate");
    private static final MethodHandle cuEventRecord = h(fn(JAVA_LONG, JAVA_LONG), "cuEventRecord");
    private static final MethodHandle cuEventSynchronize = h(fn(JAVA_LONG), "cuEventSynchronize");
    private static final MethodHandle cuEventElapsedTime = h(fn(ADDRESS, JAVA_LONG, JAVA_LONG), "cuEventElapsedTime_v2", "cuEventElapsedTime");
    private static final MethodHandle cuEventDestroy = h(fn(JAVA_LONG), "cuEventDestroy_v2");
    private static final MethodHandle cuModuleLoadData = h(fn(ADDRESS, ADDRESS), "cuModuleLoadData");
    private static final MethodHandle cuModuleUnload = h(fn(JAVA_LONG), "cuModuleUnload");
    private static final MethodHandle cuModuleGetFunction = h(fn(ADDRESS, JAVA_LONG, ADDRESS), "cuModuleGetFunction");
    private static final MethodHandle cuLaunchKernel = h(fn(JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
            JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS), "cuLaunchKernel");
    /** Absent before CUDA 11.8 drivers: then {@link #launchKernelEx} is never reached (see {@link #hasLaunchKernelEx}). */
    private static final MethodHandle cuLaunchKernelEx = NativeSupport.bindOptional(L, fn(ADDRESS, JAVA_LONG, ADDRESS, ADDRESS), "cuLaunchKernelEx");
    private static final MethodHandle cuFuncSetAttribute = h(fn(JAVA_LONG, JAVA_INT, JAVA_INT), "cuFuncSetAttribute");
    private static final MethodHandle cuFuncGetAttribute = h(fn(ADDRESS, JAVA_INT, JAVA_LONG), "cuFuncGetAttribute");
    private static final MethodHandle cuStreamBeginCapture = h(fn(JAVA_LONG, JAVA_INT), "cuStreamBeginCapture_v2");
    private static final MethodHandle cuStreamEndCapture = h(fn(JAVA_LONG, ADDRESS), "cuStreamEndCapture");
    private static final MethodHandle cuGraphInstantiate = h(fn(ADDRESS, JAVA_LONG, JAVA_LONG), "cuGraphInstantiateWithFlags");
    private static final MethodHandle cuGraphLaunch = h(fn(JAVA_LONG, JAVA_LONG), "cuGraphLaunch");
    private static final MethodHandle cuGraphExecDestroy = h(fn(JAVA_LONG), "cuGraphExecDestroy");
    private static final MethodHandle cuGraphDestroy = h(fn(JAVA_LONG), "cuGraphDestroy");

    static {
        StatusNames.driverLookup = Driver::errorName;
    }

    // --- errors and init ---------------------------------------------------------------------------

    static String errorName(int status) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int rc = (int) cuGetErrorName.invokeExact(status, p);
            return rc == 0 ? NativeSupport.cString(p.get(ADDRESS, 0)) : null;
        } catch (Throwable t) {
            return null;
        }
    }

    static String errorString(int status) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int rc = (int) cuGetErrorString.invokeExact(status, p);
            return rc == 0 ? NativeSupport.cString(p.get(ADDRESS, 0)) : null;
        } catch (Throwable t) {
            return null;
        }
    }

    /** cuInit's raw status (0 = ok), so that Cuda can turn a failure into a reason line. */
    static int init() {
        try {
            return (int) cuInit.invokeExact(0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static int driverVersion() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            checkDriver((int) cuDriverGetVersion.invokeExact(out), "cuDriverGetVersion");
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    /** Raw status of cuDeviceGetCount, with the count in out[0]. */
    static int deviceCount(int[] out) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            int rc = (int) cuDeviceGetCount.invokeExact(p);
            out[0] = p.get(JAVA_INT, 0);
            return rc;
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    // --- devices ----------------------------------------------------------------------------------

    static int deviceGet(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            checkDriver((int) cuDeviceGet.invokeExact(p, ordinal), "cuDeviceGet", "getting device " + ordinal);
            return p.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static String deviceName(int dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(256);
            checkDriver((int) cuDeviceGetName.invokeExact(p, 256, dev), "cuDeviceGetName");
            return p.getString(0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static byte[] deviceUuid(int dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(16);
            checkDriver((int) cuDeviceGetUuid.invokeExact(p, dev), "cuDeviceGetUuid_v2");
            return p.toArray(JAVA_BYTE);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static long deviceTotalMem(int dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            checkDriver((int) cuDeviceTotalMem.invokeExact(p, dev), "cuDeviceTotalMem_v2");
            return p.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static int deviceAttribute(int attribute, int dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            checkDriver((int) cuDeviceGetAttribute.invokeExact(p, attribute, dev), "cuDeviceGetAttribute",
                    "reading attribute " + attribute);
            return p.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    // --- contexts ---------------------------------------------------------------------------------

    static long primaryCtxRetain(int dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            checkDriver((int) cuDevicePrimaryCtxRetain.invokeExact(p, dev), "cuDevicePrimaryCtxRetain");
            return p.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void primaryCtxRelease(int dev) {
        try {
            checkDriver((int) cuDevicePrimaryCtxRelease.invokeExact(dev), "cuDevicePrimaryCtxRelease_v2");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void ctxSetCurrent(long ctx) {
        try {
            checkDriver((int) cuCtxSetCurrent.invokeExact(ctx), "cuCtxSetCurrent");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static long ctxGetCurrent() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            checkDriver((int) cuCtxGetCurrent.invokeExact(p), "cuCtxGetCurrent");
            return p.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void ctxSynchronize() {
        try {
            checkDriver((int) cuCtxSynchronize.invokeExact(), "cuCtxSynchronize");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    /** {free, total} bytes of the current context's device. */
    static long[] memGetInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(JAVA_LONG);
            MemorySegment tot = a.allocate(JAVA_LONG);
            checkDriver((int) cuMemGetInfo.invokeExact(f, tot), "cuMemGetInfo_v2");
            return new long[]{f.get(JAVA_LONG, 0), tot.get(JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    // --- memory -----------------------------------------------------------------------------------

    static long memAlloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            checkDriver((int) cuMemAlloc.invokeExact(p, bytes), "cuMemAlloc_v2", "allocating " + bytes + " bytes");
            return p.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void memFree(long ptr) {
        try {
            checkDriver((int) cuMemFree.invokeExact(ptr), "cuMemFree_v2");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void memsetD8(long dst, byte value, long count, long stream, boolean async) {
        try {
            int rc = async ? (int) cuMemsetD8Async.invokeExact(dst, value, count, stream)
                    : (int) cuMemsetD8.invokeExact(dst, value, count);
            checkDriver(rc, async ? "cuMemsetD8Async" : "cuMemsetD8_v2");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void memsetD32(long dst, int value, long count, long stream, boolean async) {
        try {
            int rc = async ? (int) cuMemsetD32Async.invokeExact(dst, value, count, stream)
                    : (int) cuMemsetD32.invokeExact(dst, value, count);
            checkDriver(rc, async ? "cuMemsetD32Async" : "cuMemsetD32_v2");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void memcpyHtoD(long dst, MemorySegment src, long bytes, long stream, boolean async) {
        try {
            int rc = async ? (int) cuMemcpyHtoDAsync.invokeExact(dst, src, bytes, stream)
                    : (int) cuMemcpyHtoD.invokeExact(dst, src, bytes);
            checkDriver(rc, async ? "cuMemcpyHtoDAsync_v2" : "cuMemcpyHtoD_v2", "copying " + bytes + " bytes to the GPU");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void memcpyDtoH(MemorySegment dst, long src, long bytes, long stream, boolean async) {
        try {
            int rc = async ? (int) cuMemcpyDtoHAsync.invokeExact(dst, src, bytes, stream)
                    : (int) cuMemcpyDtoH.invokeExact(dst, src, bytes);
            checkDriver(rc, async ? "cuMemcpyDtoHAsync_v2" : "cuMemcpyDtoH_v2", "copying " + bytes + " bytes from the GPU");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void memcpyDtoD(long dst, long src, long bytes, long stream, boolean async) {
        try {
            int rc = async ? (int) cuMemcpyDtoDAsync.invokeExact(dst, src, bytes, stream)
                    : (int) cuMemcpyDtoD.invokeExact(dst, src, bytes);
            checkDriver(rc, async ? "cuMemcpyDtoDAsync_v2" : "cuMemcpyDtoD_v2", "copying " + bytes + " bytes on the GPU");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static long memHostAlloc(long bytes, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            checkDriver((int) cuMemHostAlloc.invokeExact(p, bytes, flags), "cuMemHostAlloc",
                    "allocating " + bytes + " bytes of pinned host memory");
            return p.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void memFreeHost(long ptr) {
        try {
            checkDriver((int) cuMemFreeHost.invokeExact(ptr), "cuMemFreeHost");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    // --- streams and events -----------------------------------------------------------------------

    static long streamCreate(int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            checkDriver((int) cuStreamCreate.invokeExact(p, flags), "cuStreamCreate");
            return p.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void streamDestroy(long s) {
        try {
            checkDriver((int) cuStreamDestroy.invokeExact(s), "cuStreamDestroy_v2");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void streamSynchronize(long s) {
        try {
            checkDriver((int) cuStreamSynchronize.invokeExact(s), "cuStreamSynchronize");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void streamWaitEvent(long s, long e) {
        try {
            checkDriver((int) cuStreamWaitEvent.invokeExact(s, e, 0), "cuStreamWaitEvent");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static long eventCreate(int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            checkDriver((int) cuEventCreate.invokeExact(p, flags), "cuEventCreate");
            return p.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void eventRecord(long e, long s) {
        try {
            checkDriver((int) cuEventRecord.invokeExact(e, s), "cuEventRecord");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void eventSynchronize(long e) {
        try {
            checkDriver((int) cuEventSynchronize.invokeExact(e), "cuEventSynchronize");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static float eventElapsedTime(long start, long end) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_FLOAT);
            checkDriver((int) cuEventElapsedTime.invokeExact(p, start, end), "cuEventElapsedTime_v2");
            return p.get(JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void eventDestroy(long e) {
        try {
            checkDriver((int) cuEventDestroy.invokeExact(e), "cuEventDestroy_v2");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    // --- modules and launches ---------------------------------------------------------------------

    static long moduleLoadData(MemorySegment image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            checkDriver((int) cuModuleLoadData.invokeExact(p, image), "cuModuleLoadData",
                    "loading a " + (image.byteSize() - 1) + "-byte kernel image");
            return p.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void moduleUnload(long m) {
        try {
            checkDriver((int) cuModuleUnload.invokeExact(m), "cuModuleUnload");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static long moduleGetFunction(long m, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            checkDriver((int) cuModuleGetFunction.invokeExact(p, m, a.allocateFrom(name)), "cuModuleGetFunction",
                    "looking up kernel '" + name + "'");
            return p.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void launchKernel(long f, Dim3 grid, Dim3 block, int sharedBytes, long stream, MemorySegment params,
                             String kernelName) {
        try {
            int rc = (int) cuLaunchKernel.invokeExact(f, grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(),
                    sharedBytes, stream, params, MemorySegment.NULL);
            if (rc != 0) {
                throw CudaException.of(CudaException.Library.DRIVER, rc, "cuLaunchKernel",
                        "launching " + kernelName + " with grid " + grid + ", block " + block + ", " + sharedBytes
                                + " bytes of dynamic shared memory");
            }
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static boolean hasLaunchKernelEx() { return cuLaunchKernelEx != null; }

    // CUlaunchConfig (56 bytes): grid x,y,z, block x,y,z, sharedMemBytes (7 x u32), hStream @32, attrs @40, numAttrs @48.
    // CUlaunchAttribute (72 bytes): id (u32) @0, value (a 64-byte union) @8. Checked against CUDA 13's cuda.h.
    private static final int CONFIG_BYTES = 56, ATTRIBUTE_BYTES = 72;
    private static final int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;
    private static final ThreadLocal<MemorySegment> LAUNCH_CONFIG = ThreadLocal.withInitial(() -> {
        MemorySegment m = Arena.ofAuto().allocate(CONFIG_BYTES + ATTRIBUTE_BYTES, 8);
        m.fill((byte) 0);
        return m;
    });

    /**
     * cuLaunchKernelEx with the programmatic-stream-serialization attribute: the kernel may start while the
     * previous kernel in the stream is still running (once that one's blocks have all executed
     * griddepcontrol.launch_dependents or exited) and must wait with griddepcontrol.wait before it touches
     * memory the previous kernels write or read. In a captured graph this becomes a programmatic edge.
     */
    static void launchKernelProgrammatic(long f, Dim3 grid, Dim3 block, int sharedBytes, long stream,
                                         MemorySegment params, String kernelName) {
        MemorySegment cfg = LAUNCH_CONFIG.get();
        cfg.set(JAVA_INT, 0, grid.x());
        cfg.set(JAVA_INT, 4, grid.y());
        cfg.set(JAVA_INT, 8, grid.z());
        cfg.set(JAVA_INT, 12, block.x());
        cfg.set(JAVA_INT, 16, block.y());
        cfg.set(JAVA_INT, 20, block.z());
        cfg.set(JAVA_INT, 24, sharedBytes);
        cfg.set(JAVA_LONG, 32, stream);
        MemorySegment attr = cfg.asSlice(CONFIG_BYTES, ATTRIBUTE_BYTES);
        cfg.set(JAVA_LONG, 40, attr.address());
        cfg.set(JAVA_INT, 48, 1);
        attr.set(JAVA_INT, 0, CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
        attr.set(JAVA_INT, 8, 1);  // programmaticStreamSerializationAllowed
        try {
            int rc = (int) cuLaunchKernelEx.invokeExact(cfg, f, params, MemorySegment.NULL);
            if (rc != 0) {
                throw CudaException.of(CudaException.Library.DRIVER, rc, "cuLaunchKernelEx",
                        "launching " + kernelName + " (programmatic dependent launch) with grid " + grid + ", block "
                                + block + ", " + sharedBytes + " bytes of dynamic shared memory");
            }
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void funcSetAttribute(long f, int attribute, int value) {
        try {
            checkDriver((int) cuFuncSetAttribute.invokeExact(f, attribute, value), "cuFuncSetAttribute",
                    "setting attribute " + attribute + " to " + value);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static int funcGetAttribute(long f, int attribute) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            checkDriver((int) cuFuncGetAttribute.invokeExact(p, attribute, f), "cuFuncGetAttribute");
            return p.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    // --- graphs -----------------------------------------------------------------------------------

    static void streamBeginCapture(long s, int mode) {
        try {
            checkDriver((int) cuStreamBeginCapture.invokeExact(s, mode), "cuStreamBeginCapture_v2");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    /** Raw status of cuStreamEndCapture, with the graph (maybe 0) in out[0]. */
    static int streamEndCapture(long s, long[] out) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            p.set(JAVA_LONG, 0, 0L);
            int rc = (int) cuStreamEndCapture.invokeExact(s, p);
            out[0] = p.get(JAVA_LONG, 0);
            return rc;
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static long graphInstantiate(long graph, long flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            checkDriver((int) cuGraphInstantiate.invokeExact(p, graph, flags), "cuGraphInstantiateWithFlags");
            return p.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void graphLaunch(long exec, long stream) {
        try {
            checkDriver((int) cuGraphLaunch.invokeExact(exec, stream), "cuGraphLaunch");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void graphExecDestroy(long exec) {
        try {
            checkDriver((int) cuGraphExecDestroy.invokeExact(exec), "cuGraphExecDestroy");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    static void graphDestroy(long graph) {
        try {
            checkDriver((int) cuGraphDestroy.invokeExact(graph), "cuGraphDestroy");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }
}
