package dev.twofour.cli;

import dev.twofour.bench.BenchTarget;
import dev.twofour.cuda.BackendChoice;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.kernels.Kernels;
import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** What {@code bench decode} and {@code bench prefill} run on: --model or --preset, --backend, --dtype, --threads. */
final class BenchTargetOptions {
    @Option(names = "--model", paramLabel = "DIR",
            description = "Hugging Face model directory. Default: the embedded models/tiny-llama-8m (unless --preset).")
    Path model;

    @Option(names = "--preset", paramLabel = "NAME", completionCandidates = BenchCommand.Presets.class,
            description = "A model shape with synthetic weights generated on the GPU: ${COMPLETION-CANDIDATES}.")
    String preset;

    @Option(names = "--sparse-model", paramLabel = "DIR",
            description = "A 2:4 checkpoint of --model (from twofour prune) for the 2:4 runs (on the GPU: loaded packed, the 2:4 "
                    + "kernels). Default: --model itself when it is 2:4, else its weights pruned by magnitude in memory (CPU) or "
                    + "random 2:4 weights of its shape (GPU).")
    Path sparseModel;

    @CommandLine.Mixin BackendOption backend;

    @Option(names = "--dtype", defaultValue = "fp16", paramLabel = "fp16|bf16", description = "GPU weight and activation type. Default: ${DEFAULT-VALUE}.")
    String dtype;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N", description = "CPU backend threads (0: all processors). Default: ${DEFAULT-VALUE}.")
    int threads;

    /** The model's shape and a label, without opening anything (for the memory plan). */
    MemoryTableInput shape(CommandLine cl) {
        if (model != null && preset != null) throw new CommandLine.ParameterException(cl, "give --model or --preset, not both");
        CudaDtype dt = CudaDtype.parse(dtype);
        if (dt == CudaDtype.F32) throw new CommandLine.ParameterException(cl, "--dtype must be fp16 or bf16");
        try {
            if (preset != null) return new MemoryTableInput(preset, dev.twofour.model.ModelConfig.preset(preset), dt);
            Path dir = model != null ? model : ConvertCommand.defaultModel();
            return new MemoryTableInput(dir.toAbsolutePath().normalize().getFileName().toString(), dev.twofour.model.ModelConfig.load(dir), dt);
        } catch (IllegalArgumentException | java.io.IOException e) {
            throw new CommandLine.ParameterException(cl, e.getMessage());
        }
    }

    record MemoryTableInput(String label, dev.twofour.model.ModelConfig config, CudaDtype dtype) {}

    /** Resolves the backend (auto: the GPU when there is one with the CUDA kernels) and builds the target. */
    BenchTarget target(CommandLine cl) {
        if (model != null && preset != null) throw new CommandLine.ParameterException(cl, "give --model or --preset, not both");
        CudaDtype dt;
        try {
            dt = CudaDtype.parse(dtype);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, e.getMessage());
        }
        if (dt == CudaDtype.F32) throw new CommandLine.ParameterException(cl, "--dtype must be fp16 or bf16");
        boolean gpu = backend.resolve() == BackendChoice.CUDA;
        if (gpu && !Kernels.available()) {
            if (backend.requested() == BackendChoice.CUDA) throw new IllegalStateException("--backend cuda: " + Kernels.unavailableReason());
            System.err.println("twofour: the GPU is not used: " + Kernels.unavailableReason() + "; running on the CPU");
            gpu = false;
        }
        Path dir = preset != null ? null : model != null ? model : ConvertCommand.defaultModel();
        try {
            return new BenchTarget(dir, sparseModel, preset, gpu, dt, threads);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, e.getMessage());
        }
    }
}
