package dev.twofour.pruner;

/** Dense fp64 Cholesky helpers for SparseGPT (K ≤ a few thousand). */
final class Cholesky {
    private Cholesky() {}

    /** Lower factor L with A = L Lᵀ, in place of a copy; throws when A is not positive definite. */
    static double[] lower(double[] a, int k) {
        double[] l = a.clone();
        for (int j = 0; j < k; j++) {
            double s = l[j * k + j];
            for (int c = 0; c < j; c++) s -= l[j * k + c] * l[j * k + c];
            if (!(s > 0)) {
                throw new ArithmeticException("matrix is not positive definite at column " + j
                        + " (pivot " + s + "); raise the dampening or use more calibration tokens");
            }
            double d = Math.sqrt(s);
            l[j * k + j] = d;
            final int fj = j;
            java.util.stream.IntStream.range(j + 1, k).parallel().forEach(i -> {
                double t = l[i * k + fj];
                for (int c = 0; c < fj; c++) t -= l[i * k + c] * l[fj * k + c];
                l[i * k + fj] = t / d;
            });
            for (int c = j + 1; c < k; c++) l[j * k + c] = 0;
        }
        return l;
    }

    /** L⁻¹ of a lower-triangular n×n matrix (fp64, row-major), by forward substitution, columns in parallel. */
    static double[] lowerInverse(double[] l, int n) {
        double[] inv = new double[n * n];
        java.util.stream.IntStream.range(0, n).parallel().forEach(c -> {
            for (int i = c; i < n; i++) {
                double s = i == c ? 1 : 0;
                for (int m = c; m < i; m++) s -= l[i * n + m] * inv[m * n + c];
                inv[i * n + c] = s / l[i * n + i];
            }
        });
        return inv;
    }

    /**
     * The upper-triangular U with H⁻¹ = Uᵀ U. Computed as: H = L Lᵀ, H⁻¹ = L⁻ᵀ L⁻¹, then the
     * Cholesky factor of H⁻¹ (lower) transposed.
     */
    static double[] upperFactorOfInverse(double[] h, int k) {
        double[] l = lower(h, k);
        double[] linv = lowerInverse(l, k);
        // Hinv = Linvᵀ Linv.
        double[] hinv = new double[k * k];
        java.util.stream.IntStream.range(0, k).parallel().forEach(i -> {
            for (int j = i; j < k; j++) {
                double s = 0;
                for (int m = Math.max(i, j); m < k; m++) s += linv[m * k + i] * linv[m * k + j];
                hinv[i * k + j] = s;
                hinv[j * k + i] = s;
            }
        });
        double[] lh = lower(hinv, k);
        double[] u = new double[k * k];
        for (int i = 0; i < k; i++) for (int j = 0; j <= i; j++) u[j * k + i] = lh[i * k + j];
        return u;
    }
}
