package dev.twofour.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** The HTTP protocol against a deterministic fake engine: every endpoint, streaming, errors, auth, limits. */
class OpenAiServerTest {
    static final int CONTEXT = 256;
    private OpenAiServer server;
    private FakeEngine engine;
    private Http http;

    private void start(ServerOptions options, FakeEngine e) throws Exception {
        server = OpenAiServer.start(options);
        engine = e;
        if (e != null) server.engineReady(e);
        http = new Http(server.baseUri());
    }

    private void start() throws Exception {
        start(ServerOptions.localhost(), new FakeEngine(8, 8, 0, CONTEXT));
    }

    @AfterEach void stop() {
        if (server != null) server.shutdown();
        if (engine != null) engine.close();
    }

    @Test void healthIs503UntilTheModelIsLoaded() throws Exception {
        start(ServerOptions.localhost(), null);
        HttpResponse<String> h = http.get("/health");
        assertEquals(503, h.statusCode());
        assertEquals("loading", Http.json(h.body()).get("status").asText());
        HttpResponse<String> c = http.post("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\"}");
        assertEquals(503, c.statusCode());
        assertTrue(c.headers().firstValue("Retry-After").isPresent());
        assertEquals(0.0, Http.metric(http.get("/metrics").body(), "twofour_model_loaded"));

        engine = new FakeEngine(4, 4, 0, CONTEXT);
        server.engineReady(engine);
        h = http.get("/health");
        assertEquals(200, h.statusCode());
        assertEquals("ok", Http.json(h.body()).get("status").asText());
        assertEquals(1.0, Http.metric(http.get("/metrics").body(), "twofour_model_loaded"));
    }

    @Test void listsTheModel() throws Exception {
        start();
        HttpResponse<String> r = http.get("/v1/models");
        assertEquals(200, r.statusCode());
        JsonNode j = Http.json(r.body());
        assertEquals("list", j.get("object").asText());
        assertEquals("fake-model", j.get("data").get(0).get("id").asText());
        assertEquals("model", j.get("data").get(0).get("object").asText());
        assertEquals(200, http.get("/v1/models/fake-model").statusCode());
        HttpResponse<String> missing = http.get("/v1/models/other");
        assertEquals(404, missing.statusCode());
        assertEquals("model_not_found", Http.json(missing.body()).get("error").get("code").asText());
    }

