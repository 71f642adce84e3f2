package dev.twofour.pruner;

/**
 * The heavy math of pruning one layer, behind an interface so a GPU engine can replace the
 * CPU one: the proximal-gradient loop (one K×K product and one prox over all groups per step)
 * and the masked refinement (one K×K product per step). Both only need: the product of an
 * [n][k] matrix with the symmetric H, elementwise updates, and the batched group prox.
 * A CUDA engine keeps W, W₀, H and the iterate on the device, uses cuBLAS for the products
 * and one thread per group for the prox (same math as {@link GroupProx}).
 */
public interface PruneEngine {
    /** Prox-gradient with an increasing λ until every group is 2-sparse, then the top-2 mask of the iterate. */
    ProxOutcome prox(LayerProblem problem, ProxSchedule schedule);

    /**
     * Minimizes the local loss over the nonzeros of {@code pruned} (the mask stays fixed):
     * per-row conjugate gradient on the quadratic, at most {@code maxIterations} steps.
     */
    float[] refine(LayerProblem problem, float[] pruned, int maxIterations);

    String name();

    /** What the prox loop produced: 2:4 weights, steps taken, whether all groups became 2-sparse on their own. */
    record ProxOutcome(float[] weights, int iterations, boolean converged, double finalTau) {}
}
