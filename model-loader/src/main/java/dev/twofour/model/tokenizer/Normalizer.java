package dev.twofour.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;

/** A tokenizer.json "normalizer": rewrites the text of each piece between added tokens before pre-tokenization. */
interface Normalizer {
    String normalize(String text);

    /**
     * Lowercase one code point at a time, as Rust's char::to_lowercase does in Hugging Face: no context rules, so a
     * final capital sigma becomes σ, not ς (String.toLowerCase would apply the final-sigma rule).
     */
    private static String lowercaseEachCodePoint(String text) {
        StringBuilder b = new StringBuilder(text.length());
        text.codePoints().forEach(cp -> b.append(new String(Character.toChars(cp)).toLowerCase(java.util.Locale.ROOT)));
        return b.toString();
    }

    static Normalizer fromJson(JsonNode node, String where) {
        if (node == null || node.isNull()) return null;
        String type = node.path("type").asText("");
        switch (type) {
            case "Sequence": {
                List<Normalizer> parts = new ArrayList<>();
                for (JsonNode n : node.path("normalizers")) {
                    Normalizer p = fromJson(n, where);
                    if (p != null) parts.add(p);
                }
                return text -> {
                    for (Normalizer p : parts) text = p.normalize(text);
                    return text;
                };
            }
            case "Prepend": {
                String prefix = node.path("prepend").asText();
                // Hugging Face prepends only to non-empty text.
                return text -> text.isEmpty() ? text : prefix + text;
            }
            case "Append": {
                String suffix = node.path("append").asText();
                return text -> text.isEmpty() ? text : text + suffix;
            }
            case "Replace": {
                java.util.regex.Pattern pattern = Regexes.patternOf(node.path("pattern"), where + " normalizer Replace");
                String content = Matcher.quoteReplacement(node.path("content").asText());
                return text -> pattern.matcher(text).replaceAll(content);
            }
            case "NFC":
                return text -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFC);
            case "NFD":
                return text -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFD);
            case "NFKC":
                return text -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFKC);
            case "NFKD":
                return text -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFKD);
            case "Lowercase":
                return Normalizer::lowercaseEachCodePoint;
            case "Strip": {
                boolean left = node.path("strip_left").asBoolean(true);
                boolean right = node.path("strip_right").asBoolean(true);
                return text -> UnicodeWhiteSpace.strip(text, left, right);
            }
            default:
                throw new TokenizerException(where + ": normalizer type '" + type + "' is not supported"
                        + " (supported: Sequence, Prepend, Append, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip)");
        }
    }
}
