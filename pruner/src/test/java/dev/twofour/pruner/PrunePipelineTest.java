package dev.twofour.pruner;

import dev.twofour.model.Checkpoint;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.SafetensorsFile;
import dev.twofour.model.Sparse24;
import dev.twofour.model.WeightNames;
import dev.twofour.runtime.Transformer;
import dev.twofour.runtime.cpu.CpuBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** End to end on the embedded tiny model with a few short calibration sequences. */
class PrunePipelineTest {
    static Path repo() { return Path.of(System.getProperty("twofour.repo", "..")); }

    static Path tinyModel() { return repo().resolve("models/tiny-llama-8m"); }

    static Path calibration(Path dir) throws IOException {
        // A small calibration text of our own (the shared data is not part of the repo).
        StringBuilder sb = new StringBuilder();
        String[] words = {"the", "king", "said", "unto", "them", "and", "it", "was", "good", "in", "beginning", "of", "water", "light", "day", "night"};
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(3);
        for (int d = 0; d < 40; d++) {
            for (int w = 0; w < 60; w++) sb.append(words[rnd.nextInt(words.length)]).append(w % 12 == 11 ? ". " : " ");
            sb.append("\n\n");
        }
        Path f = dir.resolve("calib.txt");
        Files.writeString(f, sb.toString());
        return f;
    }

    @Test
    void proxWithRefineWritesAValid24CheckpointThatLoads(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("pruned");
        PruneSettings s = PruneSettings.of(Method.PROX, true).withSchedule(new ProxSchedule(0.01, 1.3, 40)).withRefineIterations(5);
        PruneReport r = Pruner.run(new PruneRequest(tinyModel(), calibration(tmp), out, s, 3, 32, 7, "cpu", false), PruneProgress.NONE);
        ModelConfig cfg = ModelConfig.load(tinyModel());
        assertEquals(7 * cfg.numLayers(), r.layers().size());
        assertEquals(3 * 32, r.calibrationTokens());
        for (PruneReport.Layer l : r.layers()) {
            assertTrue(l.lossAfter() <= l.lossBefore() * (1 + 1e-6), l.name() + ": refinement does not raise the local loss");
        }
        assertTrue(Files.isRegularFile(out.resolve("config.json")));
        assertTrue(Files.isRegularFile(out.resolve("tokenizer.json")));
        assertTrue(Files.isRegularFile(out.resolve(PrunedCheckpoint.REPORT_FILE)));
        try (Checkpoint ck = Checkpoint.open(out); Checkpoint src = Checkpoint.open(tinyModel())) {
            assertEquals(Set(src.names()), Set(ck.names()));
            for (String w : WeightNames.linearWeights(cfg)) {
                assertTrue(Sparse24.check(ck.tensor(w)).is24(), w + " is 2:4");
                assertEquals(src.tensor(w).dtype(), ck.tensor(w).dtype());
            }
            // Untouched tensors are copied bit for bit.
            float[] a = src.tensor(WeightNames.EMBED_TOKENS).toFloatArray(), b = ck.tensor(WeightNames.EMBED_TOKENS).toFloatArray();
            assertArrayEquals(a, b);
            Map<String, String> meta = ck.files().getFirst().metadata();
            assertEquals("prox", meta.get("twofour.prune.method"));
            assertEquals("true", meta.get("twofour.prune.refine"));
            assertEquals("pt", meta.get("format"));
        }
        // The runtime loads it (and packs every linear layer as 2:4).
        try (CpuBackend b = new CpuBackend(2); Transformer t = Transformer.load(out, b, Transformer.Options.defaults())) {
            float[] logits = t.logitsFromHidden(t.runBlock(0, t.embed(new int[]{0, 5, 9}), 3, null), 3);
            for (float v : logits) assertTrue(Float.isFinite(v));
        }
        assertNoTemporaryDirectories(tmp);
    }

    @Test
    void failureLeavesNoOutputAndNoTemporaryDirectory(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("pruned");
        PruneSettings s = PruneSettings.of(Method.MAGNITUDE, false);
        PruneProgress failing = (layer, layers, done, total, label) -> {
            if (layer == 1) throw new IllegalStateException("interrupted for the test");
        };
        assertThrows(IllegalStateException.class,
                () -> Pruner.run(new PruneRequest(tinyModel(), calibration(tmp), out, s, 2, 16, 1, "cpu", false), failing));
        assertFalse(Files.exists(out));
        assertNoTemporaryDirectories(tmp);
    }

    @Test
    void refusesToOverwriteWithoutForceAndReplacesWithIt(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("pruned");
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "not a model");
        PruneSettings s = PruneSettings.of(Method.WANDA, false);
        Path calib = calibration(tmp);
        assertThrows(java.nio.file.FileAlreadyExistsException.class,
                () -> Pruner.run(new PruneRequest(tinyModel(), calib, out, s, 2, 16, 1, "cpu", false), PruneProgress.NONE));
        assertTrue(Files.exists(out.resolve("keep.txt")), "the existing directory is untouched");
        Pruner.run(new PruneRequest(tinyModel(), calib, out, s, 2, 16, 1, "cpu", true), PruneProgress.NONE);
        assertFalse(Files.exists(out.resolve("keep.txt")));
        assertTrue(Files.exists(out.resolve("model.safetensors")));
        try (SafetensorsFile f = SafetensorsFile.open(out.resolve("model.safetensors"))) {
            assertEquals("wanda", f.metadata().get("twofour.prune.method"));
        }
    }

    @Test
    void cudaBackendWithoutAGpuIsRefusedWithAReason(@TempDir Path tmp) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(CudaPruneEngine.unavailableReason() != null, "a GPU is here: PruneCudaPipelineGpuTest covers it");
        PruneSettings s = PruneSettings.of(Method.PROX, false);
        Exception e = assertThrows(IllegalArgumentException.class,
                () -> Pruner.run(new PruneRequest(tinyModel(), calibration(tmp), tmp.resolve("o"), s, 2, 16, 1, "cuda", false), PruneProgress.NONE));
        assertTrue(e.getMessage().contains("--backend cpu"), e.getMessage());
    }

    @Test
    void calibrationIsSeededAndHasTheRequestedShape(@TempDir Path tmp) throws Exception {
        var tok = dev.twofour.model.tokenizer.Tokenizer.load(tinyModel());
        Path f = calibration(tmp);
        int[][] a = Calibration.sample(f, tok, 5, 33, 11), b = Calibration.sample(f, tok, 5, 33, 11), c = Calibration.sample(f, tok, 5, 33, 12);
        assertEquals(5, a.length);
        for (int[] s : a) assertEquals(33, s.length);
        assertArrayEquals(a, b);
        assertFalse(java.util.Arrays.deepEquals(a, c));
        assertThrows(IllegalArgumentException.class, () -> Calibration.sample(f, tok, 1, 1_000_000, 1));
    }

    private static java.util.Set<String> Set(List<String> l) { return new java.util.TreeSet<>(l); }

    private static void assertNoTemporaryDirectories(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            List<String> left = s.map(p -> p.getFileName().toString()).filter(n -> n.contains(".tmp-")).toList();
            assertTrue(left.isEmpty(), "temporary directories left: " + left);
        }
    }
}
