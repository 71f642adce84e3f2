package dev.twofour.model.tokenizer;

import java.util.Arrays;

/**
 * Decodes ids one at a time for streamed output. Concatenating every push() and the final flush() gives
 * exactly {@code tokenizer.decode(allIds, skipSpecialTokens)}; no returned piece ends in half a UTF-8 character
 * (bytes of an unfinished character wait for the next ids).
 *
 * (One exception, for invalid byte sequences in SentencePiece models, is explained in newText.)
 *
 * <p>How: like Hugging Face's DecodeStream, it decodes a small window of recent ids and returns what the window's
 * text has beyond the text of its older part. Keeping one already-returned id in front keeps context-dependent
 * decoders right: the SentencePiece decoder strips the leading space of the first token only, so " world" after
 * "Hello" keeps its space while the very first token of the stream loses it. Not thread-safe: one per stream.
 */
public final class StreamingDecoder {
    private final Tokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private int[] window = new int[8];
    private int size;
    /** Ids at the front of the window whose text was already returned. */
    private int prefixCount;
    /** Decoded text of those prefixCount ids. */
    private String prefixText = "";

    StreamingDecoder(Tokenizer tokenizer, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /** Adds one id; returns the new text it completes (often "", e.g. inside a multi-byte character). */
    public String push(int id) {
        if (size == window.length) window = Arrays.copyOf(window, size * 2);
        window[size++] = id;
        Decoder.Context ctx = new Decoder.Context(true);
        String text = tokenizer.decode(window, 0, size, skipSpecialTokens, ctx);
        if (ctx.incompleteTail || text.length() <= prefixText.length()) return "";
        String fresh = newText(text);
        // Slide: the ids just returned become the new prefix (the older prefix is no longer needed).
        int keepFrom = prefixCount;
        System.arraycopy(window, keepFrom, window, 0, size - keepFrom);
        size -= keepFrom;
        prefixCount = size;
        prefixText = tokenizer.decode(window, 0, size, skipSpecialTokens, null);
        return fresh;
    }

    /** Returns what is still held back (an unfinished character becomes U+FFFD) and starts over. */
    public String flush() {
        String text = tokenizer.decode(window, 0, size, skipSpecialTokens, null);
        String fresh = text.length() > prefixText.length() ? newText(text) : "";
        size = 0;
        prefixCount = 0;
        prefixText = "";
        return fresh;
    }

    private String newText(String text) {
        // The window's text normally extends what was returned. One known exception: SentencePiece byte fallback
        // turns a whole run of byte tokens into U+FFFDs when the run is invalid, so a byte that already showed as
        // a character can become U+FFFD once a bad byte follows. Text already returned cannot be taken back, so
        // the stream then goes on after the same number of characters.
        if (text.startsWith(prefixText)) return text.substring(prefixText.length());
        return text.substring(Math.min(prefixText.length(), text.length()));
    }
}
