package dev.twofour.server;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Turns a request body into a {@link CompletionRequest}, checking every field's type and range.
 * Every problem becomes a 400 that names the field; unknown fields are ignored (clients send
 * extras), fields whose meaning we would silently change are rejected.
 */
final class RequestParser {
    static final int MAX_STOP_STRINGS = 16;
    static final int MAX_TOP_LOGPROBS = 20;

    private final ObjectMapper mapper;

    RequestParser(ObjectMapper mapper) {
        this.mapper = mapper;
    }

    CompletionRequest parse(byte[] body, boolean chat) throws ApiException {
        JsonNode root;
        try {
            root = mapper.readTree(body);
        } catch (JacksonException e) {
            throw ApiException.invalid(null, "invalid_json",
                    "the request body is not valid JSON (" + e.getOriginalMessage() + "); send a JSON object");
        } catch (java.io.IOException e) {
            throw ApiException.invalid(null, "invalid_json", "the request body could not be read: " + e.getMessage());
        }
        if (root == null || root.isMissingNode()) {
            throw ApiException.invalid(null, "invalid_json", "the request body is empty; send a JSON object");
        }
        if (!root.isObject()) {
            throw ApiException.invalid(null, "invalid_json", "the request body must be a JSON object, got " + kind(root));
        }

        JsonNode modelNode = root.get("model");
        if (isAbsent(modelNode)) throw ApiException.invalid("model", "'model' is required (see GET /v1/models)");
        String model = string(root, "model");

        String promptText = null;
        int[] promptIds = null;
        List<CompletionEngine.ChatTurn> messages = null;
        if (chat) {
            messages = messages(root);
        } else {
            JsonNode p = root.get("prompt");
            if (isAbsent(p)) throw ApiException.invalid("prompt", "'prompt' is required: a string or an array of token ids");
            if (p.isTextual()) {
                promptText = p.asText();
            } else if (p.isArray()) {
                if (p.isEmpty()) throw ApiException.invalid("prompt", "'prompt' is an empty array");
                if (p.get(0).isTextual()) {
                    if (p.size() > 1) {
                        throw ApiException.invalid("prompt", "only one prompt per request is supported; got " + p.size()
                                + " strings (send one request per prompt)");
                    }
                    promptText = p.get(0).asText();
                } else if (p.get(0).isArray()) {
                    throw ApiException.invalid("prompt", "batched prompts (arrays of token-id arrays) are not supported; send one request per prompt");
                } else {
                    promptIds = new int[p.size()];
                    for (int i = 0; i < p.size(); i++) {
                        JsonNode t = p.get(i);
                        if (!t.isIntegralNumber() || !t.canConvertToInt() || t.intValue() < 0) {
                            throw ApiException.invalid("prompt", "'prompt' as an array must hold token ids (non-negative integers); element "
                                    + i + " is " + kind(t));
                        }
                        promptIds[i] = t.intValue();
                    }
                }
            } else {
                throw ApiException.invalid("prompt", "'prompt' must be a string or an array of token ids, got " + kind(p));
            }
            if (bool(root, "echo", false)) throw ApiException.invalid("echo", "'echo' is not supported");
            if (!isAbsent(root.get("suffix"))) throw ApiException.invalid("suffix", "'suffix' is not supported");
            Integer bestOf = integer(root, "best_of", 1, Integer.MAX_VALUE);
            if (bestOf != null && bestOf != 1) {
                throw ApiException.invalid("best_of", "'best_of' must be 1 (only one completion per request), got " + bestOf);
            }
        }

        Integer n = integer(root, "n", 1, Integer.MAX_VALUE);
        if (n != null && n != 1) {
            throw ApiException.invalid("n", "'n' must be 1: one completion per request is supported; got " + n
                    + " (send " + n + " requests, with different seeds, instead)");
        }

        Integer maxTokens = integer(root, "max_tokens", 1, Integer.MAX_VALUE);
        if (chat) {
            Integer mct = integer(root, "max_completion_tokens", 1, Integer.MAX_VALUE);
            if (mct != null) maxTokens = maxTokens == null ? mct : Math.min(maxTokens, mct);
        }

        float temperature = number(root, "temperature", 1.0, 0.0, 2.0);
        float topP = number(root, "top_p", 1.0, 0.0, 1.0);
        if (topP <= 0f) throw ApiException.invalid("top_p", "'top_p' must be in (0, 1], got " + topP);
        Integer topKBoxed = integer(root, "top_k", -1, Integer.MAX_VALUE);
        int topK = topKBoxed == null || topKBoxed < 0 ? 0 : topKBoxed; // -1 and 0 both mean "off"
        float minP = number(root, "min_p", 0.0, 0.0, 1.0);
        float frequencyPenalty = number(root, "frequency_penalty", 0.0, -2.0, 2.0);
        float presencePenalty = number(root, "presence_penalty", 0.0, -2.0, 2.0);
        float repetitionPenalty = number(root, "repetition_penalty", 1.0, 0.0, 10.0);
        if (repetitionPenalty <= 0f) throw ApiException.invalid("repetition_penalty", "'repetition_penalty' must be > 0 (1 = off), got " + repetitionPenalty);
        Long seed = longValue(root, "seed");
        List<String> stop = stop(root);

        int topLogprobs = -1;
        if (chat) {
            boolean lp = bool(root, "logprobs", false);
            Integer top = integer(root, "top_logprobs", 0, MAX_TOP_LOGPROBS);
            if (top != null && !lp) throw ApiException.invalid("top_logprobs", "'top_logprobs' needs \"logprobs\": true");
            if (lp) topLogprobs = top == null ? 0 : top;
        } else {
            Integer lp = integer(root, "logprobs", 0, MAX_TOP_LOGPROBS);
            if (lp != null) topLogprobs = lp;
        }

        boolean stream = bool(root, "stream", false);
        boolean includeUsage = false;
        JsonNode so = root.get("stream_options");
        if (!isAbsent(so)) {
            if (!so.isObject()) throw ApiException.invalid("stream_options", "'stream_options' must be an object, got " + kind(so));
            if (!stream) throw ApiException.invalid("stream_options", "'stream_options' is only allowed with \"stream\": true");
            includeUsage = bool(so, "include_usage", false, "stream_options.include_usage");
        }
        boolean ignoreEos = bool(root, "ignore_eos", false);

        JsonNode tools = root.get("tools");
        if (!isAbsent(tools) && !(tools.isArray() && tools.isEmpty())) {
            throw ApiException.invalid("tools", "'tools' (function calling) is not supported");
        }
        JsonNode logitBias = root.get("logit_bias");
        if (!isAbsent(logitBias) && !(logitBias.isObject() && logitBias.isEmpty())) {
            throw ApiException.invalid("logit_bias", "'logit_bias' is not supported");
        }
        JsonNode rf = root.get("response_format");
        if (!isAbsent(rf)) {
            JsonNode type = rf.isObject() ? rf.get("type") : null;
            if (type == null || !type.isTextual() || !type.asText().equals("text")) {
                throw ApiException.invalid("response_format", "only \"response_format\": {\"type\": \"text\"} is supported");
            }
        }

        return new CompletionRequest(chat, model, promptText, promptIds, messages, maxTokens, temperature, topK, topP,
                minP, frequencyPenalty, presencePenalty, repetitionPenalty, seed, stop, topLogprobs, stream,
                includeUsage, ignoreEos);
    }

