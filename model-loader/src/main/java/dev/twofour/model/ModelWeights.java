package dev.twofour.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tensors of a checkpoint bound to the model they belong to: names, shapes and dtypes checked
 * against the config once, then typed accessors. Views are zero-copy; the checkpoint must stay open.
 */
public final class ModelWeights {
    /**
     * One decoder block. {@code qBias/kBias/vBias} are null unless the config has attention biases.
     */
    public record Layer(int index,
                        TensorView inputNorm, TensorView q, TensorView k, TensorView v, TensorView o,
                        TensorView qBias, TensorView kBias, TensorView vBias,
                        TensorView postAttentionNorm, TensorView gate, TensorView up, TensorView down) {

        public TensorView linear(WeightNames.Linear which) {
            return switch (which) {
                case Q -> q;
                case K -> k;
                case V -> v;
                case O -> o;
                case GATE -> gate;
                case UP -> up;
                case DOWN -> down;
            };
        }
    }

    private final ModelConfig config;
    private final Checkpoint checkpoint;
    private final List<Layer> layers;

    private ModelWeights(ModelConfig config, Checkpoint checkpoint, List<Layer> layers) {
        this.config = config;
        this.checkpoint = checkpoint;
        this.layers = layers;
    }

    /**
     * Checks {@code checkpoint} against {@code config}: every expected tensor present with the
     * expected shape and a compute dtype (F32/F16/BF16), nothing unexpected.
     * @throws ModelWeightsException listing all missing, unexpected and mis-shaped tensors together
     */
    public static ModelWeights bind(ModelConfig config, Checkpoint checkpoint) throws ModelWeightsException {
        Map<String, long[]> expected = WeightNames.expectedShapes(config);
        List<String> missing = new ArrayList<>();
        List<String> mismatched = new ArrayList<>();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            if (!checkpoint.contains(e.getKey())) {
                missing.add(e.getKey());
                continue;
            }
            SafetensorsFile f = checkpoint.fileOf(e.getKey());
            long[] shape = f.shape(e.getKey());
            DType dt = f.dtype(e.getKey());
            if (!Arrays.equals(shape, e.getValue()) || !dt.isComputeType()) {
                mismatched.add(e.getKey() + ": expected " + Arrays.toString(e.getValue()) + " F32/F16/BF16, found "
                        + Arrays.toString(shape) + " " + dt);
            }
        }
        List<String> unexpected = new ArrayList<>();
        for (String n : checkpoint.names()) {
            if (!expected.containsKey(n) && !WeightNames.ignorable(n, config)) unexpected.add(n);
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !mismatched.isEmpty()) {
            StringBuilder sb = new StringBuilder(checkpoint.dir().toString())
                    .append(": the tensors do not match config.json (").append(config.architecture()).append(", ")
                    .append(config.numLayers()).append(" layers, hidden ").append(config.hiddenSize()).append(")");
            appendList(sb, "missing", missing);
            appendList(sb, "unexpected", unexpected);
            appendList(sb, "wrong shape or dtype", mismatched);
            sb.append("\nCheck that config.json belongs to these weights (or re-download the checkpoint).");
            throw new ModelWeightsException(sb.toString(), missing, unexpected, mismatched);
        }
        List<Layer> layers = new ArrayList<>();
        for (int l = 0; l < config.numLayers(); l++) {
            boolean bias = config.attentionBias();
            layers.add(new Layer(l,
                    checkpoint.tensor(WeightNames.inputNorm(l)),
                    checkpoint.tensor(WeightNames.Linear.Q.weight(l)),
                    checkpoint.tensor(WeightNames.Linear.K.weight(l)),
                    checkpoint.tensor(WeightNames.Linear.V.weight(l)),
                    checkpoint.tensor(WeightNames.Linear.O.weight(l)),
                    bias ? checkpoint.tensor(WeightNames.Linear.Q.bias(l)) : null,
                    bias ? checkpoint.tensor(WeightNames.Linear.K.bias(l)) : null,
                    bias ? checkpoint.tensor(WeightNames.Linear.V.bias(l)) : null,
                    checkpoint.tensor(WeightNames.postAttentionNorm(l)),
                    checkpoint.tensor(WeightNames.Linear.GATE.weight(l)),
                    checkpoint.tensor(WeightNames.Linear.UP.weight(l)),
                    checkpoint.tensor(WeightNames.Linear.DOWN.weight(l))));
        }
        return new ModelWeights(config, checkpoint, List.copyOf(layers));
    }

    private static void appendList(StringBuilder sb, String what, List<String> names) {
        if (names.isEmpty()) return;
        sb.append("\n  ").append(what).append(" (").append(names.size()).append("): ");
        int shown = Math.min(names.size(), 20);
        sb.append(String.join(", ", names.subList(0, shown)));
        if (shown < names.size()) sb.append(", ... (").append(names.size() - shown).append(" more)");
    }

    public ModelConfig config() { return config; }
    public Checkpoint checkpoint() { return checkpoint; }

    public TensorView embedTokens() { return checkpoint.tensor(WeightNames.EMBED_TOKENS); }

    public TensorView finalNorm() { return checkpoint.tensor(WeightNames.FINAL_NORM); }

    /** The output projection: embed_tokens when the embeddings are tied. */
    public TensorView lmHead() {
        return config.tieWordEmbeddings() ? embedTokens() : checkpoint.tensor(WeightNames.LM_HEAD);
    }

    public List<Layer> layers() { return layers; }

    public Layer layer(int i) { return layers.get(i); }

    /** Every tensor by name (lm_head absent when tied), zero-copy. */
    public Map<String, TensorView> all() {
        Map<String, TensorView> m = new LinkedHashMap<>();
        for (String n : WeightNames.expectedShapes(config).keySet()) m.put(n, checkpoint.tensor(n));
        return m;
    }
}
