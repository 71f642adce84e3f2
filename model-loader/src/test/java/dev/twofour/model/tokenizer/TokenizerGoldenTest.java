package dev.twofour.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Ids, tokens and decoded text against Hugging Face tokenizers, per test string:
 * tokenizer/local/*.json (HF tokenizers' Node binding, made on the CPU machine by
 * tools/goldens/local_tokenizer_goldens.js, with more strings: added-token flags, odd Unicode) and tokenizer/goldens/*.json (transformers on the GPU machine, made by
 * tools/goldens/make_tokenizer_goldens.py), each with the tokenizer folder it was made from.
 */
class TokenizerGoldenTest {
    /** golden file -> tokenizer folder (resource names). */
    private static final String[][] SETS = {
            {"tokenizer/local/tiny-llama-8m.json", "tokenizer/tiny-llama-8m"},
            {"tokenizer/local/llama3-style.json", "tokenizer/llama3-style"},
            {"tokenizer/local/llama2-more.json", "tokenizer/goldens/llama2"},
            {"tokenizer/local/llama2-normalizer.json", "derived:llama2-normalizer-style"},
            {"tokenizer/goldens/tiny-llama-8m.json", "tokenizer/tiny-llama-8m"},
            {"tokenizer/goldens/llama2.json", "tokenizer/goldens/llama2"},
            {"tokenizer/goldens/llama2-legacy.json", "tokenizer/goldens/llama2-legacy"},
    };

    @TestFactory
    List<DynamicTest> goldens() {
        List<DynamicTest> tests = new ArrayList<>();
        int found = 0;
        // Load the tokenizers in parallel first: the Llama 2 ones are big.
        java.util.Arrays.stream(SETS).parallel().forEach(set -> {
            Path dir = set[1].equals("derived:llama2-normalizer-style") ? Goldens.llama2NormalizerStyle() : Goldens.resource(set[1]);
            if (Goldens.resource(set[0]) != null && dir != null && Files.exists(dir.resolve("tokenizer.json"))) Goldens.tokenizer(dir);
        });
        for (String[] set : SETS) {
            Path golden = Goldens.resource(set[0]);
            Path dir = set[1].equals("derived:llama2-normalizer-style") ? Goldens.llama2NormalizerStyle() : Goldens.resource(set[1]);
            if (golden == null || dir == null || !Files.exists(dir.resolve("tokenizer.json"))) continue;
            found++;
            Tokenizer tok = Goldens.tokenizer(dir);
            JsonNode root = Goldens.json(golden);
            int n = 0;
            for (JsonNode c : root.path("cases")) {
                String text = c.get("text").asText();
                String name = set[0] + " #" + (n++) + " " + abbreviate(text);
                tests.add(DynamicTest.dynamicTest(name, () -> check(tok, c, text)));
            }
        }
        assertTrue(found >= 1, "no golden files found");
        return tests;
    }

    private static void check(Tokenizer tok, JsonNode c, String text) {
        String where = "text " + quote(text);
        int[] ids = Goldens.ints(c.get("ids"));
        assertArrayEquals(ids, tok.encode(text, false, true), where + ": ids (special tokens parsed)");
        assertArrayEquals(Goldens.ints(c.get("ids_bos")), tok.encode(text, true, true), where + ": ids with BOS");
        if (c.has("ids_no_parse")) {
            assertArrayEquals(Goldens.ints(c.get("ids_no_parse")), tok.encode(text, false, false),
                    where + ": ids with special-token text left as text");
        }
        if (c.has("transformers_ids")) {
            // Informational in the goldens; our reference is the tokenizer.json the Java side reads.
            assertArrayEquals(ids, Goldens.ints(c.get("transformers_ids")), where + ": transformers disagrees with tokenizers");
        }
        if (c.has("tokens")) {
            List<String> tokens = new ArrayList<>();
            List<String> expected = new ArrayList<>();
            c.get("tokens").forEach(t -> expected.add(t.asText()));
            for (int i = 0; i < ids.length; i++) {
                // HF reports an added token with lstrip/rstrip as the text it matched, spaces included.
                boolean stripped = tok.isAdded(ids[i]) && expected.get(i).strip().equals(tok.token(ids[i]));
                tokens.add(stripped ? expected.get(i) : tok.token(ids[i]));
            }
            assertEquals(expected, tokens, where + ": token strings");
        }
        int[] idsBos = Goldens.ints(c.get("ids_bos"));
        assertEquals(c.get("decoded").asText(), tok.decode(idsBos, false), where + ": decode");
        assertEquals(c.get("decoded_skip").asText(), tok.decode(idsBos, true), where + ": decode skipping specials");
    }

    private static String abbreviate(String s) {
        String q = quote(s);
        return q.length() > 40 ? q.substring(0, 40) + "...\"" : q;
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        s.codePoints().forEach(cp -> {
            if (cp == '\n') b.append("\\n");
            else if (cp == '\t') b.append("\\t");
            else if (cp == '\r') b.append("\\r");
            else if (cp < 0x20) b.append(String.format("\\u%04x", cp));
            else b.appendCodePoint(cp);
        });
        return b.append('"').toString();
    }
}
