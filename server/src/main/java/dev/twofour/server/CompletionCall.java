package dev.twofour.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One completion request from validation to the last byte: tokenizes, checks the context,
 * submits to the engine, then turns token events into a JSON answer or an SSE stream.
 * The engine calls the listener methods from its own thread; they only enqueue, and the
 * request's virtual thread does the decoding and writing.
 */
final class CompletionCall implements CompletionEngine.GenerationListener {
    private record TokenEvent(int id, CompletionEngine.TokenLogprobs logprobs, long nanos) {}
    private record ErrorEvent(String message) {}

    private final OpenAiServer server;
    private final CompletionEngine engine;
    private final CompletionRequest req;
    private final ObjectMapper mapper;
    private final BlockingQueue<Object> events = new LinkedBlockingQueue<>();
    private final long arrivalNanos = System.nanoTime();
    private final String id;
    private final long created = System.currentTimeMillis() / 1000;

    private volatile CompletionEngine.Generation generation;
    private volatile boolean shutdownAbort;

    // state while answering (request thread only)
    private boolean endedByEngine; // STOP / LENGTH / error seen: nothing to cancel
    private int promptTokens;
    private int completionTokens;
    private long lastTokenNanos;
    private final List<TokenEvent> logprobTokens = new ArrayList<>();

    CompletionCall(OpenAiServer server, CompletionEngine engine, CompletionRequest req, ObjectMapper mapper) {
        this.server = server;
        this.engine = engine;
        this.req = req;
        this.mapper = mapper;
        this.id = (req.chat() ? "chatcmpl-" : "cmpl-") + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
    }

    // ---------------------------------------------------------------- engine events (engine thread)

    @Override public void onToken(int tokenId, CompletionEngine.TokenLogprobs logprobs) {
        events.add(new TokenEvent(tokenId, logprobs, System.nanoTime()));
    }

    @Override public void onFinish(CompletionEngine.FinishReason reason) {
        events.add(reason);
    }

    @Override public void onError(String message) {
        events.add(new ErrorEvent(message));
    }

    /** The server is shutting down: end this request now (a clean end, not an error). */
    void abortForShutdown() {
        shutdownAbort = true;
        CompletionEngine.Generation g = generation;
        if (g != null) g.cancel();
    }

    // ---------------------------------------------------------------- the request (request thread)

    int run(HttpExchange ex) throws ApiException, IOException {
        int[] prompt = tokenize();
        int ctx = engine.contextLength();
        if (prompt.length >= ctx) {
            throw ApiException.tooLarge(req.chat() ? "messages" : "prompt", "context_length_exceeded",
                    "the prompt has " + prompt.length + " tokens but the model's context holds " + ctx
                            + " (prompt + generated tokens); shorten the prompt");
        }
        int room = ctx - prompt.length;
        int maxTokens = req.maxTokens() == null ? room : req.maxTokens();
        if (maxTokens > room) {
            throw ApiException.invalid("max_tokens", "context_length_exceeded",
                    "max_tokens is " + maxTokens + " but the prompt has " + prompt.length + " tokens and the context holds "
                            + ctx + ", so at most " + room + " tokens can be generated; lower max_tokens or shorten the prompt");
        }
        long seed = req.seed() != null ? req.seed() : ThreadLocalRandom.current().nextLong();
        GenerationParams params = new GenerationParams(maxTokens, req.temperature(), req.topK(), req.topP(), req.minP(),
                req.frequencyPenalty(), req.presencePenalty(), req.repetitionPenalty(), seed, req.topLogprobs(),
                req.ignoreEos(), req.chat());
        promptTokens = prompt.length;
        try {
            generation = engine.submit(prompt, params, this);
        } catch (EngineBusyException e) {
            throw ApiException.busy(e.getMessage(), Math.max(1, e.retryAfterSeconds()));
        }
        server.metrics.promptTokens(prompt.length);
        if (shutdownAbort) generation.cancel();
        try {
            return req.stream() ? stream(ex) : collect(ex);
        } finally {
            // Ended early (client gone, stop string, shutdown): free the sequence and its cache now.
            if (!endedByEngine) {
                generation.cancel();
                server.metrics.cancelled();
            }
        }
    }

    private int[] tokenize() throws ApiException {
        if (req.promptIds() != null) {
            int vocab = engine.vocabSize();
            for (int i = 0; i < req.promptIds().length; i++) {
                if (req.promptIds()[i] >= vocab) {
                    throw ApiException.invalid("prompt", "token id " + req.promptIds()[i] + " at prompt[" + i
                            + "] is outside the vocabulary (0.." + (vocab - 1) + ")");
                }
            }
            if (req.promptIds().length == 0) throw ApiException.invalid("prompt", "'prompt' is empty");
            return req.promptIds();
        }
        int[] ids;
        try {
            ids = req.chat() ? engine.encodeChat(req.messages()) : engine.encodePrompt(req.promptText());
        } catch (RuntimeException e) { // no chat template, the template rejected the messages, a tokenizer error
            throw ApiException.invalid(req.chat() ? "messages" : "prompt", e.getMessage());
        }
        if (ids.length == 0) throw ApiException.invalid(req.chat() ? "messages" : "prompt", "the prompt is empty");
        return ids;
    }

