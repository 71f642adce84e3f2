package dev.twofour.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The XChart drawing of the reports; only reached when {@link ReportFiles#canDraw()}. */
final class Charts {
    private Charts() {}

    /** Draws a line chart with markers into {@code png}; false (and no file) when there is nothing to draw. */
    static boolean lineChart(Path png, String title, String xTitle, String yTitle, boolean logX, List<ReportFiles.Series> series) {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setXAxisLogarithmic(logX);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        chart.getStyler().setMarkerSize(7);
        for (ReportFiles.Series s : series) if (!s.x().isEmpty()) chart.addSeries(s.name(), s.x(), s.y());
        if (chart.getSeriesMap().isEmpty()) return false;
        try {
            Files.createDirectories(png.toAbsolutePath().getParent());
            BitmapEncoder.saveBitmap(chart, png.toString().replaceAll("\\.png$", ""), BitmapEncoder.BitmapFormat.PNG);
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + png + ": " + e.getMessage(), e);
        }
    }

}
