package dev.twofour.pruner;

/**
 * How to prune each layer.
 * @param refineIterations  masked conjugate-gradient steps when {@code refine} is on
 * @param sparseGptBlock    SparseGPT column block (128 in the paper)
 * @param sparseGptDamp     SparseGPT dampening, as a fraction of mean(diag H) (0.01 in the paper)
 */
public record PruneSettings(Method method, boolean refine, ProxSchedule schedule, int refineIterations,
                            int sparseGptBlock, double sparseGptDamp) {
    public static final int DEFAULT_REFINE_ITERATIONS = 40;

    public PruneSettings {
        if (method == null) throw new IllegalArgumentException("pruning method missing");
        if (schedule == null) schedule = ProxSchedule.DEFAULT;
        if (refineIterations < 1) throw new IllegalArgumentException("refine iterations must be ≥ 1, got " + refineIterations);
        if (sparseGptBlock <= 0 || sparseGptBlock % 4 != 0) throw new IllegalArgumentException("SparseGPT block must be a positive multiple of 4, got " + sparseGptBlock);
        if (!(sparseGptDamp >= 0)) throw new IllegalArgumentException("SparseGPT dampening must be ≥ 0, got " + sparseGptDamp);
    }

    public static PruneSettings of(Method method, boolean refine) {
        return new PruneSettings(method, refine, ProxSchedule.DEFAULT, DEFAULT_REFINE_ITERATIONS, 128, 0.01);
    }

    public PruneSettings withSchedule(ProxSchedule s) {
        return new PruneSettings(method, refine, s, refineIterations, sparseGptBlock, sparseGptDamp);
    }

    public PruneSettings withRefineIterations(int n) {
        return new PruneSettings(method, refine, schedule, n, sparseGptBlock, sparseGptDamp);
    }
}
