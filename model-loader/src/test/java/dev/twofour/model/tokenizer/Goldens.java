package dev.twofour.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test resources of the tokenizer tests. */
final class Goldens {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Goldens() {
    }

    /** A folder or file under src/test/resources, or null when absent. */
    static Path resource(String name) {
        URL url = Goldens.class.getClassLoader().getResource(name);
        if (url == null) return null;
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final java.util.Map<Path, Tokenizer> LOADED = new java.util.concurrent.ConcurrentHashMap<>();

    /** Tokenizers are loaded once per test JVM (the 32000-token ones take a while on a busy machine). */
    static Tokenizer tokenizer(Path dir) {
        return LOADED.computeIfAbsent(dir, Tokenizer::load);
    }

    static Path tinyModel() {
        return resource("tokenizer/tiny-llama-8m");
    }

    private static Path llama2Normalizer;

    /** The Llama 2 tokenizer.json converted by transformers (tokenizer/goldens/llama2). */
    static Path llama2() {
        return resource("tokenizer/goldens/llama2");
    }

    /**
     * tokenizer/goldens/llama2 in the layout of older Hugging Face Llama/Mistral tokenizer.json files (e.g.
     * meta-llama/Llama-2-7b-hf): normalizer Prepend("▁") + Replace(" ", "▁") instead of the Metaspace
     * pre-tokenizer, merges as "a b" strings. Written at test time so the 3.6 MB vocabulary is stored once;
     * its goldens (tokenizer/local/llama2-normalizer.json) come from HF tokenizers on the same rewrite.
     */
    static synchronized Path llama2NormalizerStyle() {
        if (llama2Normalizer != null) return llama2Normalizer;
        try {
            com.fasterxml.jackson.databind.node.ObjectNode root =
                    (com.fasterxml.jackson.databind.node.ObjectNode) json(llama2().resolve("tokenizer.json"));
            com.fasterxml.jackson.databind.node.ObjectNode normalizer = JSON.createObjectNode().put("type", "Sequence");
            normalizer.putArray("normalizers")
                    .add(JSON.createObjectNode().put("type", "Prepend").put("prepend", "\u2581"))
                    .add(JSON.createObjectNode().put("type", "Replace").put("content", "\u2581")
                            .set("pattern", JSON.createObjectNode().put("String", " ")));
            root.set("normalizer", normalizer);
            root.putNull("pre_tokenizer");
            com.fasterxml.jackson.databind.node.ArrayNode merges = JSON.createArrayNode();
            for (JsonNode m : root.path("model").path("merges")) merges.add(m.get(0).asText() + " " + m.get(1).asText());
            ((com.fasterxml.jackson.databind.node.ObjectNode) root.get("model")).set("merges", merges);
            Path dir = Files.createTempDirectory("llama2-normalizer-style");
            dir.toFile().deleteOnExit();
            Path file = dir.resolve("tokenizer.json");
            JSON.writeValue(file.toFile(), root);
            file.toFile().deleteOnExit();
            Files.copy(llama2().resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
            dir.resolve("tokenizer_config.json").toFile().deleteOnExit();
            llama2Normalizer = dir;
            return dir;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonNode json(Path file) {
        try {
            return JSON.readTree(Files.readString(file));
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + file, e);
        }
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }
}
