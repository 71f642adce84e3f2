package dev.twofour.pruner;

import dev.twofour.cuda.Cublas;
import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.kernels.Elementwise;
import dev.twofour.kernels.Kernels;
import dev.twofour.kernels.PruneKernels;

import java.lang.foreign.MemorySegment;

/**
 * {@link PruneEngine} on one GPU. W, W₀, H and every iterate stay on the device; the host sees
 * only the result and one scalar (or one per row) per step:
 * <ul>
 *   <li>products with H: cuBLAS GemmEx, fp32 in and out, fp32 compute (no TF32);</li>
 *   <li>the prox of all groups: one thread per group, fp64 math (the algorithm of {@link GroupProx},
 *       line by line), a counter of groups still dense;</li>
 *   <li>refinement: the same per-row masked conjugate gradient as {@link CpuPruneEngine#refine}, each
 *       row's α, β, ‖r‖² computed by one block per row after the one GEMM of the step;</li>
 *   <li>λmax(H): power iteration with GEMV + fp64 dot products (tolerance 1e-6, fp32 products);</li>
 *   <li>magnitude and Wanda masks: one thread per group; SparseGPT: the factor of H⁻¹ by
 *       {@link GpuCholesky} (blocked, GEMMs; cached per Hessian so q/k/v and gate/up factor once), the
 *       sweep of each column block by one thread per row, the lazy update right of the block by one GEMM;</li>
 *   <li>H itself ({@link #newHessian}): XᵀX accumulated by cuBLAS, fp32.</li>
 * </ul>
 * All work is on the legacy default stream, so the synchronous copies order themselves with it.
 * Not thread-safe; one engine per thread. Closing frees the cached device copies.
 */
public final class CudaPruneEngine implements PruneEngine, AutoCloseable {
    /** GroupProx tolerance of the dense candidate's descent, as {@link CpuPruneEngine} uses. */
    private static final int POWER_ITERATIONS = 500;
    private static final double POWER_TOLERANCE = 1e-6;

    private final CudaContext context;
    private final Kernels kernels;
    private final Cublas cublas;
    private final CudaStream stream = CudaStream.legacyDefault();
    private boolean closed;

    // One-entry caches. Layers that share an input (q/k/v, gate/up) come one after the other, and
    // one layer is scored by several calls (method, losses): each is uploaded or computed once.
    private Hessian uploadedFor;
    private long uploadedTokens;
    private DeviceBuffer uploadedH;
    private Hessian lambdaFor;
    private long lambdaTokens;
    private double lambda;
    private float[] weightFor;
    private DeviceBuffer weightW0;
    private Hessian factorFor;
    private long factorTokens;
    private double factorDamp;
    private DeviceBuffer factorU;
    private boolean[] factorDead;

    /** An engine on {@code context}'s GPU (made current on this thread). */
    public CudaPruneEngine(CudaContext context) {
        this.context = context;
        context.setCurrent();
        this.kernels = Kernels.load(context);
        this.cublas = Cublas.create();
    }

    /** An engine on GPU 0; throws IllegalStateException with the reason when it cannot run here. */
    public static CudaPruneEngine open() {
        String why = unavailableReason();
        if (why != null) throw new IllegalStateException("the CUDA prune engine cannot run here: " + why + "; use --backend cpu");
        return new CudaPruneEngine(CudaContext.primary(0));
    }

    /** Null when a GPU, the CUDA libraries and the kernels are all there; otherwise one line saying what is missing. */
    public static String unavailableReason() {
        if (!Cuda.isAvailable()) return "no GPU: " + Cuda.unavailableReason();
        if (Cuda.deviceCount() == 0) return "no GPU: the CUDA driver reports no device";
        if (!Kernels.available()) return Kernels.unavailableReason();
        return null;
    }

    @Override public String name() { return "cuda"; }

    // ---------------------------------------------------------------- Hessians

    @Override public Hessian newHessian(int k) {
        begin();
        return new CudaHessian(this, k);
    }

    /** H of {@code p} on the device (normalized, fp32 [k][k]); owned by the Hessian or by this engine's cache. */
    private DeviceBuffer deviceHessian(Hessian h) {
        if (h instanceof CudaHessian ch && ch.engine() == this) return ch.device();
        if (uploadedFor == h && uploadedTokens == h.tokens() && uploadedH != null) return uploadedH;
        closeQuietly(uploadedH);
        uploadedH = null;
        uploadedH = upload(h.floatMatrix());
        uploadedFor = h;
        uploadedTokens = h.tokens();
        return uploadedH;
    }

