package dev.twofour.model;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Hand-built safetensors bytes for tests (independent of SafetensorsWriter). */
final class TestFiles {
    private TestFiles() {}

    static Path repo() {
        return Path.of(System.getProperty("twofour.repo", "..")).toAbsolutePath().normalize();
    }

    /** The tiny model: the embedded copy in the repo if present, else the shared one. */
    static Path tinyModel() {
        Path embedded = repo().resolve("models/tiny-llama-8m");
        if (Files.isRegularFile(embedded.resolve("model.safetensors"))) return embedded;
        return Path.of("/work/shared/models/tiny-llama-8m");
    }

    /** 8-byte little-endian header length, the header, then the data. */
    static byte[] bytes(String headerJson, byte[] data) {
        byte[] h = headerJson.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        return b.array();
    }

    static Path write(Path dir, String name, String headerJson, byte[] data) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes(headerJson, data));
        return p;
    }

    static byte[] seq(int n) {
        byte[] d = new byte[n];
        for (int i = 0; i < n; i++) d[i] = (byte) (i * 7 + 3);
        return d;
    }
}
