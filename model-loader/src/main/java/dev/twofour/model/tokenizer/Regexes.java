package dev.twofour.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Patterns of tokenizer.json (written for Oniguruma, which Hugging Face tokenizers uses) compiled as Java regexes.
 *
 * <p>What carries over unchanged: {@code \p{L}}, {@code \p{N}}, {@code (?i:'s|'t)}, {@code (?!\S)}, possessive
 * {@code ?+ ++ *+}, {@code {1,3}}. What needs care:
 * <ul>
 *   <li>{@code \s \w \d} are Unicode-aware in Oniguruma; Java needs {@link Pattern#UNICODE_CHARACTER_CLASS}
 *       (and {@link Pattern#UNICODE_CASE} so {@code (?i)} folds like Oniguruma does).</li>
 *   <li>POSIX brackets such as {@code [:alpha:]} inside a class exist only in Oniguruma: translated to
 *       {@code \p{Alpha}}. Nested classes and {@code &&} mean the same in both (Oniguruma's Ruby syntax).</li>
 *   <li>A {@code ]} right after {@code [} or {@code [^} is a literal in Oniguruma: escaped for Java.</li>
 *   <li>{@code \h} is a hex digit in Oniguruma but horizontal whitespace in Java: translated to {@code [0-9a-fA-F]}.</li>
 * </ul>
 */
final class Regexes {
    static final int FLAGS = Pattern.UNICODE_CHARACTER_CLASS | Pattern.UNICODE_CASE;

    private Regexes() {
    }

    /** {"String": "literal"} or {"Regex": "pattern"} as used by Split, Replace and friends. */
    static Pattern patternOf(JsonNode node, String where) {
        if (node.has("String")) return Pattern.compile(Pattern.quote(node.get("String").asText()));
        if (node.has("Regex")) return compile(node.get("Regex").asText(), where);
        throw new TokenizerException(where + ": pattern must be {\"String\": ...} or {\"Regex\": ...}, got " + node);
    }

    static Pattern compile(String onigPattern, String where) {
        String java = translate(onigPattern);
        try {
            return Pattern.compile(java, FLAGS);
        } catch (PatternSyntaxException e) {
            throw new TokenizerException(where + ": cannot compile the regex " + onigPattern + " (as Java: " + java
                    + "): " + e.getDescription(), e);
        }
    }

    /** Rewrites the few Oniguruma constructs that mean something else (or nothing) in Java. */
    static String translate(String p) {
        StringBuilder out = new StringBuilder(p.length() + 8);
        int classDepth = 0;
        for (int i = 0; i < p.length(); i++) {
            char c = p.charAt(i);
            if (c == '\\' && i + 1 < p.length()) {
                char e = p.charAt(i + 1);
                if (e == 'h') {
                    out.append(classDepth > 0 ? "0-9a-fA-F" : "[0-9a-fA-F]");
                } else if (e == 'H') {
                    out.append(classDepth > 0 ? "\\x00-\\x2F\\x3A-\\x40\\x47-\\x60\\x67-\\x{10FFFF}" : "[^0-9a-fA-F]");
                } else {
                    out.append(c).append(e);
                }
                i++;
                continue;
            }
            if (classDepth > 0) {
                if (c == '[' && p.startsWith("[:", i)) {
                    int close = p.indexOf(":]", i + 2);
                    if (close > 0) {
                        String name = p.substring(i + 2, close);
                        boolean negated = name.startsWith("^");
                        if (negated) name = name.substring(1);
                        String prop = switch (name) {
                            case "alpha" -> "Alpha";
                            case "digit" -> "Digit";
                            case "alnum" -> "Alnum";
                            case "upper" -> "Upper";
                            case "lower" -> "Lower";
                            case "space" -> "Space";
                            case "punct" -> "Punct";
                            case "xdigit" -> "XDigit";
                            case "cntrl" -> "Cntrl";
                            case "print" -> "Print";
                            case "graph" -> "Graph";
                            case "blank" -> "Blank";
                            default -> null;
                        };
                        if (prop != null) {
                            out.append(negated ? "\\P{" : "\\p{").append(prop).append('}');
                            i = close + 1;
                            continue;
                        }
                    }
                }
                if (c == '[') {
                    classDepth++; // nested class, same meaning in both engines
                    out.append(c);
                    continue;
                }
                if (c == ']') {
                    // "[]abc]" and "[^]abc]": a ']' right after the opening is a literal in Oniguruma.
                    int prevOpen = out.length() - 1;
                    boolean literal = out.charAt(prevOpen) == '[' && (prevOpen == 0 || out.charAt(prevOpen - 1) != '\\')
                            || out.length() >= 2 && out.charAt(out.length() - 1) == '^' && out.charAt(out.length() - 2) == '['
                            && (out.length() < 3 || out.charAt(out.length() - 3) != '\\');
                    if (literal) {
                        out.append("\\]");
                        continue;
                    }
                    classDepth--;
                    out.append(c);
                    continue;
                }
                out.append(c);
                continue;
            }
            if (c == '[') classDepth++;
            out.append(c);
        }
        return out.toString();
    }
}
