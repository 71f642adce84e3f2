package dev.twofour.pruner;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.twofour.model.Checkpoint;
import dev.twofour.model.DType;
import dev.twofour.model.SafetensorsWriter;
import dev.twofour.model.Sparse24;
import dev.twofour.model.TensorView;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Writes a pruned model as a portable Hugging Face checkpoint: every tensor of the source, with
 * the pruned linear weights replaced (dense, 2:4 zeros in place, in the source dtype), the
 * config/tokenizer/template files copied, the method and settings in the safetensors
 * {@code __metadata__}, and {@code prune-report.json}.
 *
 * <p>Never leaves a broken directory: everything goes to {@code OUT.tmp-<random>} next to
 * {@code OUT}, which is renamed to {@code OUT} only when complete; on any failure, and on
 * Ctrl-C (a shutdown hook), the temporary directory is deleted.
 */
public final class PrunedCheckpoint {
    private PrunedCheckpoint() {}

    public static final String REPORT_FILE = "prune-report.json";

    /** The temporary directory a write in progress uses for {@code out} (for tests: its prefix). */
    static String tmpPrefix(Path out) { return out.getFileName() + ".tmp-"; }

    /**
     * @param pruned     weights by tensor name ([out][in] fp32 values, already rounded to the source dtype)
     * @param metadata   string pairs for the safetensors {@code __metadata__} (method, settings)
     * @param report     serialized with Jackson as prune-report.json
     * @param overwrite  replace an existing {@code out}; otherwise an existing non-empty {@code out} is an error
     */
    public static void write(Checkpoint source, Path out, Map<String, float[]> pruned, Map<String, String> metadata,
                             Object report, boolean overwrite) throws IOException {
        Path target = out.toAbsolutePath().normalize();
        if (Files.exists(target) && !overwrite && !isEmptyDir(target)) {
            throw new FileAlreadyExistsException(target + " already exists; remove it, choose another --out, or pass --force");
        }
        Path parent = target.getParent();
        Files.createDirectories(parent);
        Path tmp = parent.resolve(tmpPrefix(target) + UUID.randomUUID().toString().substring(0, 8));
        Thread cleanup = new Thread(() -> deleteQuietly(tmp), "twofour-prune-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        boolean done = false;
        try {
            Files.createDirectory(tmp);
            copySideFiles(source.dir(), tmp);
            List<TensorView> tensors = new ArrayList<>();
            for (String name : source.names()) {
                TensorView original = source.tensor(name);
                float[] w = pruned.get(name);
                if (w == null) { tensors.add(original); continue; }
                if (original.rank() != 2 || original.numel() != w.length) {
                    throw new IllegalArgumentException("pruned tensor " + name + " has " + w.length + " values but the source has shape "
                            + java.util.Arrays.toString(original.shape()));
                }
                DType dtype = original.dtype();
                TensorView t = TensorView.ofFloats(name, dtype, original.shape(), w);
                Sparse24.Report check = Sparse24.check(t);
                if (!check.is24()) throw new IllegalStateException(name + " is " + check.describe() + " after pruning (bug)");
                tensors.add(t);
            }
            for (String name : pruned.keySet()) {
                if (!source.contains(name)) throw new IllegalArgumentException("pruned tensor " + name + " is not in the source checkpoint " + source.dir());
            }
            SafetensorsWriter.writeCheckpoint(tmp, tensors, metadata, SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES);
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            json.writeValue(tmp.resolve(REPORT_FILE).toFile(), report);
            if (Files.exists(target)) deleteRecursively(target);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target);
            }
            done = true;
        } finally {
            if (!done) deleteQuietly(tmp);
            try { Runtime.getRuntime().removeShutdownHook(cleanup); } catch (IllegalStateException shuttingDown) { /* hook runs */ }
        }
    }

    /** Copies config, tokenizer, chat template and other small files; not the weights. */
    private static void copySideFiles(Path src, Path dst) throws IOException {
        try (Stream<Path> s = Files.list(src)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (!Files.isRegularFile(p) || n.startsWith(".") || n.endsWith(".safetensors")
                        || n.equals(Checkpoint.INDEX_FILE) || n.equals(REPORT_FILE)) continue;
                Files.copy(p, dst.resolve(n));
            }
        }
    }

    private static boolean isEmptyDir(Path p) throws IOException {
        if (!Files.isDirectory(p)) return false;
        try (Stream<Path> s = Files.list(p)) { return s.findAny().isEmpty(); }
    }

    static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(q);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /** Deletes p and everything below it, ignoring failures (temporary folders on the way out). */
    static void deleteQuietly(Path p) {
        try { deleteRecursively(p); } catch (IOException | RuntimeException ignored) { /* best effort on the way out */ }
    }
}
