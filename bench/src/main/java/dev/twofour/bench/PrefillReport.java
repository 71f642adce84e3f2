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

    public List<Path> writeAll(Path dir, PrintStream log) {
        List<Path> files = new ArrayList<>();
        files.add(ReportFiles.writeJson(dir.resolve("prefill.json"), this));
        files.add(ReportFiles.writeText(dir.resolve("prefill.csv"), csv()));
        files.add(ReportFiles.writeText(dir.resolve("prefill.md"), markdown()));
        if (ReportFiles.canDraw()) {
            files.addAll(plots(dir));
        } else {
            log.println("prefill PNGs skipped: this JVM has no java.desktop module; draw them elsewhere with"
                    + " `twofour bench prefill --from " + dir.resolve("prefill.json") + " --out DIR`");
        }
        return files;
    }

    List<Path> plots(Path dir) {
        List<Path> out = new ArrayList<>();
        List<ReportFiles.Series> tps = new ArrayList<>(), speed = new ArrayList<>();
        for (String mode : modes()) {
            List<Double> x = new ArrayList<>(), y = new ArrayList<>(), s = new ArrayList<>();
            for (PrefillResult r : results) {
                if (!r.mode().equals(mode)) continue;
                x.add((double) r.length());
                y.add(r.tokensPerSecond());
                s.add(r.speedup());
            }
            tps.add(new ReportFiles.Series(mode, x, y));
            if (!mode.equals("dense") && s.stream().noneMatch(v -> v.isNaN())) speed.add(new ReportFiles.Series(mode + " over dense", x, s));
        }
        String where = model + " " + dtype + ", " + device;
        Path a = dir.resolve("prefill-tps.png");
        if (ReportFiles.lineChart(a, "Prefill throughput (" + where + ")", "prompt tokens", "tokens/s", true, tps)) out.add(a);
        Path b = dir.resolve("prefill-speedup.png");
        if (ReportFiles.lineChart(b, "2:4 prefill speedup over dense (" + where + ")", "prompt tokens", "speedup (dense time / 2:4 time)", true, speed)) out.add(b);
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
