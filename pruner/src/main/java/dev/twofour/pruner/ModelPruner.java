package dev.twofour.pruner;

import dev.twofour.model.Bf16;
import dev.twofour.model.DType;
import dev.twofour.model.Half;
import dev.twofour.model.WeightNames;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Block-sequential pruning of a whole model (as SparseGPT and Wanda do): block by block, the
 * calibration sequences run through the dense block while the inputs of its linear layers are
 * accumulated into one Hessian per distinct input (q/k/v share one, gate/up share one); all
 * seven linear layers of the block are pruned; then the sequences run through the pruned block
 * to become the inputs of the next one. So every block is calibrated on what the already-pruned
 * model before it produces.
 */
public final class ModelPruner {
    private final PruneEngine engine;
    private final PruneSettings settings;
    private final PruneProgress progress;

    public ModelPruner(PruneEngine engine, PruneSettings settings, PruneProgress progress) {
        this.engine = engine;
        this.settings = settings;
        this.progress = progress == null ? PruneProgress.NONE : progress;
    }

    /** Per-layer outcome (no weights). */
    public record LayerReport(String name, int rows, int cols, double outputEnergy, double lossMagnitude,
                              double lossBeforeRefine, double lossAfter, long millis, int proxIterations) {}

    /** The pruned model: weights by HF tensor name ([out][in] fp32, already rounded to {@code dtype}) and reports. */
    public record Result(Map<String, float[]> weights, List<LayerReport> layers, long tokens, long millis) {}

    /**
     * Prunes every linear layer of {@code model} in place (through {@link BlockModel#replaceLinear})
     * and returns the pruned weights. {@code dtype} is the storage dtype: each pruned layer is
     * rounded to it before later blocks see it, so calibration matches what gets written.
     */
    public Result prune(BlockModel model, int[][] calibration, DType dtype) {
        long t0 = System.nanoTime();
        int layers = model.numLayers();
        int seqs = calibration.length;
        List<float[]> hidden = new ArrayList<>(seqs);
        long tokens = 0;
        for (int[] seq : calibration) { hidden.add(model.embed(seq)); tokens += seq.length; }
        Map<String, float[]> out = new LinkedHashMap<>();
        List<LayerReport> reports = new ArrayList<>();
        LayerPruner layerPruner = new LayerPruner(engine);
        WeightNames.Linear[] linears = WeightNames.Linear.values();
        int steps = seqs + linears.length + seqs;
        for (int l = 0; l < layers; l++) {
            long b0 = System.nanoTime();
            final int layer = l;
            int done = 0;
            // 1. Capture: one Hessian per distinct linear input.
            Map<WeightNames.Linear, Hessian> hessians = new EnumMap<>(WeightNames.Linear.class);
            try {
                for (int s = 0; s < seqs; s++) {
                    model.block(l, hidden.get(s), calibration[s].length, (input, x, rows) -> {
                        int k = x.length / rows;
                        hessians.computeIfAbsent(input, i -> engine.newHessian(k)).add(x, rows);
                    });
                    progress.update(l, layers, ++done, steps, "calibrate");
                }
                // 2. Prune the seven linear layers.
                for (WeightNames.Linear lin : linears) {
                    Hessian h = hessians.get(sharedInput(lin));
                    if (h == null) throw new IllegalStateException("block " + l + ": the forward captured no input for " + lin.module());
                    float[] w = model.linearWeights(l, lin);
                    int cols = h.size(), rows = w.length / cols;
                    String name = lin.weight(l);
                    LayerProblem problem = new LayerProblem(name, w, rows, cols, h);
                    LayerPruner.Result r = layerPruner.prune(problem, settings);
                    float[] stored = roundTo(r.weights(), dtype);
                    model.replaceLinear(layer, lin, stored);
                    out.put(name, stored);
                    reports.add(new LayerReport(name, rows, cols, r.outputEnergy(), r.lossMagnitude(),
                            r.lossBeforeRefine(), r.lossAfter(), r.millis(), r.proxIterations()));
                    progress.update(l, layers, ++done, steps, lin.module());
                }
            } finally {
                for (Hessian h : hessians.values()) h.close(); // device memory of a GPU engine's Hessians
            }
            // 3. The pruned block's outputs feed the next block.
            if (l + 1 < layers) {
                for (int s = 0; s < seqs; s++) {
                    hidden.set(s, model.block(l, hidden.get(s), calibration[s].length, null));
                    progress.update(l, layers, ++done, steps, "propagate");
                }
            }
            progress.blockDone(l, layers, (System.nanoTime() - b0) / 1_000_000);
        }
        return new Result(out, reports, tokens, (System.nanoTime() - t0) / 1_000_000);
    }

    /** The linear whose input this one shares: q/k/v read the attention input, gate/up the MLP input. */
    static WeightNames.Linear sharedInput(WeightNames.Linear lin) {
        return switch (lin) {
            case Q, K, V -> WeightNames.Linear.Q;
            case O -> WeightNames.Linear.O;
            case GATE, UP -> WeightNames.Linear.GATE;
            case DOWN -> WeightNames.Linear.DOWN;
        };
    }

    /** The values as they will be stored (fp16/bf16 rounding); zeros stay zeros. */
    static float[] roundTo(float[] w, DType dtype) {
        float[] r = new float[w.length];
        switch (dtype) {
            case F16 -> { for (int i = 0; i < w.length; i++) r[i] = Half.toFloat(Half.fromFloat(w[i])); }
            case BF16 -> { for (int i = 0; i < w.length; i++) r[i] = Bf16.toFloat(Bf16.fromFloat(w[i])); }
            case F32 -> System.arraycopy(w, 0, r, 0, w.length);
            default -> throw new IllegalArgumentException("cannot store pruned weights as " + dtype + "; the model must be F32, F16 or BF16");
        }
        for (int i = 0; i < r.length; i++) if (r[i] == 0) r[i] = 0f; // −0 (from the prox's sign restore) → +0
        return r;
    }
}
