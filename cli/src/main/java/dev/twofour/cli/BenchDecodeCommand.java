package dev.twofour.cli;

import dev.twofour.bench.BenchTarget;
import dev.twofour.bench.DecodeBench;
import dev.twofour.bench.DecodeReport;
import dev.twofour.bench.MemoryTable;
import dev.twofour.bench.ProgressBar;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code twofour bench decode}: decode speed, dense vs 2:4. The work is in dev.twofour.bench.DecodeBench. */
@Command(name = "decode", mixinStandardHelpOptions = true,
        description = {"Decode speed, dense vs 2:4 of the same model: TTFT, ms/token (median, p90), tokens/s per sequence and in total,",
                "GPU memory; per batch size, after a warm-up, median of --reps. Writes decode.json, decode.csv, decode.md and",
                "decode-tps.png / decode-speedup.png into --out. On the GPU the report ends with the memory plan (dense vs 2:4)."})
final class BenchDecodeCommand implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin BenchTargetOptions target;

    @Option(names = "--sparse", defaultValue = "both", paramLabel = "auto|off|both",
            description = "both: dense then 2:4; off: dense only; auto: the model as it is (2:4 for presets). Default: ${DEFAULT-VALUE}.")
    String sparse;

    @Option(names = "--batch", split = ",", paramLabel = "B,...", description = "Batch sizes (1..64). Default: 1,8,32,64.")
    List<Integer> batches;

    @Option(names = "--prompt-len", defaultValue = "128", paramLabel = "N", description = "Prompt tokens per sequence. Default: ${DEFAULT-VALUE}.")
    int promptLen;

    @Option(names = "--gen", defaultValue = "256", paramLabel = "N", description = "Tokens generated per sequence. Default: ${DEFAULT-VALUE}.")
    int gen;

    @Option(names = "--warmup", defaultValue = "8", paramLabel = "N", description = "Decode steps of the untimed warm-up per batch. Default: ${DEFAULT-VALUE}.")
    int warmup;

    @Option(names = "--reps", defaultValue = "3", paramLabel = "N", description = "Timed repetitions per batch (medians are reported). Default: ${DEFAULT-VALUE}.")
    int reps;

    @Option(names = "--out", defaultValue = "bench-results/decode", paramLabel = "DIR", description = "Output folder. Default: ${DEFAULT-VALUE}.")
    Path out;

    @Option(names = "--memory-table", description = "Only print (and write memory.md / memory.json) the memory plan, dense vs 2:4, "
            + "for the largest batch and prompt + gen positions, with what the GPU has free; allocates nothing.")
    boolean memoryTable;

    @Option(names = "--from", paramLabel = "FILE", description = "Re-write the reports (and PNGs) from a saved decode.json; runs nothing.")
    Path from;

    @Override public Integer call() {
        PrintStream log = System.out;
        if (from != null) {
            DecodeReport r = DecodeReport.readJson(from);
            for (Path p : r.writeAll(out, log)) log.println("wrote " + p);
            return Main.EXIT_OK;
        }
        DecodeBench.Options o;
        try {
            o = new DecodeBench.Options(batches, promptLen, gen, warmup, reps, sparse);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        if (memoryTable) {
            BenchTargetOptions.MemoryTableInput in = target.shape(spec.commandLine());
            MemoryTable m = memoryTable(in.label(), in.config(), in.dtype(), o);
            log.print(m.markdown());
            for (Path p : m.writeAll(out)) log.println("wrote " + p);
            return Main.EXIT_OK;
        }
        BenchTarget t = target.target(spec.commandLine());
        try {
            t.modes(sparse);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        log.printf("bench decode: %s on %s, batches %s, prompt %d, gen %d, %d reps%n", t.label(), t.backendName(), o.batches(), promptLen, gen, reps);
        int modes = t.modes(sparse).size();
        DecodeReport report = DecodeBench.run(t, o, ProgressBar.on(System.err, "bench decode", modes * o.batches().size() * (1.0 + reps)), log);
        if (t.gpu()) report = report.withMemory(memoryTable(t.label(), t.config(), t.dtype(), o));
        for (Path p : report.writeAll(out, log)) log.println("wrote " + p);
        log.println();
        log.print(report.markdown());
        return Main.EXIT_OK;
    }

    private static MemoryTable memoryTable(String label, dev.twofour.model.ModelConfig cfg, dev.twofour.cuda.CudaDtype dtype, DecodeBench.Options o) {
        int maxBatch = o.batches().stream().mapToInt(Integer::intValue).max().orElse(1);
        return MemoryTable.of(label, cfg, dtype, maxBatch, o.promptLen() + o.gen() + 1, Math.min(512, Math.max(o.promptLen(), 16)));
    }
}
