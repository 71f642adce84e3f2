package dev.twofour.model.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StreamingDecoderTest {
    private static final Tokenizer TINY = TokenizerTest.TINY;
    private static final Tokenizer SPM = TokenizerTest.SPM;

    @Test
    void neverEmitsHalfACharacterAndAddsUpToDecode() {
        Random rnd = new Random(424242);
        int splitChars = 0;
        for (Tokenizer tok : List.of(TINY, SPM)) {
            for (int i = 0; i < 120; i++) {
                String text = RandomText.next(rnd, 1 + rnd.nextInt(50));
                int[] ids = tok.encode(text, rnd.nextBoolean());
                StreamingDecoder d = tok.newStreamingDecoder();
                StringBuilder all = new StringBuilder();
                for (int id : ids) {
                    String piece = d.push(id);
                    assertWholeCharacters(piece, text);
                    if (piece.isEmpty()) splitChars++;
                    all.append(piece);
                }
                String rest = d.flush();
                assertEquals("", rest, "nothing held back at the end of valid text");
                assertEquals(tok.decode(ids), all.toString(), "stream of " + TokenizerGoldenTest.quote(text));
            }
        }
        assertTrue(splitChars > 60, "the test text should split characters across tokens; it did " + splitChars + " times");
    }

    @Test
    void skipsSpecialTokensWhenAsked() {
        int[] ids = TINY.encode("<|start_header_id|>user<|end_header_id|>\n\nHi 🙂<|eot_id|>", true, true);
        StreamingDecoder d = TINY.newStreamingDecoder(true);
        StringBuilder b = new StringBuilder();
        for (int id : ids) b.append(d.push(id));
        b.append(d.flush());
        assertEquals("user\n\nHi 🙂", b.toString());
    }

    @Test
    void sentencePieceStripsTheLeadingSpaceOnlyAtTheStart() {
        int[] ids = SPM.encode("Hello world again", false);
        StreamingDecoder d = SPM.newStreamingDecoder();
        List<String> pieces = new ArrayList<>();
        for (int id : ids) pieces.add(d.push(id));
        assertEquals(List.of("Hello", " world", " again"), pieces);
    }

    @Test
    void unfinishedCharacterIsFlushedAsReplacement() {
        // The 4 UTF-8 bytes of 🙂 (F0 9F 99 82) as byte-level tokens, stopped after 2.
        int[] bytes = new int[4];
        String mapped = ByteLevel.encode("🙂");
        for (int i = 0; i < 4; i++) bytes[i] = TINY.id(mapped.substring(i, i + 1));
        StreamingDecoder d = TINY.newStreamingDecoder();
        assertEquals("", d.push(bytes[0]));
        assertEquals("", d.push(bytes[1]));
        assertEquals("\uFFFD", d.flush());
        // A fresh stream with all four bytes gives the emoji exactly once, on the last byte.
        for (int i = 0; i < 3; i++) assertEquals("", d.push(bytes[i]));
        assertEquals("🙂", d.push(bytes[3]));
        // An invalid byte after a lead byte is not waited for forever.
        assertEquals("", d.push(bytes[0]));
        String out = d.push(TINY.encode("a", false)[0]);
        assertEquals("\uFFFDa", out);
    }

    @Test
    void sentencePieceByteFallbackWaitsForTheWholeCharacter() {
        // "🙂" is not a Llama 2 piece: "▁" then <0xF0><0x9F><0x99><0x82>.
        int[] ids = SPM.encode("🙂", false);
        StreamingDecoder d = SPM.newStreamingDecoder();
        StringBuilder b = new StringBuilder();
        int emptyPushes = 0;
        for (int id : ids) {
            String p = d.push(id);
            if (p.isEmpty()) emptyPushes++;
            assertWholeCharacters(p, "🙂");
            b.append(p);
        }
        assertEquals("🙂", b.toString());
        assertTrue(emptyPushes >= 3, "byte tokens should have been held back: " + java.util.Arrays.toString(ids));
    }

    private static void assertWholeCharacters(String piece, String source) {
        for (int i = 0; i < piece.length(); i++) {
            char c = piece.charAt(i);
            if (Character.isHighSurrogate(c)) {
                assertTrue(i + 1 < piece.length() && Character.isLowSurrogate(piece.charAt(i + 1)), "split surrogate pair");
                i++;
            } else {
                assertFalse(Character.isLowSurrogate(c), "lone low surrogate");
            }
        }
        if (source.indexOf('\uFFFD') < 0) assertFalse(piece.contains("\uFFFD"), "U+FFFD in " + TokenizerGoldenTest.quote(piece));
    }
}
