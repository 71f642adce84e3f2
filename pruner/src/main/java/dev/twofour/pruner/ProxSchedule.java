package dev.twofour.pruner;

/**
 * The λ schedule of the proximal-gradient loop, in dimensionless units so one setting fits
 * every layer: the prox threshold of step k is t_k = τ_k / rms(W) with τ_k = tau0·growth^k
 * (equivalently λ_k = L·t_k for step 1/L). The loop stops as soon as every group is 2-sparse,
 * or after maxIterations (then the mask is the top two |w| of the last iterate).
 * Defaults measured on the tiny model: docs/PRUNING.md, "Choosing the schedule".
 */
public record ProxSchedule(double tau0, double growth, int maxIterations) {
    public static final ProxSchedule DEFAULT = new ProxSchedule(0.005, 1.05, 300);

    public ProxSchedule {
        if (!(tau0 > 0)) throw new IllegalArgumentException("prox tau0 must be > 0, got " + tau0);
        if (!(growth > 1)) throw new IllegalArgumentException("prox growth must be > 1, got " + growth);
        if (maxIterations < 1) throw new IllegalArgumentException("prox maxIterations must be ≥ 1, got " + maxIterations);
    }
}
