package dev.twofour.model.tokenizer;

import java.util.Map;

/**
 * Python's {@code json.dumps(value, ensure_ascii=False, indent=indent)} for template values (what transformers'
 * tojson filter produces): ", " and ": " separators without indent, "," and ": " with it; non-ASCII kept as is.
 */
final class PythonJson {
    private PythonJson() {
    }

    static String dumps(Object value, Integer indent) {
        StringBuilder b = new StringBuilder();
        write(b, value, indent, 0);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v, Integer indent, int level) {
        if (v == null) {
            b.append("null");
        } else if (v instanceof Boolean bool) {
            b.append(bool ? "true" : "false");
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d)) b.append("NaN");
            else if (Double.isInfinite(d)) b.append(d > 0 ? "Infinity" : "-Infinity");
            else b.append(pythonFloat(d));
        } else if (v instanceof Number n) {
            b.append(n.toString());
        } else if (v instanceof Map<?, ?> map) {
            if (map.isEmpty()) {
                b.append("{}");
                return;
            }
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : map.entrySet()) {
                if (!first) b.append(indent == null ? ", " : ",");
                first = false;
                newline(b, indent, level + 1);
                string(b, keyString(e.getKey()));
                b.append(": ");
                write(b, e.getValue(), indent, level + 1);
            }
            newline(b, indent, level);
            b.append('}');
        } else if (v instanceof Iterable<?> items) {
            if (!items.iterator().hasNext()) {
                b.append("[]");
                return;
            }
            b.append('[');
            boolean first = true;
            for (Object o : items) {
                if (!first) b.append(indent == null ? ", " : ",");
                first = false;
                newline(b, indent, level + 1);
                write(b, o, indent, level + 1);
            }
            newline(b, indent, level);
            b.append(']');
        } else if (v instanceof Object[] array) {
            write(b, java.util.Arrays.asList(array), indent, level);
        } else {
            string(b, v.toString());
        }
    }

    private static String keyString(Object k) {
        if (k == null) return "null";
        if (k instanceof Boolean bool) return bool ? "true" : "false";
        if (k instanceof Double || k instanceof Float) return pythonFloat(((Number) k).doubleValue());
        return k.toString();
    }

    /** repr() of a Python float: shortest round-trip digits, always with a '.' or an exponent. */
    private static String pythonFloat(double d) {
        if (d == Math.rint(d) && Math.abs(d) < 1e16) return String.format("%.1f", d);
        String s = Double.toString(d); // shortest round-trip, Java style (1.0E-5)
        if (s.contains("E")) {
            String[] parts = s.split("E");
            String mantissa = parts[0].endsWith(".0") ? parts[0].substring(0, parts[0].length() - 2) : parts[0];
            int exp = Integer.parseInt(parts[1]);
            if (exp >= -4 && exp < 16) return new java.math.BigDecimal(mantissa + "E" + exp).toPlainString();
            return mantissa + "e" + (exp < 0 ? "-" : "+") + String.format("%02d", Math.abs(exp));
        }
        return s;
    }

    private static void newline(StringBuilder b, Integer indent, int level) {
        if (indent == null) return;
        b.append('\n');
        b.append(" ".repeat(indent * level));
    }

    private static void string(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        b.append('"');
    }
}