    /** Non-streaming: gather everything, answer once. */
    private int collect(HttpExchange ex) throws IOException {
        CompletionEngine.TextDecoder decoder = engine.newDecoder();
        StopMatcher stop = new StopMatcher(req.stop());
        StringBuilder text = new StringBuilder();
        String finish = null;
        String error = null;
        while (finish == null && error == null) {
            Object ev = take();
            switch (ev) {
                case TokenEvent t -> {
                    onTokenTiming(t);
                    if (t.logprobs() != null) logprobTokens.add(t);
                    text.append(stop.push(decoder.push(t.id())));
                    if (stop.stopped()) finish = "stop";
                }
                case CompletionEngine.FinishReason r -> {
                    text.append(stop.push(decoder.flush()));
                    text.append(stop.flush());
                    String engineReason = finishReason(r);
                    finish = stop.stopped() ? "stop" : engineReason;
                }
                case ErrorEvent e -> {
                    endedByEngine = true;
                    error = e.message();
                }
                default -> throw new IllegalStateException("unexpected event " + ev);
            }
        }
        if (error != null) {
            ApiException e = new ApiException(500, "server_error", null, "generation_failed", "generation failed: " + error, 0);
            return server.sendJson(ex, 500, server.errorBody(e));
        }
        ObjectNode root = mapper.createObjectNode();
        root.put("id", id);
        root.put("object", req.chat() ? "chat.completion" : "text_completion");
        root.put("created", created);
        root.put("model", req.model());
        ArrayNode choices = root.putArray("choices");
        ObjectNode choice = choices.addObject();
        choice.put("index", 0);
        if (req.chat()) {
            ObjectNode msg = choice.putObject("message");
            msg.put("role", "assistant");
            msg.put("content", text.toString());
            if (req.topLogprobs() >= 0) choice.set("logprobs", chatLogprobs(logprobTokens));
            else choice.putNull("logprobs");
        } else {
            choice.put("text", text.toString());
            if (req.topLogprobs() >= 0) choice.set("logprobs", completionLogprobs(logprobTokens, 0));
            else choice.putNull("logprobs");
        }
        choice.put("finish_reason", finish);
        root.set("usage", usage());
        return server.sendJson(ex, 200, root);
    }

