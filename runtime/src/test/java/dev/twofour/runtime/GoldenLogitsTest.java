package dev.twofour.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.twofour.model.SafetensorsFile;
import dev.twofour.model.TensorView;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CPU backend against Hugging Face transformers' fp32 outputs (goldens made by tools/goldens/make_runtime_goldens.py). */
class GoldenLogitsTest {

    static int[] ids(TensorView t) {
        int[] out = new int[(int) t.numel()];
        for (int i = 0; i < out.length; i++) out[i] = (int) t.getFloat(i);
        return out;
    }

    /** max over tokens of ||ours - golden||∞ / ||golden||∞ over the vocabulary. */
    static double maxRelError(float[] ours, float[] golden, int rows, int vocab) {
        double worst = 0;
        for (int r = 0; r < rows; r++) {
            double diff = 0, norm = 0;
            for (int j = 0; j < vocab; j++) {
                diff = Math.max(diff, Math.abs(ours[r * vocab + j] - golden[r * vocab + j]));
                norm = Math.max(norm, Math.abs(golden[r * vocab + j]));
            }
            worst = Math.max(worst, diff / norm);
        }
        return worst;
    }

    @Test void logitsMatchTransformersFp32WithinOneInAThousand() throws Exception {
        Transformer m = TinyModel.model();
        int vocab = m.vocabSize();
        try (SafetensorsFile f = SafetensorsFile.open(TinyModel.goldens().resolve("logits-fp32.safetensors"))) {
            int prompts = 0;
            for (int p = 0; f.contains("p" + p + ".ids"); p++, prompts++) {
                int[] ids = ids(f.tensor("p" + p + ".ids"));
                float[] golden = f.tensor("p" + p + ".logits").toFloatArray();
                try (KvCache cache = m.newKvCache(ids.length)) {
                    int seq = cache.newSequence();
                    float[] ours = m.forward(cache, List.of(new Transformer.SequenceInput(seq, ids)), true);
                    double err = maxRelError(ours, golden, ids.length, vocab);
                    assertTrue(err <= 1e-3, "prompt " + p + ": relative max-norm error " + err);
                }
            }
            assertTrue(prompts >= 5, "goldens hold " + prompts + " prompts");
        }
    }

    @Test void incrementalDecodeGivesTheSameLogitsAsOnePrefill() throws Exception {
        Transformer m = TinyModel.model();
        int vocab = m.vocabSize();
        try (SafetensorsFile f = SafetensorsFile.open(TinyModel.goldens().resolve("logits-fp32.safetensors"))) {
            int[] ids = ids(f.tensor("p3.ids"));
            float[] golden = f.tensor("p3.logits").toFloatArray();
            try (KvCache cache = m.newKvCache(ids.length)) {
                int seq = cache.newSequence();
                // a 5-token chunk, then one token at a time: every step's logits match the golden row
                m.forward(cache, List.of(new Transformer.SequenceInput(seq, java.util.Arrays.copyOf(ids, 5))), false);
                for (int i = 5; i < ids.length; i++) {
                    float[] row = m.forward(cache, List.of(new Transformer.SequenceInput(seq, new int[]{ids[i]})), false);
                    float[] want = java.util.Arrays.copyOfRange(golden, i * vocab, (i + 1) * vocab);
                    assertTrue(maxRelError(row, want, 1, vocab) <= 1e-3, "token " + i);
                }
            }
        }
    }

    @Test void greedyContinuationsMatchTransformersFor48Tokens() throws Exception {
        Transformer m = TinyModel.model();
        JsonNode root = new ObjectMapper().readTree(TinyModel.goldens().resolve("greedy.json").toFile());
        int cases = 0;
        for (JsonNode c : root.get("cases")) {
            int[] ids = new ObjectMapper().convertValue(c.get("ids"), int[].class);
            int[] want = new ObjectMapper().convertValue(c.get("new_ids"), int[].class);
            int[] got = new int[want.length];
            try (KvCache cache = m.newKvCache(ids.length + want.length)) {
                int seq = cache.newSequence();
                float[] logits = m.forward(cache, List.of(new Transformer.SequenceInput(seq, ids)), false);
                for (int i = 0; i < want.length; i++) {
                    got[i] = Sampler.argmax(logits);
                    if (i + 1 < want.length) logits = m.forward(cache, List.of(new Transformer.SequenceInput(seq, new int[]{got[i]})), false);
                }
            }
            assertArrayEquals(want, got, "greedy continuation of " + c.get("prompt"));
            cases++;
        }
        assertTrue(cases == 5);
    }
}
