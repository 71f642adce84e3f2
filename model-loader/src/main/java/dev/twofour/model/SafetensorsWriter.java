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
        List<TensorSpec> specs = new ArrayList<>();
        for (TensorView t : tensors) specs.add(new TensorSpec(t.name(), t.dtype(), t.shape()));
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            Map<String, Long> offsets = writeHeader(ch, specs, metadata);
            for (TensorView t : tensors) writeAt(ch, offsets.get(t.name()), t.data());
            ch.force(true);
        }
    }

    /**
     * Writes the header for {@code specs} in that data order and returns each tensor's absolute
     * file offset.
     */
    private static Map<String, Long> writeHeader(FileChannel ch, List<TensorSpec> specs, Map<String, String> metadata)
            throws IOException {
        ObjectNode header = SafetensorsFile.JSON.createObjectNode();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        if (metadata != null) meta.putAll(metadata);
        ObjectNode m = header.putObject(SafetensorsFile.METADATA_KEY);
        meta.forEach(m::put);
        long offset = 0;
        Map<String, Long> relative = new LinkedHashMap<>();
        for (TensorSpec t : specs) {
            ObjectNode e = header.putObject(t.name());
            e.put("dtype", t.dtype().safetensorsName());
            ArrayNode shape = e.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            e.putArray("data_offsets").add(offset).add(offset + t.byteSize());
            relative.put(t.name(), offset);
            offset += t.byteSize();
        }
        byte[] json = SafetensorsFile.JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();
        writeFully(ch, head);
        Map<String, Long> absolute = new LinkedHashMap<>();
        relative.forEach((k, v) -> absolute.put(k, v + 8 + padded));
        // Size the file now so that positional writes may come in any order.
        if (offset > 0) {
            ByteBuffer last = ByteBuffer.allocate(1);
            ch.write(last, 8 + padded + offset - 1);
        }
        return absolute;
    }

    private static void writeAt(FileChannel ch, long position, MemorySegment data) throws IOException {
        for (long pos = 0; pos < data.byteSize(); pos += COPY_CHUNK) {
            long len = Math.min(COPY_CHUNK, data.byteSize() - pos);
            ByteBuffer b = data.asSlice(pos, len).asByteBuffer();
            long at = position + pos;
            while (b.hasRemaining()) at += ch.write(b, at);
        }
    }

    /** Name, dtype and shape of a tensor whose data comes later ({@link Streaming}). */
    public record TensorSpec(String name, DType dtype, long[] shape) {
        public TensorSpec {
            java.util.Objects.requireNonNull(name, "name");
            java.util.Objects.requireNonNull(dtype, "dtype");
            shape = shape.clone();
        }

        public long byteSize() { return Math.multiplyExact(TensorView.numelOf(shape), dtype.byteSize()); }
    }

    /**
     * One safetensors file written tensor by tensor, for outputs too large to hold in memory: the
     * header is fixed by {@link #begin}, {@link #write} puts each tensor's bytes at its place (any
     * order), {@link #commit} checks that all were written, forces and renames atomically. Closing
     * without commit deletes the temporary file and leaves any previous file untouched.
     */
    public static final class Streaming implements AutoCloseable {
        private final Path file;
        private final Path tmp;
        private final FileChannel ch;
        private final Map<String, TensorSpec> specs = new LinkedHashMap<>();
        private final Map<String, Long> offsets;
        private final Set<String> written = new HashSet<>();
        private boolean done;

        private Streaming(Path file, Path tmp, FileChannel ch, List<TensorSpec> ordered, Map<String, String> metadata)
                throws IOException {
            this.file = file;
            this.tmp = tmp;
            this.ch = ch;
            for (TensorSpec s : ordered) specs.put(s.name(), s);
            this.offsets = writeHeader(ch, ordered, metadata);
        }

        /** Starts {@code file} with these tensors (data ordered by element size, then name). */
        public static Streaming begin(Path file, List<TensorSpec> tensors, Map<String, String> metadata) throws IOException {
            Set<String> seen = new HashSet<>();
            for (TensorSpec t : tensors) {
                if (t.name().equals(SafetensorsFile.METADATA_KEY) || t.name().isEmpty()) {
                    throw new IllegalArgumentException("tensor name '" + t.name() + "' is not allowed in safetensors");
                }
                if (!seen.add(t.name())) throw new IllegalArgumentException("tensor '" + t.name() + "' is given twice");
            }
            List<TensorSpec> ordered = new ArrayList<>(tensors);
            ordered.sort(Comparator.comparingInt((TensorSpec t) -> -t.dtype().byteSize()).thenComparing(TensorSpec::name));
            Path dir = file.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Path tmp = tempFile(dir, file.getFileName().toString());
            FileChannel ch = null;
            try {
                ch = FileChannel.open(tmp, StandardOpenOption.WRITE);
                return new Streaming(file, tmp, ch, ordered, metadata);
            } catch (IOException | RuntimeException | Error e) {
                if (ch != null) ch.close();
                Files.deleteIfExists(tmp);
                throw e;
            }
        }

        /** Writes the bytes of tensor {@code name} (exactly its dtype × shape size). */
        public void write(String name, MemorySegment data) throws IOException {
            TensorSpec s = specs.get(name);
            if (s == null) throw new IllegalArgumentException("tensor '" + name + "' was not declared in begin()");
            if (data.byteSize() != s.byteSize()) {
                throw new IllegalArgumentException("tensor '" + name + "' needs " + s.byteSize() + " bytes, got " + data.byteSize());
            }
            if (done) throw new IllegalStateException(file + " is already committed or closed");
            writeAt(ch, offsets.get(name), data);
            written.add(name);
        }

        /** Forces the data to disk and renames the temporary file over {@code file}. */
        public void commit() throws IOException {
            if (done) throw new IllegalStateException(file + " is already committed or closed");
            if (written.size() != specs.size()) {
                List<String> missing = specs.keySet().stream().filter(n -> !written.contains(n)).limit(5).toList();
                throw new IllegalStateException(file + ": " + (specs.size() - written.size())
                        + " declared tensors were never written, e.g. " + missing);
            }
            done = true;
            try {
                ch.force(true);
                ch.close();
                moveAtomically(tmp, file);
            } catch (IOException | RuntimeException | Error e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
            fsyncDirectory(file.toAbsolutePath().getParent());
        }

        /** Abandons the file unless committed; closing twice is harmless. */
        @Override public void close() throws IOException {
            if (ch.isOpen()) ch.close();
            if (!done) {
                done = true;
                Files.deleteIfExists(tmp);
            }
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
