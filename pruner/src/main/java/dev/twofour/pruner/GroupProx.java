package dev.twofour.pruner;

/**
 * The proximal operator of {@code t·R} for one group of four weights, where
 * {@code R(w) = |w1w2w3| + |w1w2w4| + |w1w3w4| + |w2w3w4|} (zero exactly when at most two
 * entries are nonzero):
 * <pre>  prox(y) = argmin_w ½‖w − y‖² + t·R(w)</pre>
 * The derivation is in docs/PRUNING.md ("The prox of one group"). In short: the minimizer has
 * the signs of y and the order of |y|, so we solve on z = |y| sorted descending over w ≥ 0 and
 * compare three candidates:
 * <ol>
 *   <li>top two kept (R = 0), cost ½(z3² + z4²);</li>
 *   <li>the best point with support {1,2,3}: exact, by reducing to one variable a = t·w3 and
 *       finding every root of a function that is convex-then-concave (so its roots are
 *       bracketed by at most two critical points found in closed form and by bisection);</li>
 *   <li>the best dense point: exact block-coordinate minimization over the pairs {1,2} and
 *       {3,4} (each pair's subproblem is a 2-D quadratic because R is multilinear) from four
 *       starts.</li>
 * </ol>
 * Instances hold scratch space and are not thread-safe; {@link #proxAll} is the batch entry.
 */
public final class GroupProx {

    private static final int MAX_SWEEPS = 500;
    private static final int BISECTIONS = 64;

    // Scratch for one group, so the batch loop allocates nothing.
    private final double[] z = new double[4];
    private final int[] order = new int[4];
    private final double[] best = new double[4];
    private final double[] cand = new double[4];
    private final double[] absY = new double[4];
    private final double[] breakpoints = new double[4];

    // Parameters of the 1-D function h(a) for the 3-sparse candidate (see docs).
    private double hM, hD, hC;

    /** Coordinate descent stops when no coordinate moves more than this times max|y|. */
    private final double tolerance;

    /** A solver converged to the last bits of a double (what the tests compare). */
    public GroupProx() { this(1e-13); }

    /**
     * @param tolerance relative stopping tolerance of the dense candidate's coordinate descent;
     *                  1e-9 is far below fp32 rounding (what the batch writes back)
     */
    public GroupProx(double tolerance) { this.tolerance = tolerance; }

    /** max|y| of the current group: the scale of the stopping tolerance. */
    private double scale;

    /** Which candidate won the last call: 2, 3 or 4 nonzeros (0 when the input was already 2-sparse). */
    private int lastSupport;

    /**
     * prox of t·R at y (4 values from {@code in[inOff..inOff+3]}), written to {@code out[outOff..]}.
     * {@code in} and {@code out} may be the same array and offset.
     */
    public void prox(double[] in, int inOff, double t, double[] out, int outOff) {
        double y0 = in[inOff], y1 = in[inOff + 1], y2 = in[inOff + 2], y3 = in[inOff + 3];
        double a0 = Math.abs(y0), a1 = Math.abs(y1), a2 = Math.abs(y2), a3 = Math.abs(y3);
        double min = Math.min(Math.min(a0, a1), Math.min(a2, a3));
        // Convex case (see solveSorted): no sorting needed, block descent from |y| in place.
        if (t > 0 && min > 0 && 2 * t * (a0 + a1 + a2 + a3 - min) <= 1) {
            z[0] = a0; z[1] = a1; z[2] = a2; z[3] = a3;
            scale = Math.max(Math.max(a0, a1), Math.max(a2, a3));
            denseFrom(a0, a1, a2, a3, t);
            lastSupport = -1; // computed on demand from cand (keeps the hot path short)
            out[outOff] = Math.copySign(cand[0], y0); out[outOff + 1] = Math.copySign(cand[1], y1);
            out[outOff + 2] = Math.copySign(cand[2], y2); out[outOff + 3] = Math.copySign(cand[3], y3);
            return;
        }
        sortByMagnitude(y0, y1, y2, y3);
        scale = z[0];
        if (t <= 0 || z[2] == 0) { // R(y) = 0 or no penalty: y itself is optimal
            lastSupport = 0;
            out[outOff] = y0; out[outOff + 1] = y1; out[outOff + 2] = y2; out[outOff + 3] = y3;
            return;
        }
        solveSorted(t);
        for (int r = 0; r < 4; r++) {
            int i = order[r];
            double sign = i == 0 ? y0 : i == 1 ? y1 : i == 2 ? y2 : y3;
            out[outOff + i] = Math.copySign(best[r], sign);
        }
    }

