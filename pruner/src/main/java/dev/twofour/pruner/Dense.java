package dev.twofour.pruner;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.stream.IntStream;

/**
 * The dense linear algebra of the CPU pruning engine: the Gram matrix XᵀX, products with a
 * symmetric K×K matrix, power iteration. Row-major float arrays; loops vectorized with the
 * Vector API along the contiguous dimension and split over threads by rows.
 */
final class Dense {
    private Dense() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    /** Rows of X summed in fp32 before the partial sum is added to the fp64 Gram matrix. */
    static final int GRAM_CHUNK = 256;

    /**
     * gram += XᵀX for X = [rows][k] (row-major). Chunks of {@link #GRAM_CHUNK} rows are
     * transposed and multiplied in fp32 (dot products over at most 256 terms), and each
     * chunk's result is added into the fp64 accumulator: long calibration sets lose no
     * precision to fp32 accumulation.
     */
    static void addGram(float[] x, int rows, int k, double[] gram) {
        float[] xt = new float[k * GRAM_CHUNK];
        for (int r0 = 0; r0 < rows; r0 += GRAM_CHUNK) {
            int m = Math.min(GRAM_CHUNK, rows - r0);
            int mp = (m + VL - 1) / VL * VL; // padded with zeros to whole vectors
            java.util.Arrays.fill(xt, 0f);
            for (int r = 0; r < m; r++) {
                int src = (r0 + r) * k;
                for (int i = 0; i < k; i++) xt[i * GRAM_CHUNK + r] = x[src + i];
            }
            // Rows i of the upper triangle, in blocks balanced for threads.
            IntStream.range(0, (k + 3) / 4).parallel().forEach(ib -> {
                for (int i = ib * 4; i < Math.min(k, ib * 4 + 4); i++) {
                    int oi = i * GRAM_CHUNK;
                    for (int j = i; j < k; j++) {
                        int oj = j * GRAM_CHUNK;
                        FloatVector acc = FloatVector.zero(S);
                        for (int c = 0; c < mp; c += VL) {
                            acc = FloatVector.fromArray(S, xt, oi + c).fma(FloatVector.fromArray(S, xt, oj + c), acc);
                        }
                        gram[i * k + j] += acc.reduceLanes(VectorOperators.ADD);
                    }
                }
            });
        }
    }

    /** Copies the upper triangle of a symmetric matrix into the lower one. */
    static void symmetrize(double[] a, int k) {
        for (int i = 0; i < k; i++) for (int j = i + 1; j < k; j++) a[j * k + i] = a[i * k + j];
    }

