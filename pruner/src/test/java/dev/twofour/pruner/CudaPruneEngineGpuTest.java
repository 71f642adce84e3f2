package dev.twofour.pruner;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@link CudaPruneEngine} against {@link CpuPruneEngine} and the CPU baselines on random layer problems of awkward sizes. */
@Tag("gpu")
class CudaPruneEngineGpuTest {
    static CudaPruneEngine gpu;
    static final CpuPruneEngine CPU = new CpuPruneEngine();
    /** (rows, cols, tokens, seed): awkward sizes, not multiples of the block or warp sizes. */
    static final int[][] SHAPES = {{37, 148, 611, 1}, {70, 260, 900, 2}, {13, 516, 1500, 3}};

    @BeforeAll
    static void setUp() {
        String why = CudaPruneEngine.unavailableReason();
        assumeTrue(why == null, why);
        gpu = CudaPruneEngine.open();
    }

    @AfterAll
    static void tearDown() {
        if (gpu != null) gpu.close();
    }

    static double maskAgreement(float[] a, float[] b) {
        int same = 0;
        for (int i = 0; i < a.length; i++) if ((a[i] != 0) == (b[i] != 0)) same++;
        return same / (double) a.length;
    }

    static double relDiff(double a, double b) {
        return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
    }

    @Test
    void hessianOnTheGpuMatchesTheCpu() {
        int k = 148, tokens = 611;
        float[] x = LayerMathTest.correlatedInputs(tokens, k, 3);
        Hessian cpu = new Hessian(k);
        try (Hessian dev = gpu.newHessian(k)) {
            for (Hessian h : new Hessian[]{cpu, dev}) {
                h.add(x, 300);
                h.add(Arrays.copyOfRange(x, 300 * k, tokens * k), tokens - 300);
            }
            assertEquals(tokens, dev.tokens());
            double[] a = cpu.matrix(), b = dev.matrix();
            double num = 0, den = 0;
            for (int i = 0; i < a.length; i++) { num += (a[i] - b[i]) * (a[i] - b[i]); den += a[i] * a[i]; }
            assertTrue(Math.sqrt(num / den) < 1e-5, "GPU Hessian relative error " + Math.sqrt(num / den));
            LayerProblem p = new LayerProblem("dev", LayerMathTest.randomWeights(40, k, 9), 40, k, dev);
            float[] m = gpu.magnitude(p);
            assertTrue(relDiff(gpu.loss(p, m), CPU.loss(new LayerProblem("cpu", p.weight(), 40, k, cpu), m)) < 1e-4);
        }
    }

    @Test
    void lossesAndLambdaMatchTheCpu() {
        for (int[] s : SHAPES) {
            LayerProblem p = LayerMathTest.problem(s[0], s[1], s[2], s[3]);
            float[] m = Baselines.magnitude(p);
            assertTrue(relDiff(p.loss(m), gpu.loss(p, m)) < 1e-4, "loss " + Arrays.toString(s));
            assertTrue(relDiff(p.outputEnergy(), gpu.outputEnergy(p)) < 1e-4, "output energy " + Arrays.toString(s));
            double lc = Dense.lambdaMax(p.hessian().matrix(), s[1]), lg = gpu.lambdaMax(p.hessian());
            assertTrue(relDiff(lc, lg) < 1e-3, "λmax cpu " + lc + " gpu " + lg);
        }
    }

    @Test
    void magnitudeAndWandaMasksMatchTheCpu() {
        for (int[] s : SHAPES) {
            LayerProblem p = LayerMathTest.problem(s[0], s[1], s[2], s[3]);
            float[] mc = Baselines.magnitude(p), mg = gpu.magnitude(p);
            assertTrue(Arrays.equals(mc, mg), "magnitude " + Arrays.toString(s));
            float[] wc = Baselines.wanda(p), wg = gpu.wanda(p);
            // diag(H) is fp32 on the GPU, fp64 on the CPU: a near-tie may flip, nothing more.
            assertTrue(maskAgreement(wc, wg) > 0.999, "wanda mask agreement " + maskAgreement(wc, wg));
            assertTrue(Masks.isTwoFour(wg));
        }
    }

