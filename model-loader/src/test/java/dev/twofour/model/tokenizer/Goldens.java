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

    /**
     * A folder or file under src/test/resources, or null when absent. A folder holding {@code tokenizer.json.gz}
     * (the 3.6 MB Llama 2 goldens are stored compressed: the tree travels to the GPU machine under a size limit)
     * comes back as a temporary copy with {@code tokenizer.json} expanded.
     */
    static Path resource(String name) {
        URL url = Goldens.class.getClassLoader().getResource(name);
        if (url == null) return null;
        try {
            Path p = Path.of(url.toURI());
            return Files.isRegularFile(p.resolve("tokenizer.json.gz")) ? EXPANDED.computeIfAbsent(p, Goldens::expand) : p;
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final java.util.Map<Path, Path> EXPANDED = new java.util.concurrent.ConcurrentHashMap<>();

    private static Path expand(Path dir) {
        try {
            Path tmp = Files.createTempDirectory("tokenizer-golden-");
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    String n = f.getFileName().toString();
                    if (n.equals("tokenizer.json")) continue;  // a stale copy beside the .gz in an old build folder
                    if (n.equals("tokenizer.json.gz")) {
                        try (var in = new java.util.zip.GZIPInputStream(Files.newInputStream(f))) {
                            Files.copy(in, tmp.resolve("tokenizer.json"));
                        }
                    } else {
                        Files.copy(f, tmp.resolve(n));
                    }
                    tmp.resolve(n.endsWith(".gz") ? "tokenizer.json" : n).toFile().deleteOnExit();
                }
            }
            tmp.toFile().deleteOnExit();
            return tmp;
        } catch (IOException e) {
            throw new IllegalStateException("cannot expand the tokenizer goldens in " + dir, e);
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
     * pre-tokenizer. Written at test time (a text edit of the two top-level entries, so the 3.6 MB file is not parsed
     * twice) so the vocabulary is stored once; its goldens (tokenizer/local/llama2-normalizer.json) come from HF
     * tokenizers on the same rewrite.
     */
    static synchronized Path llama2NormalizerStyle() {
        if (llama2Normalizer != null) return llama2Normalizer;
        try {
            String text = Files.readString(llama2().resolve("tokenizer.json"));
            String normalizer = "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": ["
                    + "{\"type\": \"Prepend\", \"prepend\": \"\u2581\"}, "
                    + "{\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\u2581\"}]}";
            text = replaceOnce(text, "\"normalizer\":\\s*null", normalizer);
            text = replaceOnce(text, "\"pre_tokenizer\":\\s*\\{[^{}]*\"type\":\\s*\"Metaspace\"[^{}]*\\}", "\"pre_tokenizer\": null");
            Path dir = Files.createTempDirectory("llama2-normalizer-style");
            dir.toFile().deleteOnExit();
            Path file = dir.resolve("tokenizer.json");
            Files.writeString(file, text);
            file.toFile().deleteOnExit();
            Files.copy(llama2().resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
            dir.resolve("tokenizer_config.json").toFile().deleteOnExit();
            llama2Normalizer = dir;
            return dir;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String replaceOnce(String text, String regex, String replacement) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(regex).matcher(text);
        if (!m.find()) throw new IllegalStateException("tokenizer/goldens/llama2/tokenizer.json has no " + regex);
        String out = text.substring(0, m.start()) + replacement + text.substring(m.end());
        if (m.find()) throw new IllegalStateException("tokenizer/goldens/llama2/tokenizer.json has " + regex + " twice");
        return out;
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
