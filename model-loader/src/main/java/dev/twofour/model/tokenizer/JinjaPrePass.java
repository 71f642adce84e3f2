package dev.twofour.model.tokenizer;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rewrites the one Jinja construct found in Hugging Face chat templates that Jinjava parses but ignores: the loop
 * filter {@code {% for x in items if cond %}} (Jinjava would loop over all items). It becomes
 * <pre>{@code {% set __tf_loop_1 = [] %}{% for x in items %}{% if cond %}{% do __tf_loop_1.append(x) %}{% endif %}{% endfor %}{% for x in __tf_loop_1 %}}</pre>
 * which keeps Jinja's meaning: loop.index, loop.first/last and {% else %} refer to the filtered items.
 * Whitespace control marks ({@code {%-}, {@code -%}}) stay on the outer ends. Tuple targets ({@code for k, v in})
 * with a filter are refused with an explanation rather than rendered wrongly.
 * Everything else (slices, namespace(), loop.*, python string methods via {@link PythonMethods}) Jinjava handles.
 */
final class JinjaPrePass {
    private static final Pattern FOR_TAG = Pattern.compile("\\{%([-+]?)(\\s*for\\s+)(.*?)(\\s*[-+]?)%\\}", Pattern.DOTALL);

    private JinjaPrePass() {
    }

    static String rewrite(String template) {
        StringBuilder out = new StringBuilder(template.length());
        Matcher m = FOR_TAG.matcher(template);
        int last = 0;
        int counter = 0;
        while (m.find()) {
            String body = m.group(3); // "x in items if cond"
            String trailing = m.group(4);
            String rightMark = trailing.strip();
            int inAt = topLevelKeyword(body, "in", 0);
            int ifAt = inAt < 0 ? -1 : loopFilterIf(body, inAt + 2);
            if (ifAt < 0) continue;
            String target = body.substring(0, inAt).strip();
            String items = body.substring(inAt + 2, ifAt).strip();
            String cond = body.substring(ifAt + 2).strip();
            boolean recursive = cond.endsWith(" recursive");
            if (recursive) cond = cond.substring(0, cond.length() - " recursive".length()).strip();
            if (!target.matches("[A-Za-z_][A-Za-z_0-9]*") || recursive) {
                throw new TokenizerException("chat template: the loop '{% for " + body.strip() + " %}' filters with"
                        + " 'if' over a tuple target or recursively, which twofour cannot rewrite for Jinjava;"
                        + " move the condition into an {% if %} inside the loop");
            }
            String list = "__tf_loop_" + (++counter);
            out.append(template, last, m.start());
            out.append("{%").append(m.group(1)).append(" set ").append(list).append(" = [] %}")
                    .append("{% for ").append(target).append(" in ").append(items).append(" %}")
                    .append("{% if ").append(cond).append(" %}{% do ").append(list).append(".append(").append(target)
                    .append(") %}{% endif %}{% endfor %}")
                    .append("{% for ").append(target).append(" in ").append(list).append(' ').append(rightMark).append("%}");
            last = m.end();
        }
        out.append(template, last, template.length());
        return out.toString();
    }

    /** Index of a keyword at bracket depth 0 and outside string literals, or -1. */
    private static int topLevelKeyword(String s, String word, int from) {
        int depth = 0;
        char quote = 0;
        for (int i = from; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == '\\') i++;
                else if (c == quote) quote = 0;
                continue;
            }
            switch (c) {
                case '\'', '"' -> quote = c;
                case '(', '[', '{' -> depth++;
                case ')', ']', '}' -> depth--;
                default -> {
                    if (depth == 0 && s.startsWith(word, i)
                            && (i == 0 || !Character.isJavaIdentifierPart(s.charAt(i - 1)))
                            && (i + word.length() == s.length() || !Character.isJavaIdentifierPart(s.charAt(i + word.length())))) {
                        return i;
                    }
                }
            }
        }
        return -1;
    }

    /** The 'if' that starts a loop filter: a top-level 'if' with no top-level 'else' after it (not x if c else y). */
    private static int loopFilterIf(String body, int from) {
        int at = topLevelKeyword(body, "if", from);
        while (at >= 0) {
            if (topLevelKeyword(body, "else", at + 2) < 0) return at;
            at = topLevelKeyword(body, "if", at + 2);
        }
        return -1;
    }
}
