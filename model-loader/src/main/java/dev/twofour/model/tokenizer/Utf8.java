package dev.twofour.model.tokenizer;

import java.nio.charset.StandardCharsets;

/** UTF-8 checks for decoding token bytes: validity and "unfinished sequence at the end". */
final class Utf8 {
    private Utf8() {
    }

    /**
     * Bytes to text, invalid sequences as U+FFFD (Java's decoder replaces maximal invalid subparts, like Rust's
     * from_utf8_lossy). With context.holdIncompleteTail, an unfinished but so far valid sequence at the very end is
     * left out and context.incompleteTail is set.
     */
    static String decode(byte[] bytes, Decoder.Context context) {
        int length = bytes.length;
        if (context != null && context.holdIncompleteTail) {
            int keep = completePrefixLength(bytes);
            if (keep < length && isIncompleteTail(bytes, keep)) {
                context.incompleteTail = true;
                length = keep;
            }
        }
        return new String(bytes, 0, length, StandardCharsets.UTF_8);
    }

    /** Where a trailing unfinished sequence (1-3 bytes) would start; bytes.length when there is none. */
    static int completePrefixLength(byte[] bytes) {
        int n = bytes.length;
        // Look back at most 3 bytes for the lead byte of the last sequence.
        for (int back = 1; back <= 3 && back <= n; back++) {
            int b = bytes[n - back] & 0xFF;
            if ((b & 0xC0) == 0x80) continue; // continuation byte: keep looking for the lead
            int need = expectedLength(b);
            return need > back ? n - back : n;
        }
        return n;
    }

    /** True when bytes[from..] is a proper, so far valid, beginning of one multi-byte UTF-8 sequence. */
    static boolean isIncompleteTail(byte[] bytes, int from) {
        int n = bytes.length - from;
        if (n <= 0 || n > 3) return false;
        int lead = bytes[from] & 0xFF;
        int need = expectedLength(lead);
        if (need <= n) return false;
        for (int i = 1; i < n; i++) {
            int b = bytes[from + i] & 0xFF;
            if ((b & 0xC0) != 0x80) return false;
            if (i == 1) {
                // Second-byte ranges that exclude overlongs, surrogates and code points above U+10FFFF.
                if (lead == 0xE0 && b < 0xA0) return false;
                if (lead == 0xED && b > 0x9F) return false;
                if (lead == 0xF0 && b < 0x90) return false;
                if (lead == 0xF4 && b > 0x8F) return false;
            }
        }
        return true;
    }

    static boolean isValid(byte[] bytes, int from, int to) {
        try {
            StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes, from, to - from));
            return true;
        } catch (java.nio.charset.CharacterCodingException e) {
            return false;
        }
    }

    /** The length of the sequence a lead byte announces, or 0 for a byte that cannot lead. */
    private static int expectedLength(int lead) {
        if (lead < 0x80) return 1;
        if (lead >= 0xC2 && lead <= 0xDF) return 2;
        if (lead >= 0xE0 && lead <= 0xEF) return 3;
        if (lead >= 0xF0 && lead <= 0xF4) return 4;
        return 0;
    }
}
