package dev.twofour.kernels.ref;

/**
 * Plain-Java twin of twofour_sparse24_gemm_*: Y[m][n] = sum over k of X[m][k] * W[n][k], reading W
 * from the packed layout directly (each kept value times the X element its metadata index names),
 * accumulated in double. X is given as floats (already rounded to its storage type) with row stride ldx.
 */
public final class Sparse24GemmRef {
    private Sparse24GemmRef() {}

    public static float[] gemm(float[] x, int ldx, Packed24 w, int m) {
        int n = w.n(), k = w.k(), kp = w.kPadded();
        if (ldx < k) throw new IllegalArgumentException("ldx " + ldx + " < k " + k);
        float[] vals = HalfFloats.toFloats(w.dtype(), w.values());
        float[] y = new float[m * n];
        for (int row = 0; row < n; row++) {
            int vBase = row * (kp / 2), mBase = row * (kp / 8);
            for (int t = 0; t < m; t++) {
                double s = 0;
                int xBase = t * ldx;
                for (int g = 0; g < k / 4; g++) {
                    int nib = ((w.metadata()[mBase + g / 2] & 0xFF) >>> (4 * (g & 1))) & 0xF;
                    s += (double) vals[vBase + 2 * g] * x[xBase + 4 * g + (nib & 3)];
                    s += (double) vals[vBase + 2 * g + 1] * x[xBase + 4 * g + (nib >>> 2)];
                }
                y[t * n + row] = (float) s;
            }
        }
        return y;
    }
}
