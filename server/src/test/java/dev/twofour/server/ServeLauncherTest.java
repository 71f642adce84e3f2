package dev.twofour.server;

import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.stream.Stream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

class ServeLauncherTest {

    @Test void sigtermEndsRunningStreamsCleanlyAndExitsZero() throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path logFile = java.nio.file.Files.createTempFile("twofour-serve", ".log");
        Process p = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"), FakeServeMain.class.getName(), "200")
                .redirectErrorStream(true).redirectOutput(logFile.toFile()).start();
        try {
            Pattern listening = Pattern.compile("listening on (http://\\S+)");
            URI base = null;
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (base == null && System.nanoTime() < deadline && p.isAlive()) {
                Matcher m = listening.matcher(java.nio.file.Files.readString(logFile));
                if (m.find()) base = URI.create(m.group(1));
                else Thread.sleep(20);
            }
            assertNotNull(base, "the server printed where it listens:\n" + java.nio.file.Files.readString(logFile));
            Http http = new Http(base);
            OpenAiServerTest.waitFor(() -> {
                try {
                    return http.get("/health").statusCode() == 200;
                } catch (Exception e) {
                    return false;
                }
            });
            // Headers are back once the generation runs; then SIGTERM, then read the rest of the stream.
            HttpResponse<Stream<String>> r = http.client.send(
                    HttpRequest.newBuilder(base.resolve("/v1/chat/completions")).POST(
                            HttpRequest.BodyPublishers.ofString("{\"model\":\"fake-model\",\"messages\":"
                                    + "[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":50000,\"stream\":true}")).build(),
                    HttpResponse.BodyHandlers.ofLines());
            assertEquals(200, r.statusCode());
            p.destroy(); // SIGTERM
            List<String> data = r.body().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
            assertTrue(data.size() > 2, "tokens were streamed before the end");
            assertEquals("[DONE]", data.getLast());
            assertEquals("abort", Http.json(data.get(data.size() - 2)).get("choices").get(0).get("finish_reason").asText());
            assertTrue(p.waitFor(20, TimeUnit.SECONDS), "the server exited");
            String log = java.nio.file.Files.readString(logFile);
            assertEquals(0, p.exitValue(), "exit code after SIGTERM:\n" + log);
            assertTrue(log.contains("shutting down") && log.contains("stopped") && log.contains("exit 0"), log);
        } finally {
            p.destroyForcibly();
            java.nio.file.Files.deleteIfExists(logFile);
        }
    }

    @Test void aModelThatFailsToLoadGivesExitCodeOneAndSaysWhy() {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        java.io.PrintStream log = new java.io.PrintStream(bytes, true, StandardCharsets.UTF_8);
        int code = ServeLauncher.serve(ServerOptions.localhost(), () -> {
            throw new IllegalArgumentException("no config.json in /nowhere");
        }, log, new CountDownLatch(1));
        assertEquals(1, code);
        assertTrue(bytes.toString(StandardCharsets.UTF_8).contains("cannot load the model: no config.json in /nowhere"), bytes.toString());
    }

    @Test void aTakenPortGivesExitCodeOne() throws Exception {
        try (OpenAiServer first = OpenAiServer.start(ServerOptions.localhost())) {
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            ServerOptions same = new ServerOptions("127.0.0.1", first.port(), null, java.time.Duration.ofSeconds(1));
            int code = ServeLauncher.serve(same, () -> new FakeEngine(1, 1, 0, 64),
                    new java.io.PrintStream(bytes, true, StandardCharsets.UTF_8), new CountDownLatch(1));
            assertEquals(1, code);
            assertTrue(bytes.toString(StandardCharsets.UTF_8).contains("choose another --port"), bytes.toString());
        }
    }
}
