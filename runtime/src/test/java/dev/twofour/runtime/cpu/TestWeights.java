package dev.twofour.runtime.cpu;

import dev.twofour.model.DType;
import dev.twofour.model.TensorView;

import java.lang.foreign.MemorySegment;
import java.util.Random;

/** Random weights for kernel tests, with an independent packer for the 2:4 layout of COMMON.md / FORMAT.md. */
final class TestWeights {
    private TestWeights() {}

    /** Random values rounded to the dtype, so the reference sees the same numbers as the kernel. */
    static float[] random(Random rnd, int count, DType dtype) {
        float[] w = new float[count];
        for (int i = 0; i < count; i++) w[i] = round((float) rnd.nextGaussian() * 0.5f + 0.01f, dtype);
        return w;
    }

    static float round(float f, DType dtype) {
        return switch (dtype) {
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(f));
            case BF16 -> {
                int b = Float.floatToRawIntBits(f);
                b += 0x7fff + ((b >>> 16) & 1);
                yield Float.intBitsToFloat(b & 0xffff0000);
            }
            default -> f;
        };
    }

    /** Off-heap, as the backend keeps weights (vector loads from heap segments are much slower). */
    static MemorySegment segment(float[] w, DType dtype) {
        return offHeap(TensorView.ofFloats("w", dtype, new long[]{w.length}, w).data());
    }

    static MemorySegment offHeap(MemorySegment seg) {
        MemorySegment copy = java.lang.foreign.Arena.global().allocate(Math.max(1, seg.byteSize()), 64).asSlice(0, seg.byteSize());
        copy.copyFrom(seg);
        return copy;
    }

    /** Zeroes 2 (sometimes 3 or 4) of every 4 along k, at random positions. */
    static void make24(Random rnd, float[] w, int n, int k) {
        for (int r = 0; r < n; r++) {
            for (int g = 0; g < k / 4; g++) {
                int a = rnd.nextInt(4), b = (a + 1 + rnd.nextInt(3)) % 4;
                for (int i = 0; i < 4; i++) if (i != a && i != b) w[r * k + 4 * g + i] = 0f;
                if (rnd.nextInt(10) == 0) w[r * k + 4 * g + a] = 0f;
            }
        }
    }

    /** {values, metadata} per the packed layout: Kp = k rounded up to 16; 2 kept per group, lower index first. */
    static MemorySegment[] pack(float[] w, int n, int k, DType dtype) {
        int kp = (k + 15) / 16 * 16;
        float[] values = new float[n * kp / 2];
        byte[] meta = new byte[n * kp / 8];
        for (int r = 0; r < n; r++) {
            for (int g = 0; g < kp / 4; g++) {
                int[] kept = new int[2];
                int c = 0;
                for (int i = 0; i < 4 && c < 2; i++) {
                    int col = 4 * g + i;
                    if (col < k && w[r * k + col] != 0f) kept[c++] = i;
                }
                // fewer than 2 nonzeros: fill with unused indices in increasing order, value 0
                for (int i = 0; c < 2 && i < 4; i++) {
                    if (c == 1 && i == kept[0]) continue;
                    if (c == 1 && i < kept[0]) { kept[1] = kept[0]; kept[0] = i; c = 2; break; }
                    kept[c++] = i;
                }
                if (kept[0] > kept[1]) { int t = kept[0]; kept[0] = kept[1]; kept[1] = t; }
                for (int j = 0; j < 2; j++) {
                    int col = 4 * g + kept[j];
                    values[r * kp / 2 + 2 * g + j] = col < k ? w[r * k + col] : 0f;
                }
                int nib = kept[0] | (kept[1] << 2);
                int bi = r * kp / 8 + g / 2;
                meta[bi] |= (byte) ((g & 1) == 0 ? nib : nib << 4);
            }
        }
        return new MemorySegment[]{segment(values, dtype), offHeap(MemorySegment.ofArray(meta))};
    }

    /** y[m][n] = Σ x[m][k] w[n][k] in double. */
    static float[] reference(float[] x, int M, float[] w, int n, int k) {
        float[] y = new float[M * n];
        for (int m = 0; m < M; m++) {
            for (int r = 0; r < n; r++) {
                double s = 0;
                for (int i = 0; i < k; i++) s += (double) x[m * k + i] * w[r * k + i];
                y[m * n + r] = (float) s;
            }
        }
        return y;
    }
}
