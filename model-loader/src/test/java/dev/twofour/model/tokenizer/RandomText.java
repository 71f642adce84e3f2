package dev.twofour.model.tokenizer;

import java.util.Random;

/** Random text with many multi-byte characters: ASCII, Latin-1, Greek, CJK, emoji (with ZWJ), whitespace. */
final class RandomText {
    private static final int[][] RANGES = {
            {0x20, 0x7E}, {0x20, 0x7E}, {0x20, 0x7E}, {0xA1, 0xFF}, {0x391, 0x3C9}, {0x4E00, 0x4FFF},
            {0x3041, 0x3096}, {0x1F600, 0x1F64F}, {0x1F300, 0x1F5FF}, {0xAC00, 0xAC80},
    };
    private static final String[] SPECIALS = {" ", "  ", "\n", "\t", "\r\n", "\u200D", "\uFE0F", "\u00A0", "'s", "123"};

    private RandomText() {
    }

    static String next(Random rnd, int codePoints) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < codePoints; i++) {
            if (rnd.nextInt(6) == 0) {
                b.append(SPECIALS[rnd.nextInt(SPECIALS.length)]);
                continue;
            }
            int[] r = RANGES[rnd.nextInt(RANGES.length)];
            b.appendCodePoint(r[0] + rnd.nextInt(r[1] - r[0] + 1));
        }
        return b.toString();
    }
}
