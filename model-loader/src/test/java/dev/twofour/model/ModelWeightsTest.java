package dev.twofour.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ModelWeightsTest {
    @TempDir Path tmp;

    @Test void tinyModelBindsCompletely() throws Exception {
        ModelConfig cfg = ModelConfig.load(TestFiles.tinyModel());
        try (Checkpoint ck = Checkpoint.open(TestFiles.tinyModel())) {
            ModelWeights w = ModelWeights.bind(cfg, ck);
            assertEquals(8, w.layers().size());
            ModelWeights.Layer l3 = w.layer(3);
            assertArrayEquals(new long[]{256, 256}, l3.q().shape());
            assertArrayEquals(new long[]{128, 256}, l3.k().shape());
            assertArrayEquals(new long[]{768, 256}, l3.gate().shape());
            assertArrayEquals(new long[]{256, 768}, l3.down().shape());
            assertNull(l3.qBias());
            assertSame(l3.up(), l3.linear(WeightNames.Linear.UP));
            assertEquals("model.layers.3.mlp.up_proj.weight", l3.up().name());
            assertEquals(WeightNames.EMBED_TOKENS, w.lmHead().name(), "tied");
            assertEquals(74, w.all().size());
            assertEquals(56, WeightNames.linearWeights(cfg).size());
        }
    }

    @Test void missingUnexpectedAndWrongShapesAreReportedTogether() throws Exception {
        String json = """
                {"architectures":["Qwen2ForCausalLM"],"hidden_size":8,"intermediate_size":16,
                 "num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1,"vocab_size":10,
                 "tie_word_embeddings":false,"torch_dtype":"float32"}""";
        ModelConfig cfg = ModelConfig.parse(Path.of("config.json"), json);
        // Only a few tensors, one with a wrong shape, plus one stray.
        String header = "{\"model.embed_tokens.weight\":{\"dtype\":\"F32\",\"shape\":[10,8],\"data_offsets\":[0,320]},"
                + "\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[9],\"data_offsets\":[320,356]},"
                + "\"model.layers.0.self_attn.rotary_emb.inv_freq\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[356,360]},"
                + "\"stray.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[360,364]}}";
        TestFiles.write(tmp, "model.safetensors", header, TestFiles.seq(364));
        try (Checkpoint ck = Checkpoint.open(tmp)) {
            ModelWeightsException e = assertThrows(ModelWeightsException.class, () -> ModelWeights.bind(cfg, ck));
            assertEquals(List.of("stray.weight"), e.unexpected());
            assertTrue(e.missing().contains("model.layers.0.self_attn.q_proj.bias"), e.missing().toString());
            assertTrue(e.missing().contains("lm_head.weight"));
            assertFalse(e.missing().contains("model.layers.0.self_attn.o_proj.bias"), "Qwen2 has no o_proj bias");
            assertEquals(1, e.mismatched().size());
            assertTrue(e.mismatched().get(0).startsWith("model.norm.weight"));
            assertTrue(e.getMessage().contains("missing (") && e.getMessage().contains("unexpected (1): stray.weight")
                    && e.getMessage().contains("wrong shape"), e.getMessage());
        }
    }
}
