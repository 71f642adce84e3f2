package dev.twofour.pruner;

import dev.twofour.model.WeightNames;

/**
 * What block-sequential pruning needs from a forward implementation: the embedding of a token
 * sequence, one decoder block at a time on hidden states [T][hidden] (one sequence, positions
 * 0..T-1), the inputs each linear layer saw, and a way to swap in pruned weights so later
 * blocks see the outputs of the already-pruned ones. {@link RuntimeBlockModel} implements it
 * with the runtime's own forward.
 */
public interface BlockModel extends AutoCloseable {
    int numLayers();

    int hiddenSize();

    /** [T][hidden] embedding of one sequence. */
    float[] embed(int[] tokens);

    /**
     * Runs block {@code layer} on {@code hidden} ([tokens][hidden], one sequence starting at
     * position 0) and returns its output. When {@code capture} is not null it receives the
     * input of every distinct linear input: Q (shared by q, k, v), O, GATE (shared by gate,
     * up) and DOWN, each [tokens][inFeatures].
     */
    float[] block(int layer, float[] hidden, int tokens, LinearInputs capture);

    /** The current weights of one linear layer as fp32 [out][in]. */
    float[] linearWeights(int layer, WeightNames.Linear which);

    /** Replaces one linear layer's weights ([out][in], fp32; stored in the model's dtype). */
    void replaceLinear(int layer, WeightNames.Linear which, float[] weights);

    @Override void close();

    /** Receives captured linear-layer inputs. */
    @FunctionalInterface
    interface LinearInputs {
        void accept(WeightNames.Linear input, float[] x, int rows);
    }
}
