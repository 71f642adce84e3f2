package dev.twofour.kernels.ref;

import dev.twofour.cuda.CudaDtype;

/**
 * The seeded fills of fill.cuh, bit for bit: element i is {@code scale * u(seed, i)} with u uniform
 * in [-1, 1], |u| >= 2^-10 (never zero), from a splitmix64 hash of (seed, i).
 */
public final class RandomFillRef {
    private RandomFillRef() {}

    static final long METADATA_SEED_XOR = 0x5DEECE66DA3B1F27L;
    /** The six valid (first, second) nibbles of a group, in the order the pattern hash picks them. */
    static final int[] PATTERNS = {0x4, 0x8, 0xC, 0x9, 0xD, 0xE};

    public static long mix(long seed, long index) {
        long z = seed + index * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public static float uniform(long seed, long index) {
        int k = (int) (mix(seed, index) >>> 40);
        float v = (float) (2 * k + 1 - 16777216) * (1.0f / 16777216.0f);
        float a = Math.max(Math.abs(v), 0.0009765625f);
        return Math.copySign(a, v);
    }

    public static float[] fillF32(long n, long seed, float scale) {
        float[] out = new float[Math.toIntExact(n)];
        for (int i = 0; i < out.length; i++) out[i] = uniform(seed, i) * scale;
        return out;
    }

    /** fp16 or bf16 bit patterns. */
    public static short[] fill16(CudaDtype dtype, long n, long seed, float scale) {
        short[] out = new short[Math.toIntExact(n)];
        for (int i = 0; i < out.length; i++) out[i] = HalfFloats.fromFloat(dtype, uniform(seed, i) * scale);
        return out;
    }

    /** A random 2:4 weight in the packed layout, as twofour_fill_sparse24_* writes it. */
    public static Packed24 sparse24(CudaDtype dtype, int n, int k, long seed, float scale) {
        Packed24.checkShape(n, k);
        int kp = Packed24.paddedK(k);
        short[] values = new short[Math.multiplyExact(n, kp / 2)];
        byte[] meta = new byte[Math.multiplyExact(n, kp / 8)];
        int groups = k / 4;
        for (int row = 0; row < n; row++) {
            for (int g = 0; g < kp / 4; g++) {
                long v = (long) row * (kp / 2) + 2L * g;
                int nib;
                if (g < groups) {
                    long h = mix(seed ^ METADATA_SEED_XOR, (long) row * (kp / 4) + g);
                    nib = PATTERNS[(int) Long.remainderUnsigned(h, 6)];
                    values[(int) v] = HalfFloats.fromFloat(dtype, uniform(seed, v) * scale);
                    values[(int) v + 1] = HalfFloats.fromFloat(dtype, uniform(seed, v + 1) * scale);
                } else {
                    nib = 0x4;
                }
                int b = row * (kp / 8) + g / 2;
                meta[b] = (byte) (meta[b] | (nib << (4 * (g & 1))));
            }
        }
        return new Packed24(dtype, n, k, values, meta);
    }
}
