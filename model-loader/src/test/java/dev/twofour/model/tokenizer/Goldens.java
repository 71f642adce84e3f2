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

    static Path tinyModel() {
        return resource("tokenizer/tiny-llama-8m");
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
