package dev.twofour.cuda;

/**
 * Y[M][N] = X[M][K] · W[N][K]ᵀ with a 2:4 weight through cuSPARSELt, built once per
 * (N, K, M, dtype): descriptors, plan, compressed weight and workspace live as long as this object.
 * fp16 or bf16 operands, fp32 accumulation (CUSPARSE_COMPUTE_32F), output in the input dtype.
 *
 * <h2>Layout mapping</h2>
 * The weight is the structured operand A, so the 2:4 groups run along K, as in our packed format:
 * <ul>
 *   <li>A = W: structured, N×K, row-major, ld = K, op(A) = A (N×K);</li>
 *   <li>B = X: dense, described as the row-major M×K matrix it is (ld = K), op(B) = Bᵀ (K×M);</li>
 *   <li>C = D = Y: dense N×M, column-major, ld = N — the bytes of row-major Y[M][N].</li>
 * </ul>
 * So D = A·op(B) = W·Xᵀ = Yᵀ, stored column-major, which is Y row-major. (The same mapping as
 * PyTorch's semi-structured linear with a transposed result.) All operands 16-byte aligned.
 *
 * <p>Use: {@link #create}, {@link #compress} the dense 2:4 weight once (on the device), then
 * {@link #matmul} as often as needed (capturable into a CUDA graph). {@link #setConfig} picks an
 * algorithm configuration found by tuning; {@link #search} tunes in place (tuning processes only).
 * Both may replace the plan and grow the workspace: capture CUDA graphs that contain this matmul
 * after configuring it, not before. {@link #create(CusparseLt, int, int, int, CudaDtype, Config)} plans a
 * known configuration in one go. Many weights of one shape (the layers of a model) share one plan: each keeps
 * its own {@link #compressedCopy} and runs {@link #matmul(CudaStream, DeviceBuffer, long, long)}.
 */
public final class CusparseLtGemm extends NativeOwner {
    /** The algorithm configuration a plan uses. splitKMode is null when the library reports an unnamed mode. */
    public record Config(int configId, int splitK, CusparseLt.SplitKMode splitKMode) {}

    private static final int ALIGNMENT = 16;

    private final CusparseLt lt;
    private final int n, k, m;
    private final CudaDtype dtype;
    private final CusparseLt.MatDescriptor wDesc;
    private final CusparseLt.MatDescriptor xDesc;
    private final CusparseLt.MatDescriptor yDesc;
    private final CusparseLt.MatmulDescriptor matmul;
    private CusparseLt.AlgSelection selection;
    private CusparseLt.Plan plan;
    private DeviceBuffer workspace;
    private DeviceBuffer compressed;
    /** Bytes of a compressed weight of this shape; -1 until asked. */
    private long compressedSize = -1;

    private CusparseLtGemm(CusparseLt lt, int n, int k, int m, CudaDtype dtype, Config config) {
        this.lt = lt;
        this.n = n;
        this.k = k;
        this.m = m;
        this.dtype = dtype;
        CusparseLt.MatDescriptor w = null, x = null, y = null;
        CusparseLt.MatmulDescriptor mm = null;
        CusparseLt.AlgSelection sel = null;
        try {
            w = lt.structured(n, k, k, ALIGNMENT, dtype, CusparseLt.Order.ROW);
            x = lt.dense(m, k, k, ALIGNMENT, dtype, CusparseLt.Order.ROW);
            y = lt.dense(n, m, n, ALIGNMENT, dtype, CusparseLt.Order.COL);
            mm = lt.matmulDescriptor(CusparseLt.Operation.NON_TRANSPOSE, CusparseLt.Operation.TRANSPOSE, w, x, y, y,
                    CusparseLt.ComputeType.COMPUTE_32F);
            sel = lt.algSelection(mm);
        } catch (RuntimeException e) {
            closeAll(e, sel, mm, y, x, w);
            throw e;
        }
        this.wDesc = w;
        this.xDesc = x;
        this.yDesc = y;
        this.matmul = mm;
        this.selection = sel;
        try {
            if (config != null) {
                // Configured before the first plan: one plan build (create + setConfig builds two).
                applyConfig(sel, sel.configMaxId(), config.configId(), config.splitK(), config.splitKMode());
            }
            planWithSelection();
        } catch (RuntimeException e) {
            closeAll(e, sel, mm, y, x, w);
            throw e;
        }
    }

    /** Builds the plan for this shape with the default algorithm; fp16 or bf16 only. */
    public static CusparseLtGemm create(CusparseLt lt, int n, int k, int m, CudaDtype dtype) {
        return create(lt, n, k, m, dtype, null);
    }

