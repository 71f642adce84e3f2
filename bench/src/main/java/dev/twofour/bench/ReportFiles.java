package dev.twofour.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * What the decode and prefill reports share with each other (and with {@link GemmReport}'s files): indented
 * JSON through one Jackson mapper, plain-text files, and line charts drawn with XChart into PNGs when this JVM
 * has java.desktop (the jlinked JDK of the GPU machine does not: then the PNGs are drawn later from the JSON
 * with {@code --from}).
 */
public final class ReportFiles {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ReportFiles() {}

    static <T> T readJson(Path file, Class<T> type) {
        try {
            return JSON.readValue(file.toFile(), type);
        } catch (IOException e) {
            throw new UncheckedIOException("reading benchmark results " + file + ": " + e.getMessage()
                    + " (pass a JSON file written by the same twofour bench command)", e);
        }
    }

    static Path writeJson(Path file, Object value) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            JSON.writeValue(file.toFile(), value);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + file + ": " + e.getMessage(), e);
        }
    }

    static Path writeText(Path file, String text) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.writeString(file, text);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * True when this JVM can draw PNGs: it has the java.desktop module and XChart is on the class path (the GPU
     * machine's packs may leave either out). The chart code lives in {@link Charts} so that this class loads without it.
     */
    public static boolean canDraw() {
        if (ModuleLayer.boot().findModule("java.desktop").isEmpty()) return false;
        try {
            Class.forName("org.knowm.xchart.XYChart", false, ReportFiles.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /**
     * Writes {@code name}.json, {@code name}.csv and {@code name}.md into {@code dir}, then {@code plots} when this
     * JVM can draw (otherwise one line on {@code log} saying how to draw them later from the JSON); returns the files.
     */
    static List<Path> writeReport(Path dir, String name, Object report, String csv, String markdown,
                                  Supplier<List<Path>> plots, PrintStream log) {
        List<Path> files = new ArrayList<>();
        Path json = writeJson(dir.resolve(name + ".json"), report);
        files.add(json);
        files.add(writeText(dir.resolve(name + ".csv"), csv));
        files.add(writeText(dir.resolve(name + ".md"), markdown));
        if (canDraw()) {
            files.addAll(plots.get());
        } else {
            log.println(name + " PNGs skipped: this JVM has no java.desktop module or no XChart; draw them elsewhere with"
                    + " `twofour bench " + name + " --from " + json + " --out DIR`");
        }
        return files;
    }

    /** One line of a chart: a name and its points. */
    record Series(String name, List<Double> x, List<Double> y) {}

    /** Per mode (dense, 2:4, ...): a throughput line, and for every mode but dense a speedup-over-dense line. */
    record ModeLines(List<Series> throughput, List<Series> speedup) {}

    /**
     * The lines of a dense-vs-2:4 report: for each mode, the points (x, y) and (x, speedup) of its results. A mode
     * whose speedups are not all known (NaN) gets no speedup line.
     */
    static <R> ModeLines modeLines(List<String> modes, List<R> results, Function<R, String> mode,
                                   ToDoubleFunction<R> x, ToDoubleFunction<R> y, ToDoubleFunction<R> speedup) {
        List<Series> tps = new ArrayList<>(), speed = new ArrayList<>();
        for (String m : modes) {
            List<Double> xs = new ArrayList<>(), ys = new ArrayList<>(), ss = new ArrayList<>();
            for (R r : results) {
                if (!mode.apply(r).equals(m)) continue;
                xs.add(x.applyAsDouble(r));
                ys.add(y.applyAsDouble(r));
                ss.add(speedup.applyAsDouble(r));
            }
            tps.add(new Series(m, xs, ys));
            if (!m.equals("dense") && ss.stream().noneMatch(v -> v.isNaN())) speed.add(new Series(m + " over dense", xs, ss));
        }
        return new ModeLines(tps, speed);
    }

    /** Bytes as GiB with two decimals ("—" when negative: unknown). */
    static String gib(long bytes) {
        return bytes < 0 ? "—" : String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }

    /** A CSV field: quoted, inner quotes doubled. */
    static String csv(String s) {
        return "\"" + (s == null ? "" : s.replace("\"", "\"\"")) + "\"";
    }
}
