package dev.twofour.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every supported pre_tokenizer, normalizer and decoder configuration (Split with each behavior and invert,
 * Metaspace schemes, ByteLevel options, Digits, Whitespace, Sequence; NFC/NFKC/..., Strip, Prepend, Replace;
 * ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace decoders) against Hugging Face tokenizers
 * (tokenizer/local/pipeline.json, made by tools/goldens/local_pipeline_goldens.js).
 */
class PipelineGoldenTest {
    @Test
    void partsBehaveLikeHuggingFace() {
        JsonNode root = Goldens.json(Goldens.resource("tokenizer/local/pipeline.json"));
        int[] checked = new int[3];
        List<String> failures = new ArrayList<>();
        for (JsonNode c : root.path("cases")) {
            String kind = c.get("kind").asText();
            Object expected;
            Object actual;
            String input;
            switch (kind) {
                case "pre_tokenizer" -> {
                    String text = c.get("text").asText();
                    input = TokenizerGoldenTest.quote(text);
                    List<String> want = new ArrayList<>();
                    c.get("pieces").forEach(p -> want.add(p.asText()));
                    List<String> got = new ArrayList<>();
                    PreTokenizer pre = PreTokenizer.fromJson(c.get("config"), "golden");
                    for (PreTokenizer.Piece p : pre.split(List.of(new PreTokenizer.Piece(text, true)))) got.add(p.text());
                    expected = want;
                    actual = got;
                    checked[0]++;
                }
                case "normalizer" -> {
                    String text = c.get("text").asText();
                    input = TokenizerGoldenTest.quote(text);
                    expected = c.get("output").asText();
                    actual = Normalizer.fromJson(c.get("config"), "golden").normalize(text);
                    checked[1]++;
                }
                case "decoder" -> {
                    List<String> tokens = new ArrayList<>();
                    c.get("tokens").forEach(t -> tokens.add(t.asText()));
                    input = tokens.toString();
                    expected = c.get("output").asText();
                    actual = String.join("", Decoder.fromJson(c.get("config"), "golden")
                            .decodeChain(tokens, new Decoder.Context(false)));
                    checked[2]++;
                }
                default -> throw new IllegalStateException("unknown kind " + kind);
            }
            if (!expected.equals(actual)) {
                failures.add(kind + " " + c.get("config") + " on " + input + ": expected " + expected + " got " + actual);
            }
        }
        assertTrue(checked[0] > 400 && checked[1] > 90 && checked[2] > 80, "pipeline goldens missing");
        assertEquals(List.of(), failures);
    }
}
