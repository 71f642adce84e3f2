package dev.twofour.cli;

import dev.twofour.model.CheckpointCopy;
import dev.twofour.model.SafetensorsWriter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code --sparse auto|on|off} of generate, chat and eval ppl on the embedded model and a pruned copy (CPU backend). */
class SparseOptionTest {
    @TempDir static Path tmp;
    static Path pruned;

    @BeforeAll static void prunedModel() throws Exception {
        Path repo = Path.of(System.getProperty("twofour.repo", "..")).toAbsolutePath().normalize();
        System.setProperty("twofour.home", repo.toString());
        pruned = tmp.resolve("tiny-2of4");
        CheckpointCopy.copyMagnitudePruned(repo.resolve("models/tiny-llama-8m"), pruned, SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES);
    }

    static RuntimeCommandsTest.Run run(String... args) {
        return RuntimeCommandsTest.run(args);
    }

    @Test void onNeedsA24ModelAndSaysWhichWeightIsNot() {
        RuntimeCommandsTest.Run r = run("generate", "--prompt", "Once", "--max-tokens", "3", "--backend", "cpu", "--sparse", "on");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("--sparse on, but 56 of 56 linear weights") && r.err().contains("model.layers.0.self_attn.q_proj.weight")
                && r.err().contains("twofour prune"), r.err());
    }

    @Test void badValuesAndContradictionsAreUsageErrors() {
        RuntimeCommandsTest.Run bad = run("generate", "--prompt", "x", "--backend", "cpu", "--sparse", "half");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("auto, on or off"), bad.err());
        RuntimeCommandsTest.Run both = run("generate", "--prompt", "x", "--backend", "cpu", "--dense", "--sparse", "on");
        assertEquals(2, both.code());
        assertTrue(both.err().contains("--dense and --sparse on"), both.err());
    }

    @Test void aPrunedModelRuns24UnlessOff() {
        RuntimeCommandsTest.Run auto = run("generate", "--model", pruned.toString(), "--prompt", "Once upon a time", "--max-tokens", "6",
                "--backend", "cpu");
        assertEquals(0, auto.code(), auto.err());
        assertTrue(auto.err().contains("2:4: 56 of 56 linear weights"), auto.err());
        RuntimeCommandsTest.Run on = run("generate", "--model", pruned.toString(), "--prompt", "Once upon a time", "--max-tokens", "6",
                "--backend", "cpu", "--sparse");
        assertEquals(0, on.code(), on.err());
        assertEquals(auto.out(), on.out());
        RuntimeCommandsTest.Run off = run("generate", "--model", pruned.toString(), "--prompt", "Once upon a time", "--max-tokens", "6",
                "--backend", "cpu", "--sparse", "off");
        assertEquals(0, off.code(), off.err());
        assertTrue(off.err().strip().endsWith("; dense"), off.err());
        RuntimeCommandsTest.Run dense = run("generate", "--prompt", "Once upon a time", "--max-tokens", "6", "--backend", "cpu");
        assertTrue(dense.err().strip().endsWith("; dense"), "the embedded model is dense: " + dense.err());
    }

    @Test void evalPplReportsThe24Layers() throws Exception {
        Path text = tmp.resolve("t.txt");
        Files.writeString(text, "Once upon a time there was a little girl.\n\nShe liked to play in the park with her dog.\n");
        RuntimeCommandsTest.Run r = run("eval", "ppl", "--model", pruned.toString(), "--text", text.toString(), "--ctx", "16",
                "--backend", "cpu", "--sparse", "on");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("2:4: 56 of 56 linear weights"), r.err());
        assertTrue(r.out().strip().matches("(?s).*ppl \\d+\\.\\d+"), r.out());
    }
}
