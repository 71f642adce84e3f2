package dev.twofour.pruner;

/** Prunes one layer with the chosen method (then refines it if asked) and measures the result. */
public final class LayerPruner {
    private final PruneEngine engine;

    public LayerPruner(PruneEngine engine) { this.engine = engine; }

    /**
     * What happened to one layer. Losses are tr((W' − W)H(W' − W)ᵀ) (mean over calibration
     * tokens of the squared output error); {@code outputEnergy} = tr(W H Wᵀ) to read them against.
     * @param lossBeforeRefine  loss of the method's weights before refinement
     * @param lossAfter         loss of the final weights (= lossBeforeRefine without refinement)
     * @param lossMagnitude     loss of plain magnitude pruning, for reference
     */
    public record Result(String name, float[] weights, double outputEnergy, double lossMagnitude,
                         double lossBeforeRefine, double lossAfter, long millis, int proxIterations) {}

    public Result prune(LayerProblem p, PruneSettings s) {
        long t0 = System.nanoTime();
        int proxIterations = 0;
        float[] w = switch (s.method()) {
            case MAGNITUDE -> engine.magnitude(p);
            case WANDA -> engine.wanda(p);
            case SPARSEGPT -> engine.sparseGpt(p, s.sparseGptBlock(), s.sparseGptDamp());
            case PROX -> {
                PruneEngine.ProxOutcome o = engine.prox(p, s.schedule());
                proxIterations = o.iterations();
                yield o.weights();
            }
        };
        double before = engine.loss(p, w);
        if (s.refine()) w = engine.refine(p, w, s.refineIterations());
        long millis = (System.nanoTime() - t0) / 1_000_000;
        if (!Masks.isTwoFour(w)) throw new IllegalStateException(p.name() + ": " + s.method().id() + " produced weights that are not 2:4 (bug)");
        double after = s.refine() ? engine.loss(p, w) : before;
        double magnitude = s.method() == Method.MAGNITUDE ? before : engine.loss(p, engine.magnitude(p));
        return new Result(p.name(), w, engine.outputEnergy(p), magnitude, before, after, millis, proxIterations);
    }
}
