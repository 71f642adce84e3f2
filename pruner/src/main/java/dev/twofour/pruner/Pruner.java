package dev.twofour.pruner;

import dev.twofour.model.Checkpoint;
import dev.twofour.model.DType;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.WeightNames;
import dev.twofour.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code twofour prune} end to end: calibration sequences, block-sequential pruning with the
 * runtime's forward, and the portable pruned checkpoint with prune-report.json.
 */
public final class Pruner {
    private Pruner() {}

    /**
     * Default calibration sequences. The paper setting is 128 × 2048 tokens; on the CPU that is
     * minutes even for the tiny model, so the default is 32 sequences of min(256, context)
     * tokens (8192 tokens): the tiny model's Hessians are well conditioned with it (K ≤ 768)
     * and prox + refine runs in well under a minute on 2 cores. docs/PRUNING.md has the numbers.
     */
    public static final int DEFAULT_SAMPLES = 32;
    public static final int DEFAULT_CPU_SEQLEN = 256;

    /** min(2048, context) as in the paper, capped at 256 on the CPU (see {@link #DEFAULT_SAMPLES}). */
    public static int defaultSeqLen(ModelConfig cfg) {
        return Math.min(DEFAULT_CPU_SEQLEN, Calibration.defaultSeqLen(cfg.maxPositionEmbeddings()));
    }

    /** Runs the whole prune and returns the report (also written to OUT/prune-report.json). */
    public static PruneReport run(PruneRequest req, PruneProgress progress) throws IOException {
        long t0 = System.nanoTime();
        boolean cuda = useCuda(req.backend());
        Path dir = req.modelDir();
        ModelConfig cfg = ModelConfig.load(dir);
        Tokenizer tokenizer = Tokenizer.load(dir);
        int samples = req.samples() != null ? req.samples() : DEFAULT_SAMPLES;
        int seqLen = req.seqLen() != null ? req.seqLen() : defaultSeqLen(cfg);
        if (seqLen > cfg.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("--seqlen " + seqLen + " is longer than the model's context (" + cfg.maxPositionEmbeddings() + ")");
        }
        int[][] calib = Calibration.sample(req.calibFile(), tokenizer, samples, seqLen, req.seed());
        PruneSettings s = req.settings();
        try (Checkpoint ck = Checkpoint.open(dir);
             PruneEngine engine = cuda ? CudaPruneEngine.open() : new CpuPruneEngine();
             RuntimeBlockModel model = cuda ? RuntimeBlockModel.openCuda(dir) : RuntimeBlockModel.openCpu(dir, 0)) {
            DType dtype = ck.tensor(WeightNames.Linear.Q.weight(0)).dtype();
            ModelPruner.Result result = new ModelPruner(engine, s, progress).prune(model, calib, dtype);
            double seconds = (System.nanoTime() - t0) / 1e9;
            PruneReport report = report(dir, req, s, engine, samples, seqLen, result, seconds);
            PrunedCheckpoint.write(ck, req.outDir(), result.weights(), metadata(report), report, req.force());
            return report;
        }
    }

    /**
     * Whether {@code --backend} means the GPU: "cuda" (refused with the reason when it cannot run here),
     * "auto" (the GPU when a GPU, the CUDA libraries and the kernels are all there), or "cpu".
     */
    static boolean useCuda(String backend) {
        String b = backend.toLowerCase(Locale.ROOT);
        return switch (b) {
            case "cpu" -> false;
            case "cuda" -> {
                String why = CudaPruneEngine.unavailableReason();
                if (why != null) throw new IllegalArgumentException("--backend cuda: pruning on the GPU cannot run here: " + why + "; use --backend cpu");
                yield true;
            }
            case "auto" -> CudaPruneEngine.unavailableReason() == null;
            default -> throw new IllegalArgumentException("unknown backend '" + backend + "'; use cpu, cuda or auto");
        };
    }

    static PruneReport report(Path dir, PruneRequest req, PruneSettings s, PruneEngine engine, int samples, int seqLen,
                              ModelPruner.Result result, double seconds) {
        List<PruneReport.Layer> layers = new ArrayList<>();
        double rel = 0, relMag = 0;
        for (ModelPruner.LayerReport l : result.layers()) {
            double e = l.outputEnergy() > 0 ? l.outputEnergy() : 1;
            layers.add(new PruneReport.Layer(l.name(), l.rows(), l.cols(), l.lossMagnitude(), l.lossBeforeRefine(), l.lossAfter(),
                    l.lossAfter() / e, l.outputEnergy(), l.millis() / 1000.0, l.proxIterations()));
            rel += l.lossAfter() / e;
            relMag += l.lossMagnitude() / e;
        }
        int n = Math.max(1, layers.size());
        ProxSchedule ps = s.schedule();
        return new PruneReport(dir.toAbsolutePath().normalize().toString(), s.method().id(), s.refine(), engine.name(), samples, seqLen,
                req.seed(), result.tokens(), ps.tau0(), ps.growth(), ps.maxIterations(), s.refineIterations(),
                s.sparseGptBlock(), s.sparseGptDamp(), seconds, rel / n, relMag / n, layers);
    }

    /** The safetensors {@code __metadata__}: what produced these weights. */
    static Map<String, String> metadata(PruneReport r) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", "pt");
        m.put("twofour.sparsity", "2:4");
        m.put("twofour.prune.method", r.method());
        m.put("twofour.prune.refine", Boolean.toString(r.refine()));
        m.put("twofour.prune.samples", Integer.toString(r.samples()));
        m.put("twofour.prune.seqlen", Integer.toString(r.seqLen()));
        m.put("twofour.prune.seed", Long.toString(r.seed()));
        m.put("twofour.prune.calibration_tokens", Long.toString(r.calibrationTokens()));
        if (r.method().equals(Method.PROX.id())) {
            m.put("twofour.prune.prox.tau0", Double.toString(r.proxTau0()));
            m.put("twofour.prune.prox.growth", Double.toString(r.proxGrowth()));
            m.put("twofour.prune.prox.max_iterations", Integer.toString(r.proxMaxIterations()));
        }
        if (r.method().equals(Method.SPARSEGPT.id())) {
            m.put("twofour.prune.sparsegpt.block", Integer.toString(r.sparseGptBlock()));
            m.put("twofour.prune.sparsegpt.damp", Double.toString(r.sparseGptDamp()));
        }
        if (r.refine()) m.put("twofour.prune.refine_iterations", Integer.toString(r.refineIterations()));
        return m;
    }
}
