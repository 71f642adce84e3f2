package dev.twofour.bench;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The results of {@code twofour bench prefill} and their files: prefill.json (readable back with
 * {@link #readJson}), prefill.csv, prefill.md, prefill-tps.png (tokens/s vs prompt length, one line per mode)
 * and prefill-speedup.png (2:4 over dense vs length).
 */
public record PrefillReport(String device, String backend, String model, String dtype, int chunk, int reps, String createdAt,
                            List<String> notes, List<PrefillResult> results) {

    public static PrefillReport readJson(Path file) {
        return ReportFiles.readJson(file, PrefillReport.class);
    }

    /** Writes json, csv, md and (when this JVM can draw) the two PNGs into {@code dir}; returns the files written. */
    public List<Path> writeAll(Path dir, PrintStream log) {
        return ReportFiles.writeReport(dir, "prefill", this, csv(), markdown(), () -> plots(dir), log);
    }

    List<Path> plots(Path dir) {
        List<Path> out = new ArrayList<>();
        ReportFiles.ModeLines lines = ReportFiles.modeLines(modes(), results, PrefillResult::mode, PrefillResult::length,
                PrefillResult::tokensPerSecond, PrefillResult::speedup);
        String where = model + " " + dtype + ", " + device;
        Path a = dir.resolve("prefill-tps.png");
        if (Charts.lineChart(a, "Prefill throughput (" + where + ")", "prompt tokens", "tokens/s", true, lines.throughput())) out.add(a);
        Path b = dir.resolve("prefill-speedup.png");
        if (Charts.lineChart(b, "2:4 prefill speedup over dense (" + where + ")", "prompt tokens", "speedup (dense time / 2:4 time)", true,
                lines.speedup())) out.add(b);
        return out;
    }

    public List<String> modes() {
        return results.stream().map(PrefillResult::mode).distinct().toList();
    }

    public Optional<PrefillResult> find(String mode, int length) {
        return results.stream().filter(r -> r.mode().equals(mode) && r.length() == length).findFirst();
    }

    public String csv() {
        StringBuilder sb = new StringBuilder("model,dtype,backend,mode,length,ms_median,ms_min,tok_s,speedup_vs_dense\n");
        for (PrefillResult r : results) {
            sb.append(String.format(Locale.ROOT, "%s,%s,%s,%s,%d,%.3f,%.3f,%.1f,%.4f%n", ReportFiles.csv(model), ReportFiles.csv(dtype), backend,
                    r.mode(), r.length(), r.millisMedian(), r.millisMin(), r.tokensPerSecond(), r.speedup()));
        }
        return sb.toString();
    }

    public String markdown() {
        StringBuilder sb = new StringBuilder("# twofour bench prefill\n\n");
        sb.append(String.format(Locale.ROOT, "%s, %s, on %s (%s backend); chunks of up to %d tokens; one warm-up, median of %d; %s.%n%n",
                model, dtype, device, backend, chunk, reps, createdAt));
        sb.append("| mode | prompt tokens | ms (median) | ms (min) | tok/s | speedup vs dense |\n|---|---:|---:|---:|---:|---:|\n");
        for (PrefillResult r : results) {
            sb.append(String.format(Locale.ROOT, "| %s | %d | %.2f | %.2f | %.0f | %s |%n", r.mode(), r.length(), r.millisMedian(), r.millisMin(),
                    r.tokensPerSecond(), Double.isNaN(r.speedup()) ? "—" : String.format(Locale.ROOT, "%.2fx", r.speedup())));
        }
        sb.append('\n');
        for (String n : notes) sb.append("- ").append(n).append('\n');
        return sb.toString();
    }
}
