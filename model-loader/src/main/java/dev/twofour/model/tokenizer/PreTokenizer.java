package dev.twofour.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A tokenizer.json "pre_tokenizer": splits (and may rewrite) text into the words that BPE sees.
 * Empty pieces are dropped, as in Hugging Face tokenizers.
 */
interface PreTokenizer {
    /**
     * A piece of text; atStart says it begins at offset 0 of the user's text (Metaspace's prepend_scheme
     * "first" adds its "▁" only there).
     */
    record Piece(String text, boolean atStart) {
    }

    List<Piece> split(List<Piece> pieces);

    /** GPT-2's pattern, used by ByteLevel when use_regex is true. */
    String GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    enum Behavior { REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS }

    static PreTokenizer fromJson(JsonNode node, String where) {
        if (node == null || node.isNull()) return null;
        PreTokenizer inner = build(node, where);
        // Hugging Face never passes or keeps empty pieces.
        return pieces -> {
            List<Piece> out = new ArrayList<>();
            for (Piece p : inner.split(nonEmpty(pieces))) if (!p.text().isEmpty()) out.add(p);
            return out;
        };
    }

    private static List<Piece> nonEmpty(List<Piece> pieces) {
        for (Piece p : pieces) {
            if (p.text().isEmpty()) return pieces.stream().filter(q -> !q.text().isEmpty()).toList();
        }
        return pieces;
    }

    private static PreTokenizer build(JsonNode node, String where) {
        String type = node.path("type").asText("");
        switch (type) {
            case "Sequence": {
                List<PreTokenizer> parts = new ArrayList<>();
                for (JsonNode n : node.path("pretokenizers")) {
                    PreTokenizer p = fromJson(n, where);
                    if (p != null) parts.add(p);
                }
                return pieces -> {
                    for (PreTokenizer p : parts) pieces = p.split(pieces);
                    return pieces;
                };
            }
            case "Split": {
                Pattern pattern = Regexes.patternOf(node.path("pattern"), where + " pre_tokenizer Split");
                Behavior behavior = behavior(node.path("behavior").asText("Isolated"), where);
                boolean invert = node.path("invert").asBoolean(false);
                return pieces -> splitEach(pieces, pattern, behavior, invert);
            }
            case "ByteLevel": {
                boolean addPrefixSpace = node.path("add_prefix_space").asBoolean(true);
                boolean useRegex = node.path("use_regex").asBoolean(true);
                Pattern gpt2 = Regexes.compile(GPT2_PATTERN, where);
                return pieces -> {
                    List<Piece> out = new ArrayList<>();
                    for (Piece p : pieces) {
                        String text = p.text();
                        if (addPrefixSpace && !text.startsWith(" ")) text = " " + text;
                        List<Piece> words = useRegex
                                ? splitEach(List.of(new Piece(text, p.atStart())), gpt2, Behavior.ISOLATED, false)
                                : List.of(new Piece(text, p.atStart()));
                        for (Piece w : words) out.add(new Piece(ByteLevel.encode(w.text()), w.atStart()));
                    }
                    return out;
                };
            }
            case "Metaspace": {
                String replacement = node.has("replacement") ? node.get("replacement").asText()
                        : node.path("str_rep").asText("\u2581");
                String scheme = node.has("prepend_scheme") ? node.get("prepend_scheme").asText()
                        : (node.path("add_prefix_space").asBoolean(true) ? "always" : "never");
                boolean split = node.path("split").asBoolean(true);
                if (!scheme.equals("always") && !scheme.equals("first") && !scheme.equals("never")) {
                    throw new TokenizerException(where + ": Metaspace prepend_scheme '" + scheme
                            + "' is not one of always, first, never");
                }
                Pattern delimiter = Pattern.compile(Pattern.quote(replacement));
                return pieces -> {
                    List<Piece> out = new ArrayList<>();
                    for (Piece p : pieces) {
                        String text = p.text().replace(" ", replacement);
                        boolean prepend = switch (scheme) {
                            case "always" -> true;
                            case "first" -> p.atStart();
                            default -> false;
                        };
                        if (prepend && !text.startsWith(replacement)) text = replacement + text;
                        Piece np = new Piece(text, p.atStart());
                        if (split) out.addAll(splitEach(List.of(np), delimiter, Behavior.MERGED_WITH_NEXT, false));
                        else if (!text.isEmpty()) out.add(np);
                    }
                    return out;
                };
            }
            case "Digits": {
                boolean individual = node.path("individual_digits").asBoolean(false);
                Pattern digit = Pattern.compile("\\p{N}");
                return pieces -> splitEach(pieces, digit, individual ? Behavior.ISOLATED : Behavior.CONTIGUOUS, false);
            }
            case "Whitespace": {
                Pattern words = Pattern.compile("\\w+|[^\\w\\s]+", Regexes.FLAGS);
                return pieces -> splitEach(pieces, words, Behavior.REMOVED, true);
            }
            case "WhitespaceSplit": {
                Pattern ws = Pattern.compile("\\s+", Regexes.FLAGS);
                return pieces -> splitEach(pieces, ws, Behavior.REMOVED, false);
            }
            default:
                throw new TokenizerException(where + ": pre_tokenizer type '" + type + "' is not supported"
                        + " (supported: Sequence, Split, ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit)");
        }
    }

