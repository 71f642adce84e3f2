package dev.twofour.server;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/** The server's counters and histograms, rendered in the Prometheus text exposition format (version 0.0.4). */
final class Metrics {
    private final Map<String, LongAdder> requestsByEndpointAndStatus = new ConcurrentHashMap<>();
    private final LongAdder promptTokens = new LongAdder();
    private final LongAdder generatedTokens = new LongAdder();
    private final LongAdder cancelledGenerations = new LongAdder();
    final Histogram timeToFirstToken = new Histogram(
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60);
    final Histogram timePerOutputToken = new Histogram(
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5);
    private final AtomicLong activeRequests = new AtomicLong();

    void request(String endpoint, int status) {
        requestsByEndpointAndStatus.computeIfAbsent(endpoint + "\u0000" + status, k -> new LongAdder()).increment();
    }

    void promptTokens(int n) { promptTokens.add(n); }
    void generatedToken() { generatedTokens.increment(); }
    void cancelled() { cancelledGenerations.increment(); }
    void requestStarted() { activeRequests.incrementAndGet(); }
    void requestEnded() { activeRequests.decrementAndGet(); }

    String render(boolean modelLoaded, Supplier<CompletionEngine.EngineStats> stats) {
        StringBuilder sb = new StringBuilder(4096);
        header(sb, "twofour_model_loaded", "gauge", "1 once the model is loaded and requests are served");
        sb.append("twofour_model_loaded ").append(modelLoaded ? 1 : 0).append('\n');

        header(sb, "twofour_requests_total", "counter", "HTTP requests answered, by endpoint and status code");
        Map<String, Long> sorted = new TreeMap<>();
        requestsByEndpointAndStatus.forEach((k, v) -> sorted.put(k, v.sum()));
        sorted.forEach((k, v) -> {
            String[] parts = k.split("\u0000", 2);
            sb.append("twofour_requests_total{endpoint=\"").append(escape(parts[0])).append("\",status=\"")
                    .append(parts[1]).append("\"} ").append(v).append('\n');
        });
        header(sb, "twofour_requests_active", "gauge", "completion requests being answered now");
        sb.append("twofour_requests_active ").append(activeRequests.get()).append('\n');
        header(sb, "twofour_prompt_tokens_total", "counter", "prompt tokens of accepted requests");
        sb.append("twofour_prompt_tokens_total ").append(promptTokens.sum()).append('\n');
        header(sb, "twofour_generation_tokens_total", "counter", "tokens generated");
        sb.append("twofour_generation_tokens_total ").append(generatedTokens.sum()).append('\n');
        header(sb, "twofour_generations_cancelled_total", "counter", "generations ended early (client gone, stop string, shutdown)");
        sb.append("twofour_generations_cancelled_total ").append(cancelledGenerations.sum()).append('\n');

        if (modelLoaded) {
            CompletionEngine.EngineStats s = stats.get();
            header(sb, "twofour_queue_depth", "gauge", "requests waiting for a slot in the running batch");
            sb.append("twofour_queue_depth ").append(s.queueDepth()).append('\n');
            header(sb, "twofour_running_sequences", "gauge", "sequences in the running batch (prefill or decode)");
            sb.append("twofour_running_sequences ").append(s.runningSequences()).append('\n');
            header(sb, "twofour_kv_blocks_used", "gauge", "KV-cache blocks held by sequences");
            sb.append("twofour_kv_blocks_used ").append(s.kvBlocksUsed()).append('\n');
            header(sb, "twofour_kv_blocks_total", "gauge", "KV-cache blocks in the pool");
            sb.append("twofour_kv_blocks_total ").append(s.kvBlocksTotal()).append('\n');
            if (s.gpuMemoryTotalBytes() >= 0) {
                header(sb, "twofour_gpu_memory_used_bytes", "gauge", "GPU memory in use on the device");
                sb.append("twofour_gpu_memory_used_bytes ").append(s.gpuMemoryUsedBytes()).append('\n');
                header(sb, "twofour_gpu_memory_total_bytes", "gauge", "GPU memory of the device");
                sb.append("twofour_gpu_memory_total_bytes ").append(s.gpuMemoryTotalBytes()).append('\n');
            }
        }
        timeToFirstToken.render(sb, "twofour_time_to_first_token_seconds",
                "from request arrival to the first generated token");
        timePerOutputToken.render(sb, "twofour_time_per_output_token_seconds",
                "between consecutive generated tokens of one request");
        return sb.toString();
    }

    private static void header(StringBuilder sb, String name, String type, String help) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
        sb.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    /** A cumulative Prometheus histogram with fixed upper bounds in seconds. */
    static final class Histogram {
        private final double[] bounds;
        private final LongAdder[] counts; // per bucket, not cumulative; the last one is +Inf
        private final LongAdder count = new LongAdder();
        private final java.util.concurrent.atomic.DoubleAdder sum = new java.util.concurrent.atomic.DoubleAdder();

        Histogram(double... bounds) {
            this.bounds = bounds.clone();
            this.counts = new LongAdder[bounds.length + 1];
            for (int i = 0; i < counts.length; i++) counts[i] = new LongAdder();
        }

        void observe(double seconds) {
            int i = 0;
            while (i < bounds.length && seconds > bounds[i]) i++;
            counts[i].increment();
            count.increment();
            sum.add(seconds);
        }

        long count() { return count.sum(); }

        void render(StringBuilder sb, String name, String help) {
            header(sb, name, "histogram", help);
            long cumulative = 0;
            for (int i = 0; i < bounds.length; i++) {
                cumulative += counts[i].sum();
                sb.append(name).append("_bucket{le=\"").append(format(bounds[i])).append("\"} ").append(cumulative).append('\n');
            }
            cumulative += counts[bounds.length].sum();
            sb.append(name).append("_bucket{le=\"+Inf\"} ").append(cumulative).append('\n');
            sb.append(name).append("_sum ").append(String.format(Locale.ROOT, "%.6f", sum.sum())).append('\n');
            sb.append(name).append("_count ").append(cumulative).append('\n');
        }

        private static String format(double d) {
            return d == Math.rint(d) ? String.format(Locale.ROOT, "%.1f", d) : Double.toString(d);
        }
    }
}
