package dev.twofour.bench;

import dev.twofour.kernels.Sparse24Selection;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * The results of {@code twofour bench gemm} and their files: gemm.json (everything, readable back
 * with {@link #readJson}), gemm.csv, gemm.md (a table per shape), gemm.png (speedup vs M, one line
 * per shape, best 2:4 method after selection) and selection.tsv (the fastest method per shape and M,
 * the tuning data {@link Sparse24Selection} reads).
 */
public record GemmReport(String device, String dtype, double copyGBps, String libraries, String createdAt,
                         List<GemmResult> results) {

    public static GemmReport readJson(Path file) {
        return ReportFiles.readJson(file, GemmReport.class);
    }

    /** Writes json, csv, md, selection.tsv and (when this JVM can draw) png into {@code dir}; returns the files written. */
    public List<Path> writeAll(Path dir, java.io.PrintStream log) {
        List<Path> files = new ArrayList<>(ReportFiles.writeReport(dir, "gemm", this, csv(), markdown(), () -> {
            Path png = dir.resolve("gemm.png");
            GemmPlot.write(this, png);
            return List.of(png);
        }, log));
        files.add(ReportFiles.writeText(dir.resolve("selection.tsv"), selection().toTsv()));
        return files;
    }

    public String csv() {
        StringBuilder sb = new StringBuilder("shape,n,k,m,dtype,method,micros,tflops,gbps,speedup_vs_dense,rel_error_vs_dense,note\n");
        for (GemmResult r : results) {
            sb.append(String.format(Locale.ROOT, "%s,%d,%d,%d,%s,%s,%.3f,%.3f,%.1f,%.3f,%.2e,\"%s\"%n", r.shape(), r.n(), r.k(), r.m(),
                    r.dtype(), r.method(), r.micros(), r.tflops(), r.gbps(), r.speedup(), r.relError(), r.note().replace("\"", "'")));
        }
        return sb.toString();
    }

    /** Shapes in the order they were run. */
    public List<String> shapes() {
        Set<String> s = new LinkedHashSet<>();
        for (GemmResult r : results) s.add(r.shape() + " " + r.n() + "x" + r.k());
        return new ArrayList<>(s);
    }

    Optional<GemmResult> find(String shapeKey, int m, String method) {
        return results.stream().filter(r -> (r.shape() + " " + r.n() + "x" + r.k()).equals(shapeKey) && r.m() == m && r.method().equals(method)).findFirst();
    }

    List<Integer> ms(String shapeKey) {
        return results.stream().filter(r -> (r.shape() + " " + r.n() + "x" + r.k()).equals(shapeKey)).map(GemmResult::m).distinct().sorted().toList();
    }

    /** The fastest 2:4 way (ours, cuSPARSELt tuned or default) or dense, per shape and M. */
    public Optional<GemmResult> bestAfterSelection(String shapeKey, int m) {
        return results.stream()
                .filter(r -> (r.shape() + " " + r.n() + "x" + r.k()).equals(shapeKey) && r.m() == m)
                .filter(r -> !(r.relError() > (dtype.equals("bf16") ? 1e-2 : 2e-3)) && !Double.isNaN(r.relError()))
                .min(Comparator.comparingDouble(GemmResult::micros));
    }

    public String markdown() {
        StringBuilder sb = new StringBuilder();
        sb.append("# twofour bench gemm\n\n");
        sb.append(String.format(Locale.ROOT, "%s, %s, %s; device-to-device copy %.0f GB/s (read + write); %s.%n%n",
                device, dtype, libraries, copyGBps, createdAt));
        sb.append("Times are medians per GEMM (CUDA events around graph replays, weights rotated beyond L2). "
                + "Speedup is dense time / method time; GB/s counts the bytes the method must move "
                + "(weights as stored + X + Y); % copy is that over the measured copy bandwidth.\n\n");
        for (String shape : shapes()) {
            sb.append("## ").append(shape).append("\n\n");
            sb.append("| M | dense µs | cuSPARSELt µs (x) | cuSPARSELt tuned µs (x) | ours µs (x) | ours GB/s (% copy) | selected (x) |\n");
            sb.append("|---:|---:|---:|---:|---:|---:|---|\n");
            for (int m : ms(shape)) {
                Optional<GemmResult> d = find(shape, m, "dense"), c = find(shape, m, "cusparselt"), t = find(shape, m, "cusparselt-tuned"), u = find(shape, m, "ours");
                Optional<GemmResult> best = bestAfterSelection(shape, m);
                sb.append(String.format(Locale.ROOT, "| %d | %s | %s | %s | %s | %s | %s |%n", m,
                        d.map(r -> String.format(Locale.ROOT, "%.1f", r.micros())).orElse("—"),
                        cell(c), cell(t), cell(u),
                        u.map(r -> String.format(Locale.ROOT, "%.0f (%.0f%%)", r.gbps(), 100 * r.gbps() / copyGBps)).orElse("—"),
                        best.map(r -> String.format(Locale.ROOT, "%s (%.2fx)", r.method(), r.speedup())).orElse("—")));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static String cell(Optional<GemmResult> r) {
        return r.map(x -> String.format(Locale.ROOT, "%.1f (%.2fx)%s", x.micros(), x.speedup(),
                x.relError() > 1e-2 || Double.isNaN(x.relError()) ? " WRONG" : "")).orElse("—");
    }

    /** Per (N, K, M): the selected method, as tuning data for the runtime. */
    public Sparse24Selection selection() {
        List<Sparse24Selection.Entry> entries = new ArrayList<>();
        for (String shape : shapes()) {
            for (int m : ms(shape)) {
                bestAfterSelection(shape, m).ifPresent(r -> entries.add(entry(r)));
            }
        }
        return Sparse24Selection.of(entries);
    }

    private static final java.util.regex.Pattern CONFIG = java.util.regex.Pattern.compile("config (\\d+), split-K (\\d+)");

    /** The selection entry for a winning result; a tuned cuSPARSELt one carries its configuration (from its note). */
    static Sparse24Selection.Entry entry(GemmResult r) {
        Sparse24Selection.Method method = methodOf(r.method());
        java.util.regex.Matcher c = CONFIG.matcher(r.note());
        if (method == Sparse24Selection.Method.CUSPARSELT && r.method().equals("cusparselt-tuned") && c.find()) {
            return new Sparse24Selection.Entry(r.n(), r.k(), r.m(), method, Integer.parseInt(c.group(1)), Integer.parseInt(c.group(2)));
        }
        return new Sparse24Selection.Entry(r.n(), r.k(), r.m(), method);
    }

    static Sparse24Selection.Method methodOf(String method) {
        return switch (method) {
            case "ours" -> Sparse24Selection.Method.OURS;
            case "cusparselt", "cusparselt-tuned" -> Sparse24Selection.Method.CUSPARSELT;
            default -> Sparse24Selection.Method.DENSE;
        };
    }
}
