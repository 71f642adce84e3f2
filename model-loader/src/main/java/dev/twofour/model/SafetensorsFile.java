package dev.twofour.model;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One safetensors file, memory-mapped read-only with FFM (no 2 GB limit). The header is validated
 * completely when the file is opened, so that a bad file fails there with a
 * {@link SafetensorsException} naming the file, the tensor and the problem; tensor views are
 * zero-copy slices of the mapping.
 *
 * <p>Format: 8 bytes little-endian header length n, n bytes of UTF-8 JSON
 * {@code {"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {"k": "v"}}}, then the data area; offsets are relative to the data area.
 *
 * <p>Closing unmaps the file: views obtained earlier then throw {@link IllegalStateException}.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Same limit as the reference implementation: a header over 100 MB is not a real checkpoint. */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    static final String METADATA_KEY = "__metadata__";

    /** Duplicate keys are rejected while parsing: a map would silently keep the last one. */
    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxStringLength((int) MAX_HEADER_BYTES)
                .maxNestingDepth(64)
                .build());
    }

    private record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final long dataStart;
    private final Map<String, Entry> entries; // in file order (by offset)
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Arena arena, MemorySegment mapping, long dataStart,
                            Map<String, Entry> entries, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Maps and validates {@code file}. */
    public static SafetensorsFile open(Path file) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapping;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                long size = ch.size();
                if (size < 8) {
                    throw new SafetensorsException(file, null, "file is " + size
                            + " bytes, shorter than the 8-byte header length; it is truncated or not a safetensors file");
                }
                mapping = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            }
            SafetensorsFile f = parse(file, arena, mapping);
            arena = null; // owned by f now
            return f;
        } finally {
            if (arena != null) arena.close();
        }
    }

    /**
     * Parses safetensors bytes already in memory (tests, fuzzing); {@code name} is used in messages.
     * The returned file does not own {@code bytes}; closing it is still required and harmless.
     */
    static SafetensorsFile parse(Path name, MemorySegment bytes) throws SafetensorsException {
        if (bytes.byteSize() < 8) {
            throw new SafetensorsException(name, null, "file is " + bytes.byteSize()
                    + " bytes, shorter than the 8-byte header length; it is truncated or not a safetensors file");
        }
        return parse(name, null, bytes);
    }

    private static SafetensorsFile parse(Path file, Arena arena, MemorySegment mapping) throws SafetensorsException {
        long fileSize = mapping.byteSize();
        long headerLen = mapping.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen < 2 || headerLen > MAX_HEADER_BYTES || headerLen > fileSize - 8) {
            throw new SafetensorsException(file, null, "header length field says " + Long.toUnsignedString(headerLen)
                    + " bytes but the file has " + (fileSize - 8) + " bytes after it (limit "
                    + MAX_HEADER_BYTES + "); the file is truncated or not a safetensors file — re-download or re-export it");
        }
        byte[] headerBytes = mapping.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
        String headerText;
        try {
            headerText = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(headerBytes)).toString();
        } catch (CharacterCodingException e) {
            throw new SafetensorsException(file, null, "header is not valid UTF-8 ("
                    + e.getMessage() + "); the file is corrupt — re-download or re-export it", e);
        }
        JsonNode root;
        try {
            // Writers pad the header with spaces (some with NULs) to align the data area.
            int end = headerText.length();
            while (end > 0 && (headerText.charAt(end - 1) == '\0' || headerText.charAt(end - 1) == ' ')) end--;
            root = JSON.readTree(headerText.substring(0, end));
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(file, null, "header is not valid JSON: " + e.getOriginalMessage()
                    + "; the file is corrupt — re-download or re-export it", e);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(file, null, "header must be a JSON object but is "
                    + (root == null ? "empty" : root.getNodeType().toString().toLowerCase())
                    + "; the file is corrupt or not a safetensors file");
        }
        long dataStart = 8 + headerLen;
        long dataSize = fileSize - dataStart;

        Map<String, String> metadata = Map.of();
        List<Entry> list = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            String name = field.getKey();
            JsonNode node = field.getValue();
            if (name.equals(METADATA_KEY)) {
                metadata = parseMetadata(file, node);
            } else {
                list.add(parseEntry(file, name, node, dataSize));
            }
        }

        // No two tensors may share bytes: sort by start and compare neighbours.
        List<Entry> sorted = new ArrayList<>(list);
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        for (int i = 1; i < sorted.size(); i++) {
            Entry prev = sorted.get(i - 1), cur = sorted.get(i);
            if (cur.begin < prev.end) {
                throw new SafetensorsException(file, cur.name, "data_offsets [" + cur.begin + ", " + cur.end
                        + "] overlap tensor '" + prev.name + "' [" + prev.begin + ", " + prev.end
                        + "]; the file is corrupt — re-export it");
            }
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Entry e : sorted) entries.put(e.name, e);
        return new SafetensorsFile(file, arena, mapping, dataStart, Collections.unmodifiableMap(entries), metadata);
    }

    private static Map<String, String> parseMetadata(Path file, JsonNode node) throws SafetensorsException {
        if (node.isNull()) return Map.of();
        if (!node.isObject()) {
            throw new SafetensorsException(file, null, "\"__metadata__\" must be an object of strings but is "
                    + node.getNodeType().toString().toLowerCase() + "; the file is corrupt");
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (!f.getValue().isTextual()) {
                throw new SafetensorsException(file, null, "\"__metadata__\" value for key '" + f.getKey()
                        + "' must be a string but is " + f.getValue().getNodeType().toString().toLowerCase()
                        + "; the file is corrupt");
            }
            m.put(f.getKey(), f.getValue().textValue());
        }
        return Collections.unmodifiableMap(m);
    }

    private static Entry parseEntry(Path file, String name, JsonNode node, long dataSize) throws SafetensorsException {
        if (!node.isObject()) {
            throw new SafetensorsException(file, name, "header entry must be an object with dtype, shape and "
                    + "data_offsets but is " + node.getNodeType().toString().toLowerCase() + "; the file is corrupt");
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!key.equals("dtype") && !key.equals("shape") && !key.equals("data_offsets")) {
                throw new SafetensorsException(file, name, "unexpected header field '" + key
                        + "' (allowed: dtype, shape, data_offsets); the file is corrupt or from an unknown writer");
            }
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new SafetensorsException(file, name, "missing or non-string \"dtype\"; the file is corrupt");
        }
        DType dtype = DType.fromSafetensorsName(dtypeNode.textValue());
        if (dtype == null) {
            throw new SafetensorsException(file, name, "unsupported dtype '" + dtypeNode.textValue()
                    + "' (known: " + Arrays.toString(Arrays.stream(DType.values()).map(DType::safetensorsName).toArray())
                    + "); convert the checkpoint to F16/BF16/F32");
        }
        long[] shape = longArray(file, name, node.get("shape"), "shape", -1);
        long[] offsets = longArray(file, name, node.get("data_offsets"), "data_offsets", 2);
        long begin = offsets[0], end = offsets[1];
        if (begin > end) {
            throw new SafetensorsException(file, name, "data_offsets [" + begin + ", " + end
                    + "] end before they begin; the file is corrupt");
        }
        if (end > dataSize) {
            throw new SafetensorsException(file, name, "data_offsets [" + begin + ", " + end
                    + "] reach past the data area of " + dataSize + " bytes; the file is truncated — re-download it");
        }
        long numel;
        long bytes;
        try {
            numel = TensorView.numelOf(shape);
            bytes = Math.multiplyExact(numel, dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new SafetensorsException(file, name, "shape " + Arrays.toString(shape)
                    + " is too large to address; the file is corrupt");
        }
        if (bytes != end - begin) {
            throw new SafetensorsException(file, name, dtype.safetensorsName() + " shape " + Arrays.toString(shape)
                    + " needs " + bytes + " bytes but data_offsets [" + begin + ", " + end + "] span "
                    + (end - begin) + "; the file is corrupt");
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    /** A JSON array of non-negative integers that fit a long ({@code length} -1 = any length). */
    private static long[] longArray(Path file, String name, JsonNode node, String field, int length)
            throws SafetensorsException {
        if (node == null || !node.isArray()) {
            throw new SafetensorsException(file, name, "missing or non-array \"" + field + "\"; the file is corrupt");
        }
        if (length >= 0 && node.size() != length) {
            throw new SafetensorsException(file, name, "\"" + field + "\" must have " + length
                    + " entries but has " + node.size() + "; the file is corrupt");
        }
        if (node.size() > 64) {
            throw new SafetensorsException(file, name, "\"" + field + "\" has " + node.size()
                    + " entries; no real tensor has that many dimensions — the file is corrupt");
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw new SafetensorsException(file, name, "\"" + field + "\" entry " + i + " is " + v
                        + ", not a non-negative integer; the file is corrupt");
            }
            out[i] = v.longValue();
        }
        return out;
    }

    public Path path() { return path; }

    /** Tensor names in file order (by data offset). */
    public List<String> tensorNames() {
        return List.copyOf(entries.keySet());
    }

    public boolean contains(String name) { return entries.containsKey(name); }

    /** The {@code __metadata__} map (empty when absent). */
    public Map<String, String> metadata() { return metadata; }

    /**
     * A zero-copy view of tensor {@code name}.
     * @throws IllegalArgumentException when the file has no such tensor
     * @throws IllegalStateException when the file is closed
     */
    public TensorView tensor(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new IllegalArgumentException(path + ": no tensor named '" + name + "' (the file has "
                    + entries.size() + " tensors)");
        }
        ensureOpen();
        return new TensorView(e.name, e.dtype, e.shape, mapping.asSlice(dataStart + e.begin, e.end - e.begin));
    }

    /** dtype of a tensor without touching its data. */
    public DType dtype(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new IllegalArgumentException(path + ": no tensor named '" + name + "'");
        return e.dtype;
    }

    /** Shape of a tensor without touching its data (a copy). */
    public long[] shape(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new IllegalArgumentException(path + ": no tensor named '" + name + "'");
        return e.shape.clone();
    }

    /** Sum of all tensors' byte sizes. */
    public long totalTensorBytes() {
        long sum = 0;
        for (Entry e : entries.values()) sum += e.end - e.begin;
        return sum;
    }

    private void ensureOpen() {
        if (arena != null && !arena.scope().isAlive()) {
            throw new IllegalStateException(path + " is closed");
        }
    }

    /** Unmaps the file; closing twice is harmless. */
    @Override public void close() {
        if (arena != null && arena.scope().isAlive()) arena.close();
    }

    @Override public String toString() {
        return "SafetensorsFile[" + path + ", " + entries.size() + " tensors]";
    }
}
