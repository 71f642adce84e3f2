package dev.twofour.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** bench decode / prefill / summary on the CPU with the tiny model, and their usage errors. */
class BenchDecodeCommandTest {
    private static final String TINY = Path.of(System.getProperty("twofour.repo", "..")).resolve("models/tiny-llama-8m").toString();

    private static int run(String... args) {
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(new StringWriter()));
        cl.setErr(new PrintWriter(new StringWriter()));
        return cl.execute(args);
    }

    @Test void decodeAndPrefillWriteTheirReportsAndTheSummaryReadsThem(@TempDir Path dir) throws Exception {
        assertEquals(0, run("bench", "decode", "--backend", "cpu", "--model", TINY, "--threads", "2", "--batch", "1,2", "--prompt-len", "4",
                "--gen", "3", "--reps", "1", "--warmup", "1", "--out", dir.resolve("decode").toString()));
        String md = Files.readString(dir.resolve("decode/decode.md"));
        assertTrue(md.contains("| 2:4 | 2 |") && md.contains("| dense | 1 |"), md);
        assertTrue(Files.readString(dir.resolve("decode/decode.json")).contains("\"batch\" : 2"));
        assertEquals(0, run("bench", "prefill", "--backend", "cpu", "--model", TINY, "--threads", "2", "--lengths", "9,20", "--reps", "1",
                "--out", dir.resolve("prefill").toString()));
        assertTrue(Files.readString(dir.resolve("prefill/prefill.md")).contains("| 2:4 | 20 |"));
        assertEquals(0, run("bench", "decode", "--from", dir.resolve("decode/decode.json").toString(), "--out", dir.resolve("again").toString()));
        assertTrue(Files.exists(dir.resolve("again/decode.csv")));
        assertEquals(0, run("bench", "summary", dir.toString(), "--out", dir.resolve("headline.md").toString()));
        assertTrue(Files.readString(dir.resolve("headline.md")).contains("**Decode, dense vs 2:4**"));
    }

    @Test void memoryTableNeedsNoGpu(@TempDir Path dir) throws Exception {
        assertEquals(0, run("bench", "decode", "--preset", "llama2-70b", "--memory-table", "--batch", "1", "--out", dir.toString()));
        String md = Files.readString(dir.resolve("memory.md"));
        assertTrue(md.contains("| **weights** (of which 2:4 metadata: 7.97 GiB) | **128.48 GiB** | **72.70 GiB** |"), md);
    }

    @Test void usageErrorsExitWith2() {
        assertEquals(2, run("bench", "decode", "--backend", "cpu", "--preset", "llama2-7b"), "presets need the GPU");
        assertEquals(2, run("bench", "decode", "--backend", "cpu", "--model", TINY, "--batch", "0"));
        assertEquals(2, run("bench", "decode", "--backend", "cpu", "--model", TINY, "--sparse", "maybe"));
        assertEquals(2, run("bench", "decode", "--model", TINY, "--preset", "llama2-7b"));
        assertEquals(2, run("bench", "prefill", "--backend", "cpu", "--model", TINY, "--lengths", "0"));
        assertEquals(2, run("demo", "--samples", "0"));
        assertEquals(2, run("bench", "gemm", "--shapes", "64x64", "--sweep-seconds", "0"), "the sweep needs time");
    }
}
