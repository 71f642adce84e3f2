package dev.twofour.model.tokenizer;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * tokenizer.json read in one streaming pass: model.vocab and model.merges (hundreds of thousands of entries for
 * Llama 3) go straight into a map and a list; everything else becomes a small Jackson tree. A tree of the whole
 * file would cost several times more time and memory.
 */
record TokenizerJson(ObjectNode root, Map<String, Integer> vocab, List<String[]> merges) {
    private static final ObjectMapper JSON = new ObjectMapper();

    static TokenizerJson read(Path file) {
        String where = file.toString();
        try (JsonParser p = new JsonFactory(JSON).createParser(file.toFile())) {
            if (p.nextToken() != JsonToken.START_OBJECT) throw new TokenizerException(where + ": not a JSON object");
            ObjectNode root = JSON.createObjectNode();
            Map<String, Integer> vocab = new HashMap<>();
            List<String[]> merges = new ArrayList<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                if (name.equals("model") && p.currentToken() == JsonToken.START_OBJECT) {
                    root.set("model", readModel(p, vocab, merges, where));
                } else {
                    root.set(name, p.readValueAsTree());
                }
            }
            return new TokenizerJson(root, vocab, merges);
        } catch (IOException e) {
            throw new TokenizerException("cannot read " + where + ": " + e.getMessage(), e);
        }
    }

    private static ObjectNode readModel(JsonParser p, Map<String, Integer> vocab, List<String[]> merges, String where)
            throws IOException {
        ObjectNode model = JSON.createObjectNode();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            if (name.equals("vocab") && value == JsonToken.START_OBJECT) {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String token = p.currentName();
                    if (p.nextToken() != JsonToken.VALUE_NUMBER_INT) {
                        throw new TokenizerException(where + ": model.vocab[" + token + "] is not an integer id");
                    }
                    vocab.put(token, p.getIntValue());
                }
                model.put("vocab_size", vocab.size());
            } else if (name.equals("merges") && value == JsonToken.START_ARRAY) {
                int i = 0;
                for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken(), i++) {
                    if (t == JsonToken.VALUE_STRING) {
                        String text = p.getText();
                        int space = text.indexOf(' ');
                        if (space < 0 || text.indexOf(' ', space + 1) >= 0) {
                            throw new TokenizerException(where + ": merge " + i + " '" + text
                                    + "' is not two tokens separated by one space");
                        }
                        merges.add(new String[]{text.substring(0, space), text.substring(space + 1)});
                    } else if (t == JsonToken.START_ARRAY) {
                        JsonNode pair = p.readValueAsTree();
                        if (pair.size() != 2) throw new TokenizerException(where + ": merge " + i + " is not a pair: " + pair);
                        merges.add(new String[]{pair.get(0).asText(), pair.get(1).asText()});
                    } else {
                        throw new TokenizerException(where + ": merge " + i + " is neither \"a b\" nor [a, b]");
                    }
                }
            } else {
                model.set(name, p.readValueAsTree());
            }
        }
        return model;
    }
}
