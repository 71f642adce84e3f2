package dev.twofour.server;

import java.io.IOException;
import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs a server process: listen first (so /health can say "loading"), load the model, serve until
 * SIGTERM or SIGINT, then shut down gracefully (refuse new requests, let running ones finish within
 * the grace period, end the rest cleanly) and return exit code 0.
 *
 * <p>Signals: SIGTERM/SIGINT get a handler of their own ({@code sun.misc.Signal}) so the JVM does not
 * start its exit sequence (exit code 143) before the streams are closed; a shutdown hook covers the
 * other ways a JVM is stopped.
 */
public final class ServeLauncher {
    /** Loads the model; may take minutes. */
    @FunctionalInterface
    public interface EngineLoader {
        CompletionEngine load() throws Exception;
    }

    private ServeLauncher() {}

    /**
     * Serves until a signal (or {@code stop} counting down) and returns the exit code: 0 after a
     * graceful shutdown, 1 when the port cannot be bound or the model fails to load.
     */
    public static int serve(ServerOptions options, EngineLoader loader, PrintStream log, CountDownLatch stop) {
        OpenAiServer server;
        try {
            server = OpenAiServer.start(options);
        } catch (IOException e) {
            log.println("twofour serve: " + e.getMessage());
            return 1;
        }
        AtomicBoolean shutDown = new AtomicBoolean();
        CompletionEngine[] engineRef = new CompletionEngine[1];
        Runnable shutdown = () -> {
            if (!shutDown.compareAndSet(false, true)) return;
            log.println("twofour serve: shutting down (running requests get " + options.shutdownGrace().toSeconds() + " s to finish)");
            server.shutdown();
            CompletionEngine e;
            synchronized (engineRef) {
                e = engineRef[0];
            }
            if (e != null) e.close();
            log.println("twofour serve: stopped");
        };
        Thread hook = new Thread(shutdown, "twofour-serve-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        installSignalHandlers(stop, log);
        log.println("twofour serve: listening on " + server.baseUri() + " (loading the model; /health answers 503 until ready)");

        long t0 = System.nanoTime();
        CompletionEngine engine;
        try {
            engine = loader.load();
        } catch (Exception | Error e) {
            String msg = e.getMessage() != null ? e.getMessage() : e.toString();
            log.println("twofour serve: cannot load the model: " + msg);
            if (System.getenv("TWOFOUR_DEBUG") != null) e.printStackTrace(log);
            server.engineFailed(msg);
            shutdown.run();
            removeHook(hook);
            return 1;
        }
        synchronized (engineRef) {
            engineRef[0] = engine;
        }
        server.engineReady(engine);
        log.println(String.format(Locale.ROOT, "twofour serve: model '%s' ready in %.1f s (context %d tokens); API at %s/v1",
                engine.modelId(), (System.nanoTime() - t0) / 1e9, engine.contextLength(), server.baseUri()));
        if (options.apiKey() != null) log.println("twofour serve: /v1/* require 'Authorization: Bearer <key>'");

        try {
            stop.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        shutdown.run();
        removeHook(hook);
        return 0;
    }

    private static void removeHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException ignored) {
            // the JVM is already exiting: the hook has run or is running
        }
    }

    private static void installSignalHandlers(CountDownLatch stop, PrintStream log) {
        for (String name : new String[]{"TERM", "INT"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), sig -> stop.countDown());
            } catch (IllegalArgumentException | UnsupportedOperationException e) {
                // The signal is reserved here (e.g. -Xrs): the shutdown hook still stops the server.
                log.println("twofour serve: cannot handle SIG" + name + " (" + e.getMessage() + "); relying on the shutdown hook");
            }
        }
    }
}
