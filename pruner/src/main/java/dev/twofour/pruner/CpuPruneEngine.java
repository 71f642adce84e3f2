package dev.twofour.pruner;

import java.util.stream.IntStream;

/** {@link PruneEngine} on the CPU: Vector API products, groups split over threads. */
public final class CpuPruneEngine implements PruneEngine {
    /** Groups per parallel task of the batched prox. */
    private static final int PROX_CHUNK = 4096;
    /** The prox's convergence tolerance (GroupProx); the GPU engine uses the same, so their results can be compared. */
    static final double PROX_TOLERANCE = 1e-9;

    @Override public String name() { return "cpu"; }

    @Override
    public ProxOutcome prox(LayerProblem p, ProxSchedule schedule) {
        int n = p.rows(), k = p.cols();
        float[] w0 = p.weight();
        float[] w = w0.clone();
        float[] diff = new float[w.length];
        float[] grad = new float[w.length];
        float[] h = p.hessian().floatMatrix();
        double lipschitz = 2 * Dense.lambdaMax(p.hessian().matrix(), k);
        float step = lipschitz > 0 ? (float) (1 / lipschitz) : 0f;
        double rms = rms(w0);
        if (rms == 0) return new ProxOutcome(w, 0, true, 0);

        int groups = w.length / 4;
        int chunks = (groups + PROX_CHUNK - 1) / PROX_CHUNK;
        ThreadLocal<GroupProx> proxes = ThreadLocal.withInitial(() -> new GroupProx(PROX_TOLERANCE));
        double tau = schedule.tau0();
        int it = 0;
        boolean converged = false;
        while (it < schedule.maxIterations()) {
            it++;
            // Gradient step on f: W ← W − (1/L)·2(W − W₀)H.
            if (it > 1) { // at the first step W = W₀, the gradient is zero
                for (int i = 0; i < w.length; i++) diff[i] = w[i] - w0[i];
                Dense.multiply(diff, n, k, h, grad);
                float s2 = 2 * step;
                for (int i = 0; i < w.length; i++) w[i] -= s2 * grad[i];
            }
            // Prox of (λ/L)·R on every group.
            double t = tau / rms;
            int dense = IntStream.range(0, chunks).parallel().map(c -> {
                int g0 = c * PROX_CHUNK, g1 = Math.min(groups, g0 + PROX_CHUNK);
                return proxes.get().proxAll(w, 4 * g0, g1 - g0, t);
            }).sum();
            if (dense == 0) { converged = true; break; }
            tau *= schedule.growth();
        }
        // Fix the mask: the top two |w| of the iterate. Zeros rank below every nonzero (negative
        // scores) and among themselves by the original |W₀|, for groups the prox emptied.
        float[] score = new float[w.length];
        for (int i = 0; i < w.length; i++) score[i] = w[i] != 0 ? Math.abs(w[i]) : -1f / (1f + Math.abs(w0[i]));
        Masks.keepTopTwo(w, score);
        return new ProxOutcome(w, it, converged, tau);
    }

    /**
     * Masked conjugate gradient, every row at once: row r minimizes (v − w₀)H(v − w₀)ᵀ over v
     * with the zeros of row r fixed. Each row is its own CG (own α, β); one [n][k]×[k][k]
     * product per step. Exact line search on a quadratic makes each step at least as good as a
     * gradient step with the best step size, and K/2 steps would solve each row exactly.
     */
    @Override
    public float[] refine(LayerProblem p, float[] pruned, int maxIterations) {
        int n = p.rows(), k = p.cols();
        float[] w0 = p.weight();
        float[] v = pruned.clone();
        boolean[] keep = Masks.support(pruned);
        // A pruned group can keep fewer than 2 nonzeros (e.g. a weight that was exactly 0):
        // let the top-2 positions by |w₀| move too, so the mask is a full 2:4 mask.
        widenToTwo(keep, w0);
        float[] h = p.hessian().floatMatrix();
        float[] diff = new float[v.length], res = new float[v.length], dir = new float[v.length], hd = new float[v.length];
        double[] rr = new double[n];
        // Residual = −gradient/2 on the mask: −((v − w₀)H) ⊙ keep.
        for (int i = 0; i < v.length; i++) diff[i] = v[i] - w0[i];
        Dense.multiply(diff, n, k, h, res);
        for (int i = 0; i < v.length; i++) res[i] = keep[i] ? -res[i] : 0f;
        System.arraycopy(res, 0, dir, 0, v.length);
        double rr0max = 0;
        for (int r = 0; r < n; r++) { rr[r] = dot(res, res, r * k, k); rr0max = Math.max(rr0max, rr[r]); }
        if (rr0max == 0) return v;
        for (int it = 0; it < maxIterations; it++) {
            Dense.multiply(dir, n, k, h, hd);
            double worst = 0;
            for (int r = 0; r < n; r++) {
                int o = r * k;
                if (rr[r] == 0) continue;
                double dhd = 0;
                for (int i = 0; i < k; i++) if (keep[o + i]) dhd += (double) dir[o + i] * hd[o + i];
                if (!(dhd > 0)) { rr[r] = 0; continue; } // flat direction: this row is done
                double alpha = rr[r] / dhd;
                for (int i = 0; i < k; i++) {
                    if (!keep[o + i]) continue;
                    v[o + i] += (float) (alpha * dir[o + i]);
                    res[o + i] -= (float) (alpha * hd[o + i]);
                }
                double next = dot(res, res, o, k);
                double beta = next / rr[r];
                for (int i = 0; i < k; i++) dir[o + i] = keep[o + i] ? (float) (res[o + i] + beta * dir[o + i]) : 0f;
                rr[r] = next;
                worst = Math.max(worst, next);
            }
            if (worst <= 1e-12 * rr0max) break;
        }
        return v;
    }

    private static void widenToTwo(boolean[] keep, float[] w0) {
        for (int o = 0; o < keep.length; o += 4) {
            int kept = 0;
            for (int i = 0; i < 4; i++) if (keep[o + i]) kept++;
            while (kept < 2) {
                int bestI = -1;
                for (int i = 0; i < 4; i++) {
                    if (!keep[o + i] && (bestI < 0 || Math.abs(w0[o + i]) > Math.abs(w0[o + bestI]))) bestI = i;
                }
                keep[o + bestI] = true;
                kept++;
            }
        }
    }

    private static double dot(float[] a, float[] b, int o, int k) {
        double s = 0;
        for (int i = o; i < o + k; i++) s += (double) a[i] * b[i];
        return s;
    }

    static double rms(float[] w) {
        double s = 0;
        for (float x : w) s += (double) x * x;
        return Math.sqrt(s / w.length);
    }
}
