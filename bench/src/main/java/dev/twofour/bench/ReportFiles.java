package dev.twofour.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

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

    /** True when this JVM can draw PNGs (has the java.desktop module). */
    public static boolean canDraw() {
        return ModuleLayer.boot().findModule("java.desktop").isPresent();
    }

    /** One line of a chart: a name and its points. */
    record Series(String name, List<Double> x, List<Double> y) {}

    /** Draws a line chart with markers into {@code png}; false (and no file) when there is nothing to draw. */
    static boolean lineChart(Path png, String title, String xTitle, String yTitle, boolean logX, List<Series> series) {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setXAxisLogarithmic(logX);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        chart.getStyler().setMarkerSize(7);
        for (Series s : series) if (!s.x().isEmpty()) chart.addSeries(s.name(), s.x(), s.y());
        if (chart.getSeriesMap().isEmpty()) return false;
        try {
            Files.createDirectories(png.toAbsolutePath().getParent());
            BitmapEncoder.saveBitmap(chart, png.toString().replaceAll("\\.png$", ""), BitmapEncoder.BitmapFormat.PNG);
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + png + ": " + e.getMessage(), e);
        }
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