    /**
     * Builds the plan for this shape with configuration {@code config} (null: the library's default), planned
     * once. An id outside [0, configuration count) or a split-K outside [1, K] is an IllegalArgumentException;
     * a configuration the library refuses is a CudaException. Nothing stays allocated on failure.
     */
    public static CusparseLtGemm create(CusparseLt lt, int n, int k, int m, CudaDtype dtype, Config config) {
        if (dtype != CudaDtype.F16 && dtype != CudaDtype.BF16) {
            throw new IllegalArgumentException("CusparseLtGemm needs fp16 or bf16 operands, got " + dtype);
        }
        if (n <= 0 || k <= 0 || m <= 0) {
            throw new IllegalArgumentException("CusparseLtGemm shape must be positive, got N=" + n + " K=" + k + " M=" + m);
        }
        if (!CusparseLt.hasCompress2()) {
            // The plan-free compression keeps the compressed weight valid for every configuration.
            throw CudaException.unavailable("the installed cuSPARSELt has no cusparseLtSpMMACompress2: install 0.6 or newer");
        }
        return new CusparseLtGemm(lt, n, k, m, dtype, config);
    }

    public int n() { return n; }
    public int k() { return k; }
    public int m() { return m; }
    public CudaDtype dtype() { return dtype; }

    /** True when the 2:4 structure of the dense weight W[N][K] at {@code denseW} is valid. Synchronizes the stream. */
    public boolean pruneCheck(long denseW, CudaStream stream) {
        ensureOpen();
        return lt.pruneCheck(matmul, denseW, stream);
    }

    /**
     * Compresses the dense 2:4 weight W[N][K] (row-major, dtype) at {@code denseW} into a buffer
     * this object owns; the dense weight may be freed afterwards. Waits for the stream.
     */
    public void compress(long denseW, CudaStream stream) {
        DeviceBuffer out = compressedCopy(denseW, stream);
        if (compressed != null) compressed.close();
        compressed = out;
    }

    /**
     * Compresses the dense 2:4 weight W[N][K] (row-major, dtype) at {@code denseW} into a new buffer that the
     * caller owns and closes. Plan-free compression: the result does not depend on M or the algorithm
     * configuration, so one compressed weight serves {@link #matmul(CudaStream, DeviceBuffer, long, long)} of
     * every plan with the same N, K and dtype (many layers of one shape can share their plans). Waits for the stream.
     */
    public DeviceBuffer compressedCopy(long denseW, CudaStream stream) {
        ensureOpen();
        CusparseLt.CompressedSize size = lt.compressedSize2(wDesc);
        DeviceBuffer out = DeviceBuffer.allocate(size.compressedBytes());
        DeviceBuffer temp = size.compressBufferBytes() > 0 ? DeviceBuffer.allocate(size.compressBufferBytes()) : null;
        try {
            long tempAddress = temp == null ? 0L : temp.address();
            lt.compress2(wDesc, true, CusparseLt.Operation.NON_TRANSPOSE, denseW, out.address(), tempAddress, stream);
            stream.synchronize();
        } catch (RuntimeException e) {
            out.close();
            throw e;
        } finally {
            if (temp != null) temp.close();
        }
        compressedSize = size.compressedBytes();
        return out;
    }

    /** Bytes of a compressed weight of this shape, from the library (cached). */
    private long compressedSize() {
        if (compressedSize < 0) compressedSize = lt.compressedSize2(wDesc).compressedBytes();
        return compressedSize;
    }

    public boolean isCompressed() {
        return compressed != null && !compressed.isClosed();
    }

    private long compressedAddress() { return compressed.address(); }

    /** Bytes of the compressed weight (0 before {@link #compress}). */
    public long compressedBytes() { return isCompressed() ? compressed.bytes() : 0; }

    /** Workspace bytes of the current plan. */
    public long workspaceBytes() { return workspace == null ? 0 : workspace.bytes(); }

    /** Y[M][N] = X[M][K] · Wᵀ on {@code stream}; x and y are device addresses, 16-byte aligned. */
    public void matmul(CudaStream stream, long x, long y) {
        ensureOpen();
        requireCompressed();
        lt.matmul(plan, 1f, compressedAddress(), x, 0f, y, y, workspaceAddress(), stream);
    }

    /**
     * Y[M][N] = X[M][K] · Wᵀ with this plan on another compressed weight: {@code compressedW} from
     * {@link #compressedCopy} of a CusparseLtGemm with the same N, K and dtype. Capturable.
     */
    public void matmul(CudaStream stream, DeviceBuffer compressedW, long x, long y) {
        ensureOpen();
        if (compressedW.bytes() < compressedSize()) {
            throw new IllegalArgumentException(describe() + ": the compressed weight has " + compressedW.bytes()
                    + " bytes, this shape needs " + compressedSize() + ": pass a buffer made by compressedCopy of the same N, K and dtype");
        }
        lt.matmul(plan, 1f, compressedW.address(), x, 0f, y, y, workspaceAddress(), stream);
    }

    /** The configuration of the current plan. */
    public Config config() {
        ensureOpen();
        return new Config(selection.configId(), selection.splitK(), selection.splitKMode());
    }

