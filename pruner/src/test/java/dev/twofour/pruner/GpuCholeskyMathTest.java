package dev.twofour.pruner;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The identity GpuCholesky relies on, checked in fp64 on the CPU: with J the reversal and
 * J H J = L Lᵀ, U = J L⁻¹ J is the upper factor of H⁻¹ that {@link Cholesky#upperFactorOfInverse} computes.
 */
class GpuCholeskyMathTest {

    static double[] spd(int k, long seed) {
        float[] x = LayerMathTest.correlatedInputs(3 * k + 7, k, seed);
        Hessian h = new Hessian(k);
        h.add(x, 3 * k + 7);
        double[] m = h.matrix().clone();
        for (int i = 0; i < k; i++) m[i * k + i] += 0.01;
        return m;
    }

    static double[] reverse(double[] a, int k) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[a.length - 1 - i];
        return r;
    }

    @Test
    void reversedFactorInverseIsTheUpperFactorOfTheInverse() {
        for (int k : new int[]{1, 7, 61, 130}) {
            double[] h = spd(k, k);
            double[] expected = Cholesky.upperFactorOfInverse(h, k);
            double[] l = Cholesky.lower(reverse(h, k), k);
            double[] u = reverse(Cholesky.lowerInverse(l, k), k);
            double scale = 0;
            for (double v : expected) scale = Math.max(scale, Math.abs(v));
            for (int i = 0; i < u.length; i++) assertEquals(expected[i], u[i], 1e-9 * scale, "k=" + k + " element " + i);
        }
    }

    @Test
    void lowerInverseInverts() {
        int n = 37;
        double[] l = Cholesky.lower(spd(n, 5), n);
        double[] inv = Cholesky.lowerInverse(l, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int m = 0; m < n; m++) s += l[i * n + m] * inv[m * n + j];
                assertEquals(i == j ? 1 : 0, s, 1e-10, "(L·L⁻¹)[" + i + "][" + j + "]");
            }
        }
    }
}
