package dev.twofour.bench;

import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.kernels.Kernels;
import dev.twofour.model.Checkpoint;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.Sparse24;
import dev.twofour.model.WeightNames;
import dev.twofour.runtime.LinearWeights;
import dev.twofour.runtime.Transformer;
import dev.twofour.runtime.cpu.CpuBackend;
import dev.twofour.runtime.cuda.CudaModel;
import dev.twofour.runtime.cuda.SparseMode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * What a decode or prefill benchmark runs: a model (a Hugging Face directory, or a preset's shape with synthetic
 * weights) on the CPU or the GPU, opened dense or 2:4 one at a time (so a model and its 2:4 twin never share the
 * GPU's memory).
 *
 * <ul>
 *   <li>GPU, preset: {@link CudaModel#synthetic} dense or directly 2:4-packed (seeded, nothing on disk).</li>
 *   <li>GPU, directory: dense from the checkpoint ({@link CudaModel#load} with sparse mode off); 2:4 from
 *       {@code sparseDir} (a pruned checkpoint), or the directory itself when it is 2:4 (sparse mode on: packed, the
 *       2:4 kernels), else synthetic 2:4 weights of the same shape (speed does not depend on the values).</li>
 *   <li>CPU, directory: {@link Transformer} on the CPU backend; dense with every layer forced dense; 2:4 from
 *       {@code sparseDir} (a pruned checkpoint), or the directory itself when it is 2:4, else its weights pruned
 *       by magnitude in memory (for speed; quality comes from {@code twofour prune}).</li>
 *   <li>CPU, preset: refused (an 8B+ model with random weights on the CPU measures nothing useful).</li>
 * </ul>
 *
 * @param modelDir  checkpoint directory (null with a preset)
 * @param sparseDir a 2:4 checkpoint of the same model for the 2:4 runs (nullable)
 * @param preset    {@link ModelConfig#preset} name (null with a directory)
 * @param gpu       run on GPU 0 (else the CPU)
 * @param dtype     fp16 or bf16 on the GPU (the CPU computes in fp32 on the checkpoint's dtype)
 * @param cpuThreads threads of the CPU backend (0: all processors)
 */
public record BenchTarget(Path modelDir, Path sparseDir, String preset, boolean gpu, CudaDtype dtype, int cpuThreads) {
    public BenchTarget {
        if ((modelDir == null) == (preset == null)) throw new IllegalArgumentException("give a model directory or a preset, exactly one");
        if (preset != null) ModelConfig.preset(preset);  // validates the name
        if (preset != null && !gpu) {
            throw new IllegalArgumentException("synthetic presets (--preset " + preset + ") run on the GPU only; on the CPU pass --model DIR");
        }
        if (modelDir != null && !Files.isDirectory(modelDir)) {
            throw new IllegalArgumentException("model directory " + modelDir + " does not exist; pass --model DIR");
        }
        if (dtype == null) dtype = CudaDtype.F16;
        if (dtype != CudaDtype.F16 && dtype != CudaDtype.BF16) throw new IllegalArgumentException("--dtype must be fp16 or bf16");
    }

    /** Seed of synthetic weights (fixed: the same run measures the same model). */
    static final long SEED = 7;

    public ModelConfig config() {
        if (preset != null) return ModelConfig.preset(preset);
        try {
            return ModelConfig.load(modelDir);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + modelDir.resolve("config.json") + ": " + e.getMessage(), e);
        }
    }

    /** The preset name or the directory's name. */
    public String label() {
        return preset != null ? preset : modelDir.toAbsolutePath().normalize().getFileName().toString();
    }

    /** "cpu" or "cuda". */
    public String backendName() { return gpu ? "cuda" : "cpu"; }

    /** fp16/bf16 on the GPU; on the CPU the checkpoint's dtype (math in fp32). */
    public String dtypeName() {
        if (gpu) return dtype == CudaDtype.F16 ? "fp16" : "bf16";
        return config().dtype().name().toLowerCase(Locale.ROOT) + " weights, fp32 math";
    }

    /** The device in words: the GPU's name, or the CPU backend's description. */
    public String deviceName() {
        if (gpu) return CudaContext.primary(0).device().name();
        try (CpuBackend b = cpuBackend()) {
            return b.description();
        }
    }

    private CpuBackend cpuBackend() {
        return cpuThreads > 0 ? new CpuBackend(cpuThreads) : new CpuBackend();
    }

    /** Whether the checkpoint's linear weights are 2:4 already (a pruned model); false for presets. */
    public boolean checkpointIs24() {
        if (modelDir == null) return false;
        try (Checkpoint ck = Checkpoint.open(modelDir)) {
            return Sparse24.check(ck.tensor(WeightNames.Linear.Q.weight(0))).is24()
                    && Sparse24.check(ck.tensor(WeightNames.Linear.DOWN.weight(0))).is24();
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + modelDir + ": " + e.getMessage(), e);
        }
    }

    /** Modes to run for {@code --sparse}: off = dense, both = dense then 2:4, auto = the model as it is (2:4 for presets). */
    public List<Boolean> modes(String sparse) {
        return switch (sparse.toLowerCase(Locale.ROOT)) {
            case "off" -> List.of(false);
            case "both" -> List.of(false, true);
            case "on", "2:4" -> List.of(true);
            case "auto" -> List.of(preset != null || checkpointIs24());
            default -> throw new IllegalArgumentException("--sparse must be auto, off or both, got '" + sparse + "'");
        };
    }

    /**
     * Opens the model dense or 2:4 with room for {@code maxBatch} sequences of {@code maxContext} positions.
     * @param prefillChunk prompt tokens per forward pass on the GPU
     */
    public BenchModel open(boolean sparse, int maxBatch, int maxContext, int prefillChunk) {
        String mode = sparse ? "2:4" : "dense";
        if (gpu) return openCuda(sparse, mode, maxBatch, maxContext, prefillChunk);
        return openCpu(sparse, mode, maxBatch, maxContext);
    }

    private BenchModel openCuda(boolean sparse, String mode, int maxBatch, int maxContext, int prefillChunk) {
        Cuda.requireAvailable();
        if (!Kernels.available()) throw new IllegalStateException("the GPU benchmarks need the CUDA kernels: " + Kernels.unavailableReason());
        CudaContext ctx = CudaContext.primary(0);
        ctx.setCurrent();
        long freeBefore = ctx.memoryInfo().free();
        CudaModel.Options o = new CudaModel.Options(maxBatch, maxContext, prefillChunk, false, true);
        if (preset != null) {
            return new CudaBenchModel(CudaModel.synthetic(config(), dtype, sparse, SEED, o, ctx), mode,
                    "synthetic: seeded random weights generated on the GPU" + (sparse ? " directly in 2:4-packed form" : ""), ctx, freeBefore);
        }
        Path dir = cudaCheckpoint(sparse);
        if (dir == null) {
            return new CudaBenchModel(CudaModel.synthetic(config(), dtype, true, SEED, o, ctx), mode,
                    "random 2:4 weights of " + label() + "'s shape generated on the GPU (" + modelDir + " is not 2:4: give a pruned "
                            + "checkpoint with --sparse-model DIR for its own weights; speed does not depend on the values)",
                    ctx, freeBefore);
        }
        try {
            CudaModel m = CudaModel.load(dir, dtype, o, ctx, sparse ? SparseMode.ON : SparseMode.OFF);
            return new CudaBenchModel(m, mode, "weights of " + dir + (sparse ? ", " + m.sparsitySummary() : ", every linear layer dense"),
                    ctx, freeBefore);
        } catch (IOException e) {
            throw new UncheckedIOException("loading " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * The checkpoint a GPU run loads (with a directory, not a preset): the model for dense runs (sparse mode off); for 2:4
     * runs {@code sparseDir}, else the model when it is 2:4 (sparse mode on), else null: synthetic 2:4 weights of its shape.
     */
    Path cudaCheckpoint(boolean sparse) {
        if (!sparse) return modelDir;
        if (sparseDir != null) return sparseDir;
        return checkpointIs24() ? modelDir : null;
    }

    private BenchModel openCpu(boolean sparse, String mode, int maxBatch, int maxContext) {
        CpuBackend backend = cpuBackend();
        try {
            int maxTokens = maxBatch * (maxContext + 16);
            if (!sparse) {
                Transformer t = Transformer.load(modelDir, backend, new Transformer.Options(true));
                return new CpuBenchModel(t, mode, "weights of " + modelDir + ", every linear layer dense", maxTokens, backend);
            }
            Path dir = sparseDir != null ? sparseDir : modelDir;
            Transformer t = Transformer.load(dir, backend, Transformer.Options.defaults());
            String note;
            if (allSparse(t)) {
                note = "2:4 weights of " + dir + " (packed values + metadata)";
            } else if (sparseDir != null) {
                t.close();
                throw new IllegalArgumentException(sparseDir + " is not a 2:4 checkpoint (some linear layers are not 2:4); prune it with twofour prune");
            } else {
                Magnitude24.pruneInPlace(t);
                note = "weights of " + dir + " pruned to 2:4 by magnitude in memory (for speed; quality comes from twofour prune)";
            }
            return new CpuBenchModel(t, mode, note, maxTokens, backend);
        } catch (IOException e) {
            backend.close();
            throw new UncheckedIOException("loading " + modelDir + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
    }

    static boolean allSparse(Transformer t) {
        for (int l = 0; l < t.numLayers(); l++) {
            for (WeightNames.Linear w : WeightNames.Linear.values()) {
                if (t.linearLayout(l, w) != LinearWeights.Layout.SPARSE24) return false;
            }
        }
        return true;
    }
}