    /** Convenience for tests: prox of one group as a new array. */
    public static double[] prox(double[] y, double t) {
        double[] out = new double[4];
        new GroupProx().prox(y, 0, t, out, 0);
        return out;
    }

    /**
     * Applies the prox of t·R in place to every group of four consecutive values of
     * {@code w[from .. from+4*groups)}. Math in double, result rounded to float.
     * Returns how many groups came out with more than two nonzeros.
     */
    public int proxAll(float[] w, int from, int groups, double t) {
        double[] g = new double[4];
        int dense = 0;
        for (int q = 0; q < groups; q++) {
            int o = from + 4 * q;
            float a0 = w[o], a1 = w[o + 1], a2 = w[o + 2], a3 = w[o + 3];
            int nz = (a0 != 0 ? 1 : 0) + (a1 != 0 ? 1 : 0) + (a2 != 0 ? 1 : 0) + (a3 != 0 ? 1 : 0);
            if (nz <= 2) continue; // R = 0 already: the prox is the identity
            g[0] = a0; g[1] = a1; g[2] = a2; g[3] = a3;
            prox(g, 0, t, g, 0);
            float b0 = (float) g[0], b1 = (float) g[1], b2 = (float) g[2], b3 = (float) g[3];
            w[o] = b0; w[o + 1] = b1; w[o + 2] = b2; w[o + 3] = b3;
            if ((b0 != 0 ? 1 : 0) + (b1 != 0 ? 1 : 0) + (b2 != 0 ? 1 : 0) + (b3 != 0 ? 1 : 0) > 2) dense++;
        }
        return dense;
    }

    int lastSupport() { return lastSupport < 0 ? support(cand) : lastSupport; }

    /** Objective ½‖w − z‖² + t·R(w) for w, z ≥ 0 (sorted space). */
    static double objective(double[] w, double[] z, double t) {
        double q = 0;
        for (int i = 0; i < 4; i++) { double d = w[i] - z[i]; q += d * d; }
        return 0.5 * q + t * r(w[0], w[1], w[2], w[3]);
    }

    static double r(double a, double b, double c, double d) {
        return Math.abs(a * b * c) + Math.abs(a * b * d) + Math.abs(a * c * d) + Math.abs(b * c * d);
    }

    // ---- sorted-space solver -------------------------------------------------------------

    private void sortByMagnitude(double y0, double y1, double y2, double y3) {
        double[] a = absY;
        a[0] = Math.abs(y0); a[1] = Math.abs(y1); a[2] = Math.abs(y2); a[3] = Math.abs(y3);
        order[0] = 0; order[1] = 1; order[2] = 2; order[3] = 3;
        // Insertion sort, descending by |y|; ties keep the lower index first (stable, deterministic).
        for (int i = 1; i < 4; i++) {
            int k = order[i];
            int j = i - 1;
            while (j >= 0 && a[order[j]] < a[k]) { order[j + 1] = order[j]; j--; }
            order[j + 1] = k;
        }
        for (int i = 0; i < 4; i++) z[i] = a[order[i]];
    }

