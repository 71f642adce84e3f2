package dev.twofour.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

/**
 * Load test of a running server: for each concurrency level, that many clients each send streaming
 * completions (ignore_eos, fixed max_tokens) back to back for a number of rounds; prints total generated
 * tokens per second, time to first token and per-token latency as a Markdown table.
 *
 * <pre>
 * java -cp "cli/target/twofour-cli.jar:cli/target/lib/*" dev.twofour.server.LoadGenerator \
 *     --url http://127.0.0.1:8000 --model llama2-7b --clients 1,8,32,64 --max-tokens 128 --rounds 2
 * </pre>
 */
public final class LoadGenerator {
    /** One level's result. */
    public record Result(int clients, int requests, long generatedTokens, double seconds, double tokensPerSecond,
                         double meanTtftMillis, double meanTpotMillis, int failures) {}

    private final URI base;
    private final String model;
    private final String apiKey;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final ObjectMapper mapper = new ObjectMapper();

    public LoadGenerator(URI base, String model, String apiKey) {
        this.base = base;
        this.model = model;
        this.apiKey = apiKey;
    }

    /** Runs {@code clients} concurrent clients, each sending {@code rounds} requests of {@code maxTokens} tokens. */
    public Result run(int clients, int rounds, int maxTokens, String prompt) throws Exception {
        long t0 = System.nanoTime();
        List<Future<long[]>> fs = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int c = 0; c < clients; c++) {
                int clientId = c;
                fs.add(pool.submit(() -> {
                    long[] acc = new long[5]; // tokens, ttft nanos sum, tpot nanos sum, tpot count, failures
                    for (int r = 0; r < rounds; r++) one(prompt, maxTokens, 1000L * clientId + r, acc);
                    return acc;
                }));
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        long tokens = 0, ttft = 0, tpot = 0, tpotCount = 0, failures = 0;
        for (Future<long[]> f : fs) {
            long[] a = f.get();
            tokens += a[0];
            ttft += a[1];
            tpot += a[2];
            tpotCount += a[3];
            failures += a[4];
        }
        int requests = clients * rounds;
        int ok = (int) Math.max(1, requests - failures);
        return new Result(clients, requests, tokens, seconds, tokens / seconds, ttft / 1e6 / ok,
                tpotCount == 0 ? 0 : tpot / 1e6 / tpotCount, (int) failures);
    }

    private void one(String prompt, int maxTokens, long seed, long[] acc) {
        try {
            ObjectNode body = mapper.createObjectNode();
            body.put("model", model);
            body.put("prompt", prompt);
            body.put("max_tokens", maxTokens);
            body.put("temperature", 0.8);
            body.put("seed", seed);
            body.put("ignore_eos", true);
            body.put("stream", true);
            body.putObject("stream_options").put("include_usage", true);
            HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve("/v1/completions"))
                    .timeout(Duration.ofMinutes(10)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(mapper.writeValueAsString(body)));
            if (apiKey != null) b.header("Authorization", "Bearer " + apiKey);
            long start = System.nanoTime();
            HttpResponse<Stream<String>> r = client.send(b.build(), HttpResponse.BodyHandlers.ofLines());
            if (r.statusCode() != 200) {
                acc[4]++;
                r.body().close();
                return;
            }
            long first = -1, last = -1;
            long tokens = 0;
            try (Stream<String> lines = r.body()) {
                for (String line : (Iterable<String>) lines::iterator) {
                    if (!line.startsWith("data: ") || line.equals("data: [DONE]")) continue;
                    JsonNode chunk = mapper.readTree(line.substring(6));
                    JsonNode usage = chunk.get("usage");
                    if (usage != null && usage.isObject()) tokens = usage.get("completion_tokens").asLong();
                    if (chunk.get("choices").isEmpty()) continue;
                    long now = System.nanoTime();
                    if (first < 0) first = now;
                    last = now;
                }
            }
            acc[0] += tokens;
            if (first > 0) acc[1] += first - start;
            if (tokens > 1 && last > first) {
                acc[2] += last - first;
                acc[3] += tokens - 1;
            }
        } catch (Exception e) {
            acc[4]++;
        }
    }

    public static void main(String[] args) throws Exception {
        String url = "http://127.0.0.1:8000", model = null, key = System.getenv("TWOFOUR_API_KEY");
        String prompt = "In the beginning God created the heaven and the earth.";
        int[] levels = {1, 8, 32, 64};
        int maxTokens = 128, rounds = 2;
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--url" -> { url = v; i++; }
                case "--model" -> { model = v; i++; }
                case "--api-key" -> { key = v; i++; }
                case "--prompt" -> { prompt = v; i++; }
                case "--clients" -> { levels = Arrays.stream(v.split(",")).mapToInt(Integer::parseInt).toArray(); i++; }
                case "--max-tokens" -> { maxTokens = Integer.parseInt(v); i++; }
                case "--rounds" -> { rounds = Integer.parseInt(v); i++; }
                default -> {
                    System.err.println("usage: LoadGenerator [--url URL] [--model ID] [--api-key KEY] [--clients 1,8,32,64]"
                            + " [--max-tokens N] [--rounds N] [--prompt TEXT]");
                    System.exit(2);
                }
            }
        }
        URI base = URI.create(url);
        if (model == null) { // ask the server
            HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve("/v1/models"));
            if (key != null) b.header("Authorization", "Bearer " + key);
            String body = HttpClient.newHttpClient().send(b.build(), HttpResponse.BodyHandlers.ofString()).body();
            model = new ObjectMapper().readTree(body).get("data").get(0).get("id").asText();
        }
        LoadGenerator g = new LoadGenerator(base, model, key);
        g.run(1, 1, Math.min(8, maxTokens), prompt); // warm-up (graphs, JIT)
        PrintStream out = System.out;
        out.printf(Locale.ROOT, "model %s, %d tokens per request, %d rounds per client%n%n", model, maxTokens, rounds);
        out.println("| clients | requests | generated tokens | seconds | tokens/s | mean TTFT ms | mean ms/token | failures |");
        out.println("|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (int c : levels) {
            Result r = g.run(c, rounds, maxTokens, prompt);
            out.printf(Locale.ROOT, "| %d | %d | %d | %.2f | %.1f | %.1f | %.2f | %d |%n", r.clients(), r.requests(),
                    r.generatedTokens(), r.seconds(), r.tokensPerSecond(), r.meanTtftMillis(), r.meanTpotMillis(), r.failures());
        }
    }
}
