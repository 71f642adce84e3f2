package dev.twofour.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code generate}, {@code chat} and {@code eval ppl} on the embedded tiny model (CPU backend). */
class RuntimeCommandsTest {
    static Path repo;

    @BeforeAll static void home() {
        repo = Path.of(System.getProperty("twofour.repo", "..")).toAbsolutePath().normalize();
        System.setProperty("twofour.home", repo.toString());
    }

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test void generateStreamsTheGreedyContinuationOfTransformers() throws Exception {
        JsonNode c = new ObjectMapper().readTree(repo.resolve("runtime/src/test/resources/goldens/tiny-llama-8m/greedy.json").toFile())
                .get("cases").get(0);
        Run r = run("generate", "--prompt", c.get("prompt").asText(), "--max-tokens", "48", "--backend", "cpu");
        assertEquals(0, r.code(), r.err());
        assertEquals(c.get("text").asText() + System.lineSeparator(), r.out());
        assertTrue(r.err().contains("tok/s"), r.err());
    }

    @Test void generateStopsAtAStopString() {
        Run r = run("generate", "--prompt", "In the beginning God created", "--max-tokens", "48", "--stop", "Department", "--backend", "cpu");
        assertEquals(0, r.code(), r.err());
        assertEquals(" us, he was a member of the " + System.lineSeparator(), r.out());
    }

    @Test void badFlagsAreUsageErrorsAndCudaIsAClearFailure() {
        assertEquals(2, run("generate", "--prompt", "x", "--top-p", "0").code());
        assertEquals(2, run("generate").code());
        Run cuda = run("generate", "--prompt", "x", "--backend", "cuda");
        assertEquals(1, cuda.code());
        assertTrue(cuda.err().contains("the CUDA backend cannot run here"), cuda.err());
    }

    @Test void presetNeedsTheGpuAndBadPresetFlagsAreUsageErrors() {
        assertEquals(2, run("generate", "--prompt", "x", "--sparse", "both").code(), "--sparse takes auto, on or off");
        assertEquals(2, run("generate", "--prompt", "x", "--preset", "llama9-1t").code(), "unknown preset");
        Run cpu = run("generate", "--prompt", "x", "--preset", "llama2-7b", "--backend", "cpu");
        assertEquals(1, cpu.code());
        assertTrue(cpu.err().contains("--preset needs the CUDA backend"), cpu.err());
        if (!dev.twofour.cuda.Cuda.isAvailable()) {
            Run auto = run("generate", "--prompt", "x", "--preset", "llama2-7b");
            assertEquals(1, auto.code());
            assertTrue(auto.err().contains("no usable GPU"), auto.err());
        }
    }

    @Test void evalPplEndsWithThePplLine(@TempDir Path tmp) throws Exception {
        Path text = tmp.resolve("t.txt");
        Files.writeString(text, "In the beginning God created the heaven and the earth.\n\nAnd the earth was without form, and void.\n");
        Run r = run("eval", "ppl", "--text", text.toString(), "--ctx", "16", "--backend", "cpu");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\\R");
        String last = lines[lines.length - 1];
        assertTrue(last.matches("ppl \\d+\\.\\d+"), r.out());
        double ppl = Double.parseDouble(last.substring(4));
        assertTrue(ppl > 1 && ppl < 10000, last);
        assertTrue(r.err().contains("windows"), r.err());
        assertEquals(1, run("eval", "ppl", "--text", tmp.resolve("missing.txt").toString(), "--backend", "cpu").code());
    }

    @Test void chatAnswersEachLineAndEndsOnExit() {
        InputStream old = System.in;
        try {
            System.setIn(new ByteArrayInputStream("Hello there\nAnd then?\n/exit\nnot read\n".getBytes(StandardCharsets.UTF_8)));
            Run r = run("chat", "--max-tokens", "8", "--backend", "cpu");
            assertEquals(0, r.code(), r.err());
            assertEquals(2, r.out().split("\\R").length, r.out());
        } finally {
            System.setIn(old);
        }
    }
}