    /** Fills {@link #best} with the minimizer over w ≥ 0 for the sorted z (z3 > 0, t > 0). */
    private void solveSorted(double t) {
        // Convex case: on the box [0, z] (which holds the minimizer, since the gradient of R is
        // ≥ 0) the Hessian I + t·∇²e3 has off-diagonal entries t·(wk + wl) ≤ t·(z1 + z2), and
        // each row sums to at most 2t(z1 + z2 + z3). When that is ≤ 1 the Hessian is diagonally
        // dominant, F is convex there, and coordinate descent from z reaches the global minimum.
        if (2 * t * (z[0] + z[1] + z[2]) <= 1) {
            denseFrom(z[0], z[1], z[2], z[3], t);
            System.arraycopy(cand, 0, best, 0, 4);
            lastSupport = support(best);
            return;
        }
        // Candidate 1: keep the top two.
        best[0] = z[0]; best[1] = z[1]; best[2] = 0; best[3] = 0;
        double bestF = 0.5 * (z[2] * z[2] + z[3] * z[3]);
        lastSupport = 2;

        // Screening (large t): every KKT point has wi = max(0, zi − t·e2(w without i)) and
        // e2(w without i) ≤ e2(z without i) on the box, so wi ≥ li = zi − t·e2(z without i).
        // If l1, l2 > 0 then w1 ≥ l1, w2 ≥ l2 at every KKT point, and w3 > 0 (or w4 > 0) would
        // need t·w1·w2 < z3, impossible when t·l1·l2 ≥ z3: the top two is then the only KKT
        // point, hence optimal.
        double l1 = z[0] - t * (z[1] * z[2] + z[1] * z[3] + z[2] * z[3]);
        double l2 = z[1] - t * (z[0] * z[2] + z[0] * z[3] + z[2] * z[3]);
        if (l1 > 0 && l2 > 0 && t * l1 * l2 >= z[2]) return;

        // Candidate 2: support {1,2,3}. Every interior stationary point is a root of h(a).
        double f3 = threeSparse(t);
        if (f3 < bestF) { bestF = f3; System.arraycopy(cand, 0, best, 0, 4); lastSupport = 3; }

        // Candidate 3: dense. Only possible when z4 > 0.
        if (z[3] > 0) {
            // Start 1: y itself. Start 2: the 3-sparse optimum (or the top two) with w4 = z4.
            denseFrom(z[0], z[1], z[2], z[3], t);
            double fd = objective(cand, z, t);
            if (fd < bestF) { bestF = fd; System.arraycopy(cand, 0, best, 0, 4); lastSupport = support(cand); }
            double s0 = best[0], s1 = best[1], s2 = best[2] > 0 ? best[2] : z[2];
            denseFrom(s0, s1, s2, z[3], t);
            fd = objective(cand, z, t);
            if (fd < bestF) { bestF = fd; System.arraycopy(cand, 0, best, 0, 4); lastSupport = support(cand); }
            // Starts 3 and 4 exist for (near-)ties among z2, z3, z4, where the descent from the
            // first two starts can fall off a thin valley; without ties they never win (checked by
            // the stress runs in docs/PRUNING.md) and they would double the cost.
            if (!nearTie()) return;
            // Start 3: the best point on the ray c·z (c solves 3t·e3(z)·c² + |z|²c − |z|² = 0).
            // The first coordinate step from z can overshoot to 0 when t·z² is large, which
            // would trap the descent on a face; the ray point is inside and, for ties, is the
            // symmetric stationary point itself.
            double zz = z[0] * z[0] + z[1] * z[1] + z[2] * z[2] + z[3] * z[3];
            double e3 = r(z[0], z[1], z[2], z[3]);
            double c = 2 * zz / (zz + Math.sqrt(zz * zz + 12 * t * e3 * zz)); // stable root form
            denseFrom(c * z[0], c * z[1], c * z[2], c * z[3], t);
            fd = objective(cand, z, t);
            if (fd < bestF) { bestF = fd; System.arraycopy(cand, 0, best, 0, 4); lastSupport = support(cand); }
            // Start 4: z/2, deeper inside. With ties (z2 = z3 = z4) the dense minimum can be the
            // symmetric point of the tied coordinates, which the first sweep from z or c·z skips
            // over: the exact step of the first tied coordinate lands on 0, the others follow.
            denseFrom(0.5 * z[0], 0.5 * z[1], 0.5 * z[2], 0.5 * z[3], t);
            fd = objective(cand, z, t);
            if (fd < bestF) { System.arraycopy(cand, 0, best, 0, 4); lastSupport = support(cand); }
        }
    }

    /** Whether two of z2, z3, z4 (sorted) are within 5 % of each other. */
    private boolean nearTie() {
        return z[1] - z[2] <= 0.05 * z[1] || z[2] - z[3] <= 0.05 * z[2];
    }

