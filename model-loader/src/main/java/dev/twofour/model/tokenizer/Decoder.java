package dev.twofour.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A tokenizer.json "decoder": a chain over the list of token strings, as in Hugging Face tokenizers
 * (decode = join of the chain's output).
 *
 * <p>For streaming, {@link Context#holdIncompleteTail} asks the byte-producing steps to leave out bytes at the very
 * end that are a valid but unfinished UTF-8 sequence (and to report it), instead of writing U+FFFD for them.
 */
interface Decoder {
    final class Context {
        final boolean holdIncompleteTail;
        boolean incompleteTail;

        Context(boolean holdIncompleteTail) {
            this.holdIncompleteTail = holdIncompleteTail;
        }
    }

    List<String> decodeChain(List<String> tokens, Context context);

    static Decoder fromJson(JsonNode node, String where) {
        if (node == null || node.isNull()) return null;
        String type = node.path("type").asText("");
        switch (type) {
            case "Sequence": {
                List<Decoder> parts = new ArrayList<>();
                for (JsonNode n : node.path("decoders")) {
                    Decoder d = fromJson(n, where);
                    if (d != null) parts.add(d);
                }
                return (tokens, ctx) -> {
                    for (Decoder d : parts) tokens = d.decodeChain(tokens, ctx);
                    return tokens;
                };
            }
            case "ByteLevel":
                return Decoder::byteLevel;
            case "ByteFallback":
                return Decoder::byteFallback;
            case "Fuse":
                return (tokens, ctx) -> List.of(String.join("", tokens));
            case "Replace": {
                Pattern pattern = Regexes.patternOf(node.path("pattern"), where + " decoder Replace");
                String content = Matcher.quoteReplacement(node.path("content").asText());
                return (tokens, ctx) -> {
                    List<String> out = new ArrayList<>(tokens.size());
                    for (String t : tokens) out.add(pattern.matcher(t).replaceAll(content));
                    return out;
                };
            }
            case "Strip": {
                int content = node.path("content").asText(" ").codePointAt(0);
                int start = node.path("start").asInt(0);
                int stop = node.path("stop").asInt(0);
                return (tokens, ctx) -> {
                    List<String> out = new ArrayList<>(tokens.size());
                    for (String t : tokens) out.add(strip(t, content, start, stop));
                    return out;
                };
            }
            case "Metaspace": {
                String replacement = node.has("replacement") ? node.get("replacement").asText()
                        : node.path("str_rep").asText("\u2581");
                String scheme = node.has("prepend_scheme") ? node.get("prepend_scheme").asText()
                        : (node.path("add_prefix_space").asBoolean(true) ? "always" : "never");
                boolean stripFirst = !scheme.equals("never");
                return (tokens, ctx) -> {
                    List<String> out = new ArrayList<>(tokens.size());
                    for (int i = 0; i < tokens.size(); i++) {
                        // Hugging Face drops every replacement char of the first token (the prepended "▁").
                        out.add(tokens.get(i).replace(replacement, i == 0 && stripFirst ? "" : " "));
                    }
                    return out;
                };
            }
            default:
                throw new TokenizerException(where + ": decoder type '" + type + "' is not supported"
                        + " (supported: Sequence, ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace)");
        }
    }

    /** Characters back to bytes; a token with a character outside the mapping contributes its own UTF-8. */
    private static List<String> byteLevel(List<String> tokens, Context ctx) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (String t : tokens) {
            byte[] mapped = new byte[t.length()];
            boolean ok = true;
            for (int i = 0; i < t.length(); i++) {
                int b = ByteLevel.byteOf(t.charAt(i));
                if (b < 0) {
                    ok = false;
                    break;
                }
                mapped[i] = (byte) b;
            }
            bytes.writeBytes(ok ? mapped : t.getBytes(StandardCharsets.UTF_8));
        }
        return List.of(Utf8.decode(bytes.toByteArray(), ctx));
    }

    /** Runs of {@code <0xAB>} tokens become text; an invalid run becomes one U+FFFD per byte. */
    private static List<String> byteFallback(List<String> tokens, Context ctx) {
        List<String> out = new ArrayList<>(tokens.size());
        ByteArrayOutputStream run = new ByteArrayOutputStream();
        for (String t : tokens) {
            int b = byteToken(t);
            if (b >= 0) {
                run.write(b);
                continue;
            }
            flushByteRun(run, out, null);
            out.add(t);
        }
        flushByteRun(run, out, ctx);
        return out;
    }

    private static void flushByteRun(ByteArrayOutputStream run, List<String> out, Context ctxAtEnd) {
        if (run.size() == 0) return;
        byte[] bytes = run.toByteArray();
        run.reset();
        if (ctxAtEnd != null && ctxAtEnd.holdIncompleteTail) {
            int keep = Utf8.completePrefixLength(bytes);
            if (keep < bytes.length && Utf8.isValid(bytes, 0, keep) && Utf8.isIncompleteTail(bytes, keep)) {
                ctxAtEnd.incompleteTail = true;
                if (keep > 0) out.add(new String(bytes, 0, keep, StandardCharsets.UTF_8));
                return;
            }
        }
        if (Utf8.isValid(bytes, 0, bytes.length)) out.add(new String(bytes, StandardCharsets.UTF_8));
        else for (int i = 0; i < bytes.length; i++) out.add("\uFFFD");
    }

    /** The byte of a {@code <0xAB>} token, or -1. */
    static int byteToken(String t) {
        if (t.length() != 6 || !t.startsWith("<0x") || t.charAt(5) != '>') return -1;
        int hi = Character.digit(t.charAt(3), 16);
        int lo = Character.digit(t.charAt(4), 16);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }

    private static String strip(String t, int content, int start, int stop) {
        int[] cps = t.codePoints().toArray();
        int from = 0;
        while (from < start && from < cps.length && cps[from] == content) from++;
        int to = cps.length;
        int stripped = 0;
        while (stripped < stop && to > from && cps[to - 1] == content) {
            to--;
            stripped++;
        }
        return new String(cps, from, to - from);
    }
}