    /** Streaming: one SSE event per token with text, then the finish chunk, the usage chunk if asked, and [DONE]. */
    private int stream(HttpExchange ex) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.getResponseHeaders().set("X-Accel-Buffering", "no");
        ex.sendResponseHeaders(200, 0); // chunked
        OutputStream out = ex.getResponseBody();
        if (req.chat()) {
            ObjectNode delta = mapper.createObjectNode();
            delta.put("role", "assistant");
            delta.put("content", "");
            write(out, chunk(delta, null, null, null));
        }
        CompletionEngine.TextDecoder decoder = engine.newDecoder();
        StopMatcher stop = new StopMatcher(req.stop());
        int textOffset = 0;
        String finish = null;
        while (finish == null) {
            Object ev = take();
            switch (ev) {
                case TokenEvent t -> {
                    onTokenTiming(t);
                    String piece = stop.push(decoder.push(t.id()));
                    List<TokenEvent> lp = t.logprobs() != null ? List.of(t) : null;
                    if (!piece.isEmpty() || lp != null) {
                        write(out, textChunk(piece, lp, textOffset));
                        textOffset += piece.length();
                    }
                    if (stop.stopped()) finish = "stop";
                }
                case CompletionEngine.FinishReason r -> {
                    String tail = stop.push(decoder.flush()) + stop.flush();
                    if (!tail.isEmpty()) write(out, textChunk(tail, null, textOffset));
                    String engineReason = finishReason(r);
                    finish = stop.stopped() ? "stop" : engineReason;
                }
                case ErrorEvent e -> {
                    endedByEngine = true;
                    ApiException err = new ApiException(500, "server_error", null, "generation_failed",
                            "generation failed: " + e.message(), 0);
                    write(out, mapper.writeValueAsString(server.errorBody(err)));
                    writeRaw(out, "data: [DONE]\n\n");
                    return 200;
                }
                default -> throw new IllegalStateException("unexpected event " + ev);
            }
        }
        ObjectNode last = req.chat() ? chunk(mapper.createObjectNode(), null, finish, null)
                : chunk(null, "", finish, null);
        write(out, last);
        if (req.includeUsage()) {
            ObjectNode u = mapper.createObjectNode();
            u.put("id", id);
            u.put("object", req.chat() ? "chat.completion.chunk" : "text_completion");
            u.put("created", created);
            u.put("model", req.model());
            u.putArray("choices");
            u.set("usage", usage());
            write(out, u);
        }
        writeRaw(out, "data: [DONE]\n\n");
        return 200;
    }

    private ObjectNode textChunk(String piece, List<TokenEvent> lp, int textOffset) {
        if (req.chat()) {
            ObjectNode delta = mapper.createObjectNode();
            delta.put("content", piece);
            return chunk(delta, null, null, lp == null ? null : chatLogprobs(lp));
        }
        return chunk(null, piece, null, lp == null ? null : completionLogprobs(lp, textOffset));
    }

    /** A chat chunk (delta != null) or a completion chunk (text != null). */
    private ObjectNode chunk(ObjectNode delta, String text, String finish, ObjectNode logprobs) {
        ObjectNode c = mapper.createObjectNode();
        c.put("id", id);
        c.put("object", req.chat() ? "chat.completion.chunk" : "text_completion");
        c.put("created", created);
        c.put("model", req.model());
        ObjectNode choice = c.putArray("choices").addObject();
        choice.put("index", 0);
        if (delta != null) choice.set("delta", delta);
        else choice.put("text", text);
        if (logprobs != null) choice.set("logprobs", logprobs);
        else choice.putNull("logprobs");
        choice.put("finish_reason", finish);
        if (req.includeUsage()) c.putNull("usage");
        return c;
    }

    private ObjectNode usage() {
        ObjectNode u = mapper.createObjectNode();
        u.put("prompt_tokens", promptTokens);
        u.put("completion_tokens", completionTokens);
        u.put("total_tokens", promptTokens + completionTokens);
        return u;
    }

    /** OpenAI's completions shape: parallel arrays tokens / token_logprobs / top_logprobs / text_offset. */
    private ObjectNode completionLogprobs(List<TokenEvent> tokens, int startOffset) {
        ObjectNode lp = mapper.createObjectNode();
        ArrayNode toks = lp.putArray("tokens");
        ArrayNode tokLps = lp.putArray("token_logprobs");
        ArrayNode tops = lp.putArray("top_logprobs");
        ArrayNode offsets = lp.putArray("text_offset");
        int offset = startOffset;
        for (TokenEvent t : tokens) {
            String s = engine.tokenText(t.id());
            toks.add(s);
            tokLps.add(t.logprobs().logprob());
            if (req.topLogprobs() > 0) {
                ObjectNode top = tops.addObject();
                int[] ids = t.logprobs().topIds();
                for (int i = 0; i < ids.length; i++) top.put(engine.tokenText(ids[i]), t.logprobs().topLogprobs()[i]);
            } else {
                tops.addNull();
            }
            offsets.add(offset);
            offset += s.length();
        }
        return lp;
    }

    /** OpenAI's chat shape: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}. */
    private ObjectNode chatLogprobs(List<TokenEvent> tokens) {
        ObjectNode lp = mapper.createObjectNode();
        ArrayNode content = lp.putArray("content");
        for (TokenEvent t : tokens) {
            ObjectNode o = tokenLogprob(t.id(), t.logprobs().logprob());
            ArrayNode top = o.putArray("top_logprobs");
            int[] ids = t.logprobs().topIds();
            for (int i = 0; ids != null && i < ids.length && i < req.topLogprobs(); i++) {
                top.add(tokenLogprob(ids[i], t.logprobs().topLogprobs()[i]));
            }
            content.add(o);
        }
        lp.putNull("refusal");
        return lp;
    }

    private ObjectNode tokenLogprob(int tokenId, float logprob) {
        ObjectNode o = mapper.createObjectNode();
        String s = engine.tokenText(tokenId);
        o.put("token", s);
        o.put("logprob", logprob);
        ArrayNode bytes = o.putArray("bytes");
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) bytes.add(b & 0xff);
        return o;
    }

    private void onTokenTiming(TokenEvent t) {
        completionTokens++;
        server.metrics.generatedToken();
        if (completionTokens == 1) server.metrics.timeToFirstToken.observe((t.nanos() - arrivalNanos) / 1e9);
        else server.metrics.timePerOutputToken.observe((t.nanos() - lastTokenNanos) / 1e9);
        lastTokenNanos = t.nanos();
    }

    private String finishReason(CompletionEngine.FinishReason r) {
        endedByEngine = r != CompletionEngine.FinishReason.ABORTED;
        return switch (r) {
            case STOP -> "stop";
            case LENGTH -> "length";
            case ABORTED -> "abort"; // only reached when the server is shutting down (vLLM's name for it)
        };
    }

    private Object take() throws IOException {
        try {
            return events.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the engine", e);
        }
    }

    private void write(OutputStream out, ObjectNode json) throws IOException {
        write(out, mapper.writeValueAsString(json));
    }

    private void write(OutputStream out, String json) throws IOException {
        writeRaw(out, "data: " + json + "\n\n");
    }

    private void writeRaw(OutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8)); // an IOException: the client went away; run() frees the sequence
        out.flush();
    }
}
