package dev.twofour.cli;

import dev.twofour.bench.GemmBench;
import dev.twofour.bench.GemmReport;
import dev.twofour.bench.GemmShapes;
import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.model.ModelConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code twofour bench ...}: benchmarks. Subcommands hold the flags; the work is in the bench module. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks, dense vs 2:4: GEMM, decode, prefill.",
        subcommands = {BenchCommand.Gemm.class, BenchDecodeCommand.class, BenchPrefillCommand.class, BenchSummaryCommand.class})
final class BenchCommand implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing benchmark (try 'twofour bench gemm --help')");
    }

    @Command(name = "gemm", mixinStandardHelpOptions = true,
            description = {"Y = X·Wᵀ for 2:4 weights: dense cuBLAS, cuSPARSELt (default and tuned) and our kernel,",
                    "per linear-layer shape and M; checked against dense, then timed. Writes gemm.json, gemm.csv,",
                    "gemm.md, selection.tsv and gemm.png into --out."})
    static final class Gemm implements Callable<Integer> {
        @CommandLine.Spec CommandLine.Model.CommandSpec spec;

        @Option(names = "--preset", paramLabel = "NAME",
                description = "Model whose linear shapes to run (qkv, o, gate, gate_up, down): ${COMPLETION-CANDIDATES}. Default: llama2-7b.",
                completionCandidates = Presets.class)
        String preset;

        @Option(names = "--shapes", paramLabel = "NxK,...", description = "Explicit shapes instead of a preset, e.g. 4096x4096,4096x11008.")
        String shapes;

        @Option(names = "--m", split = ",", paramLabel = "M,...", description = "Token counts. Default: 1,2,4,...,4096.")
        List<Integer> ms;

        @Option(names = "--dtype", defaultValue = "fp16", paramLabel = "fp16|bf16", description = "Operand type. Default: ${DEFAULT-VALUE}.")
        String dtype;

        @Option(names = "--out", defaultValue = "bench-results/gemm", paramLabel = "DIR", description = "Output folder. Default: ${DEFAULT-VALUE}.")
        Path out;

        @Option(names = "--no-tune", description = "Skip the cuSPARSELt configuration sweep (the 'tuned' column).")
        boolean noTune;

        @Option(names = "--ours-max-m", defaultValue = "256", paramLabel = "M", description = "Largest M to run our kernel at. Default: ${DEFAULT-VALUE}.")
        int oursMaxM;

        @Option(names = "--ours-sweep", description = "Also time our kernel at fixed split-K counts (printed, for tuning the kernel).")
        boolean oursSweep;

        @Option(names = "--sweep-seconds", defaultValue = "2", paramLabel = "S",
                description = "Seconds the cuSPARSELt configuration sweep may take per M (every configuration at split-K 1, "
                        + "then split-K 2 and 4 for the 4 fastest; ~0.2 s each, 52 configurations on the H100). Default: ${DEFAULT-VALUE}.")
        double sweepSeconds;

        @CommandLine.Mixin GemmTimingOptions timing = new GemmTimingOptions();

        @Option(names = "--from", paramLabel = "FILE", description = "Re-write the reports (and the PNG) from a saved gemm.json; runs nothing.")
        Path from;

        @Override public Integer call() {
            PrintStream log = System.out;
            if (preset != null && shapes != null) throw usage("give --preset or --shapes, not both");
            if (timing.problem() != null) throw usage(timing.problem());
            if (!(sweepSeconds > 0)) throw usage("--sweep-seconds must be > 0, got " + sweepSeconds);
            if (from != null) {
                GemmReport r = GemmReport.readJson(from);
                for (Path p : r.writeAll(out, log)) log.println("wrote " + p);
                return Main.EXIT_OK;
            }
            List<GemmShapes.Shape> list;
            CudaDtype dt;
            try {
                list = shapes != null ? GemmShapes.parse(shapes) : GemmShapes.preset(preset != null ? preset : "llama2-7b");
                dt = CudaDtype.parse(dtype);
            } catch (IllegalArgumentException e) {
                throw usage(e.getMessage());
            }
            if (dt == CudaDtype.F32) throw usage("--dtype must be fp16 or bf16");
            if (!Cuda.isAvailable()) {
                spec.commandLine().getErr().println("twofour: bench gemm needs a GPU: " + Cuda.unavailableReason());
                return Main.EXIT_FAILURE;
            }
            GemmBench.Options o = new GemmBench.Options(list, ms != null ? ms : GemmBench.Options.DEFAULT_MS, dt, !noTune,
                    oursMaxM, oursSweep, timing.warmup, timing.iters, timing.reps, timing.rotateBytes(), out, sweepSeconds);
            GemmReport report = GemmBench.run(o, log);
            for (Path p : report.writeAll(out, log)) log.println("wrote " + p);
            log.println();
            log.print(report.markdown());
            return Main.EXIT_OK;
        }

        private CommandLine.ParameterException usage(String msg) {
            return new CommandLine.ParameterException(spec.commandLine(), msg);
        }
    }

    static final class Presets implements Iterable<String> {
        @Override public java.util.Iterator<String> iterator() { return ModelConfig.presetNames().iterator(); }
    }
}
