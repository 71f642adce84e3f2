package dev.twofour.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ConvertedModelCacheTest {
    @TempDir Path tmp;

    private Path prunedModel() throws Exception {
        Path dir = tmp.resolve("pruned");
        CheckpointCopy.copyMagnitudePruned(TestFiles.tinyModel(), dir, SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES);
        return dir;
    }

    @Test void convertsAPrunedModelAndReusesTheCache() throws Exception {
        Path dir = prunedModel();
        ModelConfig cfg = ModelConfig.load(dir);
        List<String> weights = WeightNames.linearWeights(cfg);
        ConvertedModelCache cache = ConvertedModelCache.forModel(dir, tmp.resolve("user-cache"));
        List<String> phases = new ArrayList<>();
        try (Checkpoint ck = Checkpoint.open(dir)) {
            assertEquals("no cache yet", cache.lookup(ck, weights).reason());
            try (ConvertedModel cm = cache.convert(ck, weights, (phase, done, total, w) -> phases.add(phase + done + "/" + total))) {
                assertFalse(cm.reused());
                assertEquals(dir.resolve(".twofour-cache/packed24-v1.safetensors"), cm.file());
                assertTrue(Files.exists(dir.resolve(".twofour-cache/.gitignore")));
                assertEquals(56, cm.packedWeights().size());
                assertTrue(phases.contains("check56/56") && phases.contains("pack56/56"), phases.toString());
                for (String w : weights) {
                    Packed24 p = cm.packed(w);
                    assertNotNull(p, w);
                    TensorView dense = ck.tensor(w);
                    assertEquals(-1, dense.data().mismatch(Sparse24.unpackTensor(p, w).data()), "exact round trip of " + w);
                    ConvertedModelCache.Decision d = cm.decision(w);
                    assertEquals(dense.byteSize(), d.denseBytes());
                    assertEquals(p.packedBytes(), d.packedBytes());
                    assertEquals(dense.byteSize() * 9 / 16, d.packedBytes(), "fp16: 1.125 bytes per weight");
                }
            }
            ConvertedModelCache.Lookup again = cache.lookup(ck, weights);
            assertTrue(again.hit(), again.reason());
            try (ConvertedModel cm = again.model()) {
                assertTrue(cm.reused());
                assertEquals(56, cm.packedWeights().size());
                String w = weights.get(5);
                assertEquals(-1, ck.tensor(w).data().mismatch(Sparse24.unpackTensor(cm.packed(w), w).data()));
            }
            // a different weight list does not match
            ConvertedModelCache.Lookup other = cache.lookup(ck, weights.subList(0, 7));
            assertFalse(other.hit());
            assertTrue(other.reason().contains("different set"), other.reason());
        }
    }

    @Test void denseModelKeepsEverythingDenseAndSaysWhy() throws Exception {
        Path dir = tmp.resolve("dense");
        CheckpointCopy.copy(TestFiles.tinyModel(), dir, SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES);
        List<String> weights = WeightNames.linearWeights(ModelConfig.load(dir));
        try (Checkpoint ck = Checkpoint.open(dir);
             ConvertedModel cm = ConvertedModelCache.forModel(dir, tmp.resolve("u")).loadOrConvert(ck, weights,
                     ConvertedModelCache.Progress.NONE)) {
            assertTrue(cm.packedWeights().isEmpty());
            for (ConvertedModelCache.Decision d : cm.decisions()) {
                assertFalse(d.packed());
                assertTrue(d.reason().startsWith("not 2:4"), d.reason());
                assertEquals(d.denseBytes(), d.packedBytes());
                assertNull(cm.packed(d.weight()));
            }
        }
    }

    @Test void aChangedCheckpointInvalidatesTheCache() throws Exception {
        Path dir = prunedModel();
        List<String> weights = WeightNames.linearWeights(ModelConfig.load(dir));
        ConvertedModelCache cache = ConvertedModelCache.forModel(dir, tmp.resolve("u"));
        try (Checkpoint ck = Checkpoint.open(dir)) {
            cache.convert(ck, weights, ConvertedModelCache.Progress.NONE).close();
            assertTrue(cache.lookup(ck, weights).hit());
        }
        // Touch the weights file: same bytes, newer time -> stale.
        Path st = dir.resolve("model.safetensors");
        Files.setLastModifiedTime(st, FileTime.fromMillis(Files.getLastModifiedTime(st).toMillis() + 5000));
        try (Checkpoint ck = Checkpoint.open(dir)) {
            ConvertedModelCache.Lookup l = cache.lookup(ck, weights);
            assertFalse(l.hit());
            assertTrue(l.reason().contains("model.safetensors: mtime_ns differs"), l.reason());
            try (ConvertedModel cm = cache.loadOrConvert(ck, weights, ConvertedModelCache.Progress.NONE)) {
                assertFalse(cm.reused(), "rebuilt");
            }
            assertTrue(cache.lookup(ck, weights).hit(), "valid again after the rebuild");
        }
        // Rewrite the checkpoint with one weight made dense again: the rebuilt cache packs one fewer.
        Path dense = tmp.resolve("dense-src");
        CheckpointCopy.copy(TestFiles.tinyModel(), dense, SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES);
        String w0 = weights.get(0);
        try (Checkpoint original = Checkpoint.open(dense)) {
            TensorView denseW0 = original.tensor(w0);
            Path staging = tmp.resolve("staging");
            CheckpointCopy.copy(dir, staging, SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES,
                    t -> t.name().equals(w0) ? denseW0 : t);
            Files.move(staging.resolve("model.safetensors"), st, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        Files.setLastModifiedTime(st, FileTime.fromMillis(Files.getLastModifiedTime(st).toMillis() + 9000));
        try (Checkpoint ck = Checkpoint.open(dir)) {
            assertFalse(cache.lookup(ck, weights).hit());
            try (ConvertedModel cm = cache.loadOrConvert(ck, weights, ConvertedModelCache.Progress.NONE)) {
                assertEquals(55, cm.packedWeights().size());
                assertFalse(cm.isPacked(w0));
            }
        }
    }

    @Test void corruptCacheIsRebuiltAndReadOnlyModelDirsUseTheUserCache() throws Exception {
        Path dir = prunedModel();
        List<String> weights = WeightNames.linearWeights(ModelConfig.load(dir));
        Path userRoot = tmp.resolve("user");
        ConvertedModelCache cache = ConvertedModelCache.forModel(dir, userRoot);
        try (Checkpoint ck = Checkpoint.open(dir)) {
            cache.convert(ck, weights, ConvertedModelCache.Progress.NONE).close();
            Path f = cache.modelDirFile();
            byte[] b = Files.readAllBytes(f);
            Files.write(f, java.util.Arrays.copyOf(b, b.length / 2)); // truncated
            ConvertedModelCache.Lookup l = cache.lookup(ck, weights);
            assertFalse(l.hit());
            assertTrue(l.reason().contains("unreadable"), l.reason());
            Files.delete(f);

            ConvertedModelCache ro = cache.withReadOnlyModelDir();
            assertTrue(ro.writeLocation().startsWith(userRoot.resolve("converted")), ro.writeLocation().toString());
            assertTrue(ro.writeLocation().getParent().getFileName().toString().startsWith("pruned-"));
            try (ConvertedModel cm = ro.convert(ck, weights, ConvertedModelCache.Progress.NONE)) {
                assertEquals(ro.userCacheFile(), cm.file());
            }
            ConvertedModelCache.Lookup fromUser = cache.lookup(ck, weights);
            assertTrue(fromUser.hit(), "found in the user cache: " + fromUser.reason());
            fromUser.model().close();
        }
    }

    @Test void aDirectoryWithoutWriteBitsIsLeftAlone() throws Exception {
        Path dir = prunedModel();
        ConvertedModelCache cache = ConvertedModelCache.forModel(dir, tmp.resolve("user"));
        assertEquals(cache.modelDirFile(), cache.writeLocation());
        var perms = Files.getPosixFilePermissions(dir);
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            assertEquals(cache.userCacheFile(), cache.writeLocation(), "even for root");
        } finally {
            Files.setPosixFilePermissions(dir, perms);
        }
    }
}