    /** W₀ of {@code p} on the device (cached by array identity; the caller must not close it). */
    private DeviceBuffer deviceWeight(LayerProblem p) {
        if (weightFor == p.weight() && weightW0 != null) return weightW0;
        closeQuietly(weightW0);
        weightW0 = null;
        weightW0 = upload(p.weight());
        weightFor = p.weight();
        return weightW0;
    }

    /** λmax(H) by power iteration on the device, padded by 1 % like {@link Dense#lambdaMax}. */
    double lambdaMax(Hessian h) {
        if (lambdaFor == h && lambdaTokens == h.tokens()) return lambda;
        DeviceBuffer hd = deviceHessian(h);
        int k = h.size();
        float[] start = new float[k];
        for (int i = 0; i < k; i++) start[i] = (float) (1.0 + 0.37 * Math.sin(1.7 * i + 0.3));
        double result = 0;
        try (DeviceBuffer v0 = upload(start); DeviceBuffer w0 = DeviceBuffer.allocate(4L * k);
             DeviceBuffer dot = DeviceBuffer.allocate(8)) {
            DeviceBuffer v = v0, w = w0;
            double[] host = new double[1];
            for (int it = 0; it < POWER_ITERATIONS; it++) {
                PruneKernels.rowDot(kernels, stream, v, v, dot, 1, k);
                dot.copyTo(MemorySegment.ofArray(host));
                double norm = Math.sqrt(host[0]);
                if (norm == 0) { result = 0; break; }
                PruneKernels.scale(kernels, stream, v, v, k, (float) (1 / norm));
                cublas.matmul(v.address(), hd.address(), w.address(), 1, k, k, CudaDtype.F32, CudaDtype.F32);
                PruneKernels.rowDot(kernels, stream, v, w, dot, 1, k);
                dot.copyTo(MemorySegment.ofArray(host));
                double next = host[0]; // Rayleigh quotient
                DeviceBuffer tmp = v; v = w; w = tmp;
                if (it > 10 && Math.abs(next - result) <= POWER_TOLERANCE * Math.abs(next)) { result = next; break; }
                result = next;
            }
        }
        lambdaFor = h;
        lambdaTokens = h.tokens();
        lambda = result * 1.01;
        return lambda;
    }

    // ---------------------------------------------------------------- prox

    @Override
    public ProxOutcome prox(LayerProblem p, ProxSchedule schedule) {
        begin();
        int n = p.rows(), k = p.cols();
        long count = (long) n * k, groups = count / 4;
        double rms = CpuPruneEngine.rms(p.weight());
        if (rms == 0) return new ProxOutcome(p.weight().clone(), 0, true, 0);
        DeviceBuffer h = deviceHessian(p.hessian());
        double lipschitz = 2 * lambdaMax(p.hessian());
        float step = lipschitz > 0 ? (float) (1 / lipschitz) : 0f;
        DeviceBuffer w0 = deviceWeight(p);
        try (DeviceBuffer w = DeviceBuffer.allocate(4 * count); DeviceBuffer diff = DeviceBuffer.allocate(4 * count);
             DeviceBuffer grad = DeviceBuffer.allocate(4 * count); DeviceBuffer counter = DeviceBuffer.allocate(4)) {
            w.copyFrom(w0);
            int[] dense = new int[1];
            double tau = schedule.tau0();
            int it = 0;
            boolean converged = false;
            while (it < schedule.maxIterations()) {
                it++;
                // Gradient step on f: W ← W − (1/L)·2(W − W₀)H (zero at the first step, where W = W₀).
                if (it > 1) {
                    PruneKernels.sub(kernels, stream, w, w0, diff, count);
                    cublas.matmul(diff.address(), h.address(), grad.address(), n, k, k, CudaDtype.F32, CudaDtype.F32);
                    Elementwise.axpby(kernels, stream, CudaDtype.F32, grad, w, count, -2 * step, 1f);
                }
                // Prox of (λ/L)·R on every group.
                counter.fill32(0);
                PruneKernels.prox(kernels, stream, w, groups, tau / rms, CpuPruneEngine.PROX_TOLERANCE, counter);
                counter.copyTo(MemorySegment.ofArray(dense));
                if (dense[0] == 0) { converged = true; break; }
                tau *= schedule.growth();
            }
            // The mask: top two |w| of the iterate; emptied groups fall back to |W₀| (as the CPU engine).
            PruneKernels.keepTopTwo(kernels, stream, w, w0, null, n, k, PruneKernels.Score.PROX);
            return new ProxOutcome(download(w, count), it, converged, tau);
        }
    }

    // ---------------------------------------------------------------- refine

