package dev.twofour.pruner;

import dev.twofour.cuda.CudaContext;
import dev.twofour.model.DType;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.SafetensorsWriter;
import dev.twofour.model.TensorView;
import dev.twofour.model.WeightNames;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * The scale benchmark of issue 7: prune the first block of a synthetic model (default llama2-7b)
 * on the GPU with every method, ± refinement, and extrapolate to the whole model.
 *
 * <p>The model is one decoder block of the preset's real shapes with seeded random fp16 weights
 * (linear weights N(0, 0.02²) like Llama's initialization; RMSNorm weights log-normal with 1 % of
 * channels ×8, so the inputs have the uneven, outlier-heavy channel scales of real LLM activations
 * and H is not a multiple of the identity; never zeros). It is written as a one-layer checkpoint to a
 * temporary folder and loaded with the runtime's CUDA backend: capture runs the same forward as
 * {@code twofour prune --backend cuda}. Calibration: random token ids (the embedding rows of
 * random ids are the block's inputs).
 *
 * <p>Phases, timed separately: capture (the block forward on every sequence, inputs to the host,
 * XᵀX on the GPU), the solve of each of the 7 linear layers per method (SparseGPT's factor of
 * H⁻¹ shown apart), propagation (the pruned block's forward without capture, timed on at most 16
 * sequences and scaled). A block of a real run costs capture + solve + propagation; ×layers is the
 * whole model. Progress goes to stdout line by line, and the Markdown report is rewritten after every
 * layer, so a run cut short still leaves its partial results.
 *
 * <pre>BlockPruneBench [--preset llama2-7b] [--samples 128] [--seqlen 2048] [--quick] [--methods magnitude,wanda,sparsegpt,prox]
 *                 [--no-refine] [--refine-iterations 40] [--prox-iterations 300] [--seed 1] [--out FILE.md]</pre>
 * {@code --quick}: 16 × 1024 tokens (for a first look within a minute or two).
 */
public final class BlockPruneBench {
    private BlockPruneBench() {}

    record Options(String preset, int samples, int seqLen, List<Method> methods, boolean refine, int refineIterations,
                   int proxIterations, long seed, Path out) {}

    /** One (layer, method, refine) measurement. */
    record Row(WeightNames.Linear layer, int rows, int cols, Method method, boolean refined, double seconds,
               double factorSeconds, double relativeLoss, int proxIterations) {}

    public static void main(String[] args) throws Exception {
        Options o;
        try {
            o = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("BlockPruneBench: " + e.getMessage());
            System.exit(2);
            return;
        }
        System.exit(run(o));
    }

    static Options parse(String[] args) {
        String preset = "llama2-7b";
        int samples = 128, seqLen = 2048, refineIterations = PruneSettings.DEFAULT_REFINE_ITERATIONS;
        int proxIterations = ProxSchedule.DEFAULT.maxIterations();
        boolean refine = true, quick = false;
        Integer samplesSet = null, seqLenSet = null;
        long seed = 1;
        Path out = null;
        List<Method> methods = List.of(Method.MAGNITUDE, Method.WANDA, Method.SPARSEGPT, Method.PROX);
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--quick" -> quick = true;
                case "--no-refine" -> refine = false;
                case "--preset" -> preset = value(args, ++i, a);
                case "--samples" -> samplesSet = positive(value(args, ++i, a), a);
                case "--seqlen" -> seqLenSet = positive(value(args, ++i, a), a);
                case "--refine-iterations" -> refineIterations = positive(value(args, ++i, a), a);
                case "--prox-iterations" -> proxIterations = positive(value(args, ++i, a), a);
                case "--seed" -> seed = Long.parseLong(value(args, ++i, a));
                case "--out" -> out = Path.of(value(args, ++i, a));
                case "--methods" -> {
                    List<Method> ms = new ArrayList<>();
                    for (String m : value(args, ++i, a).split(",")) if (!m.isBlank()) ms.add(Method.parse(m));
                    if (ms.isEmpty()) throw new IllegalArgumentException("--methods needs at least one method");
                    methods = ms;
                }
                default -> throw new IllegalArgumentException("unknown option '" + a + "'; see the class comment of BlockPruneBench");
            }
        }
        if (quick) { samples = 16; seqLen = 1024; }
        if (samplesSet != null) samples = samplesSet;
        if (seqLenSet != null) seqLen = seqLenSet;
        ModelConfig.preset(preset); // validates the name
        return new Options(preset, samples, seqLen, methods, refine, refineIterations, proxIterations, seed, out);
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) throw new IllegalArgumentException(flag + " needs a value");
        return args[i];
    }

    private static int positive(String s, String flag) {
        int v;
        try {
            v = Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " needs a whole number, got '" + s + "'");
        }
        if (v < 1) throw new IllegalArgumentException(flag + " must be ≥ 1, got " + v);
        return v;
    }

    static int run(Options o) throws IOException {
        String why = CudaPruneEngine.unavailableReason();
        if (why != null) {
            System.err.println("BlockPruneBench needs a GPU: " + why);
            return 1;
        }
        ModelConfig full = ModelConfig.preset(o.preset());
        if (o.seqLen() > full.maxPositionEmbeddings()) {
            System.err.println("BlockPruneBench: --seqlen " + o.seqLen() + " is longer than " + o.preset() + "'s context " + full.maxPositionEmbeddings());
            return 2;
        }
        ModelConfig one = oneBlock(full);
        Path dir = Files.createTempDirectory("twofour-block-bench-");
        try {
            long t0 = System.nanoTime();
            writeSyntheticBlock(dir, one, o.seed());
            log("wrote a synthetic %s block (%s, hidden %d, intermediate %d) in %.1f s", o.preset(), one.dtype(),
                    one.hiddenSize(), one.intermediateSize(), seconds(t0));
            return bench(o, full, dir);
        } finally {
            PrunedCheckpoint.deleteQuietly(dir);
        }
    }

    private static int bench(Options o, ModelConfig full, Path dir) throws IOException {
        try (CudaPruneEngine engine = new CudaPruneEngine(CudaContext.primary(0));
             RuntimeBlockModel model = RuntimeBlockModel.openCuda(dir)) {
            log("GPU: %s", model.backendDescription());
            SplittableRandom rnd = new SplittableRandom(o.seed() ^ 0x5DEECE66DL);
            int[][] calib = new int[o.samples()][o.seqLen()];
            for (int[] seq : calib) for (int i = 0; i < seq.length; i++) seq[i] = rnd.nextInt(full.vocabSize());

            // 1. Capture: the block forward on every sequence, XᵀX accumulated on the GPU.
            Map<WeightNames.Linear, Hessian> hessians = new EnumMap<>(WeightNames.Linear.class);
            List<Row> rows = new ArrayList<>();
            List<String> failures = new ArrayList<>();
            try {
                long c0 = System.nanoTime();
                for (int s = 0; s < calib.length; s++) {
                    float[] hidden = model.embed(calib[s]);
                    model.block(0, hidden, o.seqLen(), (input, x, n) ->
                            hessians.computeIfAbsent(input, i -> engine.newHessian(x.length / n)).add(x, n));
                    if ((s + 1) % 16 == 0 || s + 1 == calib.length) log("capture %d/%d sequences, %.1f s", s + 1, calib.length, seconds(c0));
                }
                double capture = seconds(c0);

                // 2. Propagation cost: the block forward without capture (what feeds the next block).
                int timed = Math.min(16, calib.length);
                long p0 = System.nanoTime();
                for (int s = 0; s < timed; s++) model.block(0, model.embed(calib[s]), o.seqLen(), null);
                double propagate = seconds(p0) * calib.length / timed;
                log("capture + H %.1f s; propagation %.1f s (timed on %d sequences)", capture, propagate, timed);
                if (o.out() != null) writeReport(o, full, capture, propagate, rows, failures, model.backendDescription());

                // 3. Every layer with every method (± refine).
                for (WeightNames.Linear lin : WeightNames.Linear.values()) {
                    Hessian h = hessians.get(ModelPruner.sharedInput(lin));
                    float[] w = model.linearWeights(0, lin);
                    int cols = h.size(), n = w.length / cols;
                    LayerProblem p = new LayerProblem(lin.module(), w, n, cols, h);
                    double energy = engine.outputEnergy(p);
                    for (Method m : o.methods()) {
                        try {
                            measure(o, engine, p, lin, energy, m, rows);
                        } catch (RuntimeException e) {
                            // Keep going: the other methods' numbers are still worth having.
                            failures.add(lin.module() + " " + m.id() + ": " + e);
                            log("FAILED %s %s: %s", lin.module(), m.id(), e);
                        }
                    }
                    if (o.out() != null) writeReport(o, full, capture, propagate, rows, failures, model.backendDescription());
                }
                String md = report(o, full, capture, propagate, rows, failures, model.backendDescription());
                System.out.println();
                System.out.println(md);
                if (o.out() != null) log("wrote %s", o.out().toAbsolutePath());  // written after the last layer, above
                for (String f : failures) log("FAILED %s", f);
                return failures.isEmpty() ? 0 : 1;
            } finally {
                for (Hessian h : hessians.values()) h.close();
            }
        }
    }

    /** One method (and its refinement) on one layer: appends its rows and prints them. */
    private static void measure(Options o, CudaPruneEngine engine, LayerProblem p, WeightNames.Linear lin, double energy, Method m,
                                List<Row> rows) {
        long s0 = System.nanoTime();
        int proxIterations = 0;
        double factor = 0;
        float[] pruned;
        switch (m) {
            case MAGNITUDE -> pruned = engine.magnitude(p);
            case WANDA -> pruned = engine.wanda(p);
            case SPARSEGPT -> {
                pruned = engine.sparseGpt(p, 128, 0.01);
                factor = engine.lastFactorSeconds();
            }
            case PROX -> {
                ProxSchedule d = ProxSchedule.DEFAULT;
                PruneEngine.ProxOutcome out = engine.prox(p, new ProxSchedule(d.tau0(), d.growth(), o.proxIterations()));
                pruned = out.weights();
                proxIterations = out.iterations();
            }
            default -> throw new IllegalStateException("unknown method " + m);
        }
        double solve = seconds(s0);
        if (!Masks.isTwoFour(pruned)) throw new IllegalStateException(lin.module() + ": " + m.id() + " is not 2:4 (bug)");
        Row plain = new Row(lin, p.rows(), p.cols(), m, false, solve, factor, engine.loss(p, pruned) / energy, proxIterations);
        rows.add(plain);
        print(plain);
        if (o.refine()) {
            long r0 = System.nanoTime();
            float[] refined = engine.refine(p, pruned, o.refineIterations());
            Row r = new Row(lin, p.rows(), p.cols(), m, true, solve + seconds(r0), factor, engine.loss(p, refined) / energy, proxIterations);
            rows.add(r);
            print(r);
        }
    }

    // ---------------------------------------------------------------- report

    private static void print(Row r) {
        log("%-9s %5dx%-5d %-9s %-7s %8.2f s  rel. loss %.5f%s%s", r.layer().module(), r.rows(), r.cols(), r.method().id(),
                r.refined() ? "+refine" : "", r.seconds(), r.relativeLoss(),
                r.factorSeconds() > 0 ? String.format(Locale.ROOT, "  (factor of H⁻¹ %.1f s)", r.factorSeconds()) : "",
                r.proxIterations() > 0 ? "  (" + r.proxIterations() + " prox steps)" : "");
    }

    private static void writeReport(Options o, ModelConfig full, double capture, double propagate, List<Row> rows, List<String> failures,
                                    String gpu) throws IOException {
        Path parent = o.out().toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        Files.writeString(o.out(), report(o, full, capture, propagate, rows, failures, gpu));
    }

    static String report(Options o, ModelConfig full, double capture, double propagate, List<Row> rows, List<String> failures, String gpu) {
        StringBuilder sb = new StringBuilder();
        int layersDone = (int) rows.stream().map(Row::layer).distinct().count();
        sb.append("# Pruning one ").append(o.preset()).append(" block on the GPU\n\n");
        sb.append(gpu).append(". Calibration: ").append(o.samples()).append(" × ").append(o.seqLen()).append(" random token ids (")
                .append((long) o.samples() * o.seqLen()).append(" tokens); synthetic fp16 weights (seed ").append(o.seed())
                .append("); refine: ").append(o.refine() ? o.refineIterations() + " CG steps" : "off").append("; prox: at most ")
                .append(o.proxIterations()).append(" steps. ").append(layersDone).append(" of 7 linear layers done.\n\n");
        sb.append(String.format(Locale.ROOT, "Capture + H: %.1f s per block; propagation: %.1f s per block (both shared by all methods).%n%n",
                capture, propagate));
        sb.append("| method | solve, 7 layers (s) | of which factor of H⁻¹ (s) | block: capture + solve + propagation (s) | × ")
                .append(full.numLayers()).append(" blocks (min) | mean relative local loss |\n|---|---:|---:|---:|---:|---:|\n");
        Map<String, List<Row>> byVariant = new LinkedHashMap<>();
        for (Row r : rows) byVariant.computeIfAbsent(r.method().id() + (r.refined() ? " + refine" : ""), k -> new ArrayList<>()).add(r);
        for (Map.Entry<String, List<Row>> e : byVariant.entrySet()) {
            double solve = e.getValue().stream().mapToDouble(Row::seconds).sum();
            double factor = e.getValue().stream().mapToDouble(Row::factorSeconds).sum();
            double rel = e.getValue().stream().mapToDouble(Row::relativeLoss).average().orElse(Double.NaN);
            double block = capture + solve + propagate;
            sb.append(String.format(Locale.ROOT, "| %s | %.1f | %s | %.1f | %.1f | %.5f |%n", e.getKey(), solve,
                    factor > 0 ? String.format(Locale.ROOT, "%.1f", factor) : "-", block, block * full.numLayers() / 60, rel));
        }
        sb.append("\nPer layer (seconds include refinement for + refine rows; relative loss = tr((W'−W)H(W'−W)ᵀ) / tr(WHWᵀ)):\n\n");
        sb.append("| layer | shape | method | seconds | relative loss | prox steps |\n|---|---|---|---:|---:|---:|\n");
        List<Row> sorted = new ArrayList<>(rows);
        sorted.sort(Comparator.comparing((Row r) -> r.layer().ordinal()));
        for (Row r : sorted) {
            sb.append(String.format(Locale.ROOT, "| %s | %dx%d | %s%s | %.2f | %.5f | %s |%n", r.layer().module(), r.rows(), r.cols(),
                    r.method().id(), r.refined() ? " + refine" : "", r.seconds(), r.relativeLoss(),
                    r.proxIterations() > 0 ? Integer.toString(r.proxIterations()) : "-"));
        }
        if (!failures.isEmpty()) {
            sb.append("\nFailed:\n\n");
            for (String f : failures) sb.append("- ").append(f).append('\n');
        }
        return sb.toString();
    }

    // ---------------------------------------------------------------- the synthetic block

    /** The preset with one layer and tied embeddings (no LM head is needed to prune a block). */
    static ModelConfig oneBlock(ModelConfig c) {
        return new ModelConfig(c.architecture(), c.hiddenSize(), c.intermediateSize(), 1, c.numHeads(), c.numKvHeads(), c.headDim(),
                c.vocabSize(), c.rmsNormEps(), c.ropeTheta(), null, c.maxPositionEmbeddings(), true, DType.F16, false,
                c.bosTokenIds(), c.eosTokenIds());
    }

    static void writeSyntheticBlock(Path dir, ModelConfig c, long seed) throws IOException {
        String config = String.format(Locale.ROOT, """
                {
                  "architectures": ["%s"],
                  "model_type": "llama",
                  "hidden_size": %d,
                  "intermediate_size": %d,
                  "num_hidden_layers": 1,
                  "num_attention_heads": %d,
                  "num_key_value_heads": %d,
                  "head_dim": %d,
                  "vocab_size": %d,
                  "rms_norm_eps": %s,
                  "rope_theta": %s,
                  "max_position_embeddings": %d,
                  "tie_word_embeddings": true,
                  "attention_bias": false,
                  "hidden_act": "silu",
                  "torch_dtype": "float16",
                  "bos_token_id": %d,
                  "eos_token_id": %d
                }
                """, c.architecture(), c.hiddenSize(), c.intermediateSize(), c.numHeads(), c.numKvHeads(), c.headDim(), c.vocabSize(),
                Double.toString(c.rmsNormEps()), Double.toString(c.ropeTheta()), c.maxPositionEmbeddings(),
                c.bosTokenIds().isEmpty() ? 1 : c.bosTokenIds().getFirst(), c.eosTokenIds().isEmpty() ? 2 : c.eosTokenIds().getFirst());
        Files.writeString(dir.resolve("config.json"), config);
        List<TensorView> tensors = new ArrayList<>();
        int index = 0;
        for (Map.Entry<String, long[]> e : WeightNames.expectedShapes(c).entrySet()) {
            String name = e.getKey();
            long[] shape = e.getValue();
            float[] v = name.endsWith("norm.weight") ? normWeights((int) shape[0], seed + 1000L * index)
                    : gaussian(Math.toIntExact(TensorView.numelOf(shape)), 0.02, seed + 1000L * index);
            tensors.add(TensorView.ofFloats(name, DType.F16, shape, v));
            index++;
        }
        SafetensorsWriter.writeFile(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
    }

    /** Seeded N(0, std²) values, never zero (a zero would be an accidental 2:4 hole), generated in parallel chunks. */
    static float[] gaussian(int n, double std, long seed) {
        float[] v = new float[n];
        int chunk = 1 << 20;
        IntStream.range(0, (n + chunk - 1) / chunk).parallel().forEach(c -> {
            SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + c);
            for (int i = c * chunk; i < Math.min(n, (c + 1) * chunk); i++) {
                double x = r.nextGaussian() * std;
                v[i] = (float) (Math.abs(x) < std * 1e-3 ? Math.copySign(std * 1e-3, x) : x);
            }
        });
        return v;
    }

    /** RMSNorm weights: log-normal scales around 1 with 1 % outlier channels ×8. */
    static float[] normWeights(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (Math.exp(0.3 * r.nextGaussian()) * (r.nextInt(100) == 0 ? 8 : 1));
        return v;
    }

    // ---------------------------------------------------------------- helpers

    private static void log(String format, Object... args) {
        System.out.println(String.format(Locale.ROOT, format, args));
        System.out.flush();
    }

    private static double seconds(long t0) { return (System.nanoTime() - t0) / 1e9; }
}
