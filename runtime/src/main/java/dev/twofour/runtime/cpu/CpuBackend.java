package dev.twofour.runtime.cpu;

import dev.twofour.model.DType;
import dev.twofour.model.TensorView;
import dev.twofour.runtime.Backend;
import dev.twofour.runtime.KvCache;
import dev.twofour.runtime.KvStorage;
import dev.twofour.runtime.LinearWeights;
import dev.twofour.runtime.Rope;
import dev.twofour.runtime.StepLayout;
import dev.twofour.runtime.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.twofour.runtime.cpu.Vec.F;
import static dev.twofour.runtime.cpu.Vec.L;

/**
 * The CPU backend: fp32 activations on the heap, fp16/bf16/fp32 weights read in place and widened in
 * registers (Vector API), work split over a fixed pool of threads (output rows for linear layers,
 * (token, head) pairs for attention, rows for the elementwise ops). It is the numerical reference for the
 * CUDA backend: every op computes in fp32, the KV cache included.
 */
public final class CpuBackend implements Backend {
    private final Parallel par;
    private volatile boolean closed;

    /** A backend using every available processor. */
    public CpuBackend() {
        this(Runtime.getRuntime().availableProcessors());
    }

    public CpuBackend(int threads) {
        this.par = new Parallel(threads);
    }

    @Override public String name() { return "cpu"; }

    @Override public String description() {
        return "cpu: " + par.threads() + " threads, " + L + " float lanes (" + (L * 32) + "-bit vectors)";
    }

    private static CpuTensor t(Tensor t) {
        if (t instanceof CpuTensor c) return c;
        throw new IllegalArgumentException("tensor " + t + " does not belong to the CPU backend");
    }

    private static CpuLinear lin(LinearWeights w) {
        if (w instanceof CpuLinear c) return c;
        throw new IllegalArgumentException("linear weights " + w + " do not belong to the CPU backend");
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("CPU backend is closed");
    }

    private static void checkRows(Tensor t, int rows, String what) {
        if (rows < 0 || rows > t.rows()) throw new IllegalArgumentException(what + ": " + rows + " rows requested, tensor has " + t.rows());
    }

    // ---------------------------------------------------------------- memory

    @Override public Tensor allocate(int rows, int cols) {
        checkOpen();
        return new CpuTensor(rows, cols);
    }

    @Override public Tensor upload(TensorView weight) {
        checkOpen();
        int rows, cols;
        if (weight.rank() == 1) {
            rows = 1;
            cols = Math.toIntExact(weight.dim(0));
        } else if (weight.rank() == 2) {
            rows = Math.toIntExact(weight.dim(0));
            cols = Math.toIntExact(weight.dim(1));
        } else {
            throw new IllegalArgumentException("upload: tensor " + weight + " must be 1-D or 2-D");
        }
        CpuTensor t = new CpuTensor(rows, cols);
        weight.readFloats(0, t.data(), 0, rows * cols);
        return t;
    }

    @Override public void copyFromHost(float[] src, int rows, Tensor dst) {
        checkRows(dst, rows, "copyFromHost");
        System.arraycopy(src, 0, t(dst).data(), 0, rows * dst.cols());
    }

    @Override public void copyToHost(Tensor src, int rows, float[] dst) {
        checkRows(src, rows, "copyToHost");
        System.arraycopy(t(src).data(), 0, dst, 0, rows * src.cols());
    }

    // ---------------------------------------------------------------- weights

    @Override public LinearWeights denseLinear(String name, DType dtype, MemorySegment data, int outFeatures, int inFeatures) {
        checkOpen();
        Arena arena = needsCopy(data) ? Arena.ofShared() : null;
        return new DenseLinear(name, dtype, copyTo(arena, data), outFeatures, inFeatures).owning(arena);
    }

    @Override public LinearWeights sparse24Linear(String name, DType dtype, MemorySegment values, MemorySegment metadata,
                                                  int outFeatures, int inFeatures) {
        checkOpen();
        Arena arena = needsCopy(values) || needsCopy(metadata) ? Arena.ofShared() : null;
        return new Sparse24Linear(name, dtype, copyTo(arena, values), copyTo(arena, metadata), outFeatures, inFeatures).owning(arena);
    }

    /**
     * Vector loads from heap segments (and from {@code Arena.ofAuto()} ones) measured several times slower
     * than from mapped or shared-arena native memory here, so weights given on the heap (tests, weights
     * written back by the pruner) are copied into a shared arena that the linear layer frees on close;
     * memory-mapped checkpoint weights are used in place.
     */
    private static boolean needsCopy(MemorySegment seg) {
        return !seg.isMapped();
    }

