package dev.twofour.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes safetensors files and checkpoint directories that {@link SafetensorsFile}, the Python
 * {@code safetensors} package and Hugging Face transformers read.
 *
 * <p>Atomic: every file is written to a temporary file in the destination directory, forced to
 * disk, then renamed over the destination, so a reader sees the old file or the complete new one.
 * For a sharded checkpoint all shards are written to temporary files first, then renamed, and the
 * index is renamed last; files of the previous checkpoint in that directory that the new one does
 * not use ({@code model.safetensors}, shards of an old index, the old index) are deleted after.
 *
 * <p>Layout: data is ordered by element size (largest first) then name, so every tensor starts at
 * an offset aligned to its element size; the header is padded with spaces to a multiple of 8 bytes.
 * {@code __metadata__} always has {@code "format": "pt"} unless the caller sets another format
 * (transformers refuses safetensors files without it).
 */
public final class SafetensorsWriter {
    private SafetensorsWriter() {}

    /** Shard size limit transformers uses by default ("5GB"). */
    public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;

    private static final int COPY_CHUNK = 64 << 20;

    /** Writes one safetensors file atomically. */
    public static void writeFile(Path file, List<TensorView> tensors, Map<String, String> metadata) throws IOException {
        List<TensorView> ordered = ordered(tensors);
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = tempFile(dir, file.getFileName().toString());
        try {
            writeTo(tmp, ordered, metadata);
            moveAtomically(tmp, file);
        } catch (IOException | RuntimeException | Error e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        fsyncDirectory(dir);
    }

    /**
     * Writes a checkpoint directory: {@code model.safetensors} when all tensors fit in
     * {@code maxShardBytes}, else {@code model-0000i-of-0000n.safetensors} shards (a tensor larger than
     * the limit gets a shard of its own) and {@code model.safetensors.index.json} with
     * {@code metadata.total_size} and {@code weight_map}. Other files in {@code dir} (config.json,
     * tokenizer) are left alone.
     * @return the safetensors files written, in shard order
     */
    public static List<Path> writeCheckpoint(Path dir, List<TensorView> tensors, Map<String, String> metadata,
                                             long maxShardBytes) throws IOException {
        if (maxShardBytes <= 0) throw new IllegalArgumentException("maxShardBytes must be > 0, got " + maxShardBytes);
        List<TensorView> ordered = ordered(tensors);
        Files.createDirectories(dir);
        Set<String> oldFiles = previousCheckpointFiles(dir);

        // Greedy split in data order.
        List<List<TensorView>> shards = new ArrayList<>();
        List<TensorView> current = new ArrayList<>();
        long currentBytes = 0, totalBytes = 0;
        for (TensorView t : ordered) {
            if (!current.isEmpty() && currentBytes + t.byteSize() > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(t);
            currentBytes += t.byteSize();
            totalBytes += t.byteSize();
        }
        shards.add(current);

        List<String> names = new ArrayList<>();
        if (shards.size() == 1) {
            names.add(Checkpoint.SINGLE_FILE);
        } else {
            for (int i = 0; i < shards.size(); i++) {
                names.add(String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size()));
            }
        }
        List<Path> temps = new ArrayList<>();
        try {
            for (int i = 0; i < shards.size(); i++) {
                Path tmp = tempFile(dir, names.get(i));
                temps.add(tmp);
                writeTo(tmp, shards.get(i), metadata);
            }
            Path indexTmp = null;
            if (shards.size() > 1) {
                ObjectNode index = SafetensorsFile.JSON.createObjectNode();
                index.putObject("metadata").put("total_size", totalBytes);
                ObjectNode map = index.putObject("weight_map");
                Map<String, String> sorted = new TreeMap<>();
                for (int i = 0; i < shards.size(); i++) for (TensorView t : shards.get(i)) sorted.put(t.name(), names.get(i));
                sorted.forEach(map::put);
                indexTmp = tempFile(dir, Checkpoint.INDEX_FILE);
                temps.add(indexTmp);
                try (FileChannel ch = FileChannel.open(indexTmp, StandardOpenOption.WRITE)) {
                    byte[] json = SafetensorsFile.JSON.writerWithDefaultPrettyPrinter()
                            .writeValueAsString(index).concat("\n").getBytes(StandardCharsets.UTF_8);
                    writeFully(ch, ByteBuffer.wrap(json));
                    ch.force(true);
                }
            }
            for (int i = 0; i < shards.size(); i++) moveAtomically(temps.get(i), dir.resolve(names.get(i)));
            if (indexTmp != null) moveAtomically(indexTmp, dir.resolve(Checkpoint.INDEX_FILE));
        } catch (IOException | RuntimeException | Error e) {
            for (Path t : temps) Files.deleteIfExists(t);
            throw e;
        }
        Set<String> keep = new HashSet<>(names);
        if (shards.size() > 1) keep.add(Checkpoint.INDEX_FILE);
        for (String old : oldFiles) if (!keep.contains(old)) Files.deleteIfExists(dir.resolve(old));
        fsyncDirectory(dir);
        List<Path> out = new ArrayList<>();
        for (String n : names) out.add(dir.resolve(n));
        return out;
    }

    /** The safetensors files and index of a checkpoint already in {@code dir}. */
    private static Set<String> previousCheckpointFiles(Path dir) {
        Set<String> old = new HashSet<>();
        if (Files.exists(dir.resolve(Checkpoint.SINGLE_FILE))) old.add(Checkpoint.SINGLE_FILE);
        Path index = dir.resolve(Checkpoint.INDEX_FILE);
        if (Files.exists(index)) {
            old.add(Checkpoint.INDEX_FILE);
            try {
                JsonNode map = SafetensorsFile.JSON.readTree(Files.readString(index)).get("weight_map");
                if (map != null) {
                    for (JsonNode v : map) {
                        String n = v.asText();
                        // only plain file names in this directory
                        if (n.endsWith(".safetensors") && Path.of(n).getNameCount() == 1 && !n.startsWith(".")) old.add(n);
                    }
                }
            } catch (IOException | RuntimeException e) {
                // An unreadable old index: it is replaced or deleted; its shards are left in place.
            }
        }
        return old;
    }

    /** Validated and in data order: element size descending (keeps every tensor aligned), then name. */
    private static List<TensorView> ordered(List<TensorView> tensors) {
        Set<String> seen = new HashSet<>();
        for (TensorView t : tensors) {
            if (t.name().equals(SafetensorsFile.METADATA_KEY) || t.name().isEmpty()) {
                throw new IllegalArgumentException("tensor name '" + t.name() + "' is not allowed in safetensors");
            }
            if (!seen.add(t.name())) throw new IllegalArgumentException("tensor '" + t.name() + "' is given twice");
        }
        List<TensorView> ordered = new ArrayList<>(tensors);
        ordered.sort(Comparator.comparingInt((TensorView t) -> -t.dtype().byteSize()).thenComparing(TensorView::name));
        return ordered;
    }

    private static void writeTo(Path tmp, List<TensorView> tensors, Map<String, String> metadata) throws IOException {
        ObjectNode header = SafetensorsFile.JSON.createObjectNode();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        if (metadata != null) meta.putAll(metadata);
        ObjectNode m = header.putObject(SafetensorsFile.METADATA_KEY);
        meta.forEach(m::put);
        long offset = 0;
        for (TensorView t : tensors) {
            ObjectNode e = header.putObject(t.name());
            e.put("dtype", t.dtype().safetensorsName());
            ArrayNode shape = e.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            e.putArray("data_offsets").add(offset).add(offset + t.byteSize());
            offset += t.byteSize();
        }
        byte[] json = SafetensorsFile.JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            writeFully(ch, head);
            for (TensorView t : tensors) {
                MemorySegment data = t.data();
                for (long pos = 0; pos < data.byteSize(); pos += COPY_CHUNK) {
                    long len = Math.min(COPY_CHUNK, data.byteSize() - pos);
                    writeFully(ch, data.asSlice(pos, len).asByteBuffer());
                }
            }
            ch.force(true);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    /** An empty temporary file next to {@code finalName}, hidden, with a name no one else uses. */
    static Path tempFile(Path dir, String finalName) throws IOException {
        String name = "." + finalName + ".tmp-" + ProcessHandle.current().pid() + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong());
        return Files.createFile(dir.resolve(name));
    }

    static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Makes the renames durable (POSIX: fsync the directory); a no-op where directories cannot be opened. */
    static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Not supported on this platform/file system; the data files themselves were forced.
        }
    }
}
