package dev.twofour.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Writes the tiny model twice with our writer (one file; shards of at most 3 MB) for
 * tools/goldens/check_hf_loads.py. With {@code -Dtwofour.hfRoundtripOut=DIR} the copies go to
 * DIR/single and DIR/sharded (to carry to the GPU machine); otherwise to a temp dir.
 */
class HfRoundTripExportTest {
    @TempDir Path tmp;

    @Test void writeCopiesOfTheTinyModel() throws Exception {
        String prop = System.getProperty("twofour.hfRoundtripOut");
        Path out = prop != null ? Path.of(prop) : tmp;
        List<Path> single = CheckpointCopy.copy(TestFiles.tinyModel(), out.resolve("single"),
                SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES);
        List<Path> sharded = CheckpointCopy.copy(TestFiles.tinyModel(), out.resolve("sharded"), 3_000_000);
        assertEquals(1, single.size());
        assertTrue(sharded.size() >= 5, "16 MB in shards of 3 MB");
        for (String d : List.of("single", "sharded")) {
            try (Checkpoint ck = Checkpoint.open(out.resolve(d))) {
                ModelWeights.bind(ModelConfig.load(out.resolve(d)), ck);
            }
        }
    }
}
