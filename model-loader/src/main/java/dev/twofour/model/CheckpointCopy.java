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
            for (String n : ck.names()) tensors.add(ck.tensor(n));
            return SafetensorsWriter.writeCheckpoint(dst, tensors, Map.of(), maxShardBytes);
        }
    }

    /** {@code java ... dev.twofour.model.CheckpointCopy SRC_DIR DST_DIR [MAX_SHARD_BYTES]} */
    public static void main(String[] args) throws IOException {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: CheckpointCopy SRC_DIR DST_DIR [MAX_SHARD_BYTES]");
            System.exit(2);
        }
        long max = args.length == 3 ? Long.parseLong(args[2]) : SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES;
        List<Path> files = copy(Path.of(args[0]), Path.of(args[1]), max);
        System.out.println("wrote " + files.size() + " safetensors file(s) to " + args[1]);
    }
}