    /** How many algorithm configurations this shape has: valid ids are 0 .. configCount()-1. */
    public int configCount() {
        ensureOpen();
        return selection.configMaxId();
    }

    /** The largest valid configuration id, configCount() - 1 (CONFIG_MAX_ID itself is exclusive). */
    public int maxConfigId() {
        return configCount() - 1;
    }

    /**
     * Uses configuration {@code configId} with the given split-K (1 = none) and mode (null: the
     * library's default). An id outside [0, {@link #configCount()}) or a split-K outside [1, K] is an
     * IllegalArgumentException. The new configuration is built on a fresh algorithm selection and
     * plan; only when the library accepts it does it replace the current one, so a refused
     * configuration (CudaException) leaves this object exactly as it was.
     */
    private void checkConfig(int count, int configId, int splitK) {
        if (configId < 0 || configId >= count) {
            throw new IllegalArgumentException(describe() + ": config " + configId + " is outside [0, " + count + ")");
        }
        if (splitK < 1 || splitK > k) {
            throw new IllegalArgumentException(describe() + ": split-K " + splitK + " is outside [1, K=" + k + "]");
        }
    }

    /** Checks a configuration against {@code count} configurations and K, and sets it on {@code sel}. */
    private void applyConfig(CusparseLt.AlgSelection sel, int count, int configId, int splitK, CusparseLt.SplitKMode splitKMode) {
        checkConfig(count, configId, splitK);
        sel.setConfigId(configId);
        sel.setSplitK(splitK);
        if (splitKMode != null) sel.setSplitKMode(splitKMode);
    }

    public void setConfig(int configId, int splitK, CusparseLt.SplitKMode splitKMode) {
        ensureOpen();
        int count = configCount();
        checkConfig(count, configId, splitK);
        CusparseLt.AlgSelection fresh = lt.algSelection(matmul);
        CusparseLt.Plan freshPlan = null;
        try {
            applyConfig(fresh, count, configId, splitK, splitKMode);
            freshPlan = lt.plan(matmul, fresh);
            ensureWorkspace(lt.workspaceSize(freshPlan));
        } catch (RuntimeException e) {
            closeAll(e, freshPlan, fresh);
            throw e;
        }
        CusparseLt.Plan oldPlan = plan;
        CusparseLt.AlgSelection oldSelection = selection;
        plan = freshPlan;
        selection = fresh;
        oldPlan.close();
        oldSelection.close();
    }

    /**
     * Runs cusparseLtMatmulSearch with these operands (y is overwritten) and keeps the fastest
     * configuration; returns it. Only in tuning processes (see {@link CusparseLt}).
     */
    public Config search(CudaStream stream, long x, long y, int iterations) {
        ensureOpen();
        requireCompressed();
        if (iterations > 0) selection.setSearchIterations(iterations);
        lt.search(plan, 1f, compressedAddress(), x, 0f, y, y, workspaceAddress(), stream);
        stream.synchronize();
        // The search leaves its choice in the plan and in its selection (which the plan refers to);
        // a different configuration may need more workspace.
        ensureWorkspace(lt.workspaceSize(plan));
        return config();
    }

    private void planWithSelection() {
        CusparseLt.Plan fresh = lt.plan(matmul, selection);
        try {
            ensureWorkspace(lt.workspaceSize(fresh));
        } catch (RuntimeException e) {
            fresh.close();
            throw e;
        }
        if (plan != null) plan.close();
        plan = fresh;
    }

    private void ensureWorkspace(long bytes) {
        if (bytes > 0 && (workspace == null || workspace.bytes() < bytes)) {
            DeviceBuffer bigger = DeviceBuffer.allocate(bytes);
            if (workspace != null) workspace.close();
            workspace = bigger;
        }
    }

    private long workspaceAddress() { return workspace == null ? 0L : workspace.address(); }

    private void requireCompressed() {
        if (!isCompressed()) throw new IllegalStateException("CusparseLtGemm N=" + n + " K=" + k + ": call compress(weight) before matmul");
    }

    private static void closeAll(RuntimeException e, AutoCloseable... owners) {
        for (AutoCloseable o : owners) {
            if (o == null) continue;
            try {
                o.close();
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
        }
    }

    @Override protected void release() {
        RuntimeException first = null;
        for (AutoCloseable o : new AutoCloseable[]{plan, selection, matmul, yDesc, xDesc, wDesc, workspace, compressed}) {
            if (o == null) continue;
            try {
                o.close();
            } catch (Exception e) {
                if (first == null) first = e instanceof RuntimeException r ? r : new IllegalStateException(e);
                else first.addSuppressed(e);
            }
        }
        if (first != null) throw first;
    }

    @Override protected String describe() {
        return "CusparseLtGemm N=" + n + " K=" + k + " M=" + m + " " + dtype;
    }
}