    private static final Map<String, String> ROLES = Map.of(
            "system", "system", "developer", "system", "user", "user", "assistant", "assistant");

    private static List<CompletionEngine.ChatTurn> messages(JsonNode root) throws ApiException {
        JsonNode ms = root.get("messages");
        if (isAbsent(ms)) throw ApiException.invalid("messages", "'messages' is required: an array of {\"role\", \"content\"} objects");
        if (!ms.isArray()) throw ApiException.invalid("messages", "'messages' must be an array, got " + kind(ms));
        if (ms.isEmpty()) throw ApiException.invalid("messages", "'messages' must hold at least one message");
        List<CompletionEngine.ChatTurn> out = new ArrayList<>();
        for (int i = 0; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            String where = "messages[" + i + "]";
            if (!m.isObject()) throw ApiException.invalid(where, "'" + where + "' must be an object, got " + kind(m));
            JsonNode roleNode = m.get("role");
            if (roleNode == null || !roleNode.isTextual()) {
                throw ApiException.invalid(where + ".role", "'" + where + ".role' must be a string (system, user or assistant)");
            }
            String role = ROLES.get(roleNode.asText());
            if (role == null) {
                throw ApiException.invalid(where + ".role", "'" + where + ".role' is '" + roleNode.asText()
                        + "'; supported roles: system, developer, user, assistant");
            }
            JsonNode c = m.get("content");
            String content;
            if (c == null || c.isNull()) {
                throw ApiException.invalid(where + ".content", "'" + where + ".content' is required");
            } else if (c.isTextual()) {
                content = c.asText();
            } else if (c.isArray()) {
                StringBuilder sb = new StringBuilder();
                for (int j = 0; j < c.size(); j++) {
                    JsonNode part = c.get(j);
                    JsonNode type = part.isObject() ? part.get("type") : null;
                    JsonNode text = part.isObject() ? part.get("text") : null;
                    if (type == null || !"text".equals(type.asText()) || text == null || !text.isTextual()) {
                        throw ApiException.invalid(where + ".content[" + j + "]",
                                "only text content parts ({\"type\": \"text\", \"text\": ...}) are supported");
                    }
                    sb.append(text.asText());
                }
                content = sb.toString();
            } else {
                throw ApiException.invalid(where + ".content", "'" + where + ".content' must be a string or an array of text parts, got " + kind(c));
            }
            out.add(new CompletionEngine.ChatTurn(role, content));
        }
        return List.copyOf(out);
    }

