package dev.twofour.model.tokenizer;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rewrites the two Jinja loop forms found in Hugging Face chat templates that Jinjava parses but renders wrongly:
 * <ul>
 *   <li>the loop filter {@code {% for x in items if cond %}} (Jinjava loops over all items), and</li>
 *   <li>{@code {% for %}...{% else %}...{% endfor %}} (Jinjava renders the else part after every item).</li>
 * </ul>
 * Such a loop becomes, keeping Jinja's meaning (loop.index, loop.length, loop.first/last count the filtered
 * items; the else part renders when nothing was iterated):
 * <pre>{@code
 * {% set __tf_loop_1 = [] %}{% for x in items %}{% if cond %}{% do __tf_loop_1.append(x) %}{% endif %}{% endfor %}
 * {% for x in __tf_loop_1 %}...{% endfor %}{% if __tf_loop_1|length == 0 %}...{% endif %}
 * }</pre>
 * Whitespace-control marks ({@code {%-}, {@code -%}}) stay where they were; trim_blocks/lstrip_blocks act on the
 * replacement tags as on the originals. A filtered loop over a tuple target ({@code for k, v in ... if}) is refused
 * with an explanation rather than rendered wrongly. Comments and raw blocks are left alone. transformers'
 * {@code {% generation %}...{% endgeneration %}} (which only marks assistant text) becomes an always-true if.
 */
final class JinjaPrePass {
    private static final Pattern TAG = Pattern.compile("\\{#.*?#\\}|\\{%([-+]?)\\s*(.*?)\\s*([-+]?)%\\}", Pattern.DOTALL);

    private JinjaPrePass() {
    }

    /** A {% ... %} tag: its span, whitespace marks and inner text. */
    private record Tag(int start, int end, String left, String body, String right) {
        String keyword() {
            int sp = 0;
            while (sp < body.length() && Character.isJavaIdentifierPart(body.charAt(sp))) sp++;
            return body.substring(0, sp);
        }
    }

    private static final class Block {
        final Tag open;
        Tag elseTag;

        Block(Tag open) {
            this.open = open;
        }
    }

    private record Edit(int start, int end, String text) {
    }

    static String rewrite(String template) {
        List<Edit> edits = new ArrayList<>();
        Deque<Block> stack = new ArrayDeque<>();
        Matcher m = TAG.matcher(template);
        int counter = 0;
        int searchFrom = 0;
        while (m.find(searchFrom)) {
            searchFrom = m.end();
            if (m.group(2) == null) continue; // comment
            Tag tag = new Tag(m.start(), m.end(), m.group(1), m.group(2), m.group(3));
            String kw = tag.keyword();
            switch (kw) {
                case "raw" -> {
                    int endRaw = indexOfEndRaw(template, m.end());
                    searchFrom = endRaw < 0 ? template.length() : endRaw;
                }
                case "for", "if", "macro", "call", "filter", "block", "with", "autoescape" -> stack.push(new Block(tag));
                case "set" -> {
                    if (!tag.body().contains("=")) stack.push(new Block(tag)); // {% set x %}...{% endset %}
                }
                case "generation" ->
                    // transformers' {% generation %} marks assistant text for masks and renders its body unchanged.
                        edits.add(new Edit(tag.start(), tag.end(), "{%" + tag.left() + " if true " + tag.right() + "%}"));
                case "endgeneration" -> edits.add(new Edit(tag.start(), tag.end(), "{%" + tag.left() + " endif " + tag.right() + "%}"));
                case "else" -> {
                    if (!stack.isEmpty()) stack.peek().elseTag = tag;
                }
                default -> {
                    if (kw.startsWith("end") && !stack.isEmpty()) {
                        Block b = stack.pop();
                        if (b.open.keyword().equals("for")) {
                            Edit[] loopEdits = rewriteLoop(b, tag, ++counter);
                            if (loopEdits != null) edits.addAll(List.of(loopEdits));
                            else counter--;
                        }
                    }
                }
            }
        }
        if (edits.isEmpty()) return template;
        edits.sort(Comparator.comparingInt(Edit::start));
        StringBuilder out = new StringBuilder(template.length() + 256);
        int last = 0;
        for (Edit e : edits) {
            out.append(template, last, e.start()).append(e.text());
            last = e.end();
        }
        return out.append(template, last, template.length()).toString();
    }

    /** Edits for one loop, or null when it needs none. */
    private static Edit[] rewriteLoop(Block b, Tag endTag, int n) {
        String body = b.open.body().substring(3); // after "for"
        int inAt = topLevelKeyword(body, "in", 0);
        if (inAt < 0) return null;
        int ifAt = loopFilterIf(body, inAt + 2);
        if (ifAt < 0 && b.elseTag == null) return null;
        String target = body.substring(0, inAt).strip();
        String items = (ifAt < 0 ? body.substring(inAt + 2) : body.substring(inAt + 2, ifAt)).strip();
        String cond = ifAt < 0 ? null : body.substring(ifAt + 2).strip();
        if (items.endsWith(" recursive") || (cond != null && cond.endsWith(" recursive"))) {
            throw new TokenizerException("chat template: the recursive loop '{% for" + body + " %}' with a filter or"
                    + " an else part cannot be rendered by Jinjava");
        }
        if (cond != null && !target.matches("[A-Za-z_][A-Za-z_0-9]*")) {
            throw new TokenizerException("chat template: the loop '{% for" + body + " %}' filters with 'if' over a"
                    + " tuple target, which twofour cannot rewrite for Jinjava; move the condition into an {% if %}"
                    + " inside the loop");
        }
        String list = "__tf_loop_" + n;
        StringBuilder open = new StringBuilder();
        if (cond == null) {
            open.append("{%").append(b.open.left()).append(" set ").append(list).append(" = ").append(items).append(" %}");
        } else {
            open.append("{%").append(b.open.left()).append(" set ").append(list).append(" = [] %}")
                    .append("{% for ").append(target).append(" in ").append(items).append(" %}")
                    .append("{% if ").append(cond).append(" %}{% do ").append(list).append(".append(").append(target)
                    .append(") %}{% endif %}{% endfor %}");
        }
        open.append("{% for ").append(target).append(" in ").append(list).append(' ').append(b.open.right()).append("%}");
        Edit openEdit = new Edit(b.open.start(), b.open.end(), open.toString());
        if (b.elseTag == null) return new Edit[]{openEdit};
        Tag e = b.elseTag;
        String elseText = "{%" + e.left() + " endfor %}{% if " + list + "|length == 0 " + e.right() + "%}";
        String endText = "{%" + endTag.left() + " endif " + endTag.right() + "%}";
        return new Edit[]{openEdit, new Edit(e.start(), e.end(), elseText), new Edit(endTag.start(), endTag.end(), endText)};
    }

    private static int indexOfEndRaw(String t, int from) {
        Matcher m = Pattern.compile("\\{%[-+]?\\s*endraw\\s*[-+]?%\\}").matcher(t);
        return m.find(from) ? m.end() : -1;
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
