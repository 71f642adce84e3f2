package dev.twofour.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** A small test client over java.net.http. */
final class Http {
    static final ObjectMapper JSON = new ObjectMapper();
    final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    final URI base;
    String apiKey;

    Http(URI base) {
        this.base = base;
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return client.send(request(path).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return client.send(request(path).POST(HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> send(String method, String path, String body) throws IOException, InterruptedException {
        return client.send(request(path).method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** POSTs and returns the SSE "data:" payloads in order (the last one is "[DONE]" on success). */
    List<String> stream(String path, String body) throws IOException, InterruptedException {
        HttpResponse<Stream<String>> r = client.send(request(path).POST(HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofLines());
        if (r.statusCode() != 200) throw new AssertionError("status " + r.statusCode() + ": " + String.join("\n", r.body().toList()));
        if (!r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")) {
            throw new AssertionError("content type " + r.headers().firstValue("Content-Type"));
        }
        List<String> data = new ArrayList<>();
        try (Stream<String> lines = r.body()) {
            lines.forEach(l -> {
                if (l.startsWith("data: ")) data.add(l.substring(6));
                else if (!l.isEmpty()) throw new AssertionError("unexpected SSE line: " + l);
            });
        }
        return data;
    }

    /** The concatenated text of a completion or chat stream's chunks. */
    static String streamedText(List<String> data) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (String d : data) {
            if (d.equals("[DONE]")) break;
            JsonNode c = JSON.readTree(d);
            for (JsonNode ch : c.get("choices")) {
                if (ch.has("text")) sb.append(ch.get("text").asText());
                else if (ch.has("delta") && ch.get("delta").has("content")) sb.append(ch.get("delta").get("content").asText());
            }
        }
        return sb.toString();
    }

    static JsonNode json(String s) throws IOException {
        return JSON.readTree(s);
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60));
        if (apiKey != null) b.header("Authorization", "Bearer " + apiKey);
        return b;
    }

    /** Reads a gauge or counter without labels from /metrics text. */
    static double metric(String metricsText, String name) {
        for (String line : metricsText.split("\n")) {
            if (line.startsWith(name + " ")) return Double.parseDouble(line.substring(name.length() + 1).trim());
        }
        throw new AssertionError("metric " + name + " not found in:\n" + metricsText);
    }
}
