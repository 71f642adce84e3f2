package dev.twofour.bench;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A progress bar on stderr for long benchmarks: redrawn in place ({@code \r}) on a terminal, otherwise one
 * line at most every few seconds (logs stay readable). {@link #NONE} draws nothing.
 */
public class ProgressBar {
    public static final ProgressBar NONE = new ProgressBar(null, "", 1, false);

    private final PrintStream err;
    private final String title;
    private final double total;
    private final boolean inPlace;
    private final long start = System.nanoTime();
    private long lastDraw;
    private double done;
    private boolean finished;

    private ProgressBar(PrintStream err, String title, double total, boolean inPlace) {
        this.err = err;
        this.title = title;
        this.total = Math.max(total, 1e-9);
        this.inPlace = inPlace;
    }

    /** A bar for {@code total} units of work, redrawn in place when stderr is a terminal. */
    public static ProgressBar on(PrintStream err, String title, double total) {
        return new ProgressBar(err, title, total, System.console() != null);
    }

    /** Sets the units done and a short label of what runs now. */
    public void update(double unitsDone, String label) {
        if (err == null || finished) return;
        done = Math.min(unitsDone, total);
        long now = System.nanoTime();
        long every = inPlace ? 100_000_000L : 5_000_000_000L;
        if (now - lastDraw < every && done < total) return;
        lastDraw = now;
        draw(label);
    }

    private void draw(String label) {
        double f = done / total;
        int width = 30, filled = (int) Math.round(f * width);
        String line = String.format(Locale.ROOT, "%s [%s%s] %3.0f%% %5.1fs %s", title, "#".repeat(filled), ".".repeat(width - filled),
                100 * f, (System.nanoTime() - start) / 1e9, label);
        if (inPlace) {
            err.print("\r" + line + " ".repeat(Math.max(0, 20 - label.length())));
        } else {
            err.println(line);
        }
        err.flush();
    }

    /** Draws 100% and ends the line. */
    public void finish(String label) {
        if (err == null || finished) return;
        done = total;
        draw(label);
        if (inPlace) err.println();
        finished = true;
    }
}
