package dev.twofour.bench;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The results of {@code twofour bench decode} and their files: decode.json (everything, readable back with
 * {@link #readJson}), decode.csv, decode.md (the table, the memory plan when there is one), decode-tps.png
 * (total tokens/s vs batch, one line per mode) and decode-speedup.png (2:4 over dense vs batch).
 *
 * @param memory the memory plan (dense vs 2:4) of the model; null when not computed
 */
public record DecodeReport(String device, String backend, String model, String dtype, int promptLen, int gen, int warmupSteps,
                           int reps, String createdAt, List<String> notes, List<DecodeResult> results, MemoryTable memory) {

    public static DecodeReport readJson(Path file) {
        return ReportFiles.readJson(file, DecodeReport.class);
    }

    public DecodeReport withMemory(MemoryTable m) {
        return new DecodeReport(device, backend, model, dtype, promptLen, gen, warmupSteps, reps, createdAt, notes, results, m);
    }

    /** Writes json, csv, md and (when this JVM can draw) the two PNGs into {@code dir}; returns the files written. */
    public List<Path> writeAll(Path dir, PrintStream log) {
        return ReportFiles.writeReport(dir, "decode", this, csv(), markdown(), () -> plots(dir), log);
    }

    List<Path> plots(Path dir) {
        List<Path> out = new ArrayList<>();
        ReportFiles.ModeLines lines = ReportFiles.modeLines(modes(), results, DecodeResult::mode, DecodeResult::batch,
                DecodeResult::tokensPerSecondTotal, DecodeResult::speedup);
        String where = model + " " + dtype + ", " + device;
        Path a = dir.resolve("decode-tps.png");
        if (Charts.lineChart(a, "Decode throughput (" + where + ")", "batch (sequences)", "tokens/s (all sequences)", true,
                lines.throughput())) out.add(a);
        Path b = dir.resolve("decode-speedup.png");
        if (Charts.lineChart(b, "2:4 decode speedup over dense (" + where + ")", "batch (sequences)", "speedup (dense step time / 2:4 step time)",
                true, lines.speedup())) out.add(b);
        return out;
    }

    /** Modes in the order they were run. */
    public List<String> modes() {
        return results.stream().map(DecodeResult::mode).distinct().toList();
    }

    public Optional<DecodeResult> find(String mode, int batch) {
        return results.stream().filter(r -> r.mode().equals(mode) && r.batch() == batch).findFirst();
    }

    public String csv() {
        StringBuilder sb = new StringBuilder("model,dtype,backend,mode,batch,prompt_len,gen,ttft_ms,ms_per_step_median,ms_per_step_p90,"
                + "tok_s_per_seq,tok_s_total,speedup_vs_dense,weight_bytes_per_step,gpu_memory_bytes\n");
        for (DecodeResult r : results) {
            sb.append(String.format(Locale.ROOT, "%s,%s,%s,%s,%d,%d,%d,%.3f,%.4f,%.4f,%.2f,%.2f,%.4f,%d,%d%n", ReportFiles.csv(model),
                    ReportFiles.csv(dtype), backend, r.mode(), r.batch(), promptLen, gen, r.ttftMillis(), r.msPerStepMedian(), r.msPerStepP90(),
                    r.tokensPerSecondPerSequence(), r.tokensPerSecondTotal(), r.speedup(), r.weightBytesPerToken(), r.deviceMemoryBytes()));
        }
        return sb.toString();
    }

    public String markdown() {
        StringBuilder sb = new StringBuilder("# twofour bench decode\n\n");
        sb.append(String.format(Locale.ROOT, "%s, %s, on %s (%s backend); prompt %d tokens, %d generated per sequence (%d timed steps); "
                        + "greedy; %d warm-up steps, median of %d repetitions; %s.%n%n",
                model, dtype, device, backend, promptLen, gen, gen - 1, warmupSteps, reps, createdAt));
        sb.append("| mode | batch | TTFT ms | ms/token (median) | ms/token (p90) | tok/s per sequence | tok/s total | speedup vs dense | weights/step | GPU memory |\n");
        sb.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (DecodeResult r : results) {
            sb.append(String.format(Locale.ROOT, "| %s | %d | %.2f | %.3f | %.3f | %.1f | %.1f | %s | %s | %s |%n", r.mode(), r.batch(),
                    r.ttftMillis(), r.msPerStepMedian(), r.msPerStepP90(), r.tokensPerSecondPerSequence(), r.tokensPerSecondTotal(),
                    Double.isNaN(r.speedup()) ? "—" : String.format(Locale.ROOT, "%.2fx", r.speedup()),
                    mb(r.weightBytesPerToken()), ReportFiles.gib(r.deviceMemoryBytes())));
        }
        sb.append('\n');
        for (String n : notes) sb.append("- ").append(n).append('\n');
        if (memory != null) sb.append('\n').append("## Memory\n\n").append(memory.markdown());
        return sb.toString();
    }

    static String mb(long bytes) {
        return bytes >= (1L << 30) ? ReportFiles.gib(bytes) : String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1 << 20));
    }
}
