package dev.twofour.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Rewrites a checkpoint directory with {@link SafetensorsWriter}: every tensor unchanged, the other
 * files (config.json, tokenizer, templates) copied. Used to check that Hugging Face loads what we
 * write (tools/goldens/check_hf_loads.py), and by tools that produce modified checkpoints.
 */
public final class CheckpointCopy {
    private CheckpointCopy() {}

    /** Copies {@code src} to {@code dst}, writing the tensors with our writer (sharded above {@code maxShardBytes}). */
    public static List<Path> copy(Path src, Path dst, long maxShardBytes) throws IOException {
        return copy(src, dst, maxShardBytes, t -> t);
    }

    /**
     * Copies {@code src} to {@code dst} with every linear weight (per config.json) magnitude-pruned to
     * 2:4 ({@link Sparse24#pruneMagnitude}): a portable 2:4 checkpoint, the simplest baseline.
     */
    public static List<Path> copyMagnitudePruned(Path src, Path dst, long maxShardBytes) throws IOException {
        java.util.Set<String> linear = new java.util.HashSet<>(WeightNames.linearWeights(ModelConfig.load(src)));
        return copy(src, dst, maxShardBytes, t -> linear.contains(t.name()) ? Sparse24.pruneMagnitude(t) : t);
    }

    /** Copies {@code src} to {@code dst}, passing every tensor through {@code transform} (same name). */
    public static List<Path> copy(Path src, Path dst, long maxShardBytes,
                                  java.util.function.UnaryOperator<TensorView> transform) throws IOException {
        Files.createDirectories(dst);
        try (Stream<Path> s = Files.list(src)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (Files.isRegularFile(p) && !n.endsWith(".safetensors") && !n.equals(Checkpoint.INDEX_FILE)
                        && !n.startsWith(".")) {
                    Files.copy(p, dst.resolve(n), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        try (Checkpoint ck = Checkpoint.open(src)) {
            List<TensorView> tensors = new ArrayList<>();
            for (String n : ck.names()) {
                TensorView t = transform.apply(ck.tensor(n));
                if (!t.name().equals(n)) throw new IllegalArgumentException("transform renamed " + n + " to " + t.name());
                tensors.add(t);
            }
            return SafetensorsWriter.writeCheckpoint(dst, tensors, Map.of(), maxShardBytes);
        }
    }

    /** {@code java ... dev.twofour.model.CheckpointCopy [--prune-magnitude] SRC_DIR DST_DIR [MAX_SHARD_BYTES]} */
    public static void main(String[] args) throws IOException {
        boolean prune = args.length > 0 && args[0].equals("--prune-magnitude");
        if (prune) args = java.util.Arrays.copyOfRange(args, 1, args.length);
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: CheckpointCopy [--prune-magnitude] SRC_DIR DST_DIR [MAX_SHARD_BYTES]");
            System.exit(2);
        }
        long max = args.length == 3 ? Long.parseLong(args[2]) : SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES;
        Path src = Path.of(args[0]), dst = Path.of(args[1]);
        List<Path> files = prune ? copyMagnitudePruned(src, dst, max) : copy(src, dst, max);
        System.out.println("wrote " + files.size() + " safetensors file(s) to " + args[1]);
    }
}
