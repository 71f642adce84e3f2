package dev.twofour.kernels.ref;

import dev.twofour.cuda.CudaDtype;

/**
 * A 2:4 weight [n][k] in the packed layout of docs/FORMAT.md, on the host: values [n][kp/2] as
 * fp16/bf16 bit patterns (the two kept values of each group of 4 inputs, lower index first) and
 * metadata [n][kp/8] bytes (a nibble per group: low nibble for even groups; bits 0-1 first index,
 * bits 2-3 second). kp = k rounded up to a multiple of 16; padded groups are (0,1) with zero values.
 */
public record Packed24(CudaDtype dtype, int n, int k, short[] values, byte[] metadata) {
    public Packed24 {
        checkShape(n, k);
        int kp = paddedK(k);
        if (values.length != (long) n * kp / 2) throw new IllegalArgumentException("values has " + values.length + " elements, expected n*kp/2 = " + (long) n * kp / 2);
        if (metadata.length != (long) n * kp / 8) throw new IllegalArgumentException("metadata has " + metadata.length + " bytes, expected n*kp/8 = " + (long) n * kp / 8);
    }

    public static int paddedK(int k) { return (k + 15) & ~15; }

    static void checkShape(int n, int k) {
        if (n <= 0 || k <= 0 || k % 4 != 0) throw new IllegalArgumentException("a 2:4 weight needs n > 0 and k > 0 a multiple of 4, got n=" + n + " k=" + k);
    }

    public int kPadded() { return paddedK(k); }

    /** The in-group index (0..3) of kept value {@code which} (0 or 1) of group {@code g} of {@code row}. */
    public int index(int row, int g, int which) {
        int b = metadata[row * (kPadded() / 8) + g / 2] & 0xFF;
        int nib = (b >>> (4 * (g & 1))) & 0xF;
        return (nib >>> (2 * which)) & 3;
    }

    /** The dense [n][k] matrix as floats. */
    public float[] toDense() {
        float[] w = new float[n * k];
        int kp = kPadded();
        for (int row = 0; row < n; row++)
            for (int g = 0; g < k / 4; g++)
                for (int e = 0; e < 2; e++)
                    w[row * k + 4 * g + index(row, g, e)] += HalfFloats.toFloat(dtype, values[row * (kp / 2) + 2 * g + e]);
        return w;
    }
}
