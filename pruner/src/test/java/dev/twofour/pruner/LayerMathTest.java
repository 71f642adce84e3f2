package dev.twofour.pruner;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class LayerMathTest {

    /** Inputs with correlated features: x = A z for a random mixing A, T tokens. */
    static float[] correlatedInputs(int tokens, int k, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] mix = new double[k * k];
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) mix[i * k + j] = (i == j ? 1 : 0) + 0.4 * rnd.nextGaussian() / Math.sqrt(k);
        }
        double[] scale = new double[k];
        for (int i = 0; i < k; i++) scale[i] = Math.exp(rnd.nextGaussian() * 0.7); // uneven feature norms
        float[] x = new float[tokens * k];
        double[] z = new double[k];
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < k; j++) z[j] = rnd.nextGaussian();
            for (int i = 0; i < k; i++) {
                double s = 0;
                for (int j = 0; j < k; j++) s += mix[i * k + j] * z[j];
                x[t * k + i] = (float) (s * scale[i]);
            }
        }
        return x;
    }

    static float[] randomWeights(int n, int k, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] w = new float[n * k];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rnd.nextGaussian() * 0.05);
        return w;
    }

    static LayerProblem problem(int n, int k, int tokens, long seed) {
        Hessian h = new Hessian(k);
        float[] x = correlatedInputs(tokens, k, seed);
        h.add(x, tokens);
        return new LayerProblem("test", randomWeights(n, k, seed + 1), n, k, h);
    }

    @Test
    void hessianMatchesNaiveSum() {
        int k = 37 * 4, tokens = 611; // awkward sizes: not multiples of the vector length or the chunk
        float[] x = correlatedInputs(tokens, k, 3);
        Hessian h = new Hessian(k);
        h.add(x, 300);
        float[] rest = java.util.Arrays.copyOfRange(x, 300 * k, tokens * k);
        h.add(rest, tokens - 300);
        double[] m = h.matrix();
        for (int i = 0; i < k; i += 7) {
            for (int j = 0; j < k; j += 5) {
                double s = 0;
                for (int t = 0; t < tokens; t++) s += (double) x[t * k + i] * x[t * k + j];
                s /= tokens;
                assertEquals(s, m[i * k + j], 1e-5 * (1 + Math.abs(s)), "H[" + i + "][" + j + "]");
            }
        }
        assertEquals(tokens, h.tokens());
    }

    @Test
    void multiplyMatchesNaive() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int[] nk : new int[][]{{7, 12}, {13, 36}, {64, 100}}) {
            int n = nk[0], k = nk[1];
            float[] a = new float[n * k], h = new float[k * k], out = new float[n * k];
            for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < h.length; i++) h[i] = (float) rnd.nextGaussian();
            Dense.multiply(a, n, k, h, out);
            for (int r = 0; r < n; r++) for (int j = 0; j < k; j++) {
                double s = 0;
                for (int i = 0; i < k; i++) s += a[r * k + i] * h[i * k + j];
                assertEquals(s, out[r * k + j], 1e-4 * (1 + Math.abs(s)));
            }
        }
    }

    @Test
    void lambdaMaxOfKnownMatrix() {
        int k = 3;
        double[] h = {2, 1, 0, 1, 2, 0, 0, 0, 0.5}; // eigenvalues 3, 1, 0.5
        double l = Dense.lambdaMax(h, k);
        assertTrue(l >= 3 && l <= 3.05, "λmax " + l);
    }

    /** Exact minimizer of the loss over the nonzeros of each row (normal equations, fp64). */
    static float[] exactRefit(LayerProblem p, float[] pruned) {
        int n = p.rows(), k = p.cols();
        double[] h = p.hessian().matrix();
        float[] out = new float[n * k];
        for (int r = 0; r < n; r++) {
            final int row = r;
            int[] idx = java.util.stream.IntStream.range(0, k).filter(j -> pruned[row * k + j] != 0).toArray();
            int m = idx.length;
            double[] a = new double[m * m], b = new double[m];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < m; j++) a[i * m + j] = h[idx[i] * k + idx[j]];
                double s = 0;
                for (int j = 0; j < k; j++) s += h[idx[i] * k + j] * p.weight()[r * k + j];
                b[i] = s;
            }
            double[] l = Cholesky.lower(a, m);
            double[] y = new double[m];
            for (int i = 0; i < m; i++) { double s = b[i]; for (int j = 0; j < i; j++) s -= l[i * m + j] * y[j]; y[i] = s / l[i * m + i]; }
            for (int i = m - 1; i >= 0; i--) { double s = y[i]; for (int j = i + 1; j < m; j++) s -= l[j * m + i] * y[j]; y[i] = s / l[i * m + i]; }
            for (int i = 0; i < m; i++) out[r * k + idx[i]] = (float) y[i];
        }
        return out;
    }

    @Test
    void refineKeepsTheMaskAndReachesTheExactOptimum() {
        LayerProblem p = problem(9, 48, 500, 11);
        float[] mag = Baselines.magnitude(p);
        float[] refined = new CpuPruneEngine().refine(p, mag, 200);
        for (int i = 0; i < mag.length; i++) if (mag[i] == 0) assertEquals(0f, refined[i]);
        double exact = p.loss(exactRefit(p, mag));
        double before = p.loss(mag), after = p.loss(refined);
        assertTrue(after < before, "refinement lowers the loss");
        assertEquals(exact, after, 1e-4 * exact, "CG reaches the normal-equation optimum");
    }

    @Test
    void sparseGptUpdatesMatchLeastSquaresWhenThePrunedColumnsComeFirst() {
        // With one group of 4 and a mask that prunes columns 0 and 1, the OBS updates leave the
        // kept columns 2, 3 at their least-squares optimum given the mask.
        int k = 4;
        double[] h = {1.0, 0.3, 0.5, 0.2,
                      0.3, 1.2, 0.4, 0.1,
                      0.5, 0.4, 1.1, 0.3,
                      0.2, 0.1, 0.3, 0.9};
        LayerProblem p = new LayerProblem("g", new float[]{0.05f, -0.04f, 0.9f, -0.8f}, 1, k, Hessian.of(h, k));
        float[] w = Baselines.sparseGpt(p, 4, 0.0);
        assertEquals(0f, w[0]);
        assertEquals(0f, w[1]);
        float[] exact = exactRefit(p, w);
        assertEquals(exact[2], w[2], 1e-5);
        assertEquals(exact[3], w[3], 1e-5);
    }

    @Test
    void allMethodsGive24AndBeatMagnitudeOnCorrelatedInputs() {
        LayerProblem p = problem(24, 64, 800, 21);
        LayerPruner pruner = new LayerPruner(new CpuPruneEngine());
        double mag = p.loss(Baselines.magnitude(p));
        for (Method m : Method.values()) {
            for (boolean refine : new boolean[]{false, true}) {
                LayerPruner.Result r = pruner.prune(p, PruneSettings.of(m, refine));
                assertTrue(Masks.isTwoFour(r.weights()), m + " is 2:4");
                int nz = 0;
                for (float v : r.weights()) if (v != 0) nz++;
                assertEquals(p.weight().length / 2, nz, m + " keeps exactly half");
                if (m != Method.MAGNITUDE || refine) assertTrue(r.lossAfter() < mag, m + (refine ? "+refine" : "") + " loss " + r.lossAfter() + " vs magnitude " + mag);
                if (refine) assertTrue(r.lossAfter() <= r.lossBeforeRefine() * (1 + 1e-6), "refine does not hurt");
            }
        }
    }

    /**
     * A toy layer where prox provably finds a better mask than magnitude and Wanda.
     * Features 1 and 2 are almost the same signal (correlation ρ = 0.99); features 3 and 4 are
     * independent of everything; all have unit norm, so Wanda's score is |w| and Wanda picks the
     * same mask as magnitude. The weights of every row decrease along the group
     * (w1 > w2 > w3 > w4 > 0), so magnitude and Wanda keep {1, 2} and drop {3, 4}. Since x3 and
     * x4 are uncorrelated with the kept features, no reweighting can recover them: the loss of
     * that mask is at least w3² + w4², even after refinement. A mask that drops one of the twin
     * features and one independent one keeps the twin's contribution by moving its weight onto
     * the other twin (w1' = w1 + ρ·w2): its best loss is w2²(1 − ρ²) + w4², far lower. The prox
     * loop sees the off-diagonal ρ in the gradient 2(W' − W)H, so while R squeezes the group,
     * weight flows from one twin to the other; Wanda and magnitude look at diag(H) only.
     */
    @Test
    void proxFindsABetterMaskThanMagnitudeAndWandaOnTwinFeatures() {
        int k = 4, n = 16;
        double rho = 0.99;
        double[] h = {1, rho, 0, 0,
                      rho, 1, 0, 0,
                      0, 0, 1, 0,
                      0, 0, 0, 1};
        SplittableRandom rnd = new SplittableRandom(99);
        float[] w = new float[n * k];
        for (int r = 0; r < n; r++) {
            double s = rnd.nextBoolean() ? 1 : -1;
            w[r * k] = (float) (s * (1.0 + 0.1 * rnd.nextDouble()));
            w[r * k + 1] = (float) (s * (0.85 + 0.1 * rnd.nextDouble()));
            w[r * k + 2] = (float) ((rnd.nextBoolean() ? 1 : -1) * (0.65 + 0.1 * rnd.nextDouble()));
            w[r * k + 3] = (float) ((rnd.nextBoolean() ? 1 : -1) * (0.5 + 0.1 * rnd.nextDouble()));
        }
        LayerProblem p = new LayerProblem("twins", w, n, k, Hessian.of(h, k));
        CpuPruneEngine engine = new CpuPruneEngine();
        float[] mag = Baselines.magnitude(p), wanda = Baselines.wanda(p);
        assertArrayEquals(mag, wanda, "unit feature norms: Wanda = magnitude");
        // A slow λ schedule: weight moves between the twins a little at every step, so the
        // transfer needs steps at moderate λ (a fast schedule freezes some rows' masks early).
        PruneEngine.ProxOutcome outcome = engine.prox(p, new ProxSchedule(0.01, 1.03, 1000));
        assertTrue(outcome.converged(), "all groups became 2-sparse inside the budget");
        float[] prox = outcome.weights();
        // Compare masks at their best weights (refinement to the exact optimum).
        double magBest = p.loss(exactRefit(p, mag));
        double proxBest = p.loss(exactRefit(p, prox));
        double bound = 0;
        for (int r = 0; r < n; r++) bound += w[r * k + 2] * w[r * k + 2] + w[r * k + 3] * w[r * k + 3];
        assertEquals(bound, magBest, 1e-4 * bound, "dropping both independent features costs w3² + w4²");
        assertTrue(proxBest < 0.6 * magBest, "prox mask loss " + proxBest + " vs magnitude/Wanda " + magBest);
        // And without any refinement the prox weights already beat magnitude's.
        assertTrue(p.loss(prox) < p.loss(mag), "prox " + p.loss(prox) + " vs magnitude " + p.loss(mag));
        for (int r = 0; r < n; r++) {
            assertTrue(prox[r * k] == 0 || prox[r * k + 1] == 0, "row " + r + ": prox drops one twin");
        }
    }
}