    @Test void completionReturnsTextUsageAndFinishReason() throws Exception {
        start();
        HttpResponse<String> r = http.post("/v1/completions",
                "{\"model\":\"fake-model\",\"prompt\":\"Hello\",\"max_tokens\":12,\"seed\":7,\"temperature\":0.8}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode j = Http.json(r.body());
        assertEquals("text_completion", j.get("object").asText());
        assertTrue(j.get("id").asText().startsWith("cmpl-"));
        JsonNode choice = j.get("choices").get(0);
        assertEquals(FakeEngine.expectedText("Hello", 7, 0.8f, 12), choice.get("text").asText());
        assertEquals("length", choice.get("finish_reason").asText());
        assertTrue(choice.get("logprobs").isNull());
        assertEquals(6, j.get("usage").get("prompt_tokens").asInt()); // BOS + 5 bytes
        assertEquals(12, j.get("usage").get("completion_tokens").asInt());
        assertEquals(18, j.get("usage").get("total_tokens").asInt());
    }

    @Test void streamingCompletionGivesTheSameTextThenUsageThenDone() throws Exception {
        start();
        String body = "{\"model\":\"fake-model\",\"prompt\":\"Hello\",\"max_tokens\":40,\"seed\":3,\"stream\":true,"
                + "\"stream_options\":{\"include_usage\":true}}";
        List<String> data = http.stream("/v1/completions", body);
        assertEquals("[DONE]", data.getLast());
        assertEquals(FakeEngine.expectedText("Hello", 3, 1f, 40), Http.streamedText(data));
        JsonNode usageChunk = Http.json(data.get(data.size() - 2));
        assertEquals(0, usageChunk.get("choices").size());
        assertEquals(40, usageChunk.get("usage").get("completion_tokens").asInt());
        JsonNode finishChunk = Http.json(data.get(data.size() - 3));
        assertEquals("length", finishChunk.get("choices").get(0).get("finish_reason").asText());
        JsonNode first = Http.json(data.getFirst());
        assertEquals("text_completion", first.get("object").asText());
        assertTrue(first.get("usage").isNull(), "with include_usage every chunk carries usage: null");
        assertTrue(first.get("choices").get(0).get("finish_reason").isNull());
        // multi-byte characters are never split across chunks
        for (String d : data.subList(0, data.size() - 1)) assertFalse(d.contains("\\uFFFD") || d.contains("\uFFFD"), d);
    }

    @Test void chatCompletionAndChatStream() throws Exception {
        start();
        String msgs = "\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}]";
        String expected = FakeEngine.expectedText(FakeEngine.decode(FakeEngine.encode("[system] be brief\n[user] Hi\n[assistant] ")), 11, 0.5f, 20);
        HttpResponse<String> r = http.post("/v1/chat/completions",
                "{\"model\":\"fake-model\"," + msgs + ",\"max_completion_tokens\":20,\"seed\":11,\"temperature\":0.5}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode j = Http.json(r.body());
        assertEquals("chat.completion", j.get("object").asText());
        assertEquals("assistant", j.get("choices").get(0).get("message").get("role").asText());
        assertEquals(expected, j.get("choices").get(0).get("message").get("content").asText());
        assertEquals("length", j.get("choices").get(0).get("finish_reason").asText());

        List<String> data = http.stream("/v1/chat/completions",
                "{\"model\":\"fake-model\"," + msgs + ",\"max_tokens\":20,\"seed\":11,\"temperature\":0.5,\"stream\":true}");
        JsonNode first = Http.json(data.getFirst());
        assertEquals("chat.completion.chunk", first.get("object").asText());
        assertEquals("assistant", first.get("choices").get(0).get("delta").get("role").asText());
        assertEquals(expected, Http.streamedText(data));
        JsonNode last = Http.json(data.get(data.size() - 2));
        assertEquals("length", last.get("choices").get(0).get("finish_reason").asText());
        assertFalse(last.has("usage"), "no usage chunk unless asked for");
    }

    @Test void stopStringsCutTheTextAndFinishWithStop() throws Exception {
        start();
        String full = FakeEngine.expectedText("abc", 5, 1f, 200);
        // a stop string that occurs in the output, at least one word in
        String stop = full.substring(full.indexOf(' ') + 1, full.indexOf(' ') + 4);
        String expected = full.substring(0, full.indexOf(stop));
        String body = "{\"model\":\"fake-model\",\"prompt\":\"abc\",\"max_tokens\":200,\"seed\":5,\"stop\":[\"@@never\",\"" + stop + "\"]";
        HttpResponse<String> r = http.post("/v1/completions", body + "}");
        JsonNode choice = Http.json(r.body()).get("choices").get(0);
        assertEquals(expected, choice.get("text").asText());
        assertEquals("stop", choice.get("finish_reason").asText());

        List<String> data = http.stream("/v1/completions", body + ",\"stream\":true}");
        assertEquals(expected, Http.streamedText(data));
        assertEquals("stop", Http.json(data.get(data.size() - 2)).get("choices").get(0).get("finish_reason").asText());
        // a stop string ends the generation early: both sequences were cancelled and freed
        waitFor(() -> engine.stats().runningSequences() == 0);
        assertEquals(2.0, Http.metric(http.get("/metrics").body(), "twofour_generations_cancelled_total"));
    }

    @Test void endOfSequenceFinishesWithStop() throws Exception {
        start();
        HttpResponse<String> r = http.post("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"<eos:5>\",\"max_tokens\":50}");
        JsonNode j = Http.json(r.body());
        assertEquals("stop", j.get("choices").get(0).get("finish_reason").asText());
        assertEquals(5, j.get("usage").get("completion_tokens").asInt());
        r = http.post("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"<eos:5>\",\"max_tokens\":9,\"ignore_eos\":true}");
        j = Http.json(r.body());
        assertEquals("length", j.get("choices").get(0).get("finish_reason").asText());
        assertEquals(9, j.get("usage").get("completion_tokens").asInt());
    }

    @Test void logprobsInBothShapes() throws Exception {
        start();
        JsonNode lp = Http.json(http.post("/v1/completions",
                "{\"model\":\"fake-model\",\"prompt\":\"q\",\"max_tokens\":4,\"logprobs\":2}").body()).get("choices").get(0).get("logprobs");
        assertEquals(4, lp.get("tokens").size());
        assertEquals(-0.25, lp.get("token_logprobs").get(0).asDouble(), 1e-6);
        assertEquals(2, lp.get("top_logprobs").get(0).size());
        assertEquals(0, lp.get("text_offset").get(0).asInt());

        JsonNode chat = Http.json(http.post("/v1/chat/completions",
                "{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"max_tokens\":3,\"logprobs\":true,\"top_logprobs\":2}").body());
        JsonNode content = chat.get("choices").get(0).get("logprobs").get("content");
        assertEquals(3, content.size());
        assertEquals(-0.25, content.get(0).get("logprob").asDouble(), 1e-6);
        assertEquals(2, content.get(0).get("top_logprobs").size());
        assertEquals("a", content.get(0).get("top_logprobs").get(0).get("token").asText());
    }

    static Stream<Arguments> badRequests() {
        String big = "x".repeat(CONTEXT + 10);
        return Stream.of(
                Arguments.of("/v1/completions", "{not json", 400, null),
                Arguments.of("/v1/completions", "", 400, null),
                Arguments.of("/v1/completions", "[1,2]", 400, null),
                Arguments.of("/v1/completions", "{\"prompt\":\"x\"}", 400, "model"),
                Arguments.of("/v1/completions", "{\"model\":5,\"prompt\":\"x\"}", 400, "model"),
                Arguments.of("/v1/completions", "{\"model\":\"gpt-9\",\"prompt\":\"x\"}", 404, "model"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\"}", 400, "prompt"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":{}}", 400, "prompt"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":[\"a\",\"b\"]}", 400, "prompt"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":[1,99999]}", 400, "prompt"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"" + big + "\"}", 413, "prompt"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"max_tokens\":0}", 400, "max_tokens"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"max_tokens\":-5}", 400, "max_tokens"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"max_tokens\":100000}", 400, "max_tokens"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"max_tokens\":\"ten\"}", 400, "max_tokens"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"max_tokens\":2.5}", 400, "max_tokens"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"temperature\":\"hot\"}", 400, "temperature"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"temperature\":3}", 400, "temperature"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"top_p\":0}", 400, "top_p"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"top_k\":1.5}", 400, "top_k"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"min_p\":2}", 400, "min_p"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"frequency_penalty\":9}", 400, "frequency_penalty"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"presence_penalty\":[]}", 400, "presence_penalty"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"repetition_penalty\":0}", 400, "repetition_penalty"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"seed\":\"abc\"}", 400, "seed"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"stop\":5}", 400, "stop"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"stop\":[\"a\",3]}", 400, "stop"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"stop\":\"\"}", 400, "stop"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"n\":2}", 400, "n"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"logprobs\":50}", 400, "logprobs"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"stream\":\"yes\"}", 400, "stream"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"stream_options\":{\"include_usage\":true}}", 400, "stream_options"),
                Arguments.of("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"echo\":true}", 400, "echo"),
                Arguments.of("/v1/chat/completions", "{\"model\":\"fake-model\"}", 400, "messages"),
                Arguments.of("/v1/chat/completions", "{\"model\":\"fake-model\",\"messages\":[]}", 400, "messages"),
                Arguments.of("/v1/chat/completions", "{\"model\":\"fake-model\",\"messages\":\"hi\"}", 400, "messages"),
                Arguments.of("/v1/chat/completions", "{\"model\":\"fake-model\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", 400, "messages[0].role"),
                Arguments.of("/v1/chat/completions", "{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\"}]}", 400, "messages[0].content"),
                Arguments.of("/v1/chat/completions", "{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", 400, "messages[0].content[0]"),
                Arguments.of("/v1/chat/completions", "{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":3}", 400, "n"),
                Arguments.of("/v1/chat/completions", "{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":2}", 400, "top_logprobs"),
                Arguments.of("/v1/chat/completions", "{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\"}]}", 400, "tools"),
                Arguments.of("/v1/chat/completions", "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 404, "model"),
                Arguments.of("/v1/chat/completions", "{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\",\"content\":\"" + big + "\"}]}", 413, "messages"));
    }

    @ParameterizedTest(name = "{0} {1} -> {2}")
    @MethodSource("badRequests")
    void badInputGetsAnOpenAiErrorAndTheServerKeepsServing(String path, String body, int status, String param) throws Exception {
        if (server == null) start();
        HttpResponse<String> r = http.post(path, body);
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        JsonNode err = Http.json(r.body()).get("error");
        assertNotNull(err, r.body());
        assertFalse(err.get("message").asText().isBlank());
        assertTrue(err.has("type") && err.has("param") && err.has("code"), r.body());
        assertFalse(r.body().contains("Exception") || r.body().contains("\tat "), "no stack trace: " + r.body());
        if (param != null) assertEquals(param, err.get("param").asText(), r.body());
        // still serving
        assertEquals(200, http.post("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"ok\",\"max_tokens\":2}").statusCode());
    }

    @Test void unknownPathsAndMethods() throws Exception {
        start();
        HttpResponse<String> r = http.get("/v2/whatever");
        assertEquals(404, r.statusCode());
        assertNotNull(Http.json(r.body()).get("error"));
        r = http.get("/v1/completions");
        assertEquals(405, r.statusCode());
        r = http.send("DELETE", "/v1/models", null);
        assertEquals(405, r.statusCode());
    }

    @Test void apiKeyIsRequiredOnV1WhenSet() throws Exception {
        start(ServerOptions.localhost().withApiKey("sk-test-123"), new FakeEngine(4, 4, 0, CONTEXT));
        String body = "{\"model\":\"fake-model\",\"prompt\":\"x\",\"max_tokens\":2}";
        HttpResponse<String> r = http.post("/v1/completions", body);
        assertEquals(401, r.statusCode());
        assertEquals("invalid_api_key", Http.json(r.body()).get("error").get("code").asText());
        assertEquals(401, http.get("/v1/models").statusCode());
        http.apiKey = "sk-wrong";
        assertEquals(401, http.post("/v1/completions", body).statusCode());
        http.apiKey = "sk-test-123";
        assertEquals(200, http.post("/v1/completions", body).statusCode());
        assertEquals(200, http.get("/v1/models").statusCode());
        http.apiKey = null;
        assertEquals(200, http.get("/health").statusCode(), "probes need no key");
        assertEquals(200, http.get("/metrics").statusCode(), "scrapers need no key");
    }

    @Test void fullQueueAnswers429WithRetryAfter() throws Exception {
        start(ServerOptions.localhost(), new FakeEngine(1, 1, 20, CONTEXT));
        String body = "{\"model\":\"fake-model\",\"prompt\":\"x\",\"max_tokens\":100}";
        CompletableFuture<HttpResponse<String>> a = CompletableFuture.supplyAsync(() -> post(body));
        waitFor(() -> engine.stats().runningSequences() == 1);
        CompletableFuture<HttpResponse<String>> b = CompletableFuture.supplyAsync(() -> post(body));
        waitFor(() -> engine.stats().queueDepth() == 1);
        HttpResponse<String> c = http.post("/v1/completions", body);
        assertEquals(429, c.statusCode(), c.body());
        assertEquals("1", c.headers().firstValue("Retry-After").orElse(null));
        assertEquals("rate_limit_error", Http.json(c.body()).get("error").get("type").asText());
        assertEquals(200, a.get().statusCode());
        assertEquals(200, b.get().statusCode());
        String m = http.get("/metrics").body();
        assertTrue(m.contains("twofour_requests_total{endpoint=\"/v1/completions\",status=\"429\"} 1"), m);
    }

    @Test void clientDisconnectMidStreamFreesTheSequence() throws Exception {
        start(ServerOptions.localhost(), new FakeEngine(4, 4, 5, 100_000));
        String body = "{\"model\":\"fake-model\",\"prompt\":\"x\",\"max_tokens\":50000,\"stream\":true}";
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            assertTrue(in.readLine().contains("200"));
            int events = 0;
            for (String line; events < 5 && (line = in.readLine()) != null; ) if (line.startsWith("data: ")) events++;
            assertEquals(5, events);
            String m = http.get("/metrics").body();
            assertEquals(1.0, Http.metric(m, "twofour_running_sequences"));
            assertTrue(Http.metric(m, "twofour_kv_blocks_used") > 0);
        }
        waitFor(() -> engine.stats().runningSequences() == 0);
        String m = http.get("/metrics").body();
        assertEquals(0.0, Http.metric(m, "twofour_running_sequences"));
        assertEquals(0.0, Http.metric(m, "twofour_kv_blocks_used"));
        assertTrue(Http.metric(m, "twofour_generations_cancelled_total") >= 1);
    }

    @Test void metricsCountRequestsTokensAndLatencies() throws Exception {
        start();
        http.post("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"abc\",\"max_tokens\":7}");
        http.post("/v1/completions", "{\"model\":\"nope\",\"prompt\":\"abc\"}");
        HttpResponse<String> r = http.get("/metrics");
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
        String m = r.body();
        assertTrue(m.contains("twofour_requests_total{endpoint=\"/v1/completions\",status=\"200\"} 1"), m);
        assertTrue(m.contains("twofour_requests_total{endpoint=\"/v1/completions\",status=\"404\"} 1"), m);
        assertEquals(4.0, Http.metric(m, "twofour_prompt_tokens_total"));
        assertEquals(7.0, Http.metric(m, "twofour_generation_tokens_total"));
        assertEquals(1.0, Http.metric(m, "twofour_time_to_first_token_seconds_count"));
        assertEquals(6.0, Http.metric(m, "twofour_time_per_output_token_seconds_count"));
        assertTrue(m.contains("twofour_time_to_first_token_seconds_bucket{le=\"+Inf\"} 1"), m);
        assertEquals(0.0, Http.metric(m, "twofour_queue_depth"));
        assertTrue(m.contains("# TYPE twofour_kv_blocks_used gauge"));
        assertFalse(m.contains("twofour_gpu_memory"), "no GPU memory lines on the CPU");
    }

    @Test void shutdownEndsRunningStreamsCleanlyAndRefusesNewWork() throws Exception {
        start(new ServerOptions("127.0.0.1", 0, null, Duration.ofMillis(300)), new FakeEngine(4, 4, 5, 100_000));
        CompletableFuture<List<String>> running = CompletableFuture.supplyAsync(() -> {
            try {
                return http.stream("/v1/completions", "{\"model\":\"fake-model\",\"prompt\":\"x\",\"max_tokens\":50000,\"stream\":true}");
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        waitFor(() -> engine.stats().runningSequences() == 1);
        long t0 = System.nanoTime();
        server.shutdown();
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "shutdown took too long");
        List<String> data = running.get();
        assertEquals("[DONE]", data.getLast());
        assertEquals("abort", Http.json(data.get(data.size() - 2)).get("choices").get(0).get("finish_reason").asText());
        waitFor(() -> engine.stats().runningSequences() == 0);
        assertThrows(java.io.IOException.class, () -> http.get("/health"), "the listener is closed");
    }

    @Test void theLoadGeneratorCountsTokensAndRequests() throws Exception {
        start(ServerOptions.localhost(), new FakeEngine(8, 8, 1, CONTEXT));
        LoadGenerator.Result r = new LoadGenerator(server.baseUri(), "fake-model", null).run(4, 2, 10, "hi");
        assertEquals(8, r.requests());
        assertEquals(80, r.generatedTokens());
        assertEquals(0, r.failures());
        assertTrue(r.tokensPerSecond() > 0 && r.meanTtftMillis() > 0);
        LoadGenerator.Result bad = new LoadGenerator(server.baseUri(), "wrong-model", null).run(2, 1, 5, "hi");
        assertEquals(2, bad.failures());
    }

    private HttpResponse<String> post(String body) {
        try {
            return http.post("/v1/completions", body);
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) fail("condition not met within 10 s");
            Thread.sleep(10);
        }
    }
}
