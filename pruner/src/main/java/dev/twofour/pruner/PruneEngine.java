package dev.twofour.pruner;

/**
 * The heavy math of pruning one layer, behind an interface so a GPU engine can replace the
 * CPU one: the proximal-gradient loop (one K×K product and one prox over all groups per step),
 * the masked refinement (one K×K product per step), the one-shot baselines, the local losses and
 * the accumulation of H. The defaults are the CPU implementations; {@link CpuPruneEngine} uses them,
 * {@link CudaPruneEngine} keeps W, W₀, H and the iterates on the GPU (cuBLAS for the products, one
 * thread per group for the prox, with the same math as {@link GroupProx}).
 */
public interface PruneEngine extends AutoCloseable {
    /** Prox-gradient with an increasing λ until every group is 2-sparse, then the top-2 mask of the iterate. */
    ProxOutcome prox(LayerProblem problem, ProxSchedule schedule);

    /**
     * Minimizes the local loss over the nonzeros of {@code pruned} (the mask stays fixed):
     * per-row conjugate gradient on the quadratic, at most {@code maxIterations} steps.
     */
    float[] refine(LayerProblem problem, float[] pruned, int maxIterations);

    String name();

    /** Frees what the engine holds outside the Java heap (device memory); nothing for the CPU engine. */
    @Override default void close() {}

    /** An empty H accumulator for inputs of width {@code k}, where this engine wants it (host or device). */
    default Hessian newHessian(int k) { return new Hessian(k); }

    /** Magnitude 2:4 ({@link Baselines#magnitude}). */
    default float[] magnitude(LayerProblem p) { return Baselines.magnitude(p); }

    /** Wanda 2:4 ({@link Baselines#wanda}). */
    default float[] wanda(LayerProblem p) { return Baselines.wanda(p); }

    /** SparseGPT 2:4 ({@link Baselines#sparseGpt}). */
    default float[] sparseGpt(LayerProblem p, int blockSize, double dampening) { return Baselines.sparseGpt(p, blockSize, dampening); }

    /** Local loss tr((W' − W)H(W' − W)ᵀ) ({@link LayerProblem#loss}). */
    default double loss(LayerProblem p, float[] pruned) { return p.loss(pruned); }

    /** tr(W H Wᵀ) ({@link LayerProblem#outputEnergy}). */
    default double outputEnergy(LayerProblem p) { return p.outputEnergy(); }

    /** What the prox loop produced: 2:4 weights, steps taken, whether all groups became 2-sparse on their own. */
    record ProxOutcome(float[] weights, int iterations, boolean converged, double finalTau) {}
}
