package dev.twofour.model;

import java.util.ArrayList;
import java.util.List;

/**
 * Hugging Face tensor names of a Llama-family checkpoint ({@code model.layers.N.self_attn.q_proj.weight}, ...).
 */
public final class WeightNames {
    private WeightNames() {}

    public static final String EMBED_TOKENS = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    /** The linear layers of one decoder block, in execution order. */
    public enum Linear {
        Q("self_attn.q_proj"), K("self_attn.k_proj"), V("self_attn.v_proj"), O("self_attn.o_proj"),
        GATE("mlp.gate_proj"), UP("mlp.up_proj"), DOWN("mlp.down_proj");

        private final String module;

        Linear(String module) { this.module = module; }

        /** e.g. "self_attn.q_proj". */
        public String module() { return module; }

        /** e.g. "model.layers.3.self_attn.q_proj.weight". */
        public String weight(int layer) { return prefix(layer) + module + ".weight"; }

        /** e.g. "model.layers.3.self_attn.q_proj.bias" (Qwen2 q/k/v). */
        public String bias(int layer) { return prefix(layer) + module + ".bias"; }

        /** Output features (rows N of the [N][K] weight). */
        public int outFeatures(ModelConfig c) {
            return switch (this) {
                case Q -> c.qDim();
                case K, V -> c.kvDim();
                case O, DOWN -> c.hiddenSize();
                case GATE, UP -> c.intermediateSize();
            };
        }

        /** Input features (columns K of the [N][K] weight). */
        public int inFeatures(ModelConfig c) {
            return switch (this) {
                case Q, K, V, GATE, UP -> c.hiddenSize();
                case O -> c.qDim();
                case DOWN -> c.intermediateSize();
            };
        }

        /** True for q, k, v: the projections with a bias when {@link ModelConfig#attentionBias()}. */
        public boolean hasBias(ModelConfig c) {
            return c.attentionBias() && (this == Q || this == K || this == V);
        }
    }

    /** "model.layers.N." */
    public static String prefix(int layer) { return "model.layers." + layer + "."; }

    public static String inputNorm(int layer) { return prefix(layer) + "input_layernorm.weight"; }

    public static String postAttentionNorm(int layer) { return prefix(layer) + "post_attention_layernorm.weight"; }

    /** The weight names of every linear layer of the model (7 per block), block by block. */
    public static List<String> linearWeights(ModelConfig c) {
        List<String> out = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) for (Linear lin : Linear.values()) out.add(lin.weight(l));
        return out;
    }

    /** The expected shape of every tensor of the model, by name, in a sensible order. */
    public static java.util.LinkedHashMap<String, long[]> expectedShapes(ModelConfig c) {
        var m = new java.util.LinkedHashMap<String, long[]>();
        m.put(EMBED_TOKENS, new long[]{c.vocabSize(), c.hiddenSize()});
        for (int l = 0; l < c.numLayers(); l++) {
            m.put(inputNorm(l), new long[]{c.hiddenSize()});
            for (Linear lin : Linear.values()) {
                m.put(lin.weight(l), new long[]{lin.outFeatures(c), lin.inFeatures(c)});
                if (lin.hasBias(c)) m.put(lin.bias(l), new long[]{lin.outFeatures(c)});
            }
            m.put(postAttentionNorm(l), new long[]{c.hiddenSize()});
        }
        m.put(FINAL_NORM, new long[]{c.hiddenSize()});
        if (!c.tieWordEmbeddings()) m.put(LM_HEAD, new long[]{c.vocabSize(), c.hiddenSize()});
        return m;
    }

    /**
     * Tensors that may be present without being used: rotary tables some old exports saved, and
     * lm_head.weight in a tied checkpoint (transformers ignores it too).
     */
    static boolean ignorable(String name, ModelConfig c) {
        return name.endsWith(".rotary_emb.inv_freq") || (c.tieWordEmbeddings() && name.equals(LM_HEAD));
    }
}
