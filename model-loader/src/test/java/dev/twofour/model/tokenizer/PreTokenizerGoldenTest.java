package dev.twofour.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every supported pre_tokenizer configuration (Split with each behavior and invert, Metaspace schemes, ByteLevel
 * options, Digits, Whitespace, Sequence) against Hugging Face tokenizers' preTokenizeString
 * (tokenizer/local/pretokenizers.json, made by tools/goldens/local_pretokenizer_goldens.js).
 */
class PreTokenizerGoldenTest {
    @Test
    void splitsLikeHuggingFace() {
        JsonNode root = Goldens.json(Goldens.resource("tokenizer/local/pretokenizers.json"));
        int checked = 0;
        List<String> failures = new ArrayList<>();
        for (JsonNode c : root.path("cases")) {
            PreTokenizer pre = PreTokenizer.fromJson(c.get("config"), "golden");
            String text = c.get("text").asText();
            List<String> expected = new ArrayList<>();
            c.get("pieces").forEach(p -> expected.add(p.asText()));
            List<String> actual = new ArrayList<>();
            for (PreTokenizer.Piece p : pre.split(List.of(new PreTokenizer.Piece(text, true)))) actual.add(p.text());
            if (!expected.equals(actual)) {
                failures.add(c.get("config") + " on " + TokenizerGoldenTest.quote(text) + ": expected " + expected + " got " + actual);
            }
            checked++;
        }
        assertTrue(checked > 400, "pre-tokenizer goldens missing");
        assertEquals(List.of(), failures);
    }
}
