package dev.twofour.cli;

import dev.twofour.bench.DecodeBench;
import dev.twofour.bench.Demo;
import dev.twofour.cuda.BackendChoice;
import dev.twofour.kernels.Kernels;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code twofour demo}: prune the embedded model to 2:4 and compare it with the dense one. The work is in dev.twofour.bench.Demo. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"The whole story in about a minute, on the embedded tiny model: prune it to 2:4 (prox + refine, calibration",
                "text in data/), perplexity dense vs 2:4 on the validation text in data/, a greedy continuation from each,",
                "and decode speed dense vs 2:4 (on the GPU when there is one, else the CPU). Progress on stderr, the summary on stdout."})
final class DemoCommand implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR", description = "A small dense model directory. Default: the embedded models/tiny-llama-8m.")
    Path model;

    @CommandLine.Mixin BackendOption backend;

    @Option(names = "--calib", paramLabel = "FILE", description = "Calibration text. Default: data/calibration.txt.")
    Path calib;

    @Option(names = "--text", paramLabel = "FILE", description = "Validation text for perplexity. Default: data/valid.txt.")
    Path text;

    @Option(names = "--samples", defaultValue = "16", paramLabel = "N", description = "Calibration sequences. Default: ${DEFAULT-VALUE}.")
    int samples;

    @Option(names = "--seqlen", defaultValue = "256", paramLabel = "L", description = "Tokens per calibration sequence. Default: ${DEFAULT-VALUE}.")
    int seqLen;

    @Option(names = "--ppl-tokens", defaultValue = "16384", paramLabel = "N",
            description = "Perplexity on the first N tokens of the validation text (0: all of it; slower). Default: ${DEFAULT-VALUE}.")
    int pplTokens;

    @Option(names = "--ctx", defaultValue = "256", paramLabel = "N", description = "Perplexity window. Default: ${DEFAULT-VALUE}.")
    int ctx;

    @Option(names = "--prompt", defaultValue = "In the beginning God created", paramLabel = "TEXT", description = "Prompt to continue. Default: ${DEFAULT-VALUE}.")
    String prompt;

    @Option(names = "--gen", defaultValue = "24", paramLabel = "N", description = "Tokens of each continuation. Default: ${DEFAULT-VALUE}.")
    int gen;

    @Option(names = "--batch", split = ",", paramLabel = "B,...", description = "Decode benchmark batch sizes. Default: 1,8.")
    List<Integer> batches;

    @Option(names = "--decode-gen", defaultValue = "32", paramLabel = "N", description = "Decode benchmark tokens per sequence. Default: ${DEFAULT-VALUE}.")
    int decodeGen;

    @Option(names = "--reps", defaultValue = "3", paramLabel = "N", description = "Decode benchmark repetitions. Default: ${DEFAULT-VALUE}.")
    int reps;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N", description = "CPU backend threads (0: all processors). Default: ${DEFAULT-VALUE}.")
    int threads;

    @Override public Integer call() throws Exception {
        Path home = Path.of(System.getProperty("twofour.home", "."));
        Path dir = model != null ? model : ConvertCommand.defaultModel();
        boolean gpu = backend.resolve() == BackendChoice.CUDA;
        if (gpu && !Kernels.available()) {
            if (backend.requested() == BackendChoice.CUDA) throw new IllegalStateException("--backend cuda: " + Kernels.unavailableReason());
            System.err.println("twofour: the GPU is not used: " + Kernels.unavailableReason() + "; running on the CPU");
            gpu = false;
        }
        Demo.Options o;
        try {
            o = new Demo.Options(dir, calib != null ? calib : home.resolve("data/calibration.txt"), text != null ? text : home.resolve("data/valid.txt"),
                    samples, seqLen, pplTokens, ctx, prompt, gen,
                    new DecodeBench.Options(batches != null ? batches : List.of(1, 8), 32, decodeGen, 4, reps, "both"), gpu, threads);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        Demo.Summary s = Demo.run(o, System.err);
        System.out.println();
        System.out.print(s.text());
        System.out.flush();
        return Main.EXIT_OK;
    }
}
