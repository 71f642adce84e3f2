package dev.twofour.kernels;

import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDevice;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.Dim3;
import dev.twofour.cuda.KernelArgs;
import dev.twofour.cuda.CudaFunction;
import dev.twofour.cuda.CudaModule;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The project's CUDA kernels: one fatbin (sm_80/86/89/90 machine code + compute_90 PTX) built by
 * nvcc during the Maven build and shipped as the classpath resource {@value #FATBIN_RESOURCE}.
 * {@link #load(CudaContext)} loads it once per context; the typed launchers ({@link Fill},
 * {@link Convert}, {@link Elementwise}, {@link Sparse24Gemm}) take the returned object.
 * When the build had no nvcc the resource is absent: {@link #available()} is false and
 * {@link #unavailableReason()} says "built without CUDA kernels".
 */
public final class Kernels implements AutoCloseable {
    public static final String FATBIN_RESOURCE = "dev/twofour/kernels/twofour.fatbin";

    private static volatile byte[] image;
    private static final Map<Long, Kernels> LOADED = new ConcurrentHashMap<>();

    private final CudaContext context;
    private final CudaModule module;
    private final int multiprocessors, sharedPerBlockOptin;
    private final boolean programmaticLaunch;
    private final int gemvPrologue, gemmPrologue;
    private volatile boolean closed;

    private Kernels(CudaContext context, CudaModule module) {
        this.context = context;
        this.module = module;
        this.multiprocessors = context.device().multiprocessorCount();
        this.sharedPerBlockOptin = context.device().attribute(CudaDevice.ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        this.programmaticLaunch = Boolean.parseBoolean(System.getProperty("twofour.cuda.pdl", "true"))
                && context.device().computeCapability().major() >= 9 && Cuda.supportsProgrammaticLaunch();
        boolean early = Boolean.parseBoolean(System.getProperty("twofour.cuda.pdl.earlyRelease", "true"));
        this.gemvPrologue = prologue(early, Integer.getInteger("twofour.cuda.pdl.gemvPrefetch", 0));
        this.gemmPrologue = prologue(early, Integer.getInteger("twofour.cuda.pdl.gemmPrefetch", 1));
    }

    private static int prologue(boolean earlyRelease, int prefetch) {
        if (prefetch < 0 || prefetch > 255) throw new IllegalArgumentException("prefetch steps must be 0..255, got " + prefetch);
        return (earlyRelease ? 1 : 0) | prefetch << 8;
    }

    /** True when this build carries the fatbin (nvcc was found when twofour-kernels was built). */
    public static boolean available() {
        return Kernels.class.getClassLoader().getResource(FATBIN_RESOURCE) != null;
    }

    /** Why {@link #available()} is false, in one line; empty when it is true. */
    public static String unavailableReason() {
        return available() ? "" : "built without CUDA kernels: the resource " + FATBIN_RESOURCE
                + " is missing because nvcc was not found when twofour-kernels was built"
                + " (set CUDA_HOME or put nvcc on the PATH and rebuild)";
    }

    /** The fatbin bytes, read once. */
    public static byte[] fatbin() {
        byte[] img = image;
        if (img != null) return img;
        synchronized (Kernels.class) {
            if (image != null) return image;
            try (InputStream in = Kernels.class.getClassLoader().getResourceAsStream(FATBIN_RESOURCE)) {
                if (in == null) throw new IllegalStateException(unavailableReason());
                image = in.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException("reading the kernel fatbin resource " + FATBIN_RESOURCE, e);
            }
            return image;
        }
    }

    /**
     * The kernels loaded into {@code context} (made current on this thread), loading the fatbin on
     * the first call for that context (cuModuleLoadData); later calls return the same object.
     */
    public static Kernels load(CudaContext context) {
        context.setCurrent();
        Kernels k = LOADED.get(context.handle());
        if (usable(k)) return k;
        synchronized (Kernels.class) {
            k = LOADED.get(context.handle());
            if (usable(k)) return k;
            // A CudaContext that was closed released the primary context, which unloaded the module with it (the
            // same handle may come back for a new CudaContext): load afresh rather than hand out dead kernels.
            if (k != null) LOADED.remove(context.handle(), k);
            k = new Kernels(context, CudaModule.load(fatbin()));
            LOADED.put(context.handle(), k);
            return k;
        }
    }

    private static boolean usable(Kernels k) { return k != null && !k.closed && !k.context.isClosed(); }

    /** The kernel {@code name} (an extern "C" name such as "twofour_fill_f16"). */
    public CudaFunction function(String name) {
        if (closed) throw new IllegalStateException("Kernels of this context were closed; call Kernels.load(context) again");
        return module.function(name);
    }

    public CudaContext context() { return context; }

    /** Streaming multiprocessors of this context's GPU (launchers size their grids by it). */
    public int multiprocessors() { return multiprocessors; }

    /** The most dynamic shared memory one block may opt in to on this GPU (227 KiB on the H100, 163 KiB on the A100). */
    public int sharedPerBlockOptin() { return sharedPerBlockOptin; }

    /**
     * True when {@link #launchDependent} uses programmatic dependent launch: a GPU of compute capability 9.0+
     * (griddepcontrol), a driver with cuLaunchKernelEx, and not switched off with {@code -Dtwofour.cuda.pdl=false}.
     */
    public boolean programmaticLaunch() { return programmaticLaunch; }

    /**
     * Launches a kernel that begins with the programmatic-dependent-launch prologue (common.cuh: twofour_pdl_release
     * then, before any access to memory other kernels touch, twofour_pdl_wait): with {@link #programmaticLaunch()}
     * it may start while the previous kernel finishes, so launch latency and its prologue (weight prefetch) overlap
     * that kernel's tail; otherwise an ordinary launch. Why: a decode step is ~300 launches of which most are short.
     */
    public void launchDependent(CudaFunction f, Dim3 grid, Dim3 block, int sharedBytes, CudaStream stream, KernelArgs args) {
        if (programmaticLaunch) f.launchProgrammatic(grid, block, sharedBytes, stream, args);
        else f.launch(grid, block, sharedBytes, stream, args);
    }

    /**
     * The {@code prologue} argument of the dense GEMV (tf_gemv.cuh): bit 0 = let the next kernel launch as soon as
     * this one starts (else when it exits); bits 8-15 = 512-byte steps of each weight row prefetched to L2 before
     * the inputs are ready. -Dtwofour.cuda.pdl.earlyRelease, -Dtwofour.cuda.pdl.gemvPrefetch.
     */
    public int gemvPrologue() { return gemvPrologue; }

    /**
     * The same for the classic 2:4 GEMM (sparse24_gemm.cuh), prefetch in 256-input superblocks:
     * -Dtwofour.cuda.pdl.gemmPrefetch. The streaming 2:4 kernel reads bit 0 only (its ring is its prefetch; Sparse24Gemm adds bit 1
     * there, -Dtwofour.gemm.streamX=loads).
     */
    public int gemmPrologue() { return gemmPrologue; }

    /** Unloads the module; a later {@link #load} loads it again. Closing twice is harmless. */
    @Override public void close() {
        synchronized (Kernels.class) {
            if (closed) return;
            closed = true;
            LOADED.remove(context.handle(), this);
            module.close();
        }
    }

    /** Grid size for the grid-stride kernels: enough blocks to fill the GPU, never more than the work. */
    int gridFor(long elements, int block) {
        long blocks = Math.max(1, (elements + block - 1) / block);
        return (int) Math.min(blocks, (long) multiprocessors * 16);
    }
}
