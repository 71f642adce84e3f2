package dev.twofour.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The official OpenAI Node SDK (npm package "openai", pinned in src/test/node/package-lock.json) as the
 * client of a real server on the tiny model: completions, chat, streaming, the SDK's stream helper and
 * its error mapping. The SDK is installed with {@code npm ci} into the build folder. Without node/npm
 * the test is skipped, except under CI (environment variable CI set), where it fails.
 */
class OpenAiNodeSdkTest {
    static final String MODEL = "tiny-llama-8m";
    static final String KEY = "sk-twofour-node-test";
    static OpenAiServer server;
    static RuntimeEngine engine;

    @BeforeAll static void start() throws Exception {
        Path repo = Path.of(System.getProperty("twofour.repo", "..")).toAbsolutePath().normalize();
        Path model = repo.resolve("models").resolve(MODEL);
        server = OpenAiServer.start(ServerOptions.localhost().withApiKey(KEY));
        engine = RuntimeEngine.open(EngineSettings.cpu(model, 8, 16), model, System.err);
        server.engineReady(engine);
    }

    @AfterAll static void stop() {
        if (server != null) server.shutdown();
        if (engine != null) engine.close();
    }

    @Test void theOfficialNodeSdkWorksAgainstTheServer() throws Exception {
        String node = executable("node");
        String npm = executable("npm");
        boolean ci = System.getenv("CI") != null && !System.getenv("CI").isBlank();
        if (node == null || npm == null) {
            String why = "node or npm is not installed (node: " + node + ", npm: " + npm + "); install Node.js 20+ to run this test";
            if (ci) fail(why + " — it is required under CI");
            Assumptions.abort(why);
        }
        Path dir = installClient(npm);
        Process p = new ProcessBuilder(node, "openai-client.mjs", server.baseUri() + "/v1", MODEL, KEY)
                .directory(dir.toFile()).redirectErrorStream(false).start();
        byte[] out = p.getInputStream().readAllBytes();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "node finished");
        String stdout = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "node failed:\n" + stdout + "\n" + err);
        JsonNode r = Http.json(stdout.lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b).orElseThrow());

        assertEquals(MODEL, r.get("models").get(0).asText());

        JsonNode c = r.get("completion");
        JsonNode cs = r.get("completionStream");
        assertFalse(c.get("text").asText().isEmpty());
        assertEquals(c.get("text").asText(), cs.get("text").asText(), "same seed: streamed == not streamed");
        assertEquals("length", c.get("finish_reason").asText());
        assertEquals("length", cs.get("finish_reason").asText());
        assertEquals(16, c.get("usage").get("completion_tokens").asInt());
        assertEquals(16, cs.get("usage").get("completion_tokens").asInt(), "stream_options.include_usage");
        assertEquals(c.get("usage").get("prompt_tokens").asInt() + 16, cs.get("usage").get("total_tokens").asInt());

        // The same request from Java gives the same text: the SDK sent what we think it sent.
        Http http = new Http(server.baseUri());
        http.apiKey = KEY;
        String javaText = Http.json(http.post("/v1/completions", "{\"model\":\"" + MODEL + "\",\"prompt\":\"In the beginning God created\","
                + "\"max_tokens\":16,\"temperature\":0.8,\"seed\":42}").body()).get("choices").get(0).get("text").asText();
        assertEquals(javaText, c.get("text").asText());

        JsonNode chat = r.get("chat");
        assertEquals("assistant", chat.get("role").asText());
        assertTrue(List.of("stop", "length").contains(chat.get("finish_reason").asText()));
        assertEquals(chat.get("text").asText(), r.get("chatStream").get("text").asText());
        assertEquals("assistant", r.get("chatStream").get("role").asText());
        assertEquals(chat.get("finish_reason").asText(), r.get("chatStream").get("finish_reason").asText());
        assertEquals(chat.get("text").asText(), r.get("chatStreamHelper").get("text").asText());

        JsonNode unknown = r.get("unknownModel");
        assertEquals(404, unknown.get("status").asInt(), unknown.toString());
        assertEquals("model_not_found", unknown.get("code").asText(), unknown.toString());
    }

    /** Copies the client into the build folder and runs {@code npm ci} there once per lock file. */
    static Path installClient(String npm) throws Exception {
        Path src = Path.of(System.getProperty("twofour.repo", "..")).resolve("server/src/test/node").toAbsolutePath().normalize();
        Path testClasses = Path.of(OpenAiNodeSdkTest.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path dir = testClasses.getParent().resolve("node-client");
        Files.createDirectories(dir);
        for (String f : List.of("package.json", "package-lock.json", "openai-client.mjs")) {
            Files.copy(src.resolve(f), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
        Path stamp = dir.resolve("node_modules/.twofour-lock");
        String lock = Files.readString(dir.resolve("package-lock.json"));
        if (Files.isRegularFile(stamp) && Files.readString(stamp).equals(lock) && Files.isDirectory(dir.resolve("node_modules/openai"))) {
            return dir;
        }
        Process p = new ProcessBuilder(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
                .directory(dir.toFile()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "npm ci finished");
        assertEquals(0, p.exitValue(), "npm ci failed in " + dir + ":\n" + log);
        Files.writeString(stamp, lock);
        return dir;
    }

    /** The path of a program on PATH (or /usr/bin), or null. */
    static String executable(String name) {
        String path = System.getenv("PATH");
        for (String d : (path == null ? "/usr/bin" : path + File.pathSeparator + "/usr/bin").split(File.pathSeparator)) {
            Path f = Path.of(d, name);
            if (Files.isExecutable(f)) return f.toString();
        }
        return null;
    }
}