    private static MemorySegment copyTo(Arena arena, MemorySegment seg) {
        if (arena == null || seg.isMapped()) return seg;
        MemorySegment copy = arena.allocate(Math.max(1, seg.byteSize()), 64).asSlice(0, seg.byteSize());
        copy.copyFrom(seg);
        return copy;
    }

    @Override public KvStorage allocateKv(KvCache.Shape shape) {
        checkOpen();
        return new CpuKvStorage(shape);
    }

    private static CpuKvStorage kv(KvCache cache) {
        if (cache.storage() instanceof CpuKvStorage s) return s;
        throw new IllegalArgumentException("KV cache does not belong to the CPU backend");
    }

    // ---------------------------------------------------------------- ops

    @Override public void embedding(LinearWeights table, StepLayout step, Tensor out) {
        CpuLinear tab = lin(table);
        int hidden = tab.inFeatures(), vocab = tab.outFeatures();
        if (out.cols() != hidden) throw new IllegalArgumentException("embedding: out has " + out.cols() + " columns, table " + hidden);
        int[] tokens = step.tokens();
        checkRows(out, tokens.length, "embedding");
        float[] o = t(out).data();
        float[] row = new float[hidden];
        for (int i = 0; i < tokens.length; i++) {
            int id = tokens[i];
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("token id " + id + " at index " + i + " is outside the vocabulary [0, " + vocab + ")");
            }
            tab.decodeRow(id, row);
            System.arraycopy(row, 0, o, i * hidden, hidden);
        }
    }

    @Override public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out, int rows) {
        int cols = x.cols();
        float[] xs = t(x).data(), w = t(weight).data(), o = t(out).data();
        checkRows(x, rows, "rmsNorm");
        par.forRange(rows, 8, (r0, r1) -> {
            for (int r = r0; r < r1; r++) normRow(xs, r * cols, w, eps, o, r * cols, cols);
        });
    }

    @Override public void addRmsNorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out, int rows) {
        int cols = residual.cols();
        float[] res = t(residual).data(), d = t(delta).data(), w = t(weight).data(), o = t(out).data();
        checkRows(residual, rows, "addRmsNorm");
        par.forRange(rows, 8, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int off = r * cols;
                for (int i = 0; i < cols; i++) res[off + i] += d[off + i];
                normRow(res, off, w, eps, o, off, cols);
            }
        });
    }

    @Override public void add(Tensor residual, Tensor delta, int rows) {
        checkRows(residual, rows, "add");
        float[] res = t(residual).data(), d = t(delta).data();
        int n = rows * residual.cols();
        for (int i = 0; i < n; i++) res[i] += d[i];
    }

    private static void normRow(float[] x, int xo, float[] w, float eps, float[] o, int oo, int cols) {
        float ss = Vec.dot(x, xo, x, xo, cols);
        float inv = (float) (1.0 / Math.sqrt(ss / cols + eps));
        for (int i = 0; i < cols; i++) o[oo + i] = w[i] * (x[xo + i] * inv);
    }

    @Override public void linear(LinearWeights w, Tensor x, Tensor y, int rows) {
        CpuLinear l = lin(w);
        if (x.cols() != l.inFeatures() || y.cols() != l.outFeatures()) {
            throw new IllegalArgumentException("linear " + l + ": x has " + x.cols() + " columns, y " + y.cols());
        }
        checkRows(x, rows, "linear x");
        checkRows(y, rows, "linear y");
        if (rows == 0) return;
        l.forward(t(x).data(), rows, t(y).data(), par);
    }

    @Override public void addBias(Tensor y, Tensor bias, int rows) {
        int cols = y.cols();
        float[] ys = t(y).data(), b = t(bias).data();
        for (int r = 0; r < rows; r++) for (int i = 0; i < cols; i++) ys[r * cols + i] += b[i];
    }

    @Override public void rope(Tensor x, int numHeads, Rope rope, StepLayout step) {
        int headDim = rope.headDim(), half = headDim / 2, cols = x.cols();
        if (cols != numHeads * headDim) throw new IllegalArgumentException("rope: " + cols + " columns is not " + numHeads + " heads × " + headDim);
        float[] xs = t(x).data();
        int[] pos = step.positions();
        int maxPos = 0;
        for (int p : pos) maxPos = Math.max(maxPos, p);
        RopeTable table = ropeTable(rope, maxPos + 1);
        float[] cosT = table.cos, sinT = table.sin;
        par.forRange(pos.length, 4, (t0, t1) -> {
            for (int tk = t0; tk < t1; tk++) {
                int to = pos[tk] * half;
                for (int h = 0; h < numHeads; h++) {
                    int o = tk * cols + h * headDim;
                    for (int i = 0; i < half; i++) {
                        float x1 = xs[o + i], x2 = xs[o + i + half], cs = cosT[to + i], sn = sinT[to + i];
                        xs[o + i] = x1 * cs - x2 * sn;
                        xs[o + i + half] = x2 * cs + x1 * sn;
                    }
                }
            }
        });
    }

    /** cos/sin of every (position, pair) up to a length, per {@link Rope}; grown by doubling. */
    private record RopeTable(Rope rope, int positions, float[] cos, float[] sin) {}

    private volatile RopeTable ropeTable;

    private RopeTable ropeTable(Rope rope, int positions) {
        RopeTable t = ropeTable;
        if (t != null && t.rope == rope && t.positions >= positions) return t;
        int n = Math.max(positions, t != null && t.rope == rope ? 2 * t.positions : 256);
        int half = rope.headDim() / 2;
        float[] cos = new float[n * half], sin = new float[n * half];
        for (int p = 0; p < n; p++) {
            for (int i = 0; i < half; i++) {
                float a = rope.angle(p, i);   // fp32 angle, as transformers computes it
                cos[p * half + i] = (float) Math.cos(a);
                sin[p * half + i] = (float) Math.sin(a);
            }
        }
        t = new RopeTable(rope, n, cos, sin);
        ropeTable = t;
        return t;
    }

    @Override public void kvAppend(KvCache cache, int layer, Tensor k, Tensor v, StepLayout step) {
        CpuKvStorage s = kv(cache);
        int width = s.shape.kvWidth(), bs = step.blockSize();
        if (k.cols() != width || v.cols() != width) throw new IllegalArgumentException("kvAppend: k/v width " + k.cols() + "/" + v.cols() + " is not " + width);
        float[] kc = s.k(layer), vc = s.v(layer), ks = t(k).data(), vs = t(v).data();
        int[] pos = step.positions(), seq = step.seqOfToken();
        int[][] tables = step.blockTables();
        for (int tk = 0; tk < pos.length; tk++) {
            int p = pos[tk];
            int slot = tables[seq[tk]][p / bs] * bs + p % bs;
            System.arraycopy(ks, tk * width, kc, slot * width, width);
            System.arraycopy(vs, tk * width, vc, slot * width, width);
        }
    }

    @Override public void attention(Tensor q, KvCache cache, int layer, int numHeads, StepLayout step, Tensor out) {
        CpuKvStorage s = kv(cache);
        int headDim = s.shape.headDim(), kvHeads = s.shape.numKvHeads(), width = s.shape.kvWidth(), bs = step.blockSize();
        int group = numHeads / kvHeads, qCols = q.cols();
        if (qCols != numHeads * headDim || out.cols() != qCols) throw new IllegalArgumentException("attention: q/out width " + qCols + "/" + out.cols() + " is not " + numHeads + " × " + headDim);
        float[] kc = s.k(layer), vc = s.v(layer), qs = t(q).data(), os = t(out).data();
        int[] pos = step.positions(), seq = step.seqOfToken();
        int[][] tables = step.blockTables();
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int units = pos.length * numHeads;
        par.forRange(units, 4, (u0, u1) -> {
            float[] scores = new float[0];
            int[] rows = new int[0];
            float[] acc = new float[headDim];
            for (int u = u0; u < u1; u++) {
                int tk = u / numHeads, h = u % numHeads, g = h / group;
                int ctx = pos[tk] + 1;
                if (scores.length < ctx) {
                    scores = new float[Math.max(ctx, 2 * scores.length)];
                    rows = new int[scores.length];
                }
                int[] table = tables[seq[tk]];
                for (int j = 0; j < ctx; j++) rows[j] = (table[j / bs] * bs + j % bs) * width + g * headDim;
                int qo = tk * qCols + h * headDim;
                scores(qs, qo, kc, rows, ctx, headDim, scale, scores);
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < ctx; j++) max = Math.max(max, scores[j]);
                float sum = expShift(scores, ctx, max);
                weightedSum(scores, vc, rows, ctx, headDim, acc);
                float inv = 1f / sum;
                int oo = tk * qCols + h * headDim;
                for (int i = 0; i < headDim; i++) os[oo + i] = acc[i] * inv;
            }
        });
    }

    /** {@code scores[j] = q · k[rows[j]] × scale}, four keys per pass over q. */
    private static void scores(float[] q, int qo, float[] kc, int[] rows, int ctx, int hd, float scale, float[] scores) {
        int hv = hd - hd % L;
        int j = 0;
        for (; j + 4 <= ctx; j += 4) {
            int r0 = rows[j], r1 = rows[j + 1], r2 = rows[j + 2], r3 = rows[j + 3];
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int i = 0; i < hv; i += L) {
                FloatVector qv = FloatVector.fromArray(F, q, qo + i);
                a0 = qv.fma(FloatVector.fromArray(F, kc, r0 + i), a0);
                a1 = qv.fma(FloatVector.fromArray(F, kc, r1 + i), a1);
                a2 = qv.fma(FloatVector.fromArray(F, kc, r2 + i), a2);
                a3 = qv.fma(FloatVector.fromArray(F, kc, r3 + i), a3);
            }
            float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
            float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
            for (int i = hv; i < hd; i++) {
                float qi = q[qo + i];
                s0 += qi * kc[r0 + i];
                s1 += qi * kc[r1 + i];
                s2 += qi * kc[r2 + i];
                s3 += qi * kc[r3 + i];
            }
            scores[j] = s0 * scale;
            scores[j + 1] = s1 * scale;
            scores[j + 2] = s2 * scale;
            scores[j + 3] = s3 * scale;
        }
        for (; j < ctx; j++) scores[j] = Vec.dot(q, qo, kc, rows[j], hd) * scale;
    }

    /** {@code acc = Σ_j p[j] v[rows[j]]}, each slice of acc kept in a register across all keys. */
    private static void weightedSum(float[] p, float[] vc, int[] rows, int ctx, int hd, float[] acc) {
        int hv = hd - hd % L;
        for (int i = 0; i < hv; i += L) {
            FloatVector a = FloatVector.zero(F);
            for (int j = 0; j < ctx; j++) a = FloatVector.fromArray(F, vc, rows[j] + i).fma(FloatVector.broadcast(F, p[j]), a);
            a.intoArray(acc, i);
        }
        for (int i = hv; i < hd; i++) {
            float s = 0;
            for (int j = 0; j < ctx; j++) s += p[j] * vc[rows[j] + i];
            acc[i] = s;
        }
    }

    /** {@code s[i] = exp(s[i] - max)} for i < n; returns the sum. */
    static float expShift(float[] s, int n, float max) {
        FloatVector sum = FloatVector.zero(F);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector e = FloatVector.fromArray(F, s, i).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(s, i);
            sum = sum.add(e);
        }
        float total = sum.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s[i] = (float) Math.exp(s[i] - max);
            total += s[i];
        }
        return total;
    }

    @Override public void swiglu(Tensor gate, Tensor up, Tensor out, int rows) {
        int cols = gate.cols();
        float[] g = t(gate).data(), u = t(up).data(), o = t(out).data();
        checkRows(gate, rows, "swiglu");
        par.forRange(rows, 4, (r0, r1) -> {
            int from = r0 * cols, to = r1 * cols;
            int i = from;
            for (; i + L <= to; i += L) {
                FloatVector gv = FloatVector.fromArray(F, g, i);
                FloatVector silu = gv.div(gv.neg().lanewise(VectorOperators.EXP).add(1f));
                silu.mul(FloatVector.fromArray(F, u, i)).intoArray(o, i);
            }
            for (; i < to; i++) o[i] = (float) (g[i] / (1.0 + Math.exp(-g[i]))) * u[i];
        });
    }

    @Override public void gatherRows(Tensor src, int[] rows, Tensor dst) {
        int cols = src.cols();
        if (dst.cols() != cols) throw new IllegalArgumentException("gatherRows: " + cols + " vs " + dst.cols() + " columns");
        checkRows(dst, rows.length, "gatherRows");
        float[] s = t(src).data(), d = t(dst).data();
        for (int i = 0; i < rows.length; i++) {
            checkRows(src, rows[i] + 1, "gatherRows");
            System.arraycopy(s, rows[i] * cols, d, i * cols, cols);
        }
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        par.close();
    }
}
