package dev.twofour.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The converted-model cache: the 2:4 linear weights of a checkpoint, packed once ({@link Sparse24})
 * and stored in one safetensors file, reused while the checkpoint is unchanged. docs/FORMAT.md
 * describes it; in short:
 * <ul>
 *   <li>file: {@code <model dir>/.twofour-cache/packed24-v1.safetensors}, or, when the model
 *       directory is not writable, {@code $TWOFOUR_CACHE_DIR/converted/<key>/packed24-v1.safetensors}
 *       ({@code ~/.cache/twofour} when the variable is unset), key = first 16 hex digits of the
 *       SHA-256 of the model directory's real path plus its name;</li>
 *   <li>tensors: {@code <weight>.values} (weight dtype, [N][Kp/2]) and {@code <weight>.metadata}
 *       (U8, [N][Kp/8]) per packed weight;</li>
 *   <li>metadata: layout version, the source fingerprint (each safetensors file's name, size,
 *       modification time and header SHA-256), the SHA-256 of the list of weights considered, and the
 *       decision (packed or dense, and why) for every weight;</li>
 *   <li>valid while all of these match; otherwise it is rebuilt (atomically replaced).</li>
 * </ul>
 */
public final class ConvertedModelCache {
    /** Version of the packed layout and of this file's structure; bump on any change. */
    public static final int LAYOUT_VERSION = 1;
    public static final String LAYOUT = "twofour-packed24/" + LAYOUT_VERSION;
    public static final String CACHE_DIR_NAME = ".twofour-cache";
    public static final String FILE_NAME = "packed24-v" + LAYOUT_VERSION + ".safetensors";
    public static final String VALUES_SUFFIX = ".values";
    public static final String METADATA_SUFFIX = ".metadata";
    /** Environment variable for the per-user cache root (default ~/.cache/twofour). */
    public static final String CACHE_HOME_ENV = "TWOFOUR_CACHE_DIR";

    static final String META_LAYOUT = "twofour.layout";
    static final String META_SOURCE = "twofour.source";
    static final String META_WEIGHTS = "twofour.weights_sha256";
    static final String META_DECISIONS = "twofour.decisions";

    /**
     * What conversion decided for one linear weight.
     * @param packed      stored packed (2:4); otherwise it stays dense
     * @param reason      why not packed, or a note for packed ones ("K=172 padded to 176"); empty if none
     * @param packedBytes values + metadata bytes when packed, else equal to denseBytes
     */
    public record Decision(String weight, long[] shape, DType dtype, boolean packed, String reason,
                           long denseBytes, long packedBytes) {
        public Decision {
            Objects.requireNonNull(weight);
            shape = shape.clone();
            Objects.requireNonNull(reason);
        }

        @Override public long[] shape() { return shape.clone(); }
    }

    /** Progress of a conversion: {@code phase} is "check" or "pack"; done/total count weights. */
    public interface Progress {
        void update(String phase, int done, int total, String weight);

        Progress NONE = (phase, done, total, weight) -> {};
    }

    /**
     * Result of {@link #lookup}: a valid cache ({@code model} non-null), or why there is none.
     */
    public record Lookup(ConvertedModel model, String reason) {
        public boolean hit() { return model != null; }
    }

    private final Path modelDir;
    private final Path userCacheRoot;
    private final boolean forceUserCache;

    private ConvertedModelCache(Path modelDir, Path userCacheRoot, boolean forceUserCache) {
        this.modelDir = modelDir.toAbsolutePath().normalize();
        this.userCacheRoot = userCacheRoot.toAbsolutePath().normalize();
        this.forceUserCache = forceUserCache;
    }

    /** The same cache, but writing to the per-user location as if the model directory were read-only. */
    ConvertedModelCache withReadOnlyModelDir() {
        return new ConvertedModelCache(modelDir, userCacheRoot, true);
    }

    /** The cache of {@code modelDir}, per-user root from $TWOFOUR_CACHE_DIR or ~/.cache/twofour. */
    public static ConvertedModelCache forModel(Path modelDir) {
        String env = System.getenv(CACHE_HOME_ENV);
        Path root = env != null && !env.isBlank() ? Path.of(env)
                : Path.of(System.getProperty("user.home"), ".cache", "twofour");
        return new ConvertedModelCache(modelDir, root, false);
    }

    /** The cache of {@code modelDir} with an explicit per-user cache root (tests, tools). */
    public static ConvertedModelCache forModel(Path modelDir, Path userCacheRoot) {
        return new ConvertedModelCache(modelDir, userCacheRoot, false);
    }