    private static int support(double[] w) {
        int s = 0;
        for (double v : w) if (v != 0) s++;
        return s;
    }

    /**
     * Best stationary point with support {1,2,3} (w4 = 0), left in {@link #cand}; returns its
     * objective, or +inf when there is none inside the feasible region.
     *
     * For fixed w3 = s, the problem in (w1, w2) is a 2x2 quadratic with Hessian [[1, a], [a, 1]],
     * a = t·s, solved exactly by w1 ± w2 = (z1 ± z2)/(1 ± a). At an interior minimum,
     * d/ds of the reduced objective vanishes: s − z3 + t·w1·w2 = 0. Multiplying by t gives
     * h(a) = a − c + M²/(1+a)² − D²/(1−a)², with c = t·z3, M = t(z1+z2)/2, D = t(z1−z2)/2,
     * on 0 < a ≤ min(c, z2/z1) (beyond z2/z1, w2 would be negative).
     * h'' = 6M²/(1+a)⁴ − 6D²/(1−a)⁴ changes sign once, so h is convex then concave: h' has at
     * most one root on each side of the inflection point, and h at most one root between
     * consecutive roots of h'. Bracketing + bisection finds all of them.
     */
    private double threeSparse(double t) {
        double z1 = z[0], z2 = z[1], z3 = z[2];
        double m = 0.5 * (z1 + z2), d = 0.5 * (z1 - z2);
        hM = t * m; hD = t * d; hC = t * z3;
        double aMax = Math.min(hC, z2 / z1);
        if (!(aMax > 0)) return Double.POSITIVE_INFINITY;

        // Breakpoints where h' = 0.
        double[] bp = breakpoints;
        int nb = 0;
        bp[nb++] = 0;
        double aInf = aMax;
        if (hD > 0) {
            double q = Math.sqrt(hD / hM);
            aInf = Math.min(aMax, (1 - q) / (1 + q));
        }
        // Convex piece [0, aInf]: h' increasing.
        if (aInf > 0) {
            double lo = 0, hi = aInf;
            if (dh(lo) < 0 && dh(hi) > 0) bp[nb++] = bisect(1, lo, hi, true);
        }
        // Concave piece [aInf, aMax]: h' decreasing.
        if (aInf < aMax) {
            double lo = aInf, hi = aMax;
            if (dh(lo) > 0 && dh(hi) < 0) bp[nb++] = bisect(1, lo, hi, false);
        }
        bp[nb++] = aMax;

        double bestF = Double.POSITIVE_INFINITY;
        for (int i = 0; i + 1 < nb; i++) {
            double lo = bp[i], hi = bp[i + 1];
            if (!(hi > lo)) continue;
            double hl = h(lo), hh = h(hi);
            double root;
            if (hl == 0) root = lo;
            else if (hh == 0) root = hi;
            else if ((hl < 0) != (hh < 0)) root = bisect(0, lo, hi, hl < 0);
            else continue;
            if (!(root > 0)) continue;
            double a = root;
            double s = a / t;
            double w1 = m / (1 + a) + d / (1 - a);
            double w2 = m / (1 + a) - d / (1 - a);
            if (w2 < 0) w2 = 0;
            if (s > z3) s = z3;
            double f = 0.5 * ((w1 - z1) * (w1 - z1) + (w2 - z2) * (w2 - z2) + (s - z3) * (s - z3)
                    + z[3] * z[3]) + t * w1 * w2 * s;
            if (f < bestF) {
                bestF = f;
                cand[0] = w1; cand[1] = w2; cand[2] = s; cand[3] = 0;
            }
        }
        return bestF;
    }

    private double h(double a) {
        double p = 1 + a, n = 1 - a;
        return a - hC + hM * hM / (p * p) - (hD == 0 ? 0 : hD * hD / (n * n));
    }

    private double dh(double a) {
        double p = 1 + a, n = 1 - a;
        return 1 - 2 * hM * hM / (p * p * p) - (hD == 0 ? 0 : 2 * hD * hD / (n * n * n));
    }

