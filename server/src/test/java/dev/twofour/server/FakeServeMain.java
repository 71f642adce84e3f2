package dev.twofour.server;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/** A server process over the fake engine, for the signal test: {@code FakeServeMain GRACE_MILLIS}. */
public final class FakeServeMain {
    public static void main(String[] args) {
        ServerOptions options = new ServerOptions("127.0.0.1", 0, null, Duration.ofMillis(Long.parseLong(args[0])));
        int code = ServeLauncher.serve(options, () -> new FakeEngine(4, 4, 5, 100_000), System.out, new CountDownLatch(1));
        System.out.println("exit " + code);
        System.out.flush();
        System.exit(code);
    }
}
