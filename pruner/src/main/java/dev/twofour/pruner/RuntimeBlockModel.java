package dev.twofour.pruner;

import dev.twofour.model.WeightNames;
import dev.twofour.runtime.Backend;
import dev.twofour.runtime.Backends;
import dev.twofour.runtime.Transformer;
import dev.twofour.runtime.cpu.CpuBackend;

import java.io.IOException;
import java.nio.file.Path;

/**
 * {@link BlockModel} on the runtime's {@link Transformer}: the same forward that generation and
 * perplexity use, one block at a time. Replaced weights that are 2:4 are packed by the
 * runtime, so later blocks see the pruned layers through the sparse kernel they will run with.
 */
public final class RuntimeBlockModel implements BlockModel {
    private final Transformer model;
    private final Backend backend;
    private final boolean ownsBackend;

    private RuntimeBlockModel(Transformer model, Backend backend, boolean ownsBackend) {
        this.model = model;
        this.backend = backend;
        this.ownsBackend = ownsBackend;
    }

    /** The model on a CPU backend with {@code threads} threads (≤ 0: all processors). */
    public static RuntimeBlockModel openCpu(Path modelDir, int threads) throws IOException {
        Backend b = threads > 0 ? new CpuBackend(threads) : new CpuBackend();
        try {
            return new RuntimeBlockModel(Transformer.load(modelDir, b, Transformer.Options.defaults()), b, true);
        } catch (IOException | RuntimeException e) {
            b.close();
            throw e;
        }
    }

    /**
     * The model on the runtime's CUDA backend (GPU 0, fp16 activations): the same forward as
     * {@code generate --backend cuda}; captured inputs come back to the host as fp32.
     */
    public static RuntimeBlockModel openCuda(Path modelDir) throws IOException {
        Backend b = Backends.open("cuda", notice -> { });
        try {
            return new RuntimeBlockModel(Transformer.load(modelDir, b, Transformer.Options.defaults()), b, true);
        } catch (IOException | RuntimeException e) {
            b.close();
            throw e;
        }
    }

    /** Wraps a loaded model (its backend stays the caller's). */
    public static RuntimeBlockModel of(Transformer model) {
        return new RuntimeBlockModel(model, model.backend(), false);
    }

    public String backendDescription() { return backend.description(); }

    @Override public int numLayers() { return model.numLayers(); }

    @Override public int hiddenSize() { return model.hiddenSize(); }

    @Override public float[] embed(int[] tokens) { return model.embed(tokens); }

    @Override
    public float[] block(int layer, float[] hidden, int tokens, LinearInputs capture) {
        if (capture == null) return model.runBlock(layer, hidden, tokens, null);
        return model.runBlock(layer, hidden, tokens, (l, which, input, n, width) -> capture.accept(switch (which) {
            case ATTENTION_INPUT -> WeightNames.Linear.Q;
            case ATTENTION_OUTPUT -> WeightNames.Linear.O;
            case MLP_INPUT -> WeightNames.Linear.GATE;
            case MLP_HIDDEN -> WeightNames.Linear.DOWN;
        }, input, n));
    }

    @Override public float[] linearWeights(int layer, WeightNames.Linear which) { return model.linearWeights(layer, which); }

    @Override public void replaceLinear(int layer, WeightNames.Linear which, float[] weights) { model.replaceLinear(layer, which, weights); }

    @Override public void close() {
        model.close();
        if (ownsBackend) backend.close();
    }
}
