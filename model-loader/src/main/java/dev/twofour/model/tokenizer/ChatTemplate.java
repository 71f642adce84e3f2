package dev.twofour.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's chat template (Hugging Face: tokenizer_config.json "chat_template", or chat_template.jinja), rendered
 * with Jinjava, a real Jinja engine for Java, set up like transformers' apply_chat_template: trim_blocks and
 * lstrip_blocks on, one trailing newline of the template dropped, and these extras that HF templates use:
 * <ul>
 *   <li>{@code raise_exception(msg)}: rendering fails with a {@link TokenizerException} carrying msg;</li>
 *   <li>{@code strftime_now(format)}: the current local time in a Python strftime format;</li>
 *   <li>{@code |tojson}: Python's json.dumps with ensure_ascii=False (optional indent), not HTML-escaped;</li>
 *   <li>Python string methods on strings: strip, lstrip, rstrip (with optional chars), startswith, endswith,
 *       lower, upper, title, capitalize, split, replace, find, count, join (see {@link PythonMethods});</li>
 *   <li>{@code |items}, {@code |min}, {@code |max};</li>
 *   <li>loop filters {@code for m in messages if ...}, for/else and transformers' {@code {% generation %}}
 *       (rewritten by {@link JinjaPrePass});</li>
 *   <li>whitespace control on expressions and comments ({@code {{- x -}}});</li>
 *   <li>a filter Jinjava does not know is refused when the template is loaded (Jinjava would render nothing).</li>
 * </ul>
 * Jinjava itself provides namespace(), slices ({@code messages[1:]}), loop.first/last/index0,
 * {@code messages[0]['role']}, trim, length, in, is defined. Known Jinjava limits: a dict literal ending in an
 * empty dict right before the closing braces ({@code {{ {'a': {}} }}}) ends the expression early; an unknown
 * {@code is} test renders nothing. Thread-safe: each render uses its own interpreter state.
 */
public final class ChatTemplate {
    private final String template;
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinjava;
    private final String where;

    private ChatTemplate(String template, String bosToken, String eosToken, String where) {
        this.template = JinjaPrePass.rewrite(dropOneTrailingNewline(template));
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        this.where = where;
        this.jinjava = Engine.INSTANCE;
        checkFilters(this.template, where);
    }

    /**
     * The chat template of a model folder: chat_template.jinja if present, else tokenizer_config.json's
     * "chat_template" (a string, or a list of named templates of which "default" is used).
     * bos_token/eos_token come from tokenizer_config.json.
     */
    public static ChatTemplate load(Path modelDir) {
        JsonNode config = Tokenizer.readOptionalJson(modelDir.resolve("tokenizer_config.json"));
        Path jinjaFile = modelDir.resolve("chat_template.jinja");
        String text;
        String where;
        if (Files.isRegularFile(jinjaFile)) {
            try {
                text = Files.readString(jinjaFile);
            } catch (IOException e) {
                throw new TokenizerException("cannot read " + jinjaFile + ": " + e.getMessage(), e);
            }
            where = jinjaFile.toString();
        } else {
            text = config == null ? null : templateFromConfig(config.get("chat_template"));
            where = modelDir.resolve("tokenizer_config.json").toString();
        }
        if (text == null) {
            throw new TokenizerException("no chat template in " + modelDir + ": expected chat_template.jinja or a"
                    + " \"chat_template\" entry in tokenizer_config.json (base models often have none; format the"
                    + " prompt yourself)");
        }
        String bos = config == null ? null : Tokenizer.tokenText(config.get("bos_token"));
        String eos = config == null ? null : Tokenizer.tokenText(config.get("eos_token"));
        return new ChatTemplate(text, bos, eos, where);
    }

    /** A template given as text, with the bos/eos token strings it may use. */
    public static ChatTemplate of(String template, String bosToken, String eosToken) {
        return new ChatTemplate(template, bosToken, eosToken, "chat template");
    }

