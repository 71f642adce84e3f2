package dev.twofour.pruner;

import java.nio.file.Path;

/**
 * Everything {@code twofour prune} needs.
 * @param samples  calibration sequences (null: {@link Pruner#DEFAULT_SAMPLES})
 * @param seqLen   tokens per sequence (null: min(2048, context), capped for the CPU, see {@link Pruner#defaultSeqLen})
 * @param backend  "cpu", "cuda" or "auto"
 * @param force    replace an existing output directory
 */
public record PruneRequest(Path modelDir, Path calibFile, Path outDir, PruneSettings settings,
                           Integer samples, Integer seqLen, long seed, String backend, boolean force) {
    public PruneRequest {
        if (modelDir == null) throw new IllegalArgumentException("model directory missing");
        if (calibFile == null) throw new IllegalArgumentException("calibration file missing (--calib FILE)");
        if (outDir == null) throw new IllegalArgumentException("output directory missing (--out DIR)");
        if (settings == null) throw new IllegalArgumentException("pruning settings missing");
        if (backend == null) backend = "auto";
    }
}
