package dev.twofour.model.tokenizer;

import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.beans.FeatureDescriptor;
import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Python's str methods for Jinja templates (HF chat templates call {@code content.strip()},
 * {@code role.startswith('a')} ...), which Jinjava, working on Java strings, does not have. Installed as the first
 * EL resolver: it answers method calls on strings whose name is a Python str method and leaves everything else to
 * Jinjava's own resolver.
 */
final class PythonMethods {
    private PythonMethods() {
    }

    static ELResolver resolver() {
        CompositeELResolver composite = new CompositeELResolver();
        composite.add(new StringMethods());
        composite.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        return composite;
    }

    private static final class StringMethods extends ELResolver {
        @Override
        public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
            if (!(base instanceof CharSequence cs) || method == null) return null;
            Object[] args = params == null ? new Object[0] : params;
            Object result = call(cs.toString(), method.toString(), args);
            if (result == NOT_HANDLED) return null;
            context.setPropertyResolved(true);
            return result;
        }

        @Override
        public Class<?> getCommonPropertyType(ELContext context, Object base) {
            return null;
        }

        @Override
        public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
            return null;
        }

        @Override
        public Class<?> getType(ELContext context, Object base, Object property) {
            return null;
        }

        @Override
        public Object getValue(ELContext context, Object base, Object property) {
            return null;
        }

        @Override
        public boolean isReadOnly(ELContext context, Object base, Object property) {
            return true;
        }

        @Override
        public void setValue(ELContext context, Object base, Object property, Object value) {
        }
    }

    static final Object NOT_HANDLED = new Object();

    /** One Python str method; NOT_HANDLED for names this class does not implement. */
    static Object call(String s, String name, Object[] args) {
        switch (name) {
            case "strip":
                return args.length == 0 || args[0] == null ? pyStrip(s, null, true, true) : pyStrip(s, str(args[0]), true, true);
            case "lstrip":
                return args.length == 0 || args[0] == null ? pyStrip(s, null, true, false) : pyStrip(s, str(args[0]), true, false);
            case "rstrip":
                return args.length == 0 || args[0] == null ? pyStrip(s, null, false, true) : pyStrip(s, str(args[0]), false, true);
            case "startswith":
                return startsOrEnds(s, args, true);
            case "endswith":
                return startsOrEnds(s, args, false);
            case "lower":
                return s.toLowerCase(Locale.ROOT);
            case "upper":
                return s.toUpperCase(Locale.ROOT);
            case "title":
                return title(s);
            case "capitalize":
                return s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            case "split":
                return split(s, args.length > 0 ? args[0] : null, args.length > 1 ? ((Number) args[1]).intValue() : -1);
            case "replace":
                if (args.length < 2) return NOT_HANDLED;
                return s.replace(str(args[0]), str(args[1]));
            case "find":
                return args.length < 1 ? NOT_HANDLED : (long) s.indexOf(str(args[0]));
            case "count":
                return args.length < 1 ? NOT_HANDLED : (long) count(s, str(args[0]));
            case "join":
                if (args.length < 1 || !(args[0] instanceof Iterable<?> items)) return NOT_HANDLED;
                List<String> parts = new ArrayList<>();
                for (Object o : items) parts.add(str(o));
                return String.join(s, parts);
            case "isdigit":
                return !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
            case "isspace":
                return !s.isEmpty() && s.codePoints().allMatch(PythonMethods::isPySpace);
            default:
                return NOT_HANDLED;
        }
    }

    private static String str(Object o) {
        return o == null ? "None" : o.toString();
    }

    private static boolean startsOrEnds(String s, Object[] args, boolean start) {
        if (args.length == 0) return false;
        if (args[0] instanceof Iterable<?> options) { // str.startswith(("a", "b"))
            for (Object o : options) if (start ? s.startsWith(str(o)) : s.endsWith(str(o))) return true;
            return false;
        }
        return start ? s.startsWith(str(args[0])) : s.endsWith(str(args[0]));
    }

    /** Python's whitespace for str.strip()/split(): Unicode White_Space plus the separators 0x1C-0x1F. */
    static boolean isPySpace(int cp) {
        return Character.isWhitespace(cp) || Character.isSpaceChar(cp) || cp == 0x85;
    }

    private static String pyStrip(String s, String chars, boolean left, boolean right) {
        int from = 0;
        int to = s.length();
        while (left && from < to) {
            int cp = s.codePointAt(from);
            if (chars == null ? !isPySpace(cp) : chars.indexOf(cp) < 0) break;
            from += Character.charCount(cp);
        }
        while (right && to > from) {
            int cp = s.codePointBefore(to);
            if (chars == null ? !isPySpace(cp) : chars.indexOf(cp) < 0) break;
            to -= Character.charCount(cp);
        }
        return s.substring(from, to);
    }

    private static List<String> split(String s, Object sep, int maxSplit) {
        List<String> out = new ArrayList<>();
        if (sep == null) { // runs of whitespace, no empty strings
            int i = 0;
            while (i < s.length()) {
                while (i < s.length() && isPySpace(s.codePointAt(i))) i += Character.charCount(s.codePointAt(i));
                if (i >= s.length()) break;
                if (maxSplit >= 0 && out.size() == maxSplit) {
                    out.add(pyStrip(s.substring(i), null, false, true));
                    return out;
                }
                int j = i;
                while (j < s.length() && !isPySpace(s.codePointAt(j))) j += Character.charCount(s.codePointAt(j));
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        String d = str(sep);
        int i = 0;
        while (true) {
            int k = s.indexOf(d, i);
            if (k < 0 || (maxSplit >= 0 && out.size() == maxSplit)) {
                out.add(s.substring(i));
                return out;
            }
            out.add(s.substring(i, k));
            i = k + d.length();
        }
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) return s.length() + 1;
        int n = 0;
        for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length())) n++;
        return n;
    }

    private static String title(String s) {
        StringBuilder b = new StringBuilder(s.length());
        boolean prevCased = false;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            b.appendCodePoint(prevCased ? Character.toLowerCase(cp) : Character.toTitleCase(cp));
            prevCased = Character.isLetter(cp);
            i += Character.charCount(cp);
        }
        return b.toString();
    }

    /** Python's strftime for the directives chat templates use (%d %b %Y %B %m %y %H %M %S %I %p %A %a %j %%). */
    static String strftime(ZonedDateTime t, String format) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 >= format.length()) {
                b.append(c);
                continue;
            }
            char d = format.charAt(++i);
            switch (d) {
                case 'd' -> b.append(String.format("%02d", t.getDayOfMonth()));
                case 'm' -> b.append(String.format("%02d", t.getMonthValue()));
                case 'Y' -> b.append(t.getYear());
                case 'y' -> b.append(String.format("%02d", t.getYear() % 100));
                case 'b' -> b.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'B' -> b.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'H' -> b.append(String.format("%02d", t.getHour()));
                case 'I' -> b.append(String.format("%02d", t.getHour() % 12 == 0 ? 12 : t.getHour() % 12));
                case 'p' -> b.append(t.getHour() < 12 ? "AM" : "PM");
                case 'M' -> b.append(String.format("%02d", t.getMinute()));
                case 'S' -> b.append(String.format("%02d", t.getSecond()));
                case 'j' -> b.append(String.format("%03d", t.getDayOfYear()));
                case '%' -> b.append('%');
                default -> b.append('%').append(d);
            }
        }
        return b.toString();
    }
}
