package dev.twofour.server;

import java.time.Duration;

/**
 * How the HTTP server listens.
 *
 * @param host          address to bind, e.g. 127.0.0.1 (0.0.0.0 for every interface)
 * @param port          TCP port; 0 picks a free one (see {@link OpenAiServer#port()})
 * @param apiKey        when non-null, /v1/* requests need "Authorization: Bearer apiKey"
 * @param shutdownGrace how long running requests may go on after a shutdown began before they are cut
 */
public record ServerOptions(String host, int port, String apiKey, Duration shutdownGrace) {
    public ServerOptions {
        if (host == null || host.isBlank()) throw new IllegalArgumentException("host must not be empty");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be 0..65535, got " + port);
        if (apiKey != null && apiKey.isBlank()) apiKey = null;
        if (shutdownGrace == null || shutdownGrace.isNegative()) shutdownGrace = Duration.ofSeconds(10);
    }

    /** 127.0.0.1 on a free port, no key, 10 s grace: for tests. */
    public static ServerOptions localhost() {
        return new ServerOptions("127.0.0.1", 0, null, Duration.ofSeconds(10));
    }

    public ServerOptions withApiKey(String key) {
        return new ServerOptions(host, port, key, shutdownGrace);
    }
}
