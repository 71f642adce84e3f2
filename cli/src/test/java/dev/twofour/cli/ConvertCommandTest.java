package dev.twofour.cli;

import dev.twofour.model.CheckpointCopy;
import dev.twofour.model.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ConvertCommandTest {
    @TempDir Path tmp;

    static Path tinyModel() {
        Path repo = Path.of(System.getProperty("twofour.repo", "..")).toAbsolutePath().normalize();
        Path embedded = repo.resolve("models/tiny-llama-8m");
        return Files.isRegularFile(embedded.resolve("model.safetensors")) ? embedded : Path.of("/work/shared/models/tiny-llama-8m");
    }

    private static String[] run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new String[]{String.valueOf(code), out.toString(), err.toString()};
    }

    private static List<String> weightRows(String out) {
        return out.lines().filter(l -> l.startsWith("model.layers.")).toList();
    }

    @Test void denseTinyModelIsAllNo() throws Exception {
        Path dir = tmp.resolve("dense");
        CheckpointCopy.copy(tinyModel(), dir, SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES);
        String[] r = run("convert", "--model", dir.toString());
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].startsWith("tensor"), r[1]);
        List<String> rows = weightRows(r[1]);
        assertEquals(56, rows.size(), r[1]);
        for (String row : rows) {
            assertTrue(row.matches("\\S+\\s+\\[\\d+,\\d+]\\s+no\\s+(\\d+) -> \\1 \\(dense\\)\\s+kept dense: not 2:4: .*"), row);
        }
        assertTrue(rows.get(0).startsWith("model.layers.0.self_attn.q_proj.weight"), rows.get(0));
        assertTrue(r[1].contains("2:4: 0 of 56 linear weights packed, 56 kept dense"), r[1]);
        assertTrue(Files.exists(dir.resolve(".twofour-cache/packed24-v1.safetensors")));
        assertEquals("", r[2], "no progress bar for a small model");
    }

    @Test void prunedTinyModelIsAllYesWithAProgressBar() throws Exception {
        Path dir = tmp.resolve("pruned");
        CheckpointCopy.copyMagnitudePruned(tinyModel(), dir, SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES);
        String[] r = run("convert", "--model", dir.toString(), "--progress");
        assertEquals("0", r[0], r[2]);
        List<String> rows = weightRows(r[1]);
        assertEquals(56, rows.size());
        for (String row : rows) assertTrue(row.matches("\\S+\\s+\\[\\d+,\\d+]\\s+yes\\s+\\d+ -> \\d+"), row);
        // q_proj [256,256] fp16: 131072 bytes dense -> 65536 values + 8192 metadata
        assertTrue(rows.get(0).matches("model.layers.0.self_attn.q_proj.weight\\s+\\[256,256]\\s+yes\\s+131072 -> 73728"), rows.get(0));
        assertTrue(r[1].contains("2:4: 56 of 56 linear weights packed, 0 kept dense"), r[1]);
        assertTrue(r[1].contains("(1.778x)"), r[1]);
        assertTrue(r[1].contains("cache: " + dir.toAbsolutePath().resolve(".twofour-cache/packed24-v1.safetensors")), r[1]);
        assertTrue(r[2].contains("pack  56/56"), r[2]);
    }

    @Test void missingModelDirectoryFailsWithOneLine() {
        String[] r = run("convert", "--model", tmp.resolve("nope").toString());
        assertEquals("1", r[0]);
        assertTrue(r[2].startsWith("twofour: ") && r[2].contains("nope"), r[2]);
        assertEquals("2", run("convert", "--bogus")[0]);
    }
}
