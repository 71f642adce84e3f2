package dev.twofour.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The shape and hyper-parameters of a Llama-family decoder (Llama 2/3, Mistral, Qwen2), from a
 * Hugging Face {@code config.json} ({@link #load}) or a synthetic preset ({@link #preset}).
 *
 * <p>Both config conventions are read: transformers 5 ({@code rope_parameters}, {@code dtype}) and
 * older ones ({@code rope_theta}/{@code rope_scaling}/{@code torch_dtype} at the top level).
 *
 * @param architecture          "LlamaForCausalLM", "MistralForCausalLM" or "Qwen2ForCausalLM"
 * @param headDim               per-head size (config {@code head_dim}, default hiddenSize / numHeads)
 * @param ropeScaling           null for plain RoPE
 * @param maxPositionEmbeddings usable context; for a sliding-window model this is capped to the window,
 *                              because our attention is full attention and is exact only up to it
 * @param dtype                 the checkpoint's weight dtype ({@code dtype}/{@code torch_dtype}; F32 when absent,
 *                              as in transformers)
 * @param attentionBias         q/k/v projections have biases (Qwen2)
 * @param bosTokenIds           empty when the config has none
 * @param eosTokenIds           config.json's, followed by generation_config.json's if that file adds any
 */
public record ModelConfig(
        String architecture,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        int vocabSize,
        double rmsNormEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        int maxPositionEmbeddings,
        boolean tieWordEmbeddings,
        DType dtype,
        boolean attentionBias,
        List<Integer> bosTokenIds,
        List<Integer> eosTokenIds) {

    public static final String LLAMA = "LlamaForCausalLM";
    public static final String MISTRAL = "MistralForCausalLM";
    public static final String QWEN2 = "Qwen2ForCausalLM";

    /**
     * RoPE frequency scaling. {@code type} is "linear" (all frequencies divided by factor) or
     * "llama3" (low frequencies divided by factor, high ones kept, a smooth blend between).
     * Fields a type does not use are 0.
     */
    public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                              int originalMaxPositionEmbeddings) {
        public RopeScaling {
            Objects.requireNonNull(type, "type");
            if (!type.equals("linear") && !type.equals("llama3")) {
                throw new IllegalArgumentException("rope scaling type '" + type + "' is not supported (linear, llama3)");
            }
            if (!(factor > 0)) throw new IllegalArgumentException("rope scaling factor must be > 0, got " + factor);
            if (type.equals("llama3") && (!(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor)
                    || originalMaxPositionEmbeddings <= 0)) {
                throw new IllegalArgumentException("llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor and "
                        + "original_max_position_embeddings > 0, got " + lowFreqFactor + ", " + highFreqFactor + ", "
                        + originalMaxPositionEmbeddings);
            }
        }

        public static RopeScaling linear(double factor) {
            return new RopeScaling("linear", factor, 0, 0, 0);
        }

        public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalMax) {
            return new RopeScaling("llama3", factor, lowFreqFactor, highFreqFactor, originalMax);
        }
    }

    public ModelConfig {
        Objects.requireNonNull(architecture, "architecture");
        Objects.requireNonNull(dtype, "dtype");
        bosTokenIds = List.copyOf(bosTokenIds);
        eosTokenIds = List.copyOf(eosTokenIds);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", numLayers);
        positive("num_attention_heads", numHeads);
        positive("num_key_value_heads", numKvHeads);
        positive("head_dim", headDim);
        positive("vocab_size", vocabSize);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + numHeads
                    + " is not a multiple of num_key_value_heads " + numKvHeads);
        }
        if (headDim % 2 != 0) throw new IllegalArgumentException("head_dim " + headDim + " must be even for RoPE");
        if (!(rmsNormEps > 0)) throw new IllegalArgumentException("rms_norm_eps must be > 0, got " + rmsNormEps);
        if (!(ropeTheta > 0)) throw new IllegalArgumentException("rope_theta must be > 0, got " + ropeTheta);
        if (!dtype.isComputeType()) throw new IllegalArgumentException("dtype " + dtype + " is not F32, F16 or BF16");
    }

    private static void positive(String what, int v) {
        if (v <= 0) throw new IllegalArgumentException(what + " must be > 0, got " + v);
    }

    /** Query heads per KV head (1 without grouped-query attention). */
    public int groupSize() { return numHeads / numKvHeads; }

    /** Output features of q_proj (numHeads × headDim). */
    public int qDim() { return numHeads * headDim; }

    /** Output features of k_proj and v_proj (numKvHeads × headDim). */
    public int kvDim() { return numKvHeads * headDim; }

    /** Parameter count of the weights (embeddings counted once when tied). */
    public long parameterCount() {
        long h = hiddenSize;
        long perLayer = h * qDim() + 2L * h * kvDim() + (long) qDim() * h  // q, k, v, o
                + 3L * h * intermediateSize                                  // gate, up, down
                + 2L * h                                                     // two norms
                + (attentionBias ? qDim() + 2L * kvDim() : 0);
        long embed = (long) vocabSize * h;
        return embed + (tieWordEmbeddings ? 0 : embed) + h + perLayer * numLayers;
    }

    /**
     * RoPE inverse frequencies for the {@code headDim / 2} rotated pairs, with {@link #ropeScaling}
     * applied: {@code theta^(-2i/headDim)}, divided by the factor as the scaling type says.
     * Pair i rotates elements (i, i + headDim/2) of a head, the Hugging Face "rotate_half" order.
     */
    public double[] ropeInverseFrequencies() {
        int half = headDim / 2;
        double[] inv = new double[half];
        for (int i = 0; i < half; i++) inv[i] = 1.0 / Math.pow(ropeTheta, (2.0 * i) / headDim);
        if (ropeScaling == null) return inv;
        RopeScaling s = ropeScaling;
        if (s.type().equals("linear")) {
            for (int i = 0; i < half; i++) inv[i] /= s.factor();
            return inv;
        }
        // llama3: wavelengths longer than the original context / low_freq_factor are slowed down by
        // factor, shorter than original / high_freq_factor kept, and blended in between.
        double lowWavelen = s.originalMaxPositionEmbeddings() / s.lowFreqFactor();
        double highWavelen = s.originalMaxPositionEmbeddings() / s.highFreqFactor();
        for (int i = 0; i < half; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            if (wavelen < highWavelen) continue;
            if (wavelen > lowWavelen) {
                inv[i] /= s.factor();
            } else {
                double smooth = (s.originalMaxPositionEmbeddings() / wavelen - s.lowFreqFactor())
                        / (s.highFreqFactor() - s.lowFreqFactor());
                inv[i] = (1 - smooth) * inv[i] / s.factor() + smooth * inv[i];
            }
        }
        return inv;
    }

    // ---------------------------------------------------------------- presets

    /** Names accepted by {@link #preset}. */
    public static List<String> presetNames() {
        return List.of("llama2-7b", "llama2-13b", "llama2-70b", "llama3-8b", "mistral-7b");
    }

    /**
     * The real shapes of well-known models, for benchmarks with synthetic weights.
     * mistral-7b is v0.1 with its 32768-token position range (its 4096-token sliding window is
     * not modelled here).
     * @throws IllegalArgumentException for an unknown name (the message lists the known ones)
     */
    public static ModelConfig preset(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "llama2-7b" -> new ModelConfig(LLAMA, 4096, 11008, 32, 32, 32, 128, 32000, 1e-5, 10000, null,
                    4096, false, DType.F16, false, List.of(1), List.of(2));
            case "llama2-13b" -> new ModelConfig(LLAMA, 5120, 13824, 40, 40, 40, 128, 32000, 1e-5, 10000, null,
                    4096, false, DType.F16, false, List.of(1), List.of(2));
            case "llama2-70b" -> new ModelConfig(LLAMA, 8192, 28672, 80, 64, 8, 128, 32000, 1e-5, 10000, null,
                    4096, false, DType.F16, false, List.of(1), List.of(2));
            case "llama3-8b" -> new ModelConfig(LLAMA, 4096, 14336, 32, 32, 8, 128, 128256, 1e-5, 500000, null,
                    8192, false, DType.BF16, false, List.of(128000), List.of(128001));
            case "mistral-7b" -> new ModelConfig(MISTRAL, 4096, 14336, 32, 32, 8, 128, 32000, 1e-5, 10000, null,
                    32768, false, DType.BF16, false, List.of(1), List.of(2));
            default -> throw new IllegalArgumentException("unknown model preset '" + name + "'; known presets: "
                    + String.join(", ", presetNames()));
        };
    }

    // ---------------------------------------------------------------- config.json

    /** Reads {@code dir/config.json} (and eos ids from {@code dir/generation_config.json} if present). */
    public static ModelConfig load(Path dir) throws IOException {
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null,
                    "no config.json; pass a Hugging Face model directory");
        }
        ModelConfig c = parse(file, Files.readString(file));
        Path gen = dir.resolve("generation_config.json");
        if (Files.isRegularFile(gen)) {
            JsonNode g = readJson(gen, Files.readString(gen));
            List<Integer> extra = tokenIds(gen, g, "eos_token_id");
            if (!extra.isEmpty()) {
                LinkedHashSet<Integer> eos = new LinkedHashSet<>(c.eosTokenIds);
                eos.addAll(extra);
                List<Integer> bos = c.bosTokenIds.isEmpty() ? tokenIds(gen, g, "bos_token_id") : c.bosTokenIds;
                c = c.withTokens(bos, new ArrayList<>(eos));
            }
        }
        return c;
    }

    private ModelConfig withTokens(List<Integer> bos, List<Integer> eos) {
        return new ModelConfig(architecture, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim,
                vocabSize, rmsNormEps, ropeTheta, ropeScaling, maxPositionEmbeddings, tieWordEmbeddings, dtype,
                attentionBias, bos, eos);
    }

    private static JsonNode readJson(Path file, String text) throws ModelConfigException {
        try {
            JsonNode n = SafetensorsFile.JSON.readTree(text);
            if (n == null || !n.isObject()) throw new ModelConfigException(file, "not a JSON object");
            return n;
        } catch (JsonProcessingException e) {
            throw new ModelConfigException(file, "not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** Parses config.json text; {@code file} is used in messages. */
    public static ModelConfig parse(Path file, String json) throws ModelConfigException {
        JsonNode c = readJson(file, json);
        String arch = architecture(file, c);

        if (c.hasNonNull("quantization_config")) {
            throw new ModelConfigException(file, "quantized checkpoints (quantization_config) are not supported; "
                    + "use the fp16/bf16 original");
        }
        String act = text(c, "hidden_act", "silu");
        if (!act.equals("silu") && !act.equals("swish")) {
            throw new ModelConfigException(file, "hidden_act '" + act + "' is not supported (only silu)");
        }
        if (bool(file, c, "mlp_bias", false)) {
            throw new ModelConfigException(file, "mlp_bias: true is not supported (Llama-family MLPs have no bias)");
        }
        boolean attentionBias;
        if (arch.equals(QWEN2)) {
            attentionBias = true; // Qwen2 always has q/k/v biases (and none on o_proj)
        } else {
            if (bool(file, c, "attention_bias", false)) {
                throw new ModelConfigException(file, "attention_bias: true for " + arch
                        + " (biases on q/k/v/o) is not supported");
            }
            attentionBias = false;
        }

        int hidden = requiredInt(file, c, "hidden_size");
        int inter = requiredInt(file, c, "intermediate_size");
        int layers = requiredInt(file, c, "num_hidden_layers");
        int heads = requiredInt(file, c, "num_attention_heads");
        int vocab = requiredInt(file, c, "vocab_size");
        int kvHeads = optionalInt(file, c, "num_key_value_heads", heads);
        int headDim;
        if (c.hasNonNull("head_dim")) {
            headDim = requiredInt(file, c, "head_dim");
        } else {
            if (hidden % heads != 0) {
                throw new ModelConfigException(file, "hidden_size " + hidden + " is not a multiple of num_attention_heads "
                        + heads + " and head_dim is not given");
            }
            headDim = hidden / heads;
        }
        double eps = optionalDouble(file, c, "rms_norm_eps", 1e-6);
        int maxPos = optionalInt(file, c, "max_position_embeddings", arch.equals(QWEN2) ? 32768 : 2048);
        boolean tie = bool(file, c, "tie_word_embeddings", false);

        // RoPE: transformers 5 keeps theta and scaling in rope_parameters; older configs use
        // rope_theta and rope_scaling at the top level.
        JsonNode params = c.get("rope_parameters");
        if (params != null && !params.isNull() && !params.isObject()) {
            throw new ModelConfigException(file, "rope_parameters must be an object");
        }
        if (params != null && params.isNull()) params = null;
        Double topTheta = c.hasNonNull("rope_theta") ? optionalDouble(file, c, "rope_theta", 0) : null;
        Double paramTheta = params != null && params.hasNonNull("rope_theta")
                ? optionalDouble(file, params, "rope_theta", 0) : null;
        if (topTheta != null && paramTheta != null && !topTheta.equals(paramTheta)) {
            throw new ModelConfigException(file, "rope_theta " + topTheta + " disagrees with rope_parameters.rope_theta "
                    + paramTheta + "; keep one");
        }
        double theta = paramTheta != null ? paramTheta : topTheta != null ? topTheta : 10000.0;
        JsonNode scalingNode = params != null && (params.has("rope_type") || params.has("type")) ? params : c.get("rope_scaling");
        RopeScaling scaling = ropeScaling(file, scalingNode);

        // Sliding-window attention: we run full attention, identical to the window for sequences no
        // longer than it, so the usable context is capped to the window.
        Integer window = null;
        boolean windowed = arch.equals(QWEN2) ? bool(file, c, "use_sliding_window", false) : c.hasNonNull("sliding_window");
        if (windowed && c.hasNonNull("sliding_window")) window = requiredInt(file, c, "sliding_window");
        if (window != null && window < maxPos) maxPos = window;

        DType dtype = DType.F32;
        String dtypeKey = c.hasNonNull("dtype") ? "dtype" : c.hasNonNull("torch_dtype") ? "torch_dtype" : null;
        if (dtypeKey != null) {
            String s = text(c, dtypeKey, "");
            dtype = DType.fromTorchName(s);
            if (dtype == null || !dtype.isComputeType()) {
                throw new ModelConfigException(file, dtypeKey + " '" + s + "' is not supported (float16, bfloat16, float32)");
            }
        }
        List<Integer> bos = tokenIds(file, c, "bos_token_id");
        List<Integer> eos = tokenIds(file, c, "eos_token_id");
        try {
            return new ModelConfig(arch, hidden, inter, layers, heads, kvHeads, headDim, vocab, eps, theta, scaling,
                    maxPos, tie, dtype, attentionBias, bos, eos);
        } catch (IllegalArgumentException e) {
            throw new ModelConfigException(file, e.getMessage(), e);
        }
    }

    private static String architecture(Path file, JsonNode c) throws ModelConfigException {
        Map<String, String> byModelType = Map.of("llama", LLAMA, "mistral", MISTRAL, "qwen2", QWEN2);
        JsonNode archs = c.get("architectures");
        String arch = null;
        if (archs != null && archs.isArray() && !archs.isEmpty()) {
            if (archs.size() > 1) {
                throw new ModelConfigException(file, "several architectures " + archs + "; expected one");
            }
            arch = archs.get(0).asText();
        } else if (c.hasNonNull("model_type")) {
            arch = byModelType.get(c.get("model_type").asText());
            if (arch == null) {
                throw new ModelConfigException(file, "model_type '" + c.get("model_type").asText()
                        + "' is not supported (llama, mistral, qwen2)");
            }
        }
        if (arch == null) {
            throw new ModelConfigException(file, "neither \"architectures\" nor \"model_type\"; is this a Hugging Face config.json?");
        }
        if (!arch.equals(LLAMA) && !arch.equals(MISTRAL) && !arch.equals(QWEN2)) {
            throw new ModelConfigException(file, "architecture '" + arch + "' is not supported ("
                    + LLAMA + ", " + MISTRAL + ", " + QWEN2 + ")");
        }
        return arch;
    }

    private static RopeScaling ropeScaling(Path file, JsonNode s) throws ModelConfigException {
        if (s == null || s.isNull()) return null;
        if (!s.isObject()) throw new ModelConfigException(file, "rope_scaling must be an object or null");
        String type = s.hasNonNull("rope_type") ? s.get("rope_type").asText()
                : s.hasNonNull("type") ? s.get("type").asText() : "default";
        try {
            return switch (type) {
                case "default" -> null;
                case "linear" -> RopeScaling.linear(requiredDouble(file, s, "factor"));
                case "llama3" -> RopeScaling.llama3(requiredDouble(file, s, "factor"),
                        requiredDouble(file, s, "low_freq_factor"), requiredDouble(file, s, "high_freq_factor"),
                        requiredInt(file, s, "original_max_position_embeddings"));
                default -> throw new ModelConfigException(file, "rope scaling type '" + type
                        + "' is not supported (default, linear, llama3)");
            };
        } catch (IllegalArgumentException e) {
            throw new ModelConfigException(file, e.getMessage(), e);
        }
    }

    private static List<Integer> tokenIds(Path file, JsonNode c, String key) throws ModelConfigException {
        JsonNode n = c.get(key);
        if (n == null || n.isNull()) return List.of();
        List<Integer> out = new ArrayList<>();
        if (n.isArray()) {
            for (JsonNode e : n) out.add(intValue(file, key, e));
        } else {
            out.add(intValue(file, key, n));
        }
        return out;
    }

    private static int intValue(Path file, String key, JsonNode n) throws ModelConfigException {
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw new ModelConfigException(file, key + " must be an integer (or a list of them), got " + n);
        }
        return n.intValue();
    }

    private static int requiredInt(Path file, JsonNode c, String key) throws ModelConfigException {
        JsonNode n = c.get(key);
        if (n == null || n.isNull()) throw new ModelConfigException(file, "missing required field \"" + key + "\"");
        return intValue(file, key, n);
    }

    private static int optionalInt(Path file, JsonNode c, String key, int dflt) throws ModelConfigException {
        JsonNode n = c.get(key);
        return n == null || n.isNull() ? dflt : intValue(file, key, n);
    }

    private static double requiredDouble(Path file, JsonNode c, String key) throws ModelConfigException {
        JsonNode n = c.get(key);
        if (n == null || n.isNull()) throw new ModelConfigException(file, "missing required field \"" + key + "\"");
        if (!n.isNumber()) throw new ModelConfigException(file, key + " must be a number, got " + n);
        return n.doubleValue();
    }

    private static double optionalDouble(Path file, JsonNode c, String key, double dflt) throws ModelConfigException {
        JsonNode n = c.get(key);
        return n == null || n.isNull() ? dflt : requiredDouble(file, c, key);
    }

    private static boolean bool(Path file, JsonNode c, String key, boolean dflt) throws ModelConfigException {
        JsonNode n = c.get(key);
        if (n == null || n.isNull()) return dflt;
        if (!n.isBoolean()) throw new ModelConfigException(file, key + " must be true or false, got " + n);
        return n.booleanValue();
    }

    private static String text(JsonNode c, String key, String dflt) {
        JsonNode n = c.get(key);
        return n == null || n.isNull() ? dflt : n.asText();
    }
}