    @Test
    void proxReachesTheCpuLossWithMostlyTheSameMask() {
        for (int[] s : SHAPES) {
            LayerProblem p = LayerMathTest.problem(s[0], s[1], s[2], s[3]);
            PruneEngine.ProxOutcome c = CPU.prox(p, ProxSchedule.DEFAULT), g = gpu.prox(p, ProxSchedule.DEFAULT);
            assertTrue(Masks.isTwoFour(g.weights()));
            double lc = p.loss(c.weights()), lg = p.loss(g.weights());
            double agree = maskAgreement(c.weights(), g.weights());
            assertTrue(agree > 0.97, "prox mask agreement " + agree + " " + Arrays.toString(s));
            assertTrue(lg <= lc * 1.02 + 1e-12, "prox loss gpu " + lg + " cpu " + lc + " " + Arrays.toString(s));
            // λmax in fp32 vs fp64 moves the step size a little: the step where the last group empties may move too.
            assertTrue(Math.abs(g.iterations() - c.iterations()) <= Math.max(3, c.iterations() / 10),
                    "prox steps gpu " + g.iterations() + " cpu " + c.iterations());
            assertTrue(lg < p.loss(Baselines.magnitude(p)), "prox must beat magnitude");
        }
    }

    @Test
    void refineReachesTheCpuLossOnTheSameMask() {
        for (int[] s : SHAPES) {
            LayerProblem p = LayerMathTest.problem(s[0], s[1], s[2], s[3]);
            float[] start = Baselines.wanda(p);
            start[5] = 0f; // a group with one nonzero: the mask widens to two by |W₀|
            float[] c = CPU.refine(p, start, 40), g = gpu.refine(p, start, 40);
            assertTrue(Masks.isTwoFour(g));
            for (int i = 0; i < g.length; i++) {
                if (g[i] != 0 && start[i] == 0 && i != 4 && i != 5 && i != 6 && i != 7) {
                    throw new AssertionError("refine moved a pruned weight at " + i);
                }
            }
            double lc = p.loss(c), lg = p.loss(g), l0 = p.loss(start);
            assertTrue(lg < l0, "refine must lower the loss: " + lg + " vs " + l0);
            assertTrue(relDiff(lc, lg) < 0.01, "refine loss gpu " + lg + " cpu " + lc + " " + Arrays.toString(s));
        }
    }

    @Test
    void sparseGptReachesTheCpuLoss() {
        for (int[] s : SHAPES) {
            LayerProblem p = LayerMathTest.problem(s[0], s[1], s[2], s[3]);
            for (int block : new int[]{128, 36}) {
                float[] c = Baselines.sparseGpt(p, block, 0.01), g = gpu.sparseGpt(p, block, 0.01);
                assertTrue(Masks.isTwoFour(g));
                double lc = p.loss(c), lg = p.loss(g);
                assertTrue(maskAgreement(c, g) > 0.97, "sparsegpt mask agreement " + maskAgreement(c, g));
                assertTrue(relDiff(lc, lg) < 0.02, "sparsegpt loss gpu " + lg + " cpu " + lc + " block " + block + " " + Arrays.toString(s));
            }
        }
    }

    @Test
    void gpuFactorOfTheInverseMatchesTheCpu() {
        for (int k : new int[]{4, 100, 300, 517}) { // one block, and several with a ragged last block (NB = 128)
            double[] h = GpuCholeskyMathTest.spd(k, k);
            double[] expected = Cholesky.upperFactorOfInverse(h, k);
            float[] hf = new float[h.length];
            for (int i = 0; i < h.length; i++) hf[i] = (float) h[i];
            gpu.begin();
            float[] got;
            try (var u = GpuCholesky.upperFactorOfInverse(gpu.kernels(), gpu.cublas(), gpu.stream(), hf, k)) {
                got = CudaPruneEngine.download(u, (long) k * k);
            }
            double num = 0, den = 0;
            for (int i = 0; i < got.length; i++) {
                num += (got[i] - expected[i]) * (got[i] - expected[i]);
                den += expected[i] * expected[i];
                if (i % k < i / k) assertEquals(0f, got[i], "U is upper triangular: element " + i);
            }
            assertTrue(Math.sqrt(num / den) < 1e-3, "k=" + k + ": relative error " + Math.sqrt(num / den));
        }
    }

    @Test
    void layerPrunerRunsEveryMethodOnTheGpu() {
        LayerProblem p = LayerMathTest.problem(37, 148, 611, 8);
        LayerPruner lp = new LayerPruner(gpu);
        for (Method m : Method.values()) {
            LayerPruner.Result r = lp.prune(p, PruneSettings.of(m, true));
            assertTrue(Masks.isTwoFour(r.weights()), m.id());
            assertTrue(r.lossAfter() <= r.lossBeforeRefine() * (1 + 1e-6), m.id() + ": refine raised the loss");
            assertTrue(relDiff(r.lossAfter(), p.loss(r.weights())) < 1e-4, m.id() + ": engine loss vs CPU loss");
        }
    }
}
