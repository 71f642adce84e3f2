package dev.twofour.cli;

import dev.twofour.bench.BenchTarget;
import dev.twofour.bench.PrefillBench;
import dev.twofour.bench.PrefillReport;
import dev.twofour.bench.ProgressBar;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code twofour bench prefill}: prompt processing speed, dense vs 2:4. The work is in dev.twofour.bench.PrefillBench. */
@Command(name = "prefill", mixinStandardHelpOptions = true,
        description = {"Prefill speed, dense vs 2:4 of the same model: time until the last prompt token's logits are back, and tokens/s,",
                "per prompt length, after a warm-up, median of --reps. Writes prefill.json, prefill.csv, prefill.md and",
                "prefill-tps.png / prefill-speedup.png into --out."})
final class BenchPrefillCommand implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin BenchTargetOptions target;

    @Option(names = "--sparse", defaultValue = "both", paramLabel = "auto|off|both",
            description = "both: dense then 2:4; off: dense only; auto: the model as it is (2:4 for presets). Default: ${DEFAULT-VALUE}.")
    String sparse;

    @Option(names = "--lengths", split = ",", paramLabel = "N,...", description = "Prompt lengths. Default: 512,2048,8192.")
    List<Integer> lengths;

    @Option(names = "--chunk", defaultValue = "2048", paramLabel = "N", description = "Prompt tokens per forward pass on the GPU. Default: ${DEFAULT-VALUE}.")
    int chunk;

    @Option(names = "--reps", defaultValue = "3", paramLabel = "N", description = "Timed repetitions per length. Default: ${DEFAULT-VALUE}.")
    int reps;

    @Option(names = "--out", defaultValue = "bench-results/prefill", paramLabel = "DIR", description = "Output folder. Default: ${DEFAULT-VALUE}.")
    Path out;

    @Option(names = "--from", paramLabel = "FILE", description = "Re-write the reports (and PNGs) from a saved prefill.json; runs nothing.")
    Path from;

    @Override public Integer call() {
        PrintStream log = System.out;
        if (from != null) {
            PrefillReport r = PrefillReport.readJson(from);
            for (Path p : r.writeAll(out, log)) log.println("wrote " + p);
            return Main.EXIT_OK;
        }
        PrefillBench.Options o;
        BenchTarget t = target.target(spec.commandLine());
        try {
            o = new PrefillBench.Options(lengths, chunk, reps, sparse);
            t.modes(sparse);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        log.printf("bench prefill: %s on %s, lengths %s, %d reps%n", t.label(), t.backendName(), o.lengths(), reps);
        double total = t.modes(sparse).size() * (1.0 + reps) * o.lengths().stream().mapToInt(Integer::intValue).sum();
        PrefillReport report = PrefillBench.run(t, o, ProgressBar.on(System.err, "bench prefill", total), log);
        for (Path p : report.writeAll(out, log)) log.println("wrote " + p);
        log.println();
        log.print(report.markdown());
        return Main.EXIT_OK;
    }
}