    private static Behavior behavior(String name, String where) {
        return switch (name) {
            case "Removed" -> Behavior.REMOVED;
            case "Isolated" -> Behavior.ISOLATED;
            case "MergedWithPrevious" -> Behavior.MERGED_WITH_PREVIOUS;
            case "MergedWithNext" -> Behavior.MERGED_WITH_NEXT;
            case "Contiguous" -> Behavior.CONTIGUOUS;
            default -> throw new TokenizerException(where + ": Split behavior '" + name + "' is unknown");
        };
    }

    static List<Piece> splitEach(List<Piece> pieces, Pattern pattern, Behavior behavior, boolean invert) {
        List<Piece> out = new ArrayList<>();
        for (Piece p : pieces) split(p, pattern, behavior, invert, out);
        return out;
    }

    /** Hugging Face's NormalizedString::split: matches and gaps, then grouped by the behavior. */
    private static void split(Piece piece, Pattern pattern, Behavior behavior, boolean invert, List<Piece> out) {
        String s = piece.text();
        if (s.isEmpty()) return;
        // (start, end, isMatch) covering the whole string
        List<int[]> spans = new ArrayList<>();
        Matcher m = pattern.matcher(s);
        int prev = 0;
        while (m.find()) {
            if (m.end() == m.start()) continue; // empty matches split nothing
            if (prev != m.start()) spans.add(new int[]{prev, m.start(), invert ? 1 : 0});
            spans.add(new int[]{m.start(), m.end(), invert ? 0 : 1});
            prev = m.end();
        }
        if (prev != s.length()) spans.add(new int[]{prev, s.length(), invert ? 1 : 0});

        List<int[]> groups = new ArrayList<>(); // (start, end, removed)
        switch (behavior) {
            case ISOLATED -> {
                for (int[] sp : spans) groups.add(new int[]{sp[0], sp[1], 0});
            }
            case REMOVED -> {
                for (int[] sp : spans) if (sp[2] == 0) groups.add(new int[]{sp[0], sp[1], 0});
            }
            case MERGED_WITH_PREVIOUS -> {
                boolean previousMatch = false;
                for (int[] sp : spans) {
                    boolean isMatch = sp[2] == 1;
                    if (isMatch && !previousMatch && !groups.isEmpty()) groups.getLast()[1] = sp[1];
                    else groups.add(new int[]{sp[0], sp[1], 0});
                    previousMatch = isMatch;
                }
            }
            case MERGED_WITH_NEXT -> {
                boolean previousMatch = false;
                for (int k = spans.size() - 1; k >= 0; k--) {
                    int[] sp = spans.get(k);
                    boolean isMatch = sp[2] == 1;
                    if (isMatch && !previousMatch && !groups.isEmpty()) groups.getLast()[0] = sp[0];
                    else groups.add(new int[]{sp[0], sp[1], 0});
                    previousMatch = isMatch;
                }
                java.util.Collections.reverse(groups);
            }
            case CONTIGUOUS -> {
                boolean previousMatch = false;
                for (int[] sp : spans) {
                    boolean isMatch = sp[2] == 1;
                    if (isMatch == previousMatch && !groups.isEmpty()) groups.getLast()[1] = sp[1];
                    else groups.add(new int[]{sp[0], sp[1], 0});
                    previousMatch = isMatch;
                }
            }
        }
        for (int[] g : groups) {
            if (g[1] > g[0]) out.add(new Piece(s.substring(g[0], g[1]), piece.atStart() && g[0] == 0));
        }
    }
}