    private double d2h(double a) {
        double p = 1 + a, n = 1 - a;
        double p2 = p * p, n2 = n * n;
        return 6 * hM * hM / (p2 * p2) - (hD == 0 ? 0 : 6 * hD * hD / (n2 * n2));
    }

    /**
     * Root of h (fn 0) or h' (fn 1) on [lo, hi], where the function is monotone (increasing or
     * decreasing) and changes sign: Newton steps kept inside the bracket, bisection when a
     * step would leave it or not shrink it enough. Converges to the last bits of a double.
     */
    private double bisect(int fn, double lo, double hi, boolean increasing) {
        double x = 0.5 * (lo + hi);
        for (int it = 0; it < BISECTIONS; it++) {
            double v = fn == 0 ? h(x) : dh(x);
            if (v == 0) return x;
            if ((v < 0) == increasing) lo = x; else hi = x;
            double slope = fn == 0 ? dh(x) : d2h(x);
            double next = x - v / slope;
            if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
            if (Math.abs(next - x) <= 1e-15 * Math.abs(x) || hi - lo <= 1e-15 * hi) return next;
            x = next;
        }
        return x;
    }

    /**
     * Exact block-coordinate minimization from the start (w1..w4), over the pairs {1,2} and
     * {3,4}. R is multilinear, so with one pair fixed at (p, q) the other pair's subproblem is
     * the 2-D quadratic ½(u − a)² + ½(v − b)² + κ·u·v with κ = t(p + q), a = zi − t·p·q,
     * b = zj − t·p·q, minimized exactly over u, v ≥ 0 ({@link #pairStep}). The objective never
     * increases; the sweep stops when nothing moves. Pairs rather than single coordinates keep
     * tied entries (z3 = z4) symmetric, where single-coordinate steps break the symmetry and
     * can fall off a thin valley of the dense minimum. Leaves the point in {@link #cand}.
     */
    private void denseFrom(double w0, double w1, double w2, double w3, double t) {
        double z0 = z[0], z1 = z[1], z2 = z[2], z3 = z[3];
        double tol = tolerance * scale;
        for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
            double pq = w2 * w3;
            pairStep(z0 - t * pq, z1 - t * pq, t * (w2 + w3));
            double n0 = pairU, n1 = pairV;
            double uv = n0 * n1;
            pairStep(z2 - t * uv, z3 - t * uv, t * (n0 + n1));
            double n2 = pairU, n3 = pairV;
            double change = Math.max(Math.max(Math.abs(n0 - w0), Math.abs(n1 - w1)),
                    Math.max(Math.abs(n2 - w2), Math.abs(n3 - w3)));
            w0 = n0; w1 = n1; w2 = n2; w3 = n3;
            if (change <= tol) break;
        }
        cand[0] = w0; cand[1] = w1; cand[2] = w2; cand[3] = w3;
    }

    private double pairU, pairV;

    /**
     * argmin over u, v ≥ 0 of ½(u − a)² + ½(v − b)² + κuv (κ ≥ 0), into pairU/pairV.
     * For κ < 1 the quadratic is convex and its stationary point (u ± v = (a ± b)/(1 ± κ)) is
     * the answer when it is feasible; otherwise (or for κ ≥ 1, where the minimum lies on the
     * boundary) the best of the two faces u = 0 (v = max(0, b)) and v = 0 (u = max(0, a)).
     */
    private void pairStep(double a, double b, double kappa) {
        if (kappa < 1) {
            double sum = (a + b) / (1 + kappa), diff = (a - b) / (1 - kappa);
            double u = 0.5 * (sum + diff), v = 0.5 * (sum - diff);
            if (u >= 0 && v >= 0) { pairU = u; pairV = v; return; }
        }
        double vb = Math.max(0, b), ua = Math.max(0, a);
        // Face u = 0: cost ½a² + ½(vb − b)²; face v = 0: cost ½(ua − a)² + ½b².
        double costU0 = a * a + (vb - b) * (vb - b);
        double costV0 = (ua - a) * (ua - a) + b * b;
        if (costU0 < costV0) { pairU = 0; pairV = vb; } else { pairU = ua; pairV = 0; }
    }
}
