package dev.twofour.cli;

import dev.twofour.model.Checkpoint;
import dev.twofour.model.ConvertedModel;
import dev.twofour.model.ConvertedModelCache;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.ModelWeights;
import dev.twofour.model.WeightNames;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code twofour convert --model DIR}: checks every linear weight for 2:4, packs those that are into
 * the converted-model cache (docs/FORMAT.md) and prints a table; the rest stay dense.
 */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Check which linear weights of a model are 2:4-sparse, pack them into the converted-model "
                + "cache (<model>/.twofour-cache/, or ~/.cache/twofour when the model directory is read-only) and "
                + "print a table. Weights that are not 2:4 stay dense. The cache is always rebuilt."})
final class ConvertCommand implements Callable<Integer> {
    /** Models whose linear weights exceed this get a progress bar on stderr unless --no-progress. */
    static final long PROGRESS_BYTES = 256L << 20;

    @Option(names = "--model", paramLabel = "DIR",
            description = "Hugging Face model directory (config.json + safetensors). Default: the embedded models/tiny-llama-8m.")
    Path model;

    @Option(names = "--progress", negatable = true,
            description = "Show a progress bar on stderr (default: only for models over 256 MiB of linear weights).")
    Boolean progress;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Path dir = model != null ? model : defaultModel();
        ModelConfig cfg = ModelConfig.load(dir);
        try (Checkpoint ck = Checkpoint.open(dir)) {
            ModelWeights.bind(cfg, ck); // every tensor where config.json says, or one message listing what is not
            List<String> weights = WeightNames.linearWeights(cfg);
            long linearBytes = 0;
            for (String w : weights) linearBytes += ck.fileOf(w).tensor(w).byteSize();
            boolean showBar = progress != null ? progress : linearBytes >= PROGRESS_BYTES;
            Bar bar = new Bar(err, showBar);
            ConvertedModelCache cache = ConvertedModelCache.forModel(dir);
            try (ConvertedModel cm = cache.convert(ck, weights, bar)) {
                bar.finish();
                printTable(out, cm.decisions());
                long dense = 0, packed = 0;
                int yes = 0;
                for (ConvertedModelCache.Decision d : cm.decisions()) {
                    dense += d.denseBytes();
                    packed += d.packedBytes();
                    if (d.packed()) yes++;
                }
                out.printf(Locale.ROOT, "2:4: %d of %d linear weights packed, %d kept dense; linear weights %s -> %s (%.3fx)%n",
                        yes, weights.size(), weights.size() - yes, human(dense), human(packed),
                        packed == 0 ? 1.0 : (double) dense / packed);
                out.println("cache: " + cm.file());
                out.flush();
            }
        }
        return Main.EXIT_OK;
    }

    static Path defaultModel() {
        return Path.of(System.getProperty("twofour.home", ".")).resolve("models/tiny-llama-8m");
    }

    private static void printTable(PrintWriter out, List<ConvertedModelCache.Decision> decisions) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[]{"tensor", "shape", "2:4", "dense bytes -> packed bytes", "note"});
        for (ConvertedModelCache.Decision d : decisions) {
            String shape = Arrays.toString(d.shape()).replace(" ", "");
            String bytes = d.packed() ? d.denseBytes() + " -> " + d.packedBytes() : d.denseBytes() + " -> " + d.denseBytes() + " (dense)";
            String note = d.packed() ? d.reason() : "kept dense: " + d.reason();
            rows.add(new String[]{d.weight(), shape, d.packed() ? "yes" : "no", bytes, note});
        }
        int[] width = new int[4];
        for (String[] r : rows) for (int i = 0; i < 4; i++) width[i] = Math.max(width[i], r[i].length());
        for (String[] r : rows) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < 4; i++) {
                sb.append(r[i]).append(" ".repeat(width[i] - r[i].length())).append("  ");
            }
            sb.append(r[4]);
            out.println(sb.toString().stripTrailing());
        }
    }

    static String human(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** A one-line stderr progress bar: "[#####.....]  check  12/224 name". */
    static final class Bar implements ConvertedModelCache.Progress {
        private final PrintWriter err;
        private final boolean enabled;
        private boolean drawn;

        Bar(PrintWriter err, boolean enabled) {
            this.err = err;
            this.enabled = enabled;
        }

        @Override public void update(String phase, int done, int total, String weight) {
            if (!enabled || total == 0) return;
            int width = 30, filled = (int) ((long) width * done / total);
            err.print("\r[" + "#".repeat(filled) + ".".repeat(width - filled) + "] "
                    + String.format(Locale.ROOT, "%-5s %d/%d %-60s", phase, done, total, weight));
            err.flush();
            drawn = true;
        }

        void finish() {
            if (drawn) {
                err.println();
                err.flush();
            }
        }
    }
}
