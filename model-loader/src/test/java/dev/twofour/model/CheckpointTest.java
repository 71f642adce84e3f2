package dev.twofour.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class CheckpointTest {
    @TempDir Path tmp;

    private void writeShards() throws Exception {
        TestFiles.write(tmp, "model-00001-of-00002.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", TestFiles.seq(8));
        TestFiles.write(tmp, "model-00002-of-00002.safetensors",
                "{\"b\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                        + "\"c\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[8,11]}}", TestFiles.seq(11));
    }

    @Test void shardedCheckpoint() throws Exception {
        writeShards();
        Files.writeString(tmp.resolve(Checkpoint.INDEX_FILE), "{\"metadata\":{\"total_size\":19},\"weight_map\":"
                + "{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00002-of-00002.safetensors\","
                + "\"c\":\"model-00002-of-00002.safetensors\"}}");
        try (Checkpoint c = Checkpoint.open(tmp)) {
            assertEquals(List.of("a", "b", "c"), c.names());
            assertEquals(2, c.files().size());
            assertArrayEquals(new long[]{2, 2}, c.tensor("b").shape());
            assertEquals(19, c.totalTensorBytes());
            assertEquals("model-00002-of-00002.safetensors", c.fileOf("c").path().getFileName().toString());
            assertThrows(IllegalArgumentException.class, () -> c.tensor("zzz"));
        }
    }

    @Test void indexAndShardsThatDisagreeAreReported() throws Exception {
        writeShards();
        Path index = tmp.resolve(Checkpoint.INDEX_FILE);
        Files.writeString(index, "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                + "\"b\":\"model-00002-of-00002.safetensors\"}}");
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Checkpoint.open(tmp));
        assertEquals("c", e.tensor());
        assertTrue(e.getMessage().contains("not listed"), e.getMessage());

        Files.writeString(index, "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                + "\"b\":\"model-00002-of-00002.safetensors\",\"c\":\"model-00002-of-00002.safetensors\","
                + "\"d\":\"model-00003-of-00002.safetensors\"}}");
        e = assertThrows(SafetensorsException.class, () -> Checkpoint.open(tmp));
        assertTrue(e.getMessage().contains("model-00003-of-00002.safetensors") && e.getMessage().contains("missing"),
                e.getMessage());

        Files.writeString(index, "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                + "\"b\":\"model-00001-of-00002.safetensors\",\"c\":\"model-00002-of-00002.safetensors\"}}");
        e = assertThrows(SafetensorsException.class, () -> Checkpoint.open(tmp));
        assertEquals("b", e.tensor());

        Files.writeString(index, "{\"weight_map\":{\"a\":\"../x.safetensors\"}}");
        e = assertThrows(SafetensorsException.class, () -> Checkpoint.open(tmp));
        assertTrue(e.getMessage().contains("file name"), e.getMessage());

        Files.writeString(index, "{\"weight_map\":");
        e = assertThrows(SafetensorsException.class, () -> Checkpoint.open(tmp));
        assertTrue(e.getMessage().contains("JSON"), e.getMessage());
    }

    @Test void singleFileAndDirectFileAndMissing() throws Exception {
        try (Checkpoint c = Checkpoint.open(TestFiles.tinyModel())) {
            assertEquals(74, c.names().size());
        }
        try (Checkpoint c = Checkpoint.open(TestFiles.tinyModel().resolve("model.safetensors"))) {
            assertTrue(c.contains("model.norm.weight"));
        }
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> Checkpoint.open(tmp));
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
        assertThrows(NoSuchFileException.class, () -> Checkpoint.open(tmp.resolve("absent")));
    }
}
