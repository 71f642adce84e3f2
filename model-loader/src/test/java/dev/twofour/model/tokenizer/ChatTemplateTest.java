package dev.twofour.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChatTemplateTest {
    /** golden file -> template name -> model folder resource. */
    private static final String[] GOLDEN_FILES = {"chat/local-chat.json", "tokenizer/goldens/chat.json"};

    private static Path folderOf(String template) {
        return switch (template) {
            case "tiny-llama-8m" -> Goldens.tinyModel();
            case "llama3" -> Goldens.resource("chat/llama3");
            case "features" -> Goldens.resource("chat/features");
            case "mistral" -> Goldens.resource("chat/mistral");
            case "chatml" -> Goldens.resource("chat/chatml");
            case "llama31-style" -> Goldens.resource("chat/llama31-style");
            default -> throw new IllegalArgumentException("unknown template " + template);
        };
    }

    @TestFactory
    List<DynamicTest> rendersLikeTransformers() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String file : GOLDEN_FILES) {
            Path golden = Goldens.resource(file);
            if (golden == null) continue;
            for (JsonNode r : Goldens.json(golden).path("renders")) {
                String name = file + " " + r.get("template").asText() + "/" + r.get("conversation").asText()
                        + (r.get("add_generation_prompt").asBoolean() ? " +gen" : "");
                tests.add(DynamicTest.dynamicTest(name, () -> {
                    ChatTemplate template = ChatTemplate.load(folderOf(r.get("template").asText()));
                    List<ChatMessage> messages = new ArrayList<>();
                    for (JsonNode m : r.get("messages")) messages.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
                    boolean gen = r.get("add_generation_prompt").asBoolean();
                    if (r.get("rendered").isNull()) {
                        TokenizerException e = assertThrows(TokenizerException.class, () -> template.render(messages, gen));
                        assertTrue(e.getMessage().contains(r.get("error").asText()), e.getMessage());
                    } else {
                        assertEquals(r.get("rendered").asText(), template.render(messages, gen));
                    }
                }));
            }
        }
        assertTrue(tests.size() >= 60, "chat goldens missing");
        return tests;
    }

    @Test
    void pythonStringMethodsAndFilters() {
        ChatTemplate t = ChatTemplate.of("{{ messages[0].content.strip() }}|{{ messages[0].content.lstrip() }}|"
                + "{{ messages[0].content.rstrip() }}|{{ messages[0].content.strip(' x') }}|{{ 'abc'.startswith('ab') }}|"
                + "{{ 'abc'.endswith(('x', 'c')) }}|{{ 'a b  c'.split() | length }}|{{ 'a,b'.split(',')[1] }}|"
                + "{{ 'Hello World'.lower() }}|{{ 'x'.upper() }}|{{ 'hello world'.title() }}|{{ 'aXa'.replace('a', 'b') }}|"
                + "{{ '-'.join(['p', 'q']) }}|{{ messages[1:] | length }}|{{ messages[-1].role }}", "<s>", "</s>");
        String out = t.render(List.of(ChatMessage.user(" x hi x "), ChatMessage.assistant("ok")), false);
        assertEquals("x hi x|x hi x | x hi x|hi|true|true|3|b|hello world|X|Hello World|bXb|p-q|1|assistant", out);
    }

    @Test
    void toJsonIsPythonJsonDumps() {
        ChatTemplate t = ChatTemplate.of("{{ {'a': 1, 'b': [true, none, 'x\"\\n\u00fc'], 'c': {}, 'd': 'e'} | tojson }}|"
                + "{{ ['q'] | tojson(indent=2) }}|{{ 2.5 | tojson }}", "", "");
        assertEquals("{\"a\": 1, \"b\": [true, null, \"x\\\"\\n\u00fc\"], \"c\": {}, \"d\": \"e\"}|[\n  \"q\"\n]|2.5", t.render(List.of(), false));
    }

    @Test
    void itemsMinMaxFilters() {
        ChatTemplate t = ChatTemplate.of("{% for k, v in {'a': 1, 'b': 'x'} | items %}{{ k }}={{ v }};{% endfor %}"
                + "{{ [3, 1, 2] | min }}{{ [3, 1, 2] | max }}{{ ['b', 'a'] | min }}", "", "");
        assertEquals("a=1;b=x;13a", t.render(List.of(), false));
    }

    @Test
    void loopFilterKeepsLoopVariablesOfTheFilteredItems() {
        ChatTemplate t = ChatTemplate.of("{%- for m in messages if m.role != 'system' -%}"
                + "{{ loop.index }}/{{ loop.length }}:{{ m.role }}{{ ';' if not loop.last }}"
                + "{%- else %}none{% endfor %}|{% for i in [] %}x{% else %}empty{% endfor %}"
                + "{% for i in [1, 2] %}{% if i > 1 %}{{ i }}{% else %}-{% endif %}{% else %}never{% endfor %}", "", "");
        assertEquals("1/2:user;2/2:assistant|empty-2", t.render(List.of(ChatMessage.system("s"), ChatMessage.user("u"),
                ChatMessage.assistant("a")), false));
        assertEquals("none|empty-2", t.render(List.of(ChatMessage.system("s")), false));
    }

    @Test
    void extraVariablesReachTheTemplate() {
        // Expected text: jinja2 3.1.6 set up as transformers does (tools/goldens/local_chat_goldens.environment()).
        Map<String, Object> city = new java.util.LinkedHashMap<>();
        city.put("type", "string");
        Map<String, Object> properties = new java.util.LinkedHashMap<>();
        properties.put("city", city);
        Map<String, Object> parameters = new java.util.LinkedHashMap<>();
        parameters.put("type", "object");
        parameters.put("properties", properties);
        parameters.put("required", List.of("city"));
        Map<String, Object> tool = new java.util.LinkedHashMap<>();
        tool.put("name", "get_weather");
        tool.put("description", "Weather in a city");
        tool.put("parameters", parameters);
        String out = ChatTemplate.load(Goldens.resource("chat/llama31-style")).render(List.of(ChatMessage.user("Weather in Paris?")),
                true, Map.of("tools", List.of(tool), "tools_in_user_message", false, "date_string", "01 Jan 2025"));
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge "
                + "Date: December 2023\nToday Date: 01 Jan 2025\n\nYou have access to the following functions.\n\n{\n    "
                + "\"name\": \"get_weather\",\n    \"description\": \"Weather in a city\",\n    \"parameters\": {\n        "
                + "\"type\": \"object\",\n        \"properties\": {\n            \"city\": {\n                \"type\": "
                + "\"string\"\n            }\n        },\n        \"required\": [\n            \"city\"\n        ]\n    }\n}\n\n"
                + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWeather in Paris?<|eot_id|><|start_header_id|>"
                + "assistant<|end_header_id|>\n\n", out);
    }

    @Test
    void generationTagRendersItsBody() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}{% if m.role == 'assistant' %}{%- generation -%}\n"
                + "[{{ m.content }}]\n{%- endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}", "", "");
        assertEquals("u[a]", t.render(List.of(ChatMessage.user("u"), ChatMessage.assistant("a")), false));
    }

    @Test
    void raiseExceptionBecomesTokenizerException() {
        ChatTemplate t = ChatTemplate.of("{% if messages | length == 0 %}{{ raise_exception('empty conversation') }}{% endif %}ok", "", "");
        TokenizerException e = assertThrows(TokenizerException.class, () -> t.render(List.of(), false));
        assertTrue(e.getMessage().contains("empty conversation"), e.getMessage());
        assertEquals("ok", t.render(List.of(ChatMessage.user("x")), false)); // the engine is still usable
    }

    @Test
    void strftimeNowAndExtraVariables() {
        ChatTemplate t = ChatTemplate.of("{{ strftime_now('%Y-%m-%d') }}|{{ date_string | default('none') }}", "", "");
        String out = t.render(List.of(), false, Map.of("date_string", "26 Jul 2024"));
        assertTrue(out.matches("\\d{4}-\\d{2}-\\d{2}\\|26 Jul 2024"), out);
        assertEquals("07 Mar 2025 14:05:09 PM Friday", PythonMethods.strftime(
                java.time.ZonedDateTime.of(2025, 3, 7, 14, 5, 9, 0, java.time.ZoneOffset.UTC), "%d %b %Y %H:%M:%S %p %A"));
    }

    @Test
    void brokenTemplateNamesTheProblem() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}{{ m.role }}", "", "");
        TokenizerException e = assertThrows(TokenizerException.class, () -> t.render(List.of(ChatMessage.user("x")), false));
        assertTrue(e.getMessage().contains("cannot render"), e.getMessage());
    }

    @Test
    void unknownFilterIsRefusedUpFront() {
        TokenizerException e = assertThrows(TokenizerException.class,
                () -> ChatTemplate.of("{{ '<|eot_id|>' ~ messages[0].content | shout }}", "", ""));
        assertTrue(e.getMessage().contains("'shout'"), e.getMessage());
        // '|' inside strings is not a filter.
        assertEquals("<|a|b|>", ChatTemplate.of("{{ '<|a|b|>' | trim }}", "", "").render(List.of(), false));
    }

    @Test
    void readsTemplateFromConfigOrJinjaFileAndDropsOneTrailingNewline(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"bos_token\": {\"content\": \"<s>\"}, \"eos_token\": \"</s>\", \"chat_template\": "
                        + "[{\"name\": \"tool_use\", \"template\": \"T\"}, {\"name\": \"default\", \"template\": \"{{ bos_token }}D{{ eos_token }}\\n\"}]}");
        assertEquals("<s>D</s>", ChatTemplate.load(dir).render(List.of(), false));
        Files.writeString(dir.resolve("chat_template.jinja"), "J{{ messages[0]['content'] }}\n\n");
        assertEquals("Jx\n", ChatTemplate.load(dir).render(List.of(ChatMessage.user("x")), false));
    }

    @Test
    void missingTemplateSaysWhatToDo(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\"}");
        TokenizerException e = assertThrows(TokenizerException.class, () -> ChatTemplate.load(dir));
        assertTrue(e.getMessage().contains("no chat template"), e.getMessage());
    }
}