    /** The masked conjugate gradient of {@link CpuPruneEngine#refine}, every row at once, on the device. */
    @Override
    public float[] refine(LayerProblem p, float[] pruned, int maxIterations) {
        begin();
        int n = p.rows(), k = p.cols();
        long count = (long) n * k;
        if (pruned.length != count) throw new IllegalArgumentException(p.name() + ": refine got " + pruned.length + " weights, expected " + count);
        DeviceBuffer h = deviceHessian(p.hessian());
        DeviceBuffer w0 = deviceWeight(p);
        try (DeviceBuffer v = upload(pruned); DeviceBuffer keep = DeviceBuffer.allocate(count);
             DeviceBuffer res = DeviceBuffer.allocate(4 * count); DeviceBuffer dir = DeviceBuffer.allocate(4 * count);
             DeviceBuffer hd = DeviceBuffer.allocate(4 * count); DeviceBuffer rr = DeviceBuffer.allocate(8L * n)) {
            PruneKernels.support(kernels, stream, v, w0, keep, count);
            // Residual = −gradient/2 on the mask: ((w₀ − v)H) ⊙ keep.
            PruneKernels.sub(kernels, stream, w0, v, hd, count);
            cublas.matmul(hd.address(), h.address(), res.address(), n, k, k, CudaDtype.F32, CudaDtype.F32);
            PruneKernels.mask(kernels, stream, res, keep, count);
            dir.copyFrom(res);
            PruneKernels.rowDot(kernels, stream, res, res, rr, n, k);
            double[] rrHost = new double[n];
            rr.copyTo(MemorySegment.ofArray(rrHost));
            double rr0max = max(rrHost);
            if (rr0max == 0) return pruned.clone();
            for (int it = 0; it < maxIterations; it++) {
                cublas.matmul(dir.address(), h.address(), hd.address(), n, k, k, CudaDtype.F32, CudaDtype.F32);
                PruneKernels.cgStep(kernels, stream, v, res, dir, hd, keep, rr, n, k);
                rr.copyTo(MemorySegment.ofArray(rrHost));
                if (max(rrHost) <= 1e-12 * rr0max) break;
            }
            return download(v, count);
        }
    }

    // ---------------------------------------------------------------- baselines

    @Override
    public float[] magnitude(LayerProblem p) {
        begin();
        long count = (long) p.rows() * p.cols();
        try (DeviceBuffer w = upload(p.weight())) {
            PruneKernels.keepTopTwo(kernels, stream, w, null, null, p.rows(), p.cols(), PruneKernels.Score.MAGNITUDE);
            return download(w, count);
        }
    }

    @Override
    public float[] wanda(LayerProblem p) {
        begin();
        int k = p.cols();
        long count = (long) p.rows() * k;
        DeviceBuffer h = deviceHessian(p.hessian());
        try (DeviceBuffer w = upload(p.weight()); DeviceBuffer norms = DeviceBuffer.allocate(8L * k)) {
            PruneKernels.diagSqrt(kernels, stream, h, k, norms);
            PruneKernels.keepTopTwo(kernels, stream, w, null, norms, p.rows(), k, PruneKernels.Score.COLUMN_SCALED);
            return download(w, count);
        }
    }

    /**
     * SparseGPT with the sweep on the GPU. The factor U of the dampened H⁻¹ comes from
     * {@link GpuCholesky} (fp32, blocked, cached for the layers sharing H; the fp64 CPU factor if fp32
     * loses positive definiteness); blocks wider than {@link PruneKernels#SPARSEGPT_MAX_BLOCK} run the
     * CPU implementation.
     */
    @Override
    public float[] sparseGpt(LayerProblem p, int blockSize, double dampening) {
        begin();
        if (blockSize <= 0 || blockSize % 4 != 0) throw new IllegalArgumentException("SparseGPT block size must be a positive multiple of 4, got " + blockSize);
        if (blockSize > PruneKernels.SPARSEGPT_MAX_BLOCK) return Baselines.sparseGpt(p, blockSize, dampening);
        int n = p.rows(), k = p.cols();
        long count = (long) n * k;
        DeviceBuffer u = sparseGptFactor(p.hessian(), dampening);
        float[] w = p.weight().clone();
        for (int i = 0; i < w.length; i++) if (factorDead[i % k]) w[i] = 0f;
        try (DeviceBuffer wd = upload(w); DeviceBuffer err = DeviceBuffer.allocate(4L * n * blockSize)) {
            for (int b0 = 0; b0 < k; b0 += blockSize) {
                int b1 = Math.min(k, b0 + blockSize), bw = b1 - b0;
                PruneKernels.sparseGptBlock(kernels, stream, wd, u, err, n, k, b0, bw);
                if (b1 < k) {
                    // Row-major W[:, b1:] −= Err[n][bw] · U[b0:b1, b1:] as the column-major Wᵀ −= Uᵀ·Errᵀ.
                    cublas.gemmEx(Cublas.Op.N, Cublas.Op.N, k - b1, n, bw,
                            -1f, u.address() + 4L * ((long) b0 * k + b1), CudaDtype.F32, k,
                            err.address(), CudaDtype.F32, bw,
                            1f, wd.address() + 4L * b1, CudaDtype.F32, k);
                }
            }
            return download(wd, count);
        }
    }

