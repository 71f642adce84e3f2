package dev.twofour.runtime;

import dev.twofour.model.DType;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.TensorView;
import dev.twofour.runtime.cpu.CpuBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CPU backend's ops against plain double-precision references on random data. */
class CpuBackendOpsTest {
    static final CpuBackend B = new CpuBackend(2);

    @AfterAll static void close() { B.close(); }

    static float[] rand(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian() + 0.05f;
        return a;
    }

    static Tensor put(float[] a, int rows, int cols) {
        Tensor t = B.allocate(rows, cols);
        B.copyFromHost(a, rows, t);
        return t;
    }

    static float[] get(Tensor t, int rows) {
        float[] a = new float[rows * t.cols()];
        B.copyToHost(t, rows, a);
        return a;
    }

    static void close(float[] want, float[] got, double tol) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) {
            assertTrue(Math.abs(want[i] - got[i]) <= tol * (1 + Math.abs(want[i])), "at " + i + ": want " + want[i] + " got " + got[i]);
        }
    }

    @Test void rmsNormAndFusedResidualAdd() {
        Random r = new Random(1);
        int rows = 7, cols = 37;
        float[] x = rand(r, rows * cols), d = rand(r, rows * cols), w = rand(r, cols);
        Tensor wt = B.upload(TensorView.ofFloats("w", DType.F32, new long[]{cols}, w));
        Tensor xt = put(x, rows, cols), dt = put(d, rows, cols), out = B.allocate(rows, cols);
        B.addRmsNorm(xt, dt, wt, 1e-5f, out, rows);
        float[] want = new float[rows * cols], sum = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            double ss = 0;
            for (int j = 0; j < cols; j++) {
                sum[i * cols + j] = x[i * cols + j] + d[i * cols + j];
                ss += (double) sum[i * cols + j] * sum[i * cols + j];
            }
            double inv = 1 / Math.sqrt(ss / cols + 1e-5);
            for (int j = 0; j < cols; j++) want[i * cols + j] = (float) (w[j] * sum[i * cols + j] * inv);
        }
        close(want, get(out, rows), 1e-5);
        close(sum, get(xt, rows), 1e-6);
        B.rmsNorm(xt, wt, 1e-5f, xt, rows);   // in place
        close(want, get(xt, rows), 1e-5);
    }

    @Test void swigluIsSiluTimesUp() {
        Random r = new Random(2);
        int rows = 3, cols = 45;
        float[] g = rand(r, rows * cols), u = rand(r, rows * cols);
        Tensor gt = put(g, rows, cols), ut = put(u, rows, cols);
        B.swiglu(gt, ut, gt, rows);
        float[] want = new float[g.length];
        for (int i = 0; i < g.length; i++) want[i] = (float) (g[i] / (1 + Math.exp(-g[i])) * u[i]);
        close(want, get(gt, rows), 1e-5);
    }

    static ModelConfig config(ModelConfig.RopeScaling scaling) {
        return new ModelConfig(ModelConfig.LLAMA, 64, 96, 2, 4, 2, 16, 50, 1e-5, 10000, scaling, 4096, true,
                DType.F32, false, List.of(0), List.of(1));
    }

    @Test void ropeRotatesHalfPairsWithScaledFrequencies() {
        Random r = new Random(3);
        for (ModelConfig.RopeScaling s : new ModelConfig.RopeScaling[]{null, ModelConfig.RopeScaling.linear(4),
                ModelConfig.RopeScaling.llama3(8, 1, 4, 256)}) {
            ModelConfig c = config(s);
            Rope rope = Rope.of(c);
            int heads = 3, hd = c.headDim(), half = hd / 2, cols = heads * hd;
            int[] pos = {0, 5, 1000, 77};
            float[] x = rand(r, pos.length * cols);
            Tensor t = put(x, pos.length, cols);
            StepLayout step = new StepLayout(new int[pos.length], pos, new int[pos.length], new int[]{0, pos.length},
                    new int[]{1001}, new int[][]{{0}}, 16);
            B.rope(t, heads, rope, step);
            double[] inv = c.ropeInverseFrequencies();
            float[] want = new float[x.length];
            for (int tk = 0; tk < pos.length; tk++) {
                for (int h = 0; h < heads; h++) {
                    for (int i = 0; i < half; i++) {
                        int o = tk * cols + h * hd;
                        double a = pos[tk] * inv[i];
                        double x1 = x[o + i], x2 = x[o + i + half];
                        want[o + i] = (float) (x1 * Math.cos(a) - x2 * Math.sin(a));
                        want[o + i + half] = (float) (x2 * Math.cos(a) + x1 * Math.sin(a));
                    }
                }
            }
            // fp32 angles at position 1000 carry ~1e-4 absolute error, as in transformers
            close(want, get(t, pos.length), 3e-4);
        }
        // llama3 scaling: high frequencies unchanged, low ones divided by the factor
        double[] plain = config(null).ropeInverseFrequencies(), l3 = config(ModelConfig.RopeScaling.llama3(8, 1, 4, 256)).ropeInverseFrequencies();
        assertEquals(plain[0], l3[0], 1e-12);
        assertEquals(plain[plain.length - 1] / 8, l3[l3.length - 1], 1e-12);
    }

    /** Three sequences with different cached lengths, 1..5 new tokens each, GQA 4 query heads on 2 KV heads. */
    @Test void pagedGqaAttentionMatchesNaiveReference() {
        Random r = new Random(4);
        int heads = 4, kvHeads = 2, hd = 16, width = kvHeads * hd, qCols = heads * hd;
        KvCache cache = new KvCache(B, new KvCache.Shape(2, kvHeads, hd, 4, 40));
        int[] already = {0, 9, 3}, fresh = {5, 1, 3};
        int[] seqs = new int[3];
        List<float[]> allK = new ArrayList<>(), allV = new ArrayList<>();
        int layer = 1;
        // history: fill each sequence's first `already` tokens through kvAppend
        for (int s = 0; s < 3; s++) {
            seqs[s] = cache.newSequence();
            allK.add(rand(r, (already[s] + fresh[s]) * width));
            allV.add(rand(r, (already[s] + fresh[s]) * width));
            // interleave allocations so block tables are not contiguous
            if (already[s] > 0) {
                cache.reserve(seqs[s], already[s]);
                StepLayout st = layout(cache, new int[]{seqs[s]}, new int[]{0}, new int[]{already[s]});
                B.kvAppend(cache, layer, put(allK.get(s), already[s], width), put(allV.get(s), already[s], width), st);
                cache.advance(seqs[s], already[s]);
            }
        }
        for (int s = 0; s < 3; s++) cache.reserve(seqs[s], fresh[s]);
        StepLayout step = layout(cache, seqs, already, fresh);
        int total = step.numTokens();
        float[] k = new float[total * width], v = new float[total * width];
        for (int s = 0, t = 0; s < 3; s++) {
            for (int j = 0; j < fresh[s]; j++, t++) {
                System.arraycopy(allK.get(s), (already[s] + j) * width, k, t * width, width);
                System.arraycopy(allV.get(s), (already[s] + j) * width, v, t * width, width);
            }
        }
        float[] q = rand(r, total * qCols);
        B.kvAppend(cache, layer, put(k, total, width), put(v, total, width), step);
        Tensor out = B.allocate(total, qCols);
        B.attention(put(q, total, qCols), cache, layer, heads, step, out);
        float[] want = new float[total * qCols];
        for (int t = 0; t < total; t++) {
            int s = step.seqOfToken()[t], p = step.positions()[t];
            for (int h = 0; h < heads; h++) {
                int g = h / (heads / kvHeads);
                double[] sc = new double[p + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= p; j++) {
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += (double) q[t * qCols + h * hd + i] * allK.get(s)[j * width + g * hd + i];
                    sc[j] = d / Math.sqrt(hd);
                    max = Math.max(max, sc[j]);
                }
                double z = 0;
                for (int j = 0; j <= p; j++) z += sc[j] = Math.exp(sc[j] - max);
                for (int i = 0; i < hd; i++) {
                    double acc = 0;
                    for (int j = 0; j <= p; j++) acc += sc[j] * allV.get(s)[j * width + g * hd + i];
                    want[t * qCols + h * hd + i] = (float) (acc / z);
                }
            }
        }
        close(want, get(out, total), 1e-5);
        cache.close();
    }

    static StepLayout layout(KvCache cache, int[] seqs, int[] start, int[] count) {
        int total = 0;
        for (int c : count) total += c;
        int[] tokens = new int[total], pos = new int[total], seqOf = new int[total], seqStart = new int[seqs.length + 1], ctx = new int[seqs.length];
        int[][] tables = new int[seqs.length][];
        for (int s = 0, t = 0; s < seqs.length; s++) {
            seqStart[s] = t;
            for (int j = 0; j < count[s]; j++, t++) {
                pos[t] = start[s] + j;
                seqOf[t] = s;
            }
            ctx[s] = start[s] + count[s];
            tables[s] = cache.blockTable(seqs[s]);
        }
        seqStart[seqs.length] = total;
        return new StepLayout(tokens, pos, seqOf, seqStart, ctx, tables, cache.blockSize());
    }

    @Test void kvCacheHandsOutAndTakesBackBlocks() {
        KvCache c = new KvCache(B, new KvCache.Shape(1, 1, 4, 16, 3));
        int a = c.newSequence(), b = c.newSequence();
        c.reserve(a, 17);                 // 2 blocks
        assertEquals(1, c.freeBlocks());
        assertThrows(KvCacheFullException.class, () -> c.reserve(b, 17));
        assertEquals(1, c.freeBlocks());  // nothing taken by the failed reserve
        c.free(a);
        assertEquals(3, c.freeBlocks());
        c.reserve(b, 48);
        assertEquals(0, c.freeBlocks());
        assertThrows(IllegalArgumentException.class, () -> c.length(a));
        c.close();
        c.close();
        assertThrows(IllegalStateException.class, c::newSequence);
    }
}
