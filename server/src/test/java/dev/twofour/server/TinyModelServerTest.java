package dev.twofour.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

/** The real engine (CPU backend, the embedded tiny model, the runtime's scheduler) behind real sockets. */
class TinyModelServerTest {
    static final String MODEL = "tiny-llama-8m";
    static Path repo;
    static OpenAiServer server;
    static RuntimeEngine engine;
    static Http http;

    @BeforeAll static void start() throws Exception {
        repo = Path.of(System.getProperty("twofour.repo", "..")).toAbsolutePath().normalize();
        Path model = repo.resolve("models").resolve(MODEL);
        assertTrue(Files.isDirectory(model), "the embedded model is at " + model);
        server = OpenAiServer.start(ServerOptions.localhost());
        engine = RuntimeEngine.open(EngineSettings.cpu(model, 32, 64), model, System.err);
        server.engineReady(engine);
        http = new Http(server.baseUri());
    }

    @AfterAll static void stop() {
        if (server != null) server.shutdown();
        if (engine != null) engine.close();
    }

    static String completion(String prompt, int maxTokens, double temperature, long seed) {
        return "{\"model\":\"" + MODEL + "\",\"prompt\":" + Http.JSON.valueToTree(prompt) + ",\"max_tokens\":" + maxTokens
                + ",\"temperature\":" + temperature + ",\"seed\":" + seed;
    }

    @Test void greedyCompletionMatchesTransformers() throws Exception {
        JsonNode golden = Http.json(Files.readString(repo.resolve("runtime/src/test/resources/goldens/tiny-llama-8m/greedy.json")))
                .get("cases").get(0);
        String prompt = golden.get("prompt").asText();
        HttpResponse<String> r = http.post("/v1/completions",
                completion(prompt, golden.get("new_ids").size(), 0, 1) + ",\"ignore_eos\":true}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode j = Http.json(r.body());
        assertEquals(golden.get("text").asText(), j.get("choices").get(0).get("text").asText());
        assertEquals("length", j.get("choices").get(0).get("finish_reason").asText());
        assertEquals(golden.get("ids").size(), j.get("usage").get("prompt_tokens").asInt(), "BOS + the prompt's tokens");
        assertEquals(golden.get("new_ids").size(), j.get("usage").get("completion_tokens").asInt());
    }

    @Test void streamingGivesTheSameTextAsNonStreaming() throws Exception {
        String body = completion("The king said", 20, 0.9, 77);
        String whole = Http.json(http.post("/v1/completions", body + "}").body()).get("choices").get(0).get("text").asText();
        List<String> data = http.stream("/v1/completions", body + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        assertEquals("[DONE]", data.getLast());
        assertEquals(whole, Http.streamedText(data));
        assertFalse(whole.isEmpty());
        JsonNode usage = Http.json(data.get(data.size() - 2)).get("usage");
        assertTrue(usage.get("completion_tokens").asInt() >= 1 && usage.get("completion_tokens").asInt() <= 20);
    }

    @Test void chatAppliesTheTemplateAndStreams() throws Exception {
        String body = "{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me about the sea.\"}],"
                + "\"max_tokens\":16,\"temperature\":0.7,\"seed\":5";
        HttpResponse<String> r = http.post("/v1/chat/completions", body + "}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode j = Http.json(r.body());
        // <|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nTell me about the sea.<|eot_id|> + the assistant header
        int promptTokens = j.get("usage").get("prompt_tokens").asInt();
        assertTrue(promptTokens > 10 && promptTokens < 30, "templated prompt length " + promptTokens);
        String content = j.get("choices").get(0).get("message").get("content").asText();
        assertFalse(content.contains("<|"), "special tokens are not shown: " + content);
        List<String> data = http.stream("/v1/chat/completions", body + ",\"stream\":true}");
        assertEquals(content, Http.streamedText(data));
        assertEquals("assistant", Http.json(data.getFirst()).get("choices").get(0).get("delta").get("role").asText());
    }

    @Test void logprobsAreReportedForChosenAndTopTokens() throws Exception {
        JsonNode lp = Http.json(http.post("/v1/completions", completion("Water is", 4, 0, 1) + ",\"logprobs\":3}").body())
                .get("choices").get(0).get("logprobs");
        assertEquals(4, lp.get("tokens").size());
        for (int i = 0; i < 4; i++) {
            double chosen = lp.get("token_logprobs").get(i).asDouble();
            assertTrue(chosen <= 0 && chosen > -30, "log-probability " + chosen);
            JsonNode top = lp.get("top_logprobs").get(i);
            assertEquals(3, top.size());
            // greedy: the chosen token is the most likely one
            double best = Double.NEGATIVE_INFINITY;
            for (JsonNode v : top) best = Math.max(best, v.asDouble());
            assertEquals(best, chosen, 1e-5);
        }
    }

    @Test void thirtyTwoParallelStreamsEachGetWhatTheyGetAlone() throws Exception {
        int n = 32;
        String[] prompts = {"In the beginning", "The city of", "Once upon a time", "He said that", "Water is", "The war",
                "My name is", "It was the best"};
        List<String> bodies = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            bodies.add(completion(prompts[i % prompts.length] + (i >= 8 ? " " + i : ""), 8 + i % 5, 0.8, 1000 + i)
                    + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        }
        List<String> alone = new ArrayList<>();
        for (String b : bodies) alone.add(Http.streamedText(http.stream("/v1/completions", b)));
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<List<String>>> fs = new ArrayList<>();
            for (String b : bodies) fs.add(pool.submit(() -> http.stream("/v1/completions", b)));
            for (int i = 0; i < n; i++) {
                List<String> data = fs.get(i).get();
                assertEquals("[DONE]", data.getLast(), "stream " + i + " ended cleanly");
                assertEquals(alone.get(i), Http.streamedText(data), "stream " + i + " in a batch of " + n);
            }
        }
        String m = http.get("/metrics").body();
        assertEquals(0.0, Http.metric(m, "twofour_running_sequences"));
    }

    @Test void aClientThatDisconnectsMidStreamFreesItsSequenceAndBlocks() throws Exception {
        String body = completion("The", 900, 1.0, 3) + ",\"ignore_eos\":true,\"stream\":true}";
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            int events = 0;
            for (String line; events < 3 && (line = in.readLine()) != null; ) if (line.startsWith("data: ")) events++;
            String m = http.get("/metrics").body();
            assertTrue(Http.metric(m, "twofour_running_sequences") >= 1);
            assertTrue(Http.metric(m, "twofour_kv_blocks_used") >= 1);
        }
        OpenAiServerTest.waitFor(() -> {
            try {
                String m = http.get("/metrics").body();
                return Http.metric(m, "twofour_running_sequences") == 0 && Http.metric(m, "twofour_kv_blocks_used") == 0;
            } catch (Exception e) {
                return false;
            }
        });
        // and the server goes on serving
        assertEquals(200, http.post("/v1/completions", completion("Hello", 2, 0, 1) + "}").statusCode());
    }

    @Test void promptsLongerThanTheContextAre413() throws Exception {
        String longPrompt = "the sea ".repeat(1200);
        HttpResponse<String> r = http.post("/v1/completions", completion(longPrompt, 5, 0, 1) + "}");
        assertEquals(413, r.statusCode(), r.body());
        assertEquals("context_length_exceeded", Http.json(r.body()).get("error").get("code").asText());
        JsonNode models = Http.json(http.get("/v1/models").body());
        assertEquals(MODEL, models.get("data").get(0).get("id").asText());
        assertEquals(1024, models.get("data").get(0).get("max_model_len").asInt());
    }
}
