package dev.twofour.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** gemm.png: speedup over dense cuBLAS vs M (log axis), one line per shape, best 2:4 method after selection. */
final class GemmPlot {
    private GemmPlot() {}

    static void write(GemmReport report, Path png) {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(900).height(560)
                .title("2:4 GEMM speedup over dense cuBLAS (" + report.dtype() + ", " + report.device() + ")")
                .xAxisTitle("M (tokens)").yAxisTitle("speedup (dense time / 2:4 time)").build();
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setMarkerSize(6);
        for (String shape : report.shapes()) {
            List<Double> xs = new ArrayList<>(), ys = new ArrayList<>();
            for (int m : report.ms(shape)) {
                Optional<GemmResult> best = report.bestAfterSelection(shape, m);
                if (best.isEmpty()) continue;
                xs.add((double) m);
                ys.add(best.get().speedup());
            }
            if (!xs.isEmpty()) chart.addSeries(shape, xs, ys);
        }
        if (chart.getSeriesMap().isEmpty()) return;
        try {
            BitmapEncoder.saveBitmap(chart, png.toString().replaceAll("\\.png$", ""), BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + png + ": " + e.getMessage(), e);
        }
    }
}