    /** Seconds spent on the factor of H⁻¹ (host preparation + GPU factorization) in the last {@link #sparseGpt} (0 when cached). */
    double lastFactorSeconds() { return lastFactorSeconds; }

    private double lastFactorSeconds;

    private DeviceBuffer sparseGptFactor(Hessian h, double dampening) {
        if (factorFor == h && factorTokens == h.tokens() && factorDamp == dampening && factorU != null) {
            lastFactorSeconds = 0;
            return factorU;
        }
        long t0 = System.nanoTime();
        closeQuietly(factorU);
        factorU = null;
        int k = h.size();
        boolean[] dead = new boolean[k];
        double[] damped = Baselines.dampenedHessian(h, dampening, dead);
        float[] hf = new float[damped.length];
        for (int i = 0; i < hf.length; i++) hf[i] = (float) damped[i];
        try {
            factorU = GpuCholesky.upperFactorOfInverse(kernels, cublas, stream, hf, k);
        } catch (ArithmeticException notPositiveInFp32) {
            // fp32 lost positive definiteness (a nearly singular H): the fp64 CPU factor may still succeed.
            double[] u = Cholesky.upperFactorOfInverse(damped, k);
            float[] uf = new float[u.length];
            for (int i = 0; i < u.length; i++) uf[i] = (float) u[i];
            factorU = upload(uf);
        }
        factorDead = dead;
        factorFor = h;
        factorTokens = h.tokens();
        factorDamp = dampening;
        lastFactorSeconds = (System.nanoTime() - t0) / 1e9;
        return factorU;
    }

    // ---------------------------------------------------------------- losses

    @Override
    public double loss(LayerProblem p, float[] pruned) {
        begin();
        long count = (long) p.rows() * p.cols();
        if (pruned.length != count) throw new IllegalArgumentException(p.name() + ": loss got " + pruned.length + " weights, expected " + count);
        try (DeviceBuffer d = upload(pruned)) {
            PruneKernels.sub(kernels, stream, d, deviceWeight(p), d, count);
            return quadratic(d, p);
        }
    }

    @Override
    public double outputEnergy(LayerProblem p) {
        begin();
        return quadratic(deviceWeight(p), p);
    }

    /** tr(D H Dᵀ) for D [rows][cols] on the device: one GEMM and fp64 row sums. */
    private double quadratic(DeviceBuffer d, LayerProblem p) {
        int n = p.rows(), k = p.cols();
        DeviceBuffer h = deviceHessian(p.hessian());
        try (DeviceBuffer dh = DeviceBuffer.allocate(4L * n * k); DeviceBuffer rows = DeviceBuffer.allocate(8L * n)) {
            cublas.matmul(d.address(), h.address(), dh.address(), n, k, k, CudaDtype.F32, CudaDtype.F32);
            PruneKernels.rowDot(kernels, stream, d, dh, rows, n, k);
            double[] r = new double[n];
            rows.copyTo(MemorySegment.ofArray(r));
            double s = 0;
            for (double x : r) s += x;
            return s;
        }
    }

    // ---------------------------------------------------------------- plumbing

    Kernels kernels() { return kernels; }

    Cublas cublas() { return cublas; }

    CudaStream stream() { return stream; }

    /** Every entry point: refuses a closed engine and makes the context current on this thread. */
    void begin() {
        if (closed) throw new IllegalStateException("the CUDA prune engine is closed");
        context.setCurrent();
    }

    static DeviceBuffer upload(float[] a) {
        return DeviceBuffer.of(MemorySegment.ofArray(a));
    }

    static float[] download(DeviceBuffer b, long count) {
        float[] out = new float[Math.toIntExact(count)];
        b.copyTo(MemorySegment.ofArray(out));
        return out;
    }

    private static double max(double[] a) {
        double m = 0;
        for (double x : a) m = Math.max(m, x);
        return m;
    }

    private static void closeQuietly(DeviceBuffer b) {
        if (b != null) b.close();
    }

    /** Frees the cached device copies and the cuBLAS handle. Closing twice is harmless. */
    @Override public void close() {
        if (closed) return;
        closed = true;
        context.setCurrent();
        closeQuietly(uploadedH);
        closeQuietly(weightW0);
        closeQuietly(factorU);
        uploadedH = weightW0 = factorU = null;
        uploadedFor = lambdaFor = factorFor = null;
        weightFor = null;
        cublas.close();
    }
}
