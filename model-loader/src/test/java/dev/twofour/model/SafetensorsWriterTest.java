package dev.twofour.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class SafetensorsWriterTest {
    @TempDir Path tmp;

    static List<TensorView> randomTensors(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<TensorView> out = new ArrayList<>();
        DType[] types = DType.values();
        for (int i = 0; i < 23; i++) {
            DType dt = types[i % types.length];
            long[] shape = switch (i % 4) {
                case 0 -> new long[]{1 + r.nextInt(9), 1 + r.nextInt(13)};
                case 1 -> new long[]{1 + r.nextInt(40)};
                case 2 -> new long[]{};
                default -> new long[]{2, 0, 3}; // empty tensor
            };
            byte[] data = new byte[(int) (TensorView.numelOf(shape) * dt.byteSize())];
            for (int j = 0; j < data.length; j++) data[j] = (byte) r.nextInt(256);
            out.add(new TensorView("t" + i + "." + dt.name().toLowerCase(), dt, shape, MemorySegment.ofArray(data)));
        }
        return out;
    }

    static void assertSameTensors(List<TensorView> expected, Checkpoint ck) {
        assertEquals(expected.size(), ck.names().size());
        for (TensorView e : expected) {
            TensorView a = ck.tensor(e.name());
            assertEquals(e.dtype(), a.dtype(), e.name());
            assertArrayEquals(e.shape(), a.shape(), e.name());
            assertEquals(-1, e.data().mismatch(a.data()), "bytes of " + e.name());
            long align = a.data().address() - ck.fileOf(e.name()).tensor(e.name()).data().address();
            assertEquals(0, align);
        }
    }

    private List<String> listDir(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test void singleFileRoundTripWithMetadataAndAlignment() throws Exception {
        List<TensorView> ts = randomTensors(1);
        Path file = tmp.resolve("x.safetensors");
        SafetensorsWriter.writeFile(file, ts, Map.of("source", "test"));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Map.of("format", "pt", "source", "test"), f.metadata());
            long dataStart = Files.size(file) - f.totalTensorBytes();
            assertEquals(0, dataStart % 8, "header padded to 8 bytes");
            for (String n : f.tensorNames()) {
                TensorView v = f.tensor(n);
                long offsetInFile = v.data().address() - f.tensor(f.tensorNames().get(0)).data().address() + dataStart;
                assertEquals(0, offsetInFile % v.dtype().byteSize(), "tensor " + n + " aligned to its element size");
            }
        }
        try (Checkpoint ck = Checkpoint.open(file)) {
            assertSameTensors(ts, ck);
        }
        assertEquals(List.of("x.safetensors"), listDir(tmp), "no temporary files left");
    }

    @Test void shardedRoundTripAndIndex() throws Exception {
        List<TensorView> ts = randomTensors(2);
        long total = ts.stream().mapToLong(TensorView::byteSize).sum();
        List<Path> files = SafetensorsWriter.writeCheckpoint(tmp, ts, Map.of(), 100);
        assertTrue(files.size() > 3, "split into several shards");
        assertEquals(String.format("model-00001-of-%05d.safetensors", files.size()), files.get(0).getFileName().toString());
        var index = SafetensorsFile.JSON.readTree(Files.readString(tmp.resolve(Checkpoint.INDEX_FILE)));
        assertEquals(total, index.get("metadata").get("total_size").asLong());
        assertEquals(ts.size(), index.get("weight_map").size());
        for (Path f : files) {
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                assertTrue(sf.totalTensorBytes() <= 100 || sf.tensorNames().size() == 1, f + " respects the limit");
            }
        }
        try (Checkpoint ck = Checkpoint.open(tmp)) {
            assertEquals(files.size(), ck.files().size());
            assertSameTensors(ts, ck);
        }
        // Rewriting as a single file removes the shards and the index.
        SafetensorsWriter.writeCheckpoint(tmp, ts, Map.of(), SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES);
        assertEquals(List.of("model.safetensors"), listDir(tmp));
        try (Checkpoint ck = Checkpoint.open(tmp)) {
            assertSameTensors(ts, ck);
        }
        // And sharded again removes the single file.
        SafetensorsWriter.writeCheckpoint(tmp, ts, Map.of(), 200);
        assertFalse(Files.exists(tmp.resolve("model.safetensors")));
        try (Checkpoint ck = Checkpoint.open(tmp)) {
            assertSameTensors(ts, ck);
        }
    }

    @Test void tinyModelRoundTripsThroughTheWriter() throws Exception {
        Path out = tmp.resolve("copy");
        CheckpointCopy.copy(TestFiles.tinyModel(), out, 3_000_000);
        assertTrue(Files.exists(out.resolve("config.json")) && Files.exists(out.resolve("tokenizer.json")));
        try (Checkpoint a = Checkpoint.open(TestFiles.tinyModel()); Checkpoint b = Checkpoint.open(out)) {
            assertTrue(b.files().size() > 1);
            List<TensorView> ts = a.names().stream().map(a::tensor).toList();
            assertSameTensors(ts, b);
            ModelWeights.bind(ModelConfig.load(out), b);
        }
    }

    @Test void aFailedWriteLeavesTheOldFileAndNoTemporaries() throws Exception {
        Path file = tmp.resolve("m.safetensors");
        List<TensorView> good = randomTensors(3);
        SafetensorsWriter.writeFile(file, good, Map.of());
        byte[] before = Files.readAllBytes(file);
        Arena arena = Arena.ofConfined();
        MemorySegment seg = arena.allocate(64);
        seg.fill((byte) 5);
        List<TensorView> bad = new ArrayList<>(good);
        bad.add(new TensorView("zz.dead", DType.U8, new long[]{64}, seg));
        arena.close(); // the data vanishes before the writer reads it
        assertThrows(IllegalStateException.class, () -> SafetensorsWriter.writeFile(file, bad, Map.of()));
        assertArrayEquals(before, Files.readAllBytes(file));
        assertEquals(List.of("m.safetensors"), listDir(tmp));
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.writeFile(file,
                List.of(good.get(0), good.get(0)), Map.of()), "duplicate names");
    }
}