    /** Renders the conversation; addGenerationPrompt appends the opening of the assistant's turn. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /** Renders with extra template variables (e.g. "date_string", "tools"). */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, Object> extraVariables) {
        List<Map<String, Object>> msgs = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            msgs.add(map);
        }
        Map<String, Object> vars = new LinkedHashMap<>(extraVariables);
        vars.put("messages", msgs);
        vars.put("add_generation_prompt", addGenerationPrompt);
        vars.put("bos_token", bosToken);
        vars.put("eos_token", eosToken);
        RaisedException.clear();
        RenderResult result;
        try {
            result = jinjava.renderForResult(template, vars);
        } finally {
            String raised = RaisedException.take();
            if (raised != null) throw new TokenizerException(where + ": the chat template refused the conversation: " + raised);
        }
        List<String> errors = new ArrayList<>();
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                errors.add(e.getMessage() + (e.getLineno() > 0 ? " (template line " + e.getLineno() + ")" : ""));
            }
        }
        if (!errors.isEmpty()) {
            throw new TokenizerException(where + ": cannot render the chat template: " + String.join("; ", errors));
        }
        return result.getOutput();
    }

    static String templateFromConfig(JsonNode node) {
        if (node == null || node.isNull()) return null;
        if (node.isTextual()) return node.asText();
        if (node.isArray()) {
            for (JsonNode t : node) if ("default".equals(t.path("name").asText())) return t.path("template").asText();
            if (!node.isEmpty()) return node.get(0).path("template").asText(null);
        }
        return null;
    }

    private static final java.util.regex.Pattern CODE = java.util.regex.Pattern.compile("\\{\\{.*?\\}\\}|\\{%.*?%\\}", java.util.regex.Pattern.DOTALL);
    private static final java.util.regex.Pattern STRING = java.util.regex.Pattern.compile("'(?:\\\\.|[^'\\\\])*'|\"(?:\\\\.|[^\"\\\\])*\"");
    private static final java.util.regex.Pattern FILTER = java.util.regex.Pattern.compile("\\|\\s*([A-Za-z_][A-Za-z_0-9]*)");

    /** Jinja fails on an unknown filter; Jinjava would silently render nothing for it, so check up front. */
    private void checkFilters(String text, String where) {
        java.util.regex.Matcher code = CODE.matcher(text);
        while (code.find()) {
            String withoutStrings = STRING.matcher(code.group()).replaceAll("''");
            java.util.regex.Matcher f = FILTER.matcher(withoutStrings);
            while (f.find()) {
                if (jinjava.getGlobalContext().getFilter(f.group(1)) == null) {
                    throw new TokenizerException(where + ": the chat template uses the filter '" + f.group(1)
                            + "', which the Jinja engine (Jinjava) does not have");
                }
            }
        }
    }

    private static String dropOneTrailingNewline(String t) {
        // jinja2's keep_trailing_newline=False, as transformers uses it.
        if (t.endsWith("\r\n")) return t.substring(0, t.length() - 2);
        if (t.endsWith("\n")) return t.substring(0, t.length() - 1);
        return t;
    }

    /** One engine for all templates: building it is slow, and rendering keeps no state in it. */
    private static final class Engine {
        static final Jinjava INSTANCE = newEngine();
    }

    private static Jinjava newEngine() {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withKeepTrailingNewline(true) // we drop the one trailing newline ourselves, once
                .withFailOnUnknownTokens(false)
                .withElResolver(PythonMethods.resolver())
                // Jinja's "{{- x -}}" and "{#- c -#}" strip whitespace too (Jinjava only does it for {% %} by default).
                .withLegacyOverrides(LegacyOverrides.newBuilder().withUseTrimmingForNotesAndExpressions(true).build())
                .build();
        Jinjava j = new Jinjava(config);
        try {
            j.registerFunction(new ELFunctionDefinition("", "raise_exception",
                    ChatTemplate.class.getDeclaredMethod("raiseException", Object.class)));
            j.registerFunction(new ELFunctionDefinition("", "strftime_now",
                    ChatTemplate.class.getDeclaredMethod("strftimeNow", String.class)));
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
        j.registerFilter(new ToJsonFilter());
        j.registerFilter(new ItemsFilter());
        j.registerFilter(new ExtremeFilter("min", -1));
        j.registerFilter(new ExtremeFilter("max", 1));
        return j;
    }

    /** raise_exception(msg): remembered for render(), which throws it (Jinjava would only log an error). */
    public static String raiseException(Object message) {
        String text = String.valueOf(message);
        RaisedException.set(text);
        throw new IllegalStateException(text);
    }

    /** strftime_now(format): the current local time. */
    public static String strftimeNow(String format) {
        return PythonMethods.strftime(ZonedDateTime.now(), format);
    }

    /** The first raise_exception message of the current render on this thread. */
    private static final class RaisedException {
        private static final ThreadLocal<String> MESSAGE = new ThreadLocal<>();

        static void clear() {
            MESSAGE.remove();
        }

        static void set(String m) {
            if (MESSAGE.get() == null) MESSAGE.set(m);
        }

        static String take() {
            String m = MESSAGE.get();
            MESSAGE.remove();
            return m;
        }
    }

    /** Jinja's |items (a dict's key/value pairs, for "for k, v in d|items"), missing in Jinjava. */
    private static final class ItemsFilter implements Filter {
        @Override
        public String getName() {
            return "items";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            if (var == null) return List.of();
            if (!(var instanceof Map<?, ?> map)) {
                throw new IllegalArgumentException("|items needs a mapping, got " + var.getClass().getSimpleName());
            }
            return new ArrayList<>(map.entrySet());
        }
    }

    /** Jinja's |min and |max over numbers or strings, missing in Jinjava. */
    private static final class ExtremeFilter implements Filter {
        private final String name;
        private final int sign;

        ExtremeFilter(String name, int sign) {
            this.name = name;
            this.sign = sign;
        }

        @Override
        public String getName() {
            return name;
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            if (!(var instanceof Iterable<?> items)) return var;
            Object best = null;
            for (Object o : items) {
                if (best == null || sign * compare(o, best) > 0) best = o;
            }
            return best;
        }

        private static int compare(Object a, Object b) {
            if (a instanceof Number x && b instanceof Number y) return Double.compare(x.doubleValue(), y.doubleValue());
            return String.valueOf(a).compareTo(String.valueOf(b));
        }
    }

    /** transformers' tojson: json.dumps(value, ensure_ascii=False, indent=indent). */
    private static final class ToJsonFilter implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            Integer indent = null;
            if (args.length > 0 && args[0] != null && !args[0].isBlank()) indent = Integer.parseInt(args[0].trim());
            return PythonJson.dumps(var, indent);
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Integer indent = null;
            Object i = kwargs.get("indent");
            if (i == null && args.length > 0) i = args[0];
            if (i instanceof Number n) indent = n.intValue();
            else if (i != null) indent = Integer.parseInt(i.toString().trim());
            return PythonJson.dumps(var, indent);
        }
    }
}
