package dev.twofour.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ModelConfigTest {
    @TempDir Path tmp;

    static String resource(String name) throws Exception {
        try (var in = ModelConfigTest.class.getResourceAsStream("/configs/" + name)) {
            assertNotNull(in, "test resource configs/" + name);
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    static ModelConfig parse(String json) throws ModelConfigException {
        return ModelConfig.parse(Path.of("test/config.json"), json);
    }

    @Test void tinyModelTransformers5Convention() throws Exception {
        ModelConfig c = ModelConfig.load(TestFiles.tinyModel());
        assertEquals(ModelConfig.LLAMA, c.architecture());
        assertEquals(256, c.hiddenSize());
        assertEquals(768, c.intermediateSize());
        assertEquals(8, c.numLayers());
        assertEquals(4, c.numHeads());
        assertEquals(2, c.numKvHeads());
        assertEquals(64, c.headDim());
        assertEquals(2, c.groupSize());
        assertEquals(8192, c.vocabSize());
        assertEquals(1e-5, c.rmsNormEps());
        assertEquals(10000.0, c.ropeTheta());
        assertNull(c.ropeScaling());
        assertEquals(1024, c.maxPositionEmbeddings());
        assertTrue(c.tieWordEmbeddings());
        assertEquals(DType.F16, c.dtype());
        assertFalse(c.attentionBias());
        assertEquals(List.of(0), c.bosTokenIds());
        assertEquals(List.of(1), c.eosTokenIds().subList(0, 1));
        assertEquals(8_390_000, c.parameterCount(), 10_000, "8.39M parameters per DATA.md");
    }

    @Test void olderLlama3ConventionWithRopeScalingAndEosList() throws Exception {
        ModelConfig c = parse(resource("llama3-old.json"));
        assertEquals(500000.0, c.ropeTheta());
        assertEquals(DType.BF16, c.dtype());
        assertEquals(ModelConfig.RopeScaling.llama3(8.0, 1.0, 4.0, 8192), c.ropeScaling());
        assertEquals(List.of(128000), c.bosTokenIds());
        assertEquals(List.of(128001, 128008, 128009), c.eosTokenIds());
        assertEquals(131072, c.maxPositionEmbeddings());
        assertEquals(8, c.numKvHeads());
        assertEquals(128, c.headDim());
        // llama3 scaling: high frequencies kept, low ones divided by 8, a blend in between.
        double[] inv = c.ropeInverseFrequencies();
        assertEquals(64, inv.length);
        assertEquals(1.0, inv[0], 1e-15);
        double plainLast = 1.0 / Math.pow(500000, 126.0 / 128);
        assertEquals(plainLast / 8, inv[63], plainLast * 1e-12);
        boolean blended = false;
        for (int i = 0; i < 64; i++) {
            double plain = 1.0 / Math.pow(500000, 2.0 * i / 128);
            assertTrue(inv[i] <= plain * (1 + 1e-12) && inv[i] >= plain / 8 * (1 - 1e-12));
            if (inv[i] < plain * 0.999 && inv[i] > plain / 8 * 1.001) blended = true;
        }
        assertTrue(blended, "some frequencies fall in the smooth band");
    }

    @Test void qwen2WithBiasAndSlidingWindowOff() throws Exception {
        ModelConfig c = parse(resource("qwen2-old.json"));
        assertEquals(ModelConfig.QWEN2, c.architecture());
        assertTrue(c.attentionBias());
        assertEquals(1000000.0, c.ropeTheta());
        assertEquals(32768, c.maxPositionEmbeddings(), "use_sliding_window false: no cap");
        assertTrue(c.tieWordEmbeddings());
        assertEquals(1e-6, c.rmsNormEps());
        assertEquals(List.of(151643), c.bosTokenIds());
        assertEquals(2, c.numKvHeads());
        assertEquals(64, c.headDim());
    }

    @Test void mistralSlidingWindowCapsTheContext() throws Exception {
        ModelConfig c = parse(resource("mistral-old.json"));
        assertEquals(ModelConfig.MISTRAL, c.architecture());
        assertEquals(4096, c.maxPositionEmbeddings());
        assertEquals(DType.BF16, c.dtype());
    }

    @Test void linearScalingInsideRopeParameters() throws Exception {
        String json = """
                {"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,
                 "num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100,"dtype":"bfloat16",
                 "rope_parameters":{"rope_type":"linear","factor":4.0,"rope_theta":20000.0},
                 "bos_token_id":[5,6],"eos_token_id":7}""";
        ModelConfig c = parse(json);
        assertEquals(ModelConfig.RopeScaling.linear(4.0), c.ropeScaling());
        assertEquals(20000.0, c.ropeTheta());
        assertEquals(4, c.numKvHeads(), "defaults to num_attention_heads");
        assertEquals(16, c.headDim(), "defaults to hidden / heads");
        assertEquals(List.of(5, 6), c.bosTokenIds());
        assertEquals(List.of(7), c.eosTokenIds());
        double[] inv = c.ropeInverseFrequencies();
        assertEquals(0.25, inv[0], 1e-15);
        assertEquals(1.0 / Math.pow(20000, 2.0 / 16) / 4, inv[1], 1e-15);
        assertNull(parse(json.replace("\"rope_type\":\"linear\",\"factor\":4.0,", "\"rope_type\":\"default\",")).ropeScaling());
        assertNull(parse(json.replace("\"rope_parameters\":{\"rope_type\":\"linear\",\"factor\":4.0,\"rope_theta\":20000.0}",
                "\"rope_scaling\":null")).ropeScaling());
    }

    @Test void llama3ScalingInTransformers5RopeParametersAndOldTypeKey() throws Exception {
        String v5 = """
                {"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,
                 "num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":100,"dtype":"float16",
                 "rope_parameters":{"rope_type":"llama3","rope_theta":500000.0,"factor":32.0,"low_freq_factor":1.0,
                                    "high_freq_factor":4.0,"original_max_position_embeddings":8192}}""";
        ModelConfig c = parse(v5);
        assertEquals(ModelConfig.RopeScaling.llama3(32.0, 1.0, 4.0, 8192), c.ropeScaling());
        assertEquals(500000.0, c.ropeTheta());
        String old = """
                {"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,
                 "num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100,"torch_dtype":"float32",
                 "rope_theta":10000.0,"rope_scaling":{"type":"linear","factor":2.0}}""";
        assertEquals(ModelConfig.RopeScaling.linear(2.0), parse(old).ropeScaling());
        assertEquals(DType.F32, parse(old).dtype());
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> parse(old.replace("\"linear\"", "\"dynamic\"")));
        assertTrue(e.getMessage().contains("dynamic"), e.getMessage());
        e = assertThrows(ModelConfigException.class, () -> parse(v5.replace("\"low_freq_factor\":1.0,", "")));
        assertTrue(e.getMessage().contains("low_freq_factor"), e.getMessage());
        e = assertThrows(ModelConfigException.class, () -> parse(old.replace("\"rope_theta\":10000.0,",
                "\"rope_theta\":10000.0,\"rope_parameters\":{\"rope_theta\":20000.0},")));
        assertTrue(e.getMessage().contains("disagrees"), e.getMessage());
    }

    @Test void unsupportedThingsNameThemselvesAndTheFile() throws Exception {
        String base = resource("llama3-old.json");
        assertError(base.replace("\"LlamaForCausalLM\"", "\"GPTNeoXForCausalLM\""), "GPTNeoXForCausalLM");
        assertError(base.replace("\"rope_type\": \"llama3\"", "\"rope_type\": \"yarn\""), "yarn");
        assertError(base.replace("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\""), "gelu");
        assertError(base.replace("\"torch_dtype\": \"bfloat16\"", "\"torch_dtype\": \"int8\""), "int8");
        assertError(base.replace("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 5"), "num_key_value_heads");
        assertError(base.replace("\"hidden_size\": 4096,", ""), "hidden_size");
        assertError(base.replace("\"mlp_bias\": false", "\"mlp_bias\": true"), "mlp_bias");
        assertError(base.replace("\"attention_bias\": false", "\"attention_bias\": true"), "attention_bias");
        assertError("[1,2]", "JSON object");
        assertError("{\"architectures\":[\"LlamaForCausalLM\"],", "JSON");
    }

    private static void assertError(String json, String mention) {
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> parse(json));
        assertTrue(e.getMessage().contains(mention), e.getMessage());
        assertTrue(e.getMessage().contains("test/config.json"), e.getMessage());
    }

    @Test void generationConfigAddsEosIds() throws Exception {
        Files.writeString(tmp.resolve("config.json"), resource("llama3-old.json").replace(
                "\"eos_token_id\": [128001, 128008, 128009]", "\"eos_token_id\": 128001"));
        Files.writeString(tmp.resolve("generation_config.json"), "{\"eos_token_id\":[128001,128009]}");
        assertEquals(List.of(128001, 128009), ModelConfig.load(tmp).eosTokenIds());
    }

    @Test void presetsHaveTheRealShapes() {
        ModelConfig l7 = ModelConfig.preset("llama2-7b");
        assertEquals(6_738_415_616L, l7.parameterCount(), "Llama-2-7B has 6.74B parameters");
        ModelConfig l13 = ModelConfig.preset("llama2-13b");
        assertEquals(13_015_864_320L, l13.parameterCount());
        ModelConfig l70 = ModelConfig.preset("llama2-70b");
        assertEquals(8, l70.numKvHeads());
        assertEquals(68_976_648_192L, l70.parameterCount());
        ModelConfig l3 = ModelConfig.preset("llama3-8b");
        assertEquals(8_030_261_248L, l3.parameterCount());
        ModelConfig m = ModelConfig.preset("Mistral-7B");
        assertEquals(7_241_732_096L, m.parameterCount());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelConfig.preset("gpt2"));
        assertTrue(e.getMessage().contains("llama2-7b"));
    }
}
