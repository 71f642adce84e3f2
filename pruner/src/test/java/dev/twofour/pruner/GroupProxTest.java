package dev.twofour.pruner;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class GroupProxTest {

    /** ½‖w − y‖² + t·R(w) in the original (signed, unsorted) coordinates. */
    static double objective(double[] w, double[] y, double t) {
        double q = 0;
        for (int i = 0; i < 4; i++) q += (w[i] - y[i]) * (w[i] - y[i]);
        return 0.5 * q + t * GroupProx.r(w[0], w[1], w[2], w[3]);
    }

    /**
     * Brute force independent of the solver: projected gradient descent with backtracking on
     * |w| (the optimum has the signs of y: flipping a sign never lowers R and raises the
     * quadratic), from 81 grid starts {0, ½, 1}·|y_i| and 40 random ones, no sorting, no
     * case analysis. Returns the best objective found.
     */
    static double bruteForce(double[] y, double t, SplittableRandom rnd) {
        double[] z = new double[4];
        for (int i = 0; i < 4; i++) z[i] = Math.abs(y[i]);
        double best = Double.POSITIVE_INFINITY;
        double[] w = new double[4], g = new double[4], n = new double[4];
        for (int s = 0; s < 81 + 40; s++) {
            if (s < 81) {
                int c = s;
                for (int i = 0; i < 4; i++) { w[i] = z[i] * (c % 3) * 0.5; c /= 3; }
            } else {
                for (int i = 0; i < 4; i++) w[i] = z[i] * rnd.nextDouble() * 1.2;
            }
            double f = fz(w, z, t);
            double step = 1;
            for (int it = 0; it < 4000; it++) {
                g[0] = w[0] - z[0] + t * (w[1] * w[2] + w[1] * w[3] + w[2] * w[3]);
                g[1] = w[1] - z[1] + t * (w[0] * w[2] + w[0] * w[3] + w[2] * w[3]);
                g[2] = w[2] - z[2] + t * (w[0] * w[1] + w[0] * w[3] + w[1] * w[3]);
                g[3] = w[3] - z[3] + t * (w[0] * w[1] + w[0] * w[2] + w[1] * w[2]);
                step = Math.min(1, step * 2);
                double fn;
                while (true) {
                    double dec = 0;
                    for (int i = 0; i < 4; i++) {
                        n[i] = Math.max(0, w[i] - step * g[i]);
                        dec += g[i] * (w[i] - n[i]);
                    }
                    fn = fz(n, z, t);
                    if (fn <= f - 0.3 * dec || step < 1e-30) break;
                    step *= 0.5;
                }
                double moved = 0;
                for (int i = 0; i < 4; i++) moved = Math.max(moved, Math.abs(n[i] - w[i]));
                System.arraycopy(n, 0, w, 0, 4);
                f = Math.min(f, fn);
                if (moved <= 1e-16 * (1 + z[0])) break;
            }
            best = Math.min(best, f);
        }
        return best;
    }

    static double fz(double[] w, double[] z, double t) {
        double q = 0;
        for (int i = 0; i < 4; i++) q += (w[i] - z[i]) * (w[i] - z[i]);
        return 0.5 * q + t * (w[0] * w[1] * w[2] + w[0] * w[1] * w[3] + w[0] * w[2] * w[3] + w[1] * w[2] * w[3]);
    }

    static double[] randomGroup(SplittableRandom rnd) {
        double[] y = new double[4];
        double scale = Math.pow(10, rnd.nextInt(-3, 3));
        for (int i = 0; i < 4; i++) y[i] = rnd.nextGaussian() * scale;
        switch (rnd.nextInt(6)) {
            case 0 -> y[rnd.nextInt(4)] = 0;                         // a zero
            case 1 -> { y[1] = y[0]; y[3] = -y[0]; }                 // ties (with sign flip)
            case 2 -> { y[0] = y[1] = y[2] = y[3] = scale; }         // all equal
            case 3 -> y[rnd.nextInt(4)] *= 1e-6;                     // one tiny entry
            case 4 -> { y[2] = y[3] = 0.5 * scale; }                 // tie in the bottom two
            default -> { }
        }
        return y;
    }

    @Test
    void matchesBruteForceOnManyGroups() {
        SplittableRandom rnd = new SplittableRandom(20250407);
        GroupProx prox = new GroupProx();
        double[] out = new double[4];
        int worse = 0;
        double worst = 0;
        int[] supports = new int[5];
        for (int c = 0; c < 3000; c++) {
            double[] y = randomGroup(rnd);
            double ymax = 0;
            for (double v : y) ymax = Math.max(ymax, Math.abs(v));
            // t spans "no effect" to "everything but the top two is gone": t·ymax from 1e-9 to 1e9.
            double t = Math.pow(10, rnd.nextDouble(-9, 9)) / Math.max(ymax, 1e-300);
            prox.prox(y, 0, t, out, 0);
            supports[prox.lastSupport()]++;
            double ours = objective(out, y, t);
            double ref = bruteForce(y, t, rnd);
            double tol = 1e-10 * (1 + ymax * ymax) + 1e-12 * Math.abs(ref);
            if (ours > ref + tol) {
                worse++;
                worst = Math.max(worst, (ours - ref) / (ymax * ymax));
                System.err.printf("case %d y=%s t=%.17g ours=%.17g ref=%.17g%n", c, java.util.Arrays.toString(y), t, ours, ref);
            }
            for (int i = 0; i < 4; i++) {
                assertTrue(out[i] == 0 || Math.signum(out[i]) == Math.signum(y[i]), "sign kept");
                assertTrue(Math.abs(out[i]) <= Math.abs(y[i]) * (1 + 1e-12), "shrinks");
            }
        }
        System.err.printf("support counts 0/2/3/4: %d %d %d %d%n", supports[0], supports[2], supports[3], supports[4]);
        assertEquals(0, worse, "groups where the prox lost to brute force; worst relative gap " + worst);
        // The test must exercise all three candidates.
        assertTrue(supports[2] > 100 && supports[3] > 20 && supports[4] > 100,
                "support counts " + java.util.Arrays.toString(supports));
    }

    @Test
    void limits() {
        double[] y = {0.3, -2.0, 0.7, 1.1};
        // t -> 0: identity.
        assertArrayEquals(y, GroupProx.prox(y, 1e-300), 1e-12);
        // Huge t: top two kept, the rest zero.
        assertArrayEquals(new double[]{0, -2.0, 0, 1.1}, GroupProx.prox(y, 1e12), 0);
        // Already 2-sparse: unchanged whatever t is.
        double[] s = {0, 5, -1, 0};
        assertArrayEquals(s, GroupProx.prox(s, 1e6), 0);
        // All zero stays zero.
        assertArrayEquals(new double[4], GroupProx.prox(new double[4], 3.0), 0);
    }

    @Test
    void batchMatchesSingleGroups() {
        SplittableRandom rnd = new SplittableRandom(7);
        int groups = 1037;
        float[] w = new float[4 * groups + 3];
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
        float[] copy = w.clone();
        double t = 0.8;
        new GroupProx().proxAll(w, 3, groups, t);
        for (int q = 0; q < groups; q++) {
            double[] y = new double[4];
            for (int i = 0; i < 4; i++) y[i] = copy[3 + 4 * q + i];
            double[] p = GroupProx.prox(y, t);
            for (int i = 0; i < 4; i++) assertEquals((float) p[i], w[3 + 4 * q + i], 0f);
        }
        for (int i = 0; i < 3; i++) assertEquals(copy[i], w[i]);
    }
}
