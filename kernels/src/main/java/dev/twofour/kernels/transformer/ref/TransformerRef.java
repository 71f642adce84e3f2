package dev.twofour.kernels.transformer.ref;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.kernels.ref.HalfFloats;

/**
 * Plain-Java twins of the transformer kernels (tf_elementwise.cuh, tf_attention.cuh), float math, values
 * rounded to the activation dtype exactly where the kernels round. Arrays are row-major with explicit
 * strides like the kernels'. The sampler's twin is {@link SamplerRef}.
 */
public final class TransformerRef {
    private TransformerRef() {}

    /** {@code x} rounded to {@code dtype} (F16/BF16) and back. */
    public static float round(CudaDtype dtype, float x) {
        return HalfFloats.toFloat(dtype, HalfFloats.fromFloat(dtype, x));
    }

    /** Per row: {@code x += delta} (rounded; delta may be null), {@code y = w * round(x / rms(x))}. */
    public static void addRmsNorm(CudaDtype dtype, float[] x, float[] delta, float[] w, float[] y, int rows, int cols,
                                  float eps) {
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                if (delta != null) x[i] = round(dtype, x[i] + delta[i]);
                ss += (double) x[i] * x[i];
            }
            float rs = (float) (1.0 / Math.sqrt(ss / cols + eps));
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                y[i] = round(dtype, w[c] * round(dtype, x[i] * rs));
            }
        }
    }

    /** Rotates {@code numHeads} heads of each row of {@code x} (stride {@code stride}) in place, HF rotate_half. */
    public static void rope(CudaDtype dtype, float[] x, int stride, int rows, int numHeads, int headDim, int[] positions,
                            float[] invFreq) {
        int half = headDim / 2;
        for (int r = 0; r < rows; r++) {
            for (int h = 0; h < numHeads; h++) {
                int base = r * stride + h * headDim;
                for (int j = 0; j < half; j++) {
                    float angle = (float) positions[r] * invFreq[j];
                    double c = Math.cos(angle), s = Math.sin(angle);
                    float a = x[base + j], b = x[base + j + half];
                    x[base + j] = round(dtype, (float) (a * c - b * s));
                    x[base + j + half] = round(dtype, (float) (b * c + a * s));
                }
            }
        }
    }

    /**
     * Twin of the fused decode kernel (TransformerKernels.ropeAttentionDecode) for one row: {@code qkvRow} holds the
     * row's q heads, then the new token's k heads, then its v heads (unrotated). Rotates q and k at {@code position}
     * ({@link #rope}), writes k and v into the cache slot of position {@code kvLen - 1} (block table as in
     * {@link #attention}; the caches are modified) and returns the attention of the rotated q over positions
     * 0..kvLen-1 (numHeads × headDim). {@code kvLen == 0}: nothing written, zeros.
     */
    public static float[] ropeAttentionDecode(CudaDtype dtype, float[] qkvRow, int numHeads, int numKvHeads, int headDim,
                                              int position, int kvLen, float[] invFreq, float[] kCache, float[] vCache,
                                              int[] blockTable, int blockSize) {
        int qDim = numHeads * headDim, kvDim = numKvHeads * headDim;
        if (kvLen == 0) return new float[qDim];
        float[] row = java.util.Arrays.copyOf(qkvRow, qDim + 2 * kvDim);
        rope(dtype, row, row.length, 1, numHeads + numKvHeads, headDim, new int[] {position}, invFreq);  // q, k adjacent
        int p = kvLen - 1, slot = blockTable[p / blockSize] * blockSize + p % blockSize;
        System.arraycopy(row, qDim, kCache, slot * kvDim, kvDim);
        System.arraycopy(row, qDim + kvDim, vCache, slot * kvDim, kvDim);
        return attention(row, qDim, 1, kvLen, kCache, vCache, blockTable, blockSize, numHeads, numKvHeads, headDim);
    }

    /** {@code round(round(silu(g)) * u)} elementwise. */
    public static float[] swiglu(CudaDtype dtype, float[] gate, float[] up) {
        float[] out = new float[gate.length];
        for (int i = 0; i < gate.length; i++) {
            float g = gate[i];
            float s = round(dtype, (float) (g / (1.0 + Math.exp(-g))));
            out[i] = round(dtype, s * up[i]);
        }
        return out;
    }

    /**
     * Causal attention over a paged cache for one sequence: query rows {@code q[i]} (numHeads × headDim, stride
     * {@code qStride}) at positions {@code ctx - qLen + i}; K/V [slot][numKvHeads*headDim] with slot of position
     * p = {@code blockTable[p / blockSize] * blockSize + p % blockSize}. Double-precision softmax; the result is
     * the exact attention (the kernels differ by fp32 / T rounding only).
     */
    public static float[] attention(float[] q, int qStride, int qLen, int ctx, float[] kCache, float[] vCache,
                                    int[] blockTable, int blockSize, int numHeads, int numKvHeads, int headDim) {
        int group = numHeads / numKvHeads;
        int kvDim = numKvHeads * headDim;
        float[] out = new float[qLen * numHeads * headDim];
        double scale = 1.0 / Math.sqrt(headDim);
        for (int i = 0; i < qLen; i++) {
            int pos = ctx - qLen + i;
            for (int h = 0; h < numHeads; h++) {
                int kvh = h / group;
                double[] s = new double[pos + 1];
                double mx = Double.NEGATIVE_INFINITY;
                for (int p = 0; p <= pos; p++) {
                    int slot = blockTable[p / blockSize] * blockSize + p % blockSize;
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) {
                        dot += (double) q[i * qStride + h * headDim + d] * kCache[slot * kvDim + kvh * headDim + d];
                    }
                    s[p] = dot * scale;
                    mx = Math.max(mx, s[p]);
                }
                double sum = 0;
                for (int p = 0; p <= pos; p++) { s[p] = Math.exp(s[p] - mx); sum += s[p]; }
                for (int d = 0; d < headDim; d++) {
                    double acc = 0;
                    for (int p = 0; p <= pos; p++) {
                        int slot = blockTable[p / blockSize] * blockSize + p % blockSize;
                        acc += s[p] * vCache[slot * kvDim + kvh * headDim + d];
                    }
                    out[(i * numHeads + h) * headDim + d] = (float) (acc / sum);
                }
            }
        }
        return out;
    }
}
