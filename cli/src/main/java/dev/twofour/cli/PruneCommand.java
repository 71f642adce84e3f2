package dev.twofour.cli;

import dev.twofour.cuda.BackendChoice;
import dev.twofour.pruner.Method;
import dev.twofour.pruner.ProxSchedule;
import dev.twofour.pruner.PruneProgress;
import dev.twofour.pruner.PruneReport;
import dev.twofour.pruner.PruneRequest;
import dev.twofour.pruner.PruneSettings;
import dev.twofour.pruner.Pruner;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code twofour prune}: 2:4-prunes a model with calibration text and writes a portable HF checkpoint
 * (dense tensors with the 2:4 zeros in place) plus prune-report.json. All logic is in dev.twofour.pruner.
 */
@Command(name = "prune", mixinStandardHelpOptions = true,
        description = {"Prune every linear layer of a model to 2:4 sparsity, block by block on calibration text, "
                + "and write a Hugging Face checkpoint (dense tensors with the 2:4 zeros in place) with prune-report.json.",
                "Methods: prox (the proximal-operator method), sparsegpt, wanda, magnitude; --refine adds masked "
                        + "least-squares refinement of the kept weights. See docs/PRUNING.md.",
                "--backend cuda (or auto with a usable GPU) runs the forward and the solvers on the GPU."})
final class PruneCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "DIR",
            description = "Hugging Face model directory. Default: the embedded models/tiny-llama-8m.")
    Path model;

    @Option(names = "--method", required = true, paramLabel = "prox|sparsegpt|wanda|magnitude",
            description = "Pruning method.")
    String method;

    @Option(names = "--refine", description = "Refine the kept weights on the local loss after pruning (masked conjugate gradient).")
    boolean refine;

    @Option(names = "--calib", required = true, paramLabel = "FILE", description = "Calibration text file (documents separated by a blank line).")
    Path calib;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory (must not exist unless --force).")
    Path out;

    @Option(names = "--samples", paramLabel = "N", description = "Calibration sequences. Default: " + Pruner.DEFAULT_SAMPLES + ".")
    Integer samples;

    @Option(names = "--seqlen", paramLabel = "L", description = "Tokens per calibration sequence. Default: min(" + Pruner.DEFAULT_CPU_SEQLEN + ", context) on the CPU.")
    Integer seqLen;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Seed of the calibration windows. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--prox-tau0", paramLabel = "X", description = "prox: initial τ (dimensionless; step k uses λ = L·τ0·growth^k / rms(W)). Default: 0.005 (docs/PRUNING.md).")
    Double tau0;

    @Option(names = "--prox-growth", paramLabel = "X", description = "prox: λ growth per step (> 1). Default: 1.05.")
    Double growth;

    @Option(names = "--prox-iterations", paramLabel = "N", description = "prox: most proximal-gradient steps per layer. Default: 300.")
    Integer proxIterations;

    @Option(names = "--refine-iterations", paramLabel = "N", description = "Conjugate-gradient steps of --refine. Default: " + PruneSettings.DEFAULT_REFINE_ITERATIONS + ".")
    Integer refineIterations;

    @Option(names = "--force", description = "Replace the output directory if it exists.")
    boolean force;

    @Option(names = "--progress", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Progress bar per block on stderr (default: on).")
    boolean progress;

    @CommandLine.Mixin BackendOption backend;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public Integer call() throws Exception {
        PrintWriter outw = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Method m;
        try {
            m = Method.parse(method);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        ProxSchedule d = ProxSchedule.DEFAULT;
        PruneSettings settings;
        try {
            settings = PruneSettings.of(m, refine)
                    .withSchedule(new ProxSchedule(tau0 != null ? tau0 : d.tau0(), growth != null ? growth : d.growth(),
                            proxIterations != null ? proxIterations : d.maxIterations()))
                    .withRefineIterations(refineIterations != null ? refineIterations : PruneSettings.DEFAULT_REFINE_ITERATIONS);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        // cuda: the runtime's CUDA backend for the per-block forward and the CUDA prune engine (refused with the
        // reason when it cannot run here); auto: the GPU when one is usable, else the CPU.
        String be = backend.requested() == BackendChoice.AUTO ? "auto" : backend.requested().name().toLowerCase(Locale.ROOT);
        Path dir = model != null ? model : ConvertCommand.defaultModel();
        PruneRequest req = new PruneRequest(dir, calib, out, settings, samples, seqLen, seed, be, force);
        Bar bar = new Bar(err, progress);
        PruneReport r = Pruner.run(req, bar);
        bar.finish();
        outw.printf(Locale.ROOT, "pruned %s with %s%s on %s: %d linear layers 2:4, %d calibration tokens, %.1f s%n",
                dir, r.method(), r.refine() ? "+refine" : "", r.engine(), r.layers().size(), r.calibrationTokens(), r.seconds());
        outw.printf(Locale.ROOT, "mean relative local loss %.4f (magnitude: %.4f)%n", r.meanRelativeLoss(), r.meanRelativeLossMagnitude());
        outw.println("wrote " + out.toAbsolutePath().normalize() + " (model.safetensors, config, tokenizer, prune-report.json)");
        outw.flush();
        return Main.EXIT_OK;
    }

    /** One line per block on stderr: a bar while it runs, its time when done. */
    static final class Bar implements PruneProgress {
        private final PrintWriter err;
        private final boolean enabled;
        private boolean drawn;

        Bar(PrintWriter err, boolean enabled) {
            this.err = err;
            this.enabled = enabled;
        }

        @Override public void update(int layer, int layers, int done, int total, String label) {
            if (!enabled) return;
            int width = 30, filled = (int) ((long) width * done / Math.max(1, total));
            err.print("\rblock " + (layer + 1) + "/" + layers + " [" + "#".repeat(filled) + ".".repeat(width - filled) + "] "
                    + String.format(Locale.ROOT, "%-20s", label));
            err.flush();
            drawn = true;
        }

        @Override public void blockDone(int layer, int layers, long millis) {
            if (!enabled) return;
            err.print("\rblock " + (layer + 1) + "/" + layers + " [" + "#".repeat(30) + "] "
                    + String.format(Locale.ROOT, "%-20s", String.format(Locale.ROOT, "%.1f s", millis / 1000.0)) + "\n");
            err.flush();
            drawn = false;
        }

        void finish() {
            if (drawn) {
                err.println();
                err.flush();
            }
        }
    }
}