    /**
     * out = a · h for a = [n][k] and h = [k][k] (row-major). Four rows of a at a time share
     * each loaded vector of h; threads split the rows.
     */
    static void multiply(float[] a, int n, int k, float[] h, float[] out) {
        int kv = k / VL * VL;
        int kv2 = k / (2 * VL) * (2 * VL);
        IntStream.range(0, (n + 3) / 4).parallel().forEach(rb -> {
            int r0 = rb * 4, rows = Math.min(4, n - r0);
            if (rows < 4) {
                for (int r = r0; r < r0 + rows; r++) multiplyRow(a, r, k, h, out, kv);
                return;
            }
            int a0 = r0 * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
            // Two vectors per step: a whole 64-byte line of each row of h is used at once.
            for (int j = 0; j < kv2; j += 2 * VL) {
                FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
                FloatVector d0 = c0, d1 = c0, d2 = c0, d3 = c0;
                for (int i = 0; i < k; i++) {
                    FloatVector hv = FloatVector.fromArray(S, h, i * k + j);
                    FloatVector hw = FloatVector.fromArray(S, h, i * k + j + VL);
                    FloatVector b0 = FloatVector.broadcast(S, a[a0 + i]), b1 = FloatVector.broadcast(S, a[a1 + i]);
                    FloatVector b2 = FloatVector.broadcast(S, a[a2 + i]), b3 = FloatVector.broadcast(S, a[a3 + i]);
                    c0 = b0.fma(hv, c0); d0 = b0.fma(hw, d0);
                    c1 = b1.fma(hv, c1); d1 = b1.fma(hw, d1);
                    c2 = b2.fma(hv, c2); d2 = b2.fma(hw, d2);
                    c3 = b3.fma(hv, c3); d3 = b3.fma(hw, d3);
                }
                c0.intoArray(out, a0 + j); d0.intoArray(out, a0 + j + VL);
                c1.intoArray(out, a1 + j); d1.intoArray(out, a1 + j + VL);
                c2.intoArray(out, a2 + j); d2.intoArray(out, a2 + j + VL);
                c3.intoArray(out, a3 + j); d3.intoArray(out, a3 + j + VL);
            }
            for (int j = kv2; j < kv; j += VL) {
                FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
                for (int i = 0; i < k; i++) {
                    FloatVector hv = FloatVector.fromArray(S, h, i * k + j);
                    c0 = FloatVector.broadcast(S, a[a0 + i]).fma(hv, c0);
                    c1 = FloatVector.broadcast(S, a[a1 + i]).fma(hv, c1);
                    c2 = FloatVector.broadcast(S, a[a2 + i]).fma(hv, c2);
                    c3 = FloatVector.broadcast(S, a[a3 + i]).fma(hv, c3);
                }
                c0.intoArray(out, a0 + j); c1.intoArray(out, a1 + j);
                c2.intoArray(out, a2 + j); c3.intoArray(out, a3 + j);
            }
            for (int j = kv; j < k; j++) {
                for (int r = 0; r < 4; r++) {
                    float s = 0;
                    int ar = (r0 + r) * k;
                    for (int i = 0; i < k; i++) s += a[ar + i] * h[i * k + j];
                    out[ar + j] = s;
                }
            }
        });
    }

    private static void multiplyRow(float[] a, int r, int k, float[] h, float[] out, int kv) {
        int ar = r * k;
        for (int j = 0; j < kv; j += VL) {
            FloatVector c = FloatVector.zero(S);
            for (int i = 0; i < k; i++) c = FloatVector.broadcast(S, a[ar + i]).fma(FloatVector.fromArray(S, h, i * k + j), c);
            c.intoArray(out, ar + j);
        }
        for (int j = kv; j < k; j++) {
            float s = 0;
            for (int i = 0; i < k; i++) s += a[ar + i] * h[i * k + j];
            out[ar + j] = s;
        }
    }

    /** Largest eigenvalue of a symmetric positive semidefinite matrix, by power iteration (fp64). */
    static double lambdaMax(double[] h, int k) {
        double[] v = new double[k], w = new double[k];
        // A fixed, non-degenerate start vector (not all-equal: that can be orthogonal to the top eigenvector).
        for (int i = 0; i < k; i++) v[i] = 1.0 + 0.37 * Math.sin(1.7 * i + 0.3);
        double lambda = 0;
        for (int it = 0; it < 500; it++) {
            double norm = 0;
            for (double x : v) norm += x * x;
            norm = Math.sqrt(norm);
            if (norm == 0) return 0;
            for (int i = 0; i < k; i++) v[i] /= norm;
            for (int i = 0; i < k; i++) {
                double s = 0;
                int o = i * k;
                for (int j = 0; j < k; j++) s += h[o + j] * v[j];
                w[i] = s;
            }
            double next = 0;
            for (int i = 0; i < k; i++) next += v[i] * w[i]; // Rayleigh quotient
            double[] tmp = v; v = w; w = tmp;
            if (it > 10 && Math.abs(next - lambda) <= 1e-7 * Math.abs(next)) { lambda = next; break; }
            lambda = next;
        }
        // The Rayleigh quotient approaches λmax from below; a step 1/L needs L ≥ 2λmax, so pad a little.
        return lambda * 1.01;
    }

    /** tr(D H Dᵀ) for D = [n][k] in float and H in fp64: the local loss of a weight change D. */
    static double quadratic(float[] d, int n, int k, float[] h) {
        float[] dh = new float[n * k];
        multiply(d, n, k, h, dh);
        double s = 0;
        for (int i = 0; i < n * k; i++) s += (double) d[i] * dh[i];
        return s;
    }
}
