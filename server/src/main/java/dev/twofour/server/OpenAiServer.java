package dev.twofour.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The OpenAI-compatible HTTP API on the JDK's HTTP server, one virtual thread per request.
 *
 * <pre>
 * POST /v1/completions, POST /v1/chat/completions   (JSON, or SSE with "stream": true)
 * GET  /v1/models, GET /health, GET /metrics
 * </pre>
 * The server listens as soon as it starts; until {@link #engineReady} is called /health answers
 * 503 and completions answer 503, so orchestrators can wait for the model to load.
 * /health and /metrics need no API key (probes and scrapers); /v1/* do when one is set.
 */
public final class OpenAiServer implements AutoCloseable {
    static final int MAX_BODY_BYTES = 16 << 20;
    static final String SERVER_NAME = "twofour";

    private final ServerOptions options;
    private final HttpServer http;
    private final ExecutorService executor;
    private final ObjectMapper mapper = new ObjectMapper();
    private final RequestParser parser = new RequestParser(mapper);
    final Metrics metrics = new Metrics();
    private final Set<CompletionCall> activeCalls = ConcurrentHashMap.newKeySet();
    private final byte[] apiKeyBytes;
    private final long startedEpochSeconds = System.currentTimeMillis() / 1000;

    private volatile CompletionEngine engine;
    private volatile String engineFailure;
    private volatile boolean draining;
    private volatile boolean stopped;

    private OpenAiServer(ServerOptions options) throws IOException {
        this.options = options;
        this.apiKeyBytes = options.apiKey() == null ? null : options.apiKey().getBytes(StandardCharsets.UTF_8);
        this.http = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 256);
        this.executor = Executors.newVirtualThreadPerTaskExecutor();
        http.setExecutor(executor);
        http.createContext("/", this::handle);
    }

    /**
     * Binds and starts listening.
     *
     * @throws IOException when the address cannot be bound (e.g. the port is taken)
     */
    public static OpenAiServer start(ServerOptions options) throws IOException {
        OpenAiServer server;
        try {
            server = new OpenAiServer(options);
        } catch (java.net.BindException e) {
            throw new IOException("cannot listen on " + options.host() + ":" + options.port() + " (" + e.getMessage()
                    + "); choose another --port or stop the process using it", e);
        }
        server.http.start();
        return server;
    }

    /** The model is loaded: start serving completions. */
    public void engineReady(CompletionEngine engine) {
        this.engine = engine;
    }

    /** Loading the model failed: /health says why. */
    public void engineFailed(String reason) {
        this.engineFailure = reason;
    }

    /** The port actually bound (useful with port 0). */
    public int port() {
        return http.getAddress().getPort();
    }

    public URI baseUri() {
        String host = options.host().contains(":") ? "[" + options.host() + "]" : options.host();
        if (host.equals("0.0.0.0")) host = "127.0.0.1";
        return URI.create("http://" + host + ":" + port());
    }

    /**
     * Graceful stop: refuses new requests at once, lets running ones go on for the configured grace,
     * then ends the remaining streams cleanly (a last chunk with finish_reason "abort" and
     * {@code data: [DONE]}) and closes the listener. Idempotent; does not close the engine.
     */
    public synchronized void shutdown() {
        if (stopped) return;
        draining = true;
        long deadline = System.nanoTime() + options.shutdownGrace().toNanos();
        while (!activeCalls.isEmpty() && System.nanoTime() < deadline) sleepQuietly(20);
        for (CompletionCall c : activeCalls) c.abortForShutdown();
        long hardDeadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (!activeCalls.isEmpty() && System.nanoTime() < hardDeadline) sleepQuietly(20);
        http.stop(0);
        executor.shutdown();
        stopped = true;
    }

    @Override
    public void close() {
        shutdown();
    }

    // ---------------------------------------------------------------- dispatch

    private void handle(HttpExchange ex) {
        String path = ex.getRequestURI().getPath();
        String method = ex.getRequestMethod();
        String endpoint = switch (path) {
            case "/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/metrics" -> path;
            default -> path.startsWith("/v1/models/") ? "/v1/models/{id}" : "other";
        };
        int status = 500;
        try {
            ex.getResponseHeaders().set("Server", SERVER_NAME);
            status = route(ex, path, method);
        } catch (ApiException e) {
            status = e.status;
            sendErrorQuietly(ex, e);
        } catch (IOException e) {
            status = 499; // the client went away while we were answering (nginx's convention)
        } catch (Throwable t) {
            System.err.println("twofour serve: internal error on " + method + " " + path + ": " + t);
            if (System.getenv("TWOFOUR_DEBUG") != null) t.printStackTrace();
            status = 500;
            sendErrorQuietly(ex, new ApiException(500, "server_error", null, "internal_error",
                    "internal error (" + t.getClass().getSimpleName() + "); the server keeps running, please report it", 0));
        } finally {
            metrics.request(endpoint, status);
            ex.close();
        }
    }

    private int route(HttpExchange ex, String path, String method) throws ApiException, IOException {
        switch (path) {
            case "/health" -> {
                requireMethod(method, path, "GET");
                return health(ex);
            }
            case "/metrics" -> {
                requireMethod(method, path, "GET");
                CompletionEngine e = engine;
                String text = metrics.render(e != null, e == null ? null : e::stats);
                return send(ex, 200, "text/plain; version=0.0.4; charset=utf-8", text.getBytes(StandardCharsets.UTF_8));
            }
            default -> { }
        }
        if (path.startsWith("/v1/")) checkApiKey(ex);
        switch (path) {
            case "/v1/models" -> {
                requireMethod(method, path, "GET");
                return sendJson(ex, 200, modelList());
            }
            case "/v1/completions", "/v1/chat/completions" -> {
                requireMethod(method, path, "POST");
                return completion(ex, path.equals("/v1/chat/completions"));
            }
            default -> {
                if (path.startsWith("/v1/models/")) {
                    requireMethod(method, path, "GET");
                    String id = path.substring("/v1/models/".length());
                    CompletionEngine e = requireEngine();
                    if (!id.equals(e.modelId())) {
                        throw ApiException.notFound("model", "model_not_found",
                                "the model '" + id + "' does not exist; this server serves '" + e.modelId() + "'");
                    }
                    return sendJson(ex, 200, modelObject(e.modelId()));
                }
                throw new ApiException(404, "invalid_request_error", null, "not_found",
                        "no endpoint " + method + " " + path + "; this server has POST /v1/completions, POST /v1/chat/completions, "
                                + "GET /v1/models, GET /health and GET /metrics", 0);
            }
        }
    }

    private int health(HttpExchange ex) throws IOException {
        ObjectNode body = mapper.createObjectNode();
        int status;
        if (draining) {
            status = 503;
            body.put("status", "shutting_down");
        } else if (engine != null) {
            status = 200;
            body.put("status", "ok");
            body.put("model", engine.modelId());
        } else if (engineFailure != null) {
            status = 503;
            body.put("status", "failed");
            body.put("message", engineFailure);
        } else {
            status = 503;
            body.put("status", "loading");
        }
        return sendJson(ex, status, body);
    }

    private ObjectNode modelList() throws ApiException {
        CompletionEngine e = requireEngine();
        ObjectNode list = mapper.createObjectNode();
        list.put("object", "list");
        ArrayNode data = list.putArray("data");
        data.add(modelObject(e.modelId()));
        return list;
    }

    private ObjectNode modelObject(String id) {
        ObjectNode m = mapper.createObjectNode();
        m.put("id", id);
        m.put("object", "model");
        m.put("created", startedEpochSeconds);
        m.put("owned_by", SERVER_NAME);
        CompletionEngine e = engine;
        if (e != null) m.put("max_model_len", e.contextLength());
        return m;
    }

    private int completion(HttpExchange ex, boolean chat) throws ApiException, IOException {
        byte[] body = readBody(ex);
        CompletionEngine e = requireEngine();
        CompletionRequest req = parser.parse(body, chat);
        if (!req.model().equals(e.modelId())) {
            throw ApiException.notFound("model", "model_not_found",
                    "the model '" + req.model() + "' does not exist; this server serves '" + e.modelId() + "' (GET /v1/models)");
        }
        CompletionCall call = new CompletionCall(this, e, req, mapper);
        activeCalls.add(call);
        metrics.requestStarted();
        try {
            if (draining) call.abortForShutdown();
            return call.run(ex);
        } finally {
            activeCalls.remove(call);
            metrics.requestEnded();
        }
    }

    private CompletionEngine requireEngine() throws ApiException {
        if (draining) throw ApiException.unavailable("the server is shutting down");
        CompletionEngine e = engine;
        if (e == null) {
            throw ApiException.unavailable(engineFailure != null
                    ? "the model failed to load: " + engineFailure
                    : "the model is still loading; retry when GET /health answers 200");
        }
        return e;
    }

    private void checkApiKey(HttpExchange ex) throws ApiException {
        if (apiKeyBytes == null) return;
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (auth == null || !auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw ApiException.unauthorized("missing API key: send the header 'Authorization: Bearer <key>'");
        }
        byte[] given = auth.substring(7).trim().getBytes(StandardCharsets.UTF_8);
        if (!MessageDigest.isEqual(given, apiKeyBytes)) { // constant time: no timing oracle on the key
            throw ApiException.unauthorized("incorrect API key");
        }
    }

    private static void requireMethod(String method, String path, String allowed) throws ApiException {
        if (!method.equals(allowed)) throw ApiException.methodNotAllowed(method, path, allowed);
    }

    private static byte[] readBody(HttpExchange ex) throws ApiException, IOException {
        String cl = ex.getRequestHeaders().getFirst("Content-Length");
        if (cl != null) {
            try {
                if (Long.parseLong(cl.trim()) > MAX_BODY_BYTES) throw bodyTooLarge();
            } catch (NumberFormatException ignored) {
                // the HTTP server has already judged the header; read and see
            }
        }
        try (InputStream in = ex.getRequestBody()) {
            byte[] body = in.readNBytes(MAX_BODY_BYTES + 1);
            if (body.length > MAX_BODY_BYTES) throw bodyTooLarge();
            return body;
        }
    }

    private static ApiException bodyTooLarge() {
        return ApiException.tooLarge(null, "request_too_large", "the request body is over " + (MAX_BODY_BYTES >> 20) + " MiB");
    }

    // ---------------------------------------------------------------- responses

    int sendJson(HttpExchange ex, int status, Object body) throws IOException {
        return send(ex, status, "application/json", mapper.writeValueAsBytes(body));
    }

    static int send(HttpExchange ex, int status, String contentType, byte[] bytes) throws IOException {
        ex.getResponseHeaders().set("Content-Type", contentType);
        ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            ex.getResponseBody().write(bytes);
        }
        return status;
    }

    ObjectNode errorBody(ApiException e) {
        ObjectNode root = mapper.createObjectNode();
        ObjectNode err = root.putObject("error");
        err.put("message", e.getMessage());
        err.put("type", e.type);
        err.put("param", e.param);
        err.put("code", e.code);
        return root;
    }

    private void sendErrorQuietly(HttpExchange ex, ApiException e) {
        try {
            if (e.retryAfterSeconds > 0) ex.getResponseHeaders().set("Retry-After", Integer.toString(e.retryAfterSeconds));
            sendJson(ex, e.status, errorBody(e));
        } catch (IOException | RuntimeException ignored) {
            // headers already sent or the client is gone: nothing more to tell it
        }
    }

    boolean draining() {
        return draining;
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
