package dev.twofour.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The tensors of a Hugging Face checkpoint directory: {@code model.safetensors}, or the shards
 * listed by {@code model.safetensors.index.json}. Every file stays memory-mapped until close.
 */
public final class Checkpoint implements AutoCloseable {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path dir;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byTensor; // sorted by name

    private Checkpoint(Path dir, List<SafetensorsFile> files, Map<String, SafetensorsFile> byTensor) {
        this.dir = dir;
        this.files = files;
        this.byTensor = byTensor;
    }

    /**
     * Opens a checkpoint directory (index file first, else model.safetensors), or one
     * .safetensors file given directly.
     */
    public static Checkpoint open(Path path) throws IOException {
        if (Files.isRegularFile(path)) {
            SafetensorsFile f = SafetensorsFile.open(path);
            return of(path.toAbsolutePath().getParent(), List.of(f));
        }
        if (!Files.isDirectory(path)) {
            throw new NoSuchFileException(path.toString(), null,
                    "no such checkpoint directory; pass a Hugging Face model directory (with config.json and *.safetensors)");
        }
        Path index = path.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) return openSharded(path, index);
        Path single = path.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) return of(path, List.of(SafetensorsFile.open(single)));
        List<String> found;
        try (Stream<Path> s = Files.list(path)) {
            found = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".safetensors")).sorted().toList();
        }
        throw new NoSuchFileException(path.toString(), null, "neither " + SINGLE_FILE + " nor " + INDEX_FILE
                + " found" + (found.isEmpty() ? " (no .safetensors files at all; .bin/.pth checkpoints are not supported —"
                + " convert them to safetensors)" : " (there are " + found + ": add the index file or rename the single file)"));
    }

    private static Checkpoint openSharded(Path dir, Path index) throws IOException {
        JsonNode root;
        try {
            root = SafetensorsFile.JSON.readTree(Files.readString(index));
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(index, null, "index is not valid JSON: " + e.getOriginalMessage()
                    + "; re-download it", e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new SafetensorsException(index, null, "index has no \"weight_map\" object; re-download it");
        }
        Map<String, String> tensorToShard = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new SafetensorsException(index, e.getKey(), "weight_map value must be a shard file name");
            }
            String shard = e.getValue().textValue();
            Path p = Path.of(shard);
            if (p.isAbsolute() || p.getNameCount() != 1 || shard.equals("..") || shard.equals(".")) {
                throw new SafetensorsException(index, e.getKey(), "shard '" + shard
                        + "' must be a file name in the checkpoint directory");
            }
            tensorToShard.put(e.getKey(), shard);
        }
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            for (String shard : new java.util.TreeSet<>(tensorToShard.values())) {
                Path p = dir.resolve(shard);
                if (!Files.isRegularFile(p)) {
                    throw new SafetensorsException(index, null, "lists shard '" + shard
                            + "' but the file is missing in " + dir + "; the download is incomplete");
                }
                SafetensorsFile f = SafetensorsFile.open(p);
                opened.add(f);
                shards.put(shard, f);
            }
            Map<String, SafetensorsFile> byTensor = new TreeMap<>();
            for (Map.Entry<String, String> e : tensorToShard.entrySet()) {
                SafetensorsFile f = shards.get(e.getValue());
                if (!f.contains(e.getKey())) {
                    throw new SafetensorsException(f.path(), e.getKey(), "listed in " + INDEX_FILE
                            + " for this shard but absent from it; the index and shards do not match — re-download");
                }
                byTensor.put(e.getKey(), f);
            }
            // Tensors a shard has but the index does not list would be silently lost: report them.
            for (SafetensorsFile f : opened) {
                for (String n : f.tensorNames()) {
                    if (byTensor.get(n) != f) {
                        throw new SafetensorsException(f.path(), n, tensorToShard.containsKey(n)
                                ? "also present in shard " + byTensor.get(n).path().getFileName() + " (the index names that one); "
                                + "a tensor must be in one shard only"
                                : "present in the shard but not listed in " + INDEX_FILE + "; the index is stale — re-download");
                    }
                }
            }
            Checkpoint c = new Checkpoint(dir, List.copyOf(opened), Collections.unmodifiableMap(byTensor));
            opened = null;
            return c;
        } finally {
            if (opened != null) for (SafetensorsFile f : opened) f.close();
        }
    }

    private static Checkpoint of(Path dir, List<SafetensorsFile> files) {
        Map<String, SafetensorsFile> byTensor = new TreeMap<>();
        for (SafetensorsFile f : files) for (String n : f.tensorNames()) byTensor.put(n, f);
        return new Checkpoint(dir, files, Collections.unmodifiableMap(byTensor));
    }

    public Path dir() { return dir; }

    /** All tensor names, sorted. */
    public List<String> names() { return List.copyOf(byTensor.keySet()); }

    public boolean contains(String name) { return byTensor.containsKey(name); }

    /**
     * A zero-copy view of tensor {@code name}.
     * @throws IllegalArgumentException when no file of the checkpoint has it
     */
    public TensorView tensor(String name) {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) {
            throw new IllegalArgumentException(dir + ": the checkpoint has no tensor named '" + name + "' ("
                    + byTensor.size() + " tensors)");
        }
        return f.tensor(name);
    }

    /** The file holding {@code name}. */
    public SafetensorsFile fileOf(String name) {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) throw new IllegalArgumentException(dir + ": the checkpoint has no tensor named '" + name + "'");
        return f;
    }

    /** The safetensors files, one unless sharded. */
    public List<SafetensorsFile> files() { return files; }

    /** Sum of the byte sizes of all tensors. */
    public long totalTensorBytes() {
        long sum = 0;
        for (SafetensorsFile f : files) sum += f.totalTensorBytes();
        return sum;
    }

    /** Unmaps every file; closing twice is harmless. */
    @Override public void close() {
        for (SafetensorsFile f : files) f.close();
    }
}
