package dev.twofour.model.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The "added_tokens" of a tokenizer.json and how text is split on them before normalization, following
 * Hugging Face tokenizers: leftmost-longest matching; tokens with normalized=false are matched on the raw text,
 * those with normalized=true on the normalized text of the pieces in between; lstrip/rstrip swallow the
 * whitespace next to a match, single_word matches only outside words. Special tokens found while special
 * parsing is off stay plain text.
 */
final class AddedVocabulary {
    record AddedToken(int id, String content, boolean special, boolean lstrip, boolean rstrip, boolean normalized,
                      boolean singleWord) {
    }

    /** A piece of the split input: tokenId >= 0 for an added token, -1 for text still to be tokenized. */
    record Segment(String text, int tokenId, boolean atStart) {
    }

    private final List<AddedToken> tokens;
    private final Map<Integer, AddedToken> byId = new HashMap<>();
    private final Map<String, AddedToken> byContent = new HashMap<>();
    private final Matcher rawMatcher;
    private final Matcher normalizedMatcher;

    AddedVocabulary(List<AddedToken> tokens, Normalizer normalizer) {
        this.tokens = List.copyOf(tokens);
        List<Matcher.Entry> raw = new ArrayList<>();
        List<Matcher.Entry> norm = new ArrayList<>();
        for (AddedToken t : tokens) {
            byId.put(t.id(), t);
            byContent.put(t.content(), t);
            if (t.content().isEmpty()) continue;
            if (t.normalized() && normalizer != null) {
                String content = normalizer.normalize(t.content());
                if (!content.isEmpty()) norm.add(new Matcher.Entry(content, t));
            } else if (t.normalized()) {
                norm.add(new Matcher.Entry(t.content(), t));
            } else {
                raw.add(new Matcher.Entry(t.content(), t));
            }
        }
        this.rawMatcher = new Matcher(raw);
        this.normalizedMatcher = new Matcher(norm);
    }

    List<AddedToken> tokens() {
        return tokens;
    }

    AddedToken byId(int id) {
        return byId.get(id);
    }

    AddedToken byContent(String content) {
        return byContent.get(content);
    }

    /** Splits text on added tokens; plain pieces come back normalized. */
    List<Segment> split(String text, boolean parseSpecial, Normalizer normalizer) {
        List<Segment> out = new ArrayList<>();
        for (Segment first : rawMatcher.split(text, parseSpecial, true)) {
            if (first.tokenId() >= 0) {
                out.add(first);
                continue;
            }
            String normalized = normalizer == null ? first.text() : normalizer.normalize(first.text());
            for (Segment second : normalizedMatcher.split(normalized, parseSpecial, first.atStart())) {
                out.add(second);
            }
        }
        return out;
    }

    /** Leftmost-longest matching of literal token contents (few tokens, bucketed by first char). */
    private static final class Matcher {
        record Entry(String content, AddedToken token) {
        }

        private final Map<Character, List<Entry>> byFirstChar = new HashMap<>();

        Matcher(List<Entry> entries) {
            for (Entry e : entries) byFirstChar.computeIfAbsent(e.content().charAt(0), k -> new ArrayList<>()).add(e);
            for (List<Entry> bucket : byFirstChar.values()) {
                bucket.sort(Comparator.comparingInt((Entry e) -> e.content().length()).reversed());
            }
        }

        List<Segment> split(String text, boolean parseSpecial, boolean textAtStart) {
            List<Segment> out = new ArrayList<>();
            if (byFirstChar.isEmpty() || text.isEmpty()) {
                out.add(new Segment(text, -1, textAtStart));
                return out;
            }
            int startOffset = 0; // end of the previous split
            int i = 0;
            while (i < text.length()) {
                Entry match = longestAt(text, i);
                if (match == null) {
                    i++;
                    continue;
                }
                int start = i;
                int stop = i + match.content().length();
                i = stop; // matches do not overlap, whether used or not
                AddedToken t = match.token();
                if (t.special() && !parseSpecial) continue;
                if (t.singleWord()) {
                    boolean startOk = start == 0 || !isWordChar(text.codePointBefore(start));
                    boolean stopOk = stop == text.length() || !isWordChar(text.codePointAt(stop));
                    if (!startOk || !stopOk) continue;
                }
                if (t.lstrip()) {
                    int s = start;
                    while (s > 0 && isWhitespace(text.codePointBefore(s))) s -= Character.charCount(text.codePointBefore(s));
                    start = Math.max(s, startOffset);
                }
                if (t.rstrip()) {
                    while (stop < text.length() && isWhitespace(text.codePointAt(stop))) {
                        stop += Character.charCount(text.codePointAt(stop));
                    }
                    i = stop;
                }
                if (startOffset < start) {
                    out.add(new Segment(text.substring(startOffset, start), -1, textAtStart && startOffset == 0));
                }
                out.add(new Segment(text.substring(start, stop), t.id(), textAtStart && start == 0));
                startOffset = stop;
            }
            if (startOffset < text.length() || out.isEmpty()) {
                out.add(new Segment(text.substring(startOffset), -1, textAtStart && startOffset == 0));
            }
            return out;
        }

        private Entry longestAt(String text, int i) {
            List<Entry> bucket = byFirstChar.get(text.charAt(i));
            if (bucket == null) return null;
            for (Entry e : bucket) if (text.startsWith(e.content(), i)) return e;
            return null;
        }

        private static boolean isWordChar(int cp) {
            return Character.isLetterOrDigit(cp) || cp == '_' || Character.getType(cp) == Character.NON_SPACING_MARK;
        }

        private static boolean isWhitespace(int cp) {
            return UnicodeWhiteSpace.is(cp);
        }
    }
}
