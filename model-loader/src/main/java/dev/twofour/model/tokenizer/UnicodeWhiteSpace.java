package dev.twofour.model.tokenizer;

/**
 * Unicode's White_Space property, which Rust's char::is_whitespace (and so Hugging Face's strip and lstrip/rstrip
 * rules) uses. Java's Character.isWhitespace differs: it leaves out no-break spaces and adds U+001C..U+001F.
 */
final class UnicodeWhiteSpace {
    private UnicodeWhiteSpace() {
    }

    static boolean is(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F
                || cp == 0x3000;
    }

    static String strip(String s, boolean left, boolean right) {
        int from = 0;
        int to = s.length();
        while (left && from < to && is(s.codePointAt(from))) from += Character.charCount(s.codePointAt(from));
        while (right && to > from && is(s.codePointBefore(to))) to -= Character.charCount(s.codePointBefore(to));
        return s.substring(from, to);
    }
}