    /** The cache file inside the model directory. */
    public Path modelDirFile() {
        return modelDir.resolve(CACHE_DIR_NAME).resolve(FILE_NAME);
    }

    /** The cache file in the per-user cache (used when the model directory is read-only). */
    public Path userCacheFile() {
        String real;
        try {
            real = modelDir.toRealPath().toString();
        } catch (IOException e) {
            real = modelDir.toString();
        }
        String key = sha256(real.getBytes(StandardCharsets.UTF_8)).substring(0, 16);
        String name = modelDir.getFileName() == null ? "model" : modelDir.getFileName().toString();
        return userCacheRoot.resolve("converted").resolve(name.replaceAll("[^A-Za-z0-9._-]", "_") + "-" + key)
                .resolve(FILE_NAME);
    }

    /** Where {@link #convert} writes: the model directory when it is writable, else the per-user cache. */
    public Path writeLocation() {
        return !forceUserCache && modelDirWritable() ? modelDirFile() : userCacheFile();
    }

    /**
     * Writable for us, and not marked read-only: a directory without any write permission bit
     * (e.g. a shared model store, dr-xr-xr-x) is left alone even by root, who could write anyway.
     */
    private boolean modelDirWritable() {
        Path existing = modelDirFile().getParent();
        if (Files.isDirectory(existing) && Files.isWritable(existing)) return true;
        if (!Files.isWritable(modelDir)) return false;
        try {
            var perms = Files.getPosixFilePermissions(modelDir);
            return perms.contains(java.nio.file.attribute.PosixFilePermission.OWNER_WRITE)
                    || perms.contains(java.nio.file.attribute.PosixFilePermission.GROUP_WRITE)
                    || perms.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_WRITE);
        } catch (UnsupportedOperationException | IOException e) {
            return true;
        }
    }

    /**
     * Finds a valid cache for {@code weights} of {@code checkpoint}: the model-directory file first,
     * then the per-user one. Stale or unreadable files are not used (the reason says why).
     */
    public Lookup lookup(Checkpoint checkpoint, List<String> weights) throws IOException {
        String source = fingerprint(checkpoint);
        String weightsKey = sha256(String.join("\n", weights).getBytes(StandardCharsets.UTF_8));
        List<String> reasons = new ArrayList<>();
        for (Path f : List.of(modelDirFile(), userCacheFile())) {
            if (!Files.isRegularFile(f)) continue;
            SafetensorsFile sf;
            try {
                sf = SafetensorsFile.open(f);
            } catch (IOException e) {
                reasons.add(f + " is unreadable (" + e.getMessage() + ")");
                continue;
            }
            String why = staleReason(sf, checkpoint, source, weightsKey, weights);
            if (why == null) {
                try {
                    return new Lookup(new ConvertedModel(sf, true, decisions(sf)), "valid");
                } catch (IOException | RuntimeException e) {
                    why = "its decisions cannot be read (" + e.getMessage() + ")";
                }
            }
            sf.close();
            reasons.add(f + " is stale: " + why);
        }
        return new Lookup(null, reasons.isEmpty() ? "no cache yet" : String.join("; ", reasons));
    }

    /** The valid cache, or a new one from {@link #convert}. */
    public ConvertedModel loadOrConvert(Checkpoint checkpoint, List<String> weights, Progress progress) throws IOException {
        Lookup l = lookup(checkpoint, weights);
        return l.hit() ? l.model() : convert(checkpoint, weights, progress);
    }

    /**
     * Checks every weight in {@code weights} for 2:4, packs those that are, and writes the cache
     * (atomically, replacing an old one) at {@link #writeLocation()}.
     */
    public ConvertedModel convert(Checkpoint checkpoint, List<String> weights, Progress progress) throws IOException {
        Objects.requireNonNull(progress, "progress");
        String source = fingerprint(checkpoint);
        String weightsKey = sha256(String.join("\n", weights).getBytes(StandardCharsets.UTF_8));

        List<Decision> decisions = new ArrayList<>();
        int total = weights.size();
        for (int i = 0; i < total; i++) {
            String w = weights.get(i);
            if (!checkpoint.contains(w)) {
                throw new IOException(checkpoint.dir() + ": linear weight '" + w + "' is not in the checkpoint; "
                        + "check that config.json belongs to these weights");
            }
            decisions.add(decide(checkpoint.tensor(w)));
            progress.update("check", i + 1, total, w);
        }

        List<SafetensorsWriter.TensorSpec> specs = new ArrayList<>();
        for (Decision d : decisions) {
            if (!d.packed()) continue;
            long n = d.shape()[0];
            int kp = Packed24.paddedK((int) d.shape()[1]);
            specs.add(new SafetensorsWriter.TensorSpec(d.weight() + VALUES_SUFFIX, d.dtype(), new long[]{n, kp / 2}));
            specs.add(new SafetensorsWriter.TensorSpec(d.weight() + METADATA_SUFFIX, DType.U8, new long[]{n, kp / 8}));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(META_LAYOUT, LAYOUT);
        meta.put(META_SOURCE, source);
        meta.put(META_WEIGHTS, weightsKey);
        meta.put(META_DECISIONS, decisionsJson(decisions));

        Path target = writeLocation();
        try {
            prepareDir(target.getParent());
        } catch (IOException e) {
            // The model directory looked writable but is not (e.g. a read-only mount): use the user cache.
            target = userCacheFile();
            prepareDir(target.getParent());
        }
        try (SafetensorsWriter.Streaming out = SafetensorsWriter.Streaming.begin(target, specs, meta)) {
            int packedTotal = (int) decisions.stream().filter(Decision::packed).count(), done = 0;
            for (Decision d : decisions) {
                if (!d.packed()) continue;
                Packed24 p = Sparse24.pack(checkpoint.tensor(d.weight()));
                out.write(d.weight() + VALUES_SUFFIX, p.values());
                out.write(d.weight() + METADATA_SUFFIX, p.metadata());
                progress.update("pack", ++done, packedTotal, d.weight());
            }
            out.commit();
        }
        return new ConvertedModel(SafetensorsFile.open(target), false, decisions);
    }

    private static void prepareDir(Path dir) throws IOException {
        Files.createDirectories(dir);
        if (dir.getFileName().toString().equals(CACHE_DIR_NAME)) {
            // Keep the cache out of version control when the model lives in a repository.
            Path ignore = dir.resolve(".gitignore");
            if (!Files.exists(ignore)) Files.writeString(ignore, "*\n");
        }
    }

    /** The 2:4 decision for one weight tensor. */
    static Decision decide(TensorView t) {
        long[] shape = t.shape();
        long dense = t.byteSize();
        if (shape.length != 2) return new Decision(t.name(), shape, t.dtype(), false, "not a 2-D weight", dense, dense);
        if (!t.dtype().isComputeType()) {
            return new Decision(t.name(), shape, t.dtype(), false, "dtype " + t.dtype() + " (2:4 needs F32/F16/BF16)", dense, dense);
        }
        long k = shape[1];
        if (k == 0 || k % 4 != 0) {
            return new Decision(t.name(), shape, t.dtype(), false, "K=" + k + " is not a multiple of 4", dense, dense);
        }
        if (shape[0] > Integer.MAX_VALUE || k > Integer.MAX_VALUE - 15) {
            return new Decision(t.name(), shape, t.dtype(), false, "too large to pack", dense, dense);
        }
        Sparse24.Report r = Sparse24.check(t);
        if (!r.is24()) return new Decision(t.name(), shape, t.dtype(), false, r.describe(), dense, dense);
        int kp = Packed24.paddedK((int) k);
        long packed = Packed24.valuesBytes((int) shape[0], kp, t.dtype()) + Packed24.metadataBytes((int) shape[0], kp);
        String note = kp != k ? "K=" + k + " padded to " + kp : "";
        return new Decision(t.name(), shape, t.dtype(), true, note, dense, packed);
    }

    /** Why the open cache file cannot be used, or null when it can. */
    private static String staleReason(SafetensorsFile sf, Checkpoint ck, String source, String weightsKey,
                                      List<String> weights) {
        Map<String, String> m = sf.metadata();
        if (!LAYOUT.equals(m.get(META_LAYOUT))) return "layout " + m.get(META_LAYOUT) + ", expected " + LAYOUT;
        if (!source.equals(m.get(META_SOURCE))) {
            return "the checkpoint changed since conversion (" + sourceDifference(m.get(META_SOURCE), source) + ")";
        }
        if (!weightsKey.equals(m.get(META_WEIGHTS))) return "it was made for a different set of linear weights";
        List<Decision> ds;
        try {
            ds = decisions(sf);
        } catch (IOException | RuntimeException e) {
            return "its decisions cannot be read (" + e.getMessage() + ")";
        }
        if (ds.size() != weights.size()) return "it records " + ds.size() + " weights, expected " + weights.size();
        for (int i = 0; i < ds.size(); i++) {
            Decision d = ds.get(i);
            if (!d.weight().equals(weights.get(i))) return "weight " + i + " is " + d.weight() + ", expected " + weights.get(i);
            if (!ck.contains(d.weight()) || !Arrays.equals(ck.fileOf(d.weight()).shape(d.weight()), d.shape())) {
                return "shape of " + d.weight() + " differs from the checkpoint";
            }
            if (d.packed()) {
                String v = d.weight() + VALUES_SUFFIX, md = d.weight() + METADATA_SUFFIX;
                int kp = Packed24.paddedK((int) d.shape()[1]);
                if (!sf.contains(v) || !sf.contains(md)
                        || !Arrays.equals(sf.shape(v), new long[]{d.shape()[0], kp / 2}) || sf.dtype(v) != d.dtype()
                        || !Arrays.equals(sf.shape(md), new long[]{d.shape()[0], kp / 8}) || sf.dtype(md) != DType.U8) {
                    return "packed tensors of " + d.weight() + " are missing or mis-shaped";
                }
            }
        }
        return null;
    }

    private static String sourceDifference(String cached, String current) {
        try {
            JsonNode a = SafetensorsFile.JSON.readTree(cached == null ? "[]" : cached);
            JsonNode b = SafetensorsFile.JSON.readTree(current);
            Map<String, JsonNode> byName = new LinkedHashMap<>();
            for (JsonNode f : a) byName.put(f.path("file").asText(), f);
            for (JsonNode f : b) {
                JsonNode old = byName.get(f.path("file").asText());
                if (old == null) return f.path("file").asText() + " is new";
                for (String field : List.of("size", "mtime_ns", "header_sha256")) {
                    if (!old.path(field).equals(f.path(field))) return f.path("file").asText() + ": " + field + " differs";
                }
            }
            return "the set of files differs";
        } catch (JsonProcessingException | RuntimeException e) {
            return "no readable fingerprint";
        }
    }

    /** Name, size, modification time and header hash of every safetensors file of the checkpoint. */
    static String fingerprint(Checkpoint ck) throws IOException {
        ArrayNode files = SafetensorsFile.JSON.createArrayNode();
        List<SafetensorsFile> sorted = new ArrayList<>(ck.files());
        sorted.sort((x, y) -> x.path().getFileName().toString().compareTo(y.path().getFileName().toString()));
        for (SafetensorsFile f : sorted) {
            Path p = f.path();
            ObjectNode o = files.addObject();
            o.put("file", p.getFileName().toString());
            o.put("size", Files.size(p));
            o.put("mtime_ns", Files.getLastModifiedTime(p).to(TimeUnit.NANOSECONDS));
            o.put("header_sha256", headerHash(p));
        }
        return files.toString();
    }

    private static String headerHash(Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            while (len.hasRemaining() && ch.read(len) >= 0) { }
            long n = len.flip().getLong();
            ByteBuffer header = ByteBuffer.allocate((int) n); // already validated when the checkpoint was opened
            while (header.hasRemaining() && ch.read(header) >= 0) { }
            return sha256(header.array());
        }
    }

    private static String decisionsJson(List<Decision> decisions) {
        ArrayNode a = SafetensorsFile.JSON.createArrayNode();
        for (Decision d : decisions) {
            ObjectNode o = a.addObject();
            o.put("weight", d.weight());
            ArrayNode s = o.putArray("shape");
            for (long x : d.shape()) s.add(x);
            o.put("dtype", d.dtype().safetensorsName());
            o.put("packed", d.packed());
            o.put("reason", d.reason());
            o.put("dense_bytes", d.denseBytes());
            o.put("packed_bytes", d.packedBytes());
        }
        return a.toString();
    }

    private static List<Decision> decisions(SafetensorsFile sf) throws IOException {
        JsonNode a = SafetensorsFile.JSON.readTree(sf.metadata().getOrDefault(META_DECISIONS, "[]"));
        List<Decision> out = new ArrayList<>();
        for (JsonNode o : a) {
            long[] shape = new long[o.path("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = o.path("shape").get(i).asLong();
            DType dt = DType.fromSafetensorsName(o.path("dtype").asText());
            if (dt == null || !o.hasNonNull("weight")) throw new IOException("bad decision entry " + o);
            out.add(new Decision(o.get("weight").asText(), shape, dt, o.path("packed").asBoolean(),
                    o.path("reason").asText(""), o.path("dense_bytes").asLong(), o.path("packed_bytes").asLong()));
        }
        return out;
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