    private static List<String> stop(JsonNode root) throws ApiException {
        JsonNode s = root.get("stop");
        if (isAbsent(s)) return List.of();
        List<String> out = new ArrayList<>();
        if (s.isTextual()) {
            out.add(s.asText());
        } else if (s.isArray()) {
            if (s.size() > MAX_STOP_STRINGS) throw ApiException.invalid("stop", "'stop' holds at most " + MAX_STOP_STRINGS + " strings, got " + s.size());
            for (int i = 0; i < s.size(); i++) {
                if (!s.get(i).isTextual()) throw ApiException.invalid("stop", "'stop[" + i + "]' must be a string, got " + kind(s.get(i)));
                out.add(s.get(i).asText());
            }
        } else {
            throw ApiException.invalid("stop", "'stop' must be a string or an array of strings, got " + kind(s));
        }
        for (String x : out) if (x.isEmpty()) throw ApiException.invalid("stop", "'stop' strings must not be empty");
        return List.copyOf(out);
    }

    private static boolean isAbsent(JsonNode n) {
        return n == null || n.isNull() || n.isMissingNode();
    }

    private static String string(JsonNode root, String field) throws ApiException {
        JsonNode n = root.get(field);
        if (!n.isTextual()) throw ApiException.invalid(field, "'" + field + "' must be a string, got " + kind(n));
        return n.asText();
    }

    private static boolean bool(JsonNode root, String field, boolean dflt) throws ApiException {
        return bool(root, field, dflt, field);
    }

    private static boolean bool(JsonNode root, String field, boolean dflt, String param) throws ApiException {
        JsonNode n = root.get(field);
        if (isAbsent(n)) return dflt;
        if (!n.isBoolean()) throw ApiException.invalid(param, "'" + param + "' must be true or false, got " + kind(n));
        return n.booleanValue();
    }

    private static Integer integer(JsonNode root, String field, int min, int max) throws ApiException {
        JsonNode n = root.get(field);
        if (isAbsent(n)) return null;
        if (!n.isIntegralNumber()) throw ApiException.invalid(field, "'" + field + "' must be an integer, got " + kind(n));
        if (!n.canConvertToInt() || n.intValue() < min || n.intValue() > max) {
            throw ApiException.invalid(field, "'" + field + "' must be between " + min + " and " + max + ", got " + n.asText());
        }
        return n.intValue();
    }

    private static Long longValue(JsonNode root, String field) throws ApiException {
        JsonNode n = root.get(field);
        if (isAbsent(n)) return null;
        if (!n.isIntegralNumber() || !n.canConvertToLong()) {
            throw ApiException.invalid(field, "'" + field + "' must be a 64-bit integer, got " + kind(n));
        }
        return n.longValue();
    }

    private static float number(JsonNode root, String field, double dflt, double min, double max) throws ApiException {
        JsonNode n = root.get(field);
        if (isAbsent(n)) return (float) dflt;
        if (!n.isNumber()) throw ApiException.invalid(field, "'" + field + "' must be a number, got " + kind(n));
        double v = n.doubleValue();
        if (!(v >= min && v <= max)) {
            throw ApiException.invalid(field, "'" + field + "' must be between " + min + " and " + max + ", got " + n.asText());
        }
        return (float) v;
    }

    /** How a JSON value looks, for error messages: "a string", "an object", "the number 3.5", ... */
    static String kind(JsonNode n) {
        if (n == null || n.isMissingNode()) return "nothing";
        if (n.isNull()) return "null";
        if (n.isTextual()) return "a string";
        if (n.isBoolean()) return n.asText();
        if (n.isNumber()) return "the number " + n.asText();
        if (n.isArray()) return "an array";
        if (n.isObject()) return "an object";
        return n.getNodeType().toString().toLowerCase();
    }
}
