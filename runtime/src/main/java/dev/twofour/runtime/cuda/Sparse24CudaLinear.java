package dev.twofour.runtime.cuda;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaException;
import dev.twofour.cuda.CusparseLtGemm;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.cuda.Cublas;
import dev.twofour.kernels.Fill;
import dev.twofour.kernels.Kernels;
import dev.twofour.kernels.Sparse24Gemm;
import dev.twofour.kernels.Sparse24Selection;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A 2:4 weight in our packed layout (values [out][kp/2], metadata [out][kp/8], docs/FORMAT.md) run by the
 * 2:4 GEMM of dev.twofour.kernels ({@link Sparse24Gemm}), never expanded. One {@link Sparse24Gemm} (one
 * workspace) is shared by all layers of a model: they run one after another on one stream.
 * Which path runs a step of {@code rows} rows follows {@link Sparse24Selection} (measured on the H100: our kernel
 * wins up to about 8 rows, cuBLAS on the dense form above, docs/results/gemm-h100-fp16):
 * <ul>
 *   <li>our kernel, when the selection says so (or when there is no dense copy and rows <= {@link #MAX_OURS_ROWS});</li>
 *   <li>cuBLAS on a dense copy of the 2:4 weight ({@code denseCopy}), kept when the memory plan has room for it
 *       (7B/13B on an 80 GB GPU; not 70B), so a 2:4 model is never slower than the dense one at many rows;</li>
 *   <li>otherwise unpack into the shared scratch, then cuBLAS (prefill of models too big for a dense copy).</li>
 * </ul>
 * With tuning data ({@link #enableCusparseLt}), a row count the selection gives to cuSPARSELt runs a tuned
 * cuSPARSELt plan instead: one plan per M the layer is prepared for (at least 16), shared with every layer of
 * the same shape ({@link CusparseLtPlans}: a plan does not depend on the weight), run on this layer's compressed
 * weight (about 0.56x of the dense bytes); a step of up to 64 rows runs the smallest plan of at least that many
 * rows (the extra rows of the activation buffers are computed and ignored), a larger step only a plan of
 * exactly its rows (a full prefill chunk). Building a plan takes long (about 0.4-0.8 s on the H100 with
 * cuSPARSELt 0.8), hence the sharing.
 */
final class Sparse24CudaLinear implements CudaLinear {
    static final int MAX_OURS_ROWS = 64;
    /** The largest cuSPARSELt plan a step of fewer rows may be padded up to (the largest decode bucket). */
    static final int MAX_PADDED_PLAN_ROWS = 64;
    private final Sparse24Gemm gemm;
    private final Kernels kernels;
    private final Cublas cublas;
    private final DeviceBuffer scratch;
    private final DeviceBuffer values, metadata;
    private final DeviceBuffer denseCopy;  // null when the memory plan has no room for it
    private final Sparse24Selection selection;
    private final CudaDtype dtype;
    private final int out, in;
    /** cuSPARSELt plans by M (empty: none), shared with the other layers of this shape (not owned: CusparseLtPlans closes them). */
    private final TreeMap<Integer, CusparseLtGemm> ltPlans = new TreeMap<>();
    private boolean followsAttention;
    /** This weight compressed for cuSPARSELt (owned); null without cuSPARSELt. */
    private DeviceBuffer ltCompressed;
    /** The smallest cuSPARSELt plan: fewer rows are padded up to it (the library rejects some small M). */
    static final int MIN_PLAN_ROWS = 16;
    private static final AtomicBoolean COMPRESS_FAILURE_LOGGED = new AtomicBoolean();

    Sparse24CudaLinear(Sparse24Gemm gemm, Kernels kernels, Cublas cublas, DeviceBuffer scratch, DeviceBuffer values,
                       DeviceBuffer metadata, DeviceBuffer denseCopy, Sparse24Selection selection, CudaDtype dtype,
                       int out, int in) {
        this.gemm = gemm;
        this.kernels = kernels;
        this.cublas = cublas;
        this.scratch = scratch;
        this.values = values;
        this.metadata = metadata;
        this.denseCopy = denseCopy;
        this.selection = selection;
        this.dtype = dtype;
        this.out = out;
        this.in = in;
    }

    /**
     * Marks this layer as the one whose input the decode attention writes (the o projection): our kernel's choice
     * between the streaming and the classic kernel differs there (Sparse24Gemm.streamBeatsClassic).
     */
    void followsAttention() { followsAttention = true; }

    static long valuesBytes(int out, int in, CudaDtype dtype) { return (long) out * (((in + 15) & ~15) / 2) * dtype.byteSize(); }

    static long metadataBytes(int out, int in) { return (long) out * (((in + 15) & ~15) / 8); }

    @Override public int outFeatures() { return out; }

    @Override public int inFeatures() { return in; }

    /** The packed weight only; the dense copy (when kept) is a speed aid, counted in the memory plan. */
    @Override public long weightBytes() { return values.bytes() + metadata.bytes(); }

    /**
     * Runs every row count in {@code rowCounts} that the selection gives to cuSPARSELt with a tuned configuration
     * on a cuSPARSELt plan (M = the row count, at least 16 when {@code maxRows} allows) from {@code plans}, which
     * shares one plan per (shape, M, configuration) among all layers and probes it once against cuBLAS. Compresses
     * {@code denseW} (this weight unpacked, out x in) once for all of them. Call before any CUDA graph capture.
     * Returns false, with nothing kept, when the selection names no cuSPARSELt for these rows or no plan passed:
     * the layer keeps its other paths (a dropped plan is reported once by {@code plans}).
     */
    boolean enableCusparseLt(CusparseLtPlans plans, CudaStream stream, DeviceBuffer denseW, int[] rowCounts, int maxRows) {
        Map<Integer, Sparse24Selection.Entry> wanted = new TreeMap<>();
        for (int r : rowCounts) {
            if (!tunedForCusparseLt(r)) continue;
            int m = Math.min(Math.max(r, MIN_PLAN_ROWS), Math.max(r, maxRows));
            if (tunedForCusparseLt(m)) wanted.put(m, selection.entryFor(out, in, m));
        }
        TreeMap<Integer, CusparseLtPlans.Key> keys = new TreeMap<>();
        TreeMap<Integer, CusparseLtGemm> built = new TreeMap<>();
        for (Map.Entry<Integer, Sparse24Selection.Entry> w : wanted.entrySet()) {
            Sparse24Selection.Entry e = w.getValue();
            CusparseLtPlans.Key key = new CusparseLtPlans.Key(out, in, w.getKey(), e.configId(), Math.max(1, e.splitK()));
            CusparseLtGemm g = plans.plan(key);
            if (g == null) continue;
            keys.put(w.getKey(), key);
            built.put(w.getKey(), g);
        }
        if (built.isEmpty()) return false;
        DeviceBuffer compressed;
        try {
            compressed = built.firstEntry().getValue().compressedCopy(denseW.address(), stream);
        } catch (CudaException e) {
            if (COMPRESS_FAILURE_LOGGED.compareAndSet(false, true)) {
                System.err.println("twofour: cuSPARSELt could not compress a " + out + "x" + in + " 2:4 weight ("
                        + e.getMessage() + "); such layers use our kernel or cuBLAS instead");
            }
            return false;
        }
        for (Map.Entry<Integer, CusparseLtGemm> b : built.entrySet()) {
            if (plans.verify(keys.get(b.getKey()), compressed, denseW)) ltPlans.put(b.getKey(), b.getValue());
        }
        if (ltPlans.isEmpty()) {
            compressed.close();
            return false;
        }
        ltCompressed = compressed;
        return true;
    }

    /** True when some prepared row count runs cuSPARSELt. */
    boolean usesCusparseLt() { return !ltPlans.isEmpty(); }

    /**
     * True when the selection gives {@code rows} rows to cuSPARSELt with a named configuration. An entry without
     * one (-1) is not used: the library's default configuration ran at 0.2-0.7x of cuBLAS on the H100
     * (docs/results/gemm-h100-fp16), so such rows stay on cuBLAS (or our kernel).
     */
    private boolean tunedForCusparseLt(int rows) {
        Sparse24Selection.Entry e = selection.entryFor(out, in, rows);
        return e.method() == Sparse24Selection.Method.CUSPARSELT && e.configId() >= 0;
    }

    /** The cuSPARSELt plan that runs {@code rows} rows, or null when they run another path. */
    private CusparseLtGemm ltPlanFor(int rows) {
        if (ltPlans.isEmpty() || !tunedForCusparseLt(rows)) return null;
        Map.Entry<Integer, CusparseLtGemm> e = ltPlans.ceilingEntry(rows);
        // Padding a decode step up to a plan of at most MAX_PADDED_PLAN_ROWS rows costs little (those GEMMs are
        // memory-bound); a prefill chunk of another size than a plan's runs the other paths instead of a far
        // larger GEMM.
        if (e == null || (e.getKey() > MAX_PADDED_PLAN_ROWS && e.getKey() != rows)) return null;
        return e.getValue();
    }

    /** True when {@code rows} rows run our 2:4 kernel. */
    boolean runsOurs(int rows) {
        if (ltPlanFor(rows) != null) return false;
        if (denseCopy == null) return rows <= MAX_OURS_ROWS;
        return selection.choose(out, in, rows) == Sparse24Selection.Method.OURS;
    }

    @Override public void prepare(int rows) {
        if (runsOurs(rows)) gemm.reserve(gemm.plan(rows, out, in));  // forward's and forwardSwiglu's
    }

    /** On unless -Dtwofour.cuda.fuseSwiglu24=false: on the H100 llama2-7b 2:4 decoded 240.3 against 235.2 tok/s (kernels/NOTES.md). */
    private static final boolean FUSE_SWIGLU = Boolean.parseBoolean(System.getProperty("twofour.cuda.fuseSwiglu24", "true"));

    @Override public boolean fusesSwigluByDefault() { return FUSE_SWIGLU; }

    /**
     * The down projection fused with SwiGLU ({@code gateUp} is {@code [rows][2 in]}) when our kernel serves these
     * rows: SwiGLU is computed while the kernel stages its input, which saves the swiglu launch (measured on the
     * H100: see kernels/NOTES.md). False (nothing done) otherwise.
     */
    @Override public boolean forwardSwiglu(CudaStream stream, DeviceBuffer gateUp, DeviceBuffer y, int rows) {
        if (!runsOurs(rows)) return false;
        gemm.runSwiglu(stream, dtype, gateUp, 2L * in, values, metadata, y, out, rows, out, in);
        return true;
    }

    /** On unless -Dtwofour.cuda.fuseNorm24=false: the add+RMSNorm before qkv and gate|up done by the streaming 2:4 kernel. */
    private static final boolean FUSE_NORM = Boolean.parseBoolean(System.getProperty("twofour.cuda.fuseNorm24", "true"));

    @Override public boolean forwardAddRmsNorm(CudaStream stream, DeviceBuffer residual, DeviceBuffer delta, DeviceBuffer normWeight,
                                               float eps, DeviceBuffer residualOut, DeviceBuffer y, int rows) {
        if (!FUSE_NORM || !runsOurs(rows)) return false;
        // only where a plain forward would run the streaming kernel too (false otherwise)
        return gemm.runAddRmsNorm(stream, dtype, residual, in, delta, in, normWeight, eps, residualOut, in, values, metadata,
                y, out, gemm.defaultStreamPlan(rows, out, in, followsAttention));
    }

    @Override public void forward(CudaStream stream, DeviceBuffer x, DeviceBuffer y, int rows) {
        CusparseLtGemm lt = ltPlanFor(rows);
        if (lt != null) {
            lt.matmul(stream, ltCompressed, x.address(), y.address());
        } else if (runsOurs(rows)) {
            gemm.run(stream, dtype, x, in, values, metadata, y, out, rows, out, in, followsAttention);
        } else if (denseCopy != null) {
            cublas.linear(x.address(), denseCopy.address(), y.address(), rows, out, in, dtype, dtype);
        } else {
            forwardUnpacked(stream, x, y, rows, scratch);
        }
    }

    /** Unpacks into {@code dense} (at least out × in elements) and runs cuBLAS: the many-row path. */
    void forwardUnpacked(CudaStream stream, DeviceBuffer x, DeviceBuffer y, int rows, DeviceBuffer dense) {
        Fill.unpack24(kernels, stream, values, metadata, dense, out, in);
        cublas.linear(x.address(), dense.address(), y.address(), rows, out, in, dtype, dtype);
    }

    @Override public void close() {
        ltPlans.clear();
        if (ltCompressed != null) ltCompressed.close();
        values.close();
        metadata.close();
        if (denseCopy != null) denseCopy.close();
    }
}
