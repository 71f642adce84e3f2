package dev.twofour.cli;

import dev.twofour.bench.GemmShapes;
import dev.twofour.bench.ProgressBar;
import dev.twofour.bench.Tuner;
import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.kernels.Sparse24Selection;
import dev.twofour.model.ModelConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code twofour tune}: flags only; the measuring and the child processes are in dev.twofour.bench.Tuner. */
@Command(name = "tune", mixinStandardHelpOptions = true,
        description = {"Measure dense cuBLAS, our 2:4 kernel and cuSPARSELt (default, configuration sweep, search) for every",
                "linear shape of a model and every M the runtime uses, one child process per shape (a cuSPARSELt crash",
                "loses only that configuration), and store the fastest per (shape, M) as this GPU's tuning data, read by",
                "the CUDA backend: ~/.cache/twofour/tuning/GPU-cusparselt-VERSION-DTYPE.tsv unless --out is given."})
final class TuneCommand implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR", description = "Model whose linear shapes to tune. Default: the embedded tiny-llama-8m.")
    Path model;

    @Option(names = "--preset", paramLabel = "NAME", description = "A model shape instead of a folder: ${COMPLETION-CANDIDATES}.",
            completionCandidates = BenchCommand.Presets.class)
    String preset;

    @Option(names = "--shapes", paramLabel = "NxK,...", description = "Explicit N x K shapes instead of a model, e.g. 4096x4096,4096x11008.")
    String shapes;

    @Option(names = "--dtype", defaultValue = "fp16", paramLabel = "fp16|bf16", description = "Weight and activation type. Default: ${DEFAULT-VALUE}.")
    String dtype;

    @Option(names = "--m", split = ",", paramLabel = "M,...",
            description = "Token counts to tune. Default: the decode buckets and prefill chunks 1,2,4,...,64,128,...,2048.")
    List<Integer> ms;

    @Option(names = "--out", paramLabel = "FILE", description = "Where to write the tuning data. Default: this GPU's tuning cache file.")
    Path out;

    @Option(names = "--timeout-per-shape", defaultValue = "300", paramLabel = "S",
            description = "Seconds all child processes of one shape may take; the cuSPARSELt sweep gets 60% of it, spread over the M values. Default: ${DEFAULT-VALUE}.")
    double timeoutPerShape;

    @Option(names = "--no-search", description = "Skip cusparseLtMatmulSearch (it has failed with INTERNAL_ERROR); the configuration sweep still runs.")
    boolean noSearch;

    @CommandLine.Mixin GemmTimingOptions timing = new GemmTimingOptions();

    @Override public Integer call() throws IOException {
        PrintStream log = System.out;
        int given = (model != null ? 1 : 0) + (preset != null ? 1 : 0) + (shapes != null ? 1 : 0);
        if (given > 1) throw usage("give one of --model, --preset and --shapes");
        if (timing.problem() != null) throw usage(timing.problem());
        if (!(timeoutPerShape > 0)) throw usage("--timeout-per-shape must be > 0 seconds");
        if (ms != null && (ms.isEmpty() || ms.stream().anyMatch(m -> m <= 0))) throw usage("--m values must be > 0, got " + ms);
        List<GemmShapes.Shape> list;
        CudaDtype dt;
        try {
            dt = CudaDtype.parse(dtype);
            if (shapes != null) {
                list = GemmShapes.parse(shapes);
            } else if (preset != null) {
                list = Tuner.modelShapes(ModelConfig.preset(preset));
            } else {
                Path dir = model != null ? model : ConvertCommand.defaultModel();
                if (!Files.isRegularFile(dir.resolve("config.json"))) {
                    throw usage("--model " + dir + ": no config.json there; give a Hugging Face model folder, or --preset NAME");
                }
                list = Tuner.modelShapes(ModelConfig.load(dir));
            }
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        if (dt == CudaDtype.F32) throw usage("--dtype must be fp16 or bf16");
        if (!Cuda.isAvailable()) {
            spec.commandLine().getErr().println("twofour: tune needs a GPU: " + Cuda.unavailableReason());
            return Main.EXIT_FAILURE;
        }
        Tuner.Environment env = Tuner.Environment.detect();
        Path file = out;
        if (file == null) {
            if (env.cusparseLt().equals("none")) {
                spec.commandLine().getErr().println("twofour: cuSPARSELt is not installed, and the tuning cache is kept per cuSPARSELt version:"
                        + " install it (pip install nvidia-cusparselt-cu12/cu13) or give --out FILE");
                return Main.EXIT_FAILURE;
            }
            file = Sparse24Selection.tuningCacheFile(Path.of(System.getProperty("user.home")), env.gpu(), env.cusparseLt(), dt);
        }
        Tuner.Options o;
        try {
            o = new Tuner.Options(list, ms != null ? ms : Tuner.Options.DEFAULT_MS, dt, file, timeoutPerShape, !noSearch,
                    timing.warmup, timing.iters, timing.reps, timing.rotateBytes(), "twofour " + String.join(" ", spec.commandLine().getParseResult().originalArgs()));
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        log.println("tuning " + list.size() + " shapes x " + o.ms().size() + " M values on " + env.gpu() + " (cuSPARSELt " + env.cusparseLt()
                + "), at most " + (long) timeoutPerShape + " s per shape; writing " + file);
        Tuner.Outcome outcome = Tuner.run(o, env, Tuner.sameJvm(), log, ProgressBar.on(System.err, "tune", list.size() * o.ms().size()));
        boolean anyFailure = outcome.shapes().stream().anyMatch(s -> !s.failures().isEmpty());
        if (anyFailure) log.println("some measurements failed (listed above); the file holds everything that was measured correctly");
        return outcome.selection().entries().isEmpty() ? Main.EXIT_FAILURE : Main.EXIT_OK;
    }

    private CommandLine.ParameterException usage(String msg) {
        return new CommandLine.ParameterException(spec.commandLine(), msg);
    }
}
