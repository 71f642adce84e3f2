package dev.twofour.bench;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.model.Checkpoint;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.tokenizer.Tokenizer;
import dev.twofour.pruner.Method;
import dev.twofour.pruner.PruneReport;
import dev.twofour.pruner.PruneRequest;
import dev.twofour.pruner.PruneSettings;
import dev.twofour.pruner.Pruner;
import dev.twofour.runtime.Generator;
import dev.twofour.runtime.Perplexity;
import dev.twofour.runtime.SamplingParams;
import dev.twofour.runtime.Transformer;
import dev.twofour.runtime.cpu.CpuBackend;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * {@code twofour demo}: the whole story on a small model in about a minute. Prune it to 2:4 with the proximal
 * method + refinement (calibration text bundled in data/), compare perplexity dense vs 2:4 on the bundled
 * validation text, generate a greedy continuation from each, and time decoding dense vs 2:4 ({@link DecodeBench}).
 * Pruning, perplexity and generation run on the CPU backend (the pruner and the Transformer run there); the
 * decode benchmark runs on the GPU when asked ({@code gpu}: the dense model, then the pruned checkpoint loaded packed
 * through CudaModel's 2:4 path), else on the CPU.
 */
public final class Demo {
    /**
     * @param modelDir   a small dense model (the embedded tiny-llama-8m)
     * @param calibFile  calibration text
     * @param validFile  validation text
     * @param samples    calibration sequences
     * @param seqLen     tokens per calibration sequence
     * @param pplTokens  evaluate on the first this many tokens of the validation text (0: all of it)
     * @param ctx        perplexity window
     * @param prompt     prompt to continue
     * @param genTokens  tokens of each continuation
     * @param decode     the decode benchmark's settings
     * @param gpu        run the decode benchmark on the GPU
     * @param cpuThreads threads of the CPU backend (0: all)
     */
    public record Options(Path modelDir, Path calibFile, Path validFile, int samples, int seqLen, int pplTokens, int ctx, String prompt,
                          int genTokens, DecodeBench.Options decode, boolean gpu, int cpuThreads) {
        public Options {
            if (samples < 1 || seqLen < 2) throw new IllegalArgumentException("--samples >= 1 and --seqlen >= 2 are required");
            if (pplTokens < 0) throw new IllegalArgumentException("--ppl-tokens must be >= 0 (0: the whole file), got " + pplTokens);
            if (ctx < 1) throw new IllegalArgumentException("--ctx must be >= 1, got " + ctx);
            if (genTokens < 1) throw new IllegalArgumentException("--gen must be >= 1, got " + genTokens);
            for (Path p : new Path[] {calibFile, validFile}) {
                if (!Files.isRegularFile(p)) throw new IllegalArgumentException("text file " + p + " not found (the demo's data lives in data/ of the twofour folder)");
            }
        }
    }

    /**
     * What the demo found. {@code pplTokensUsed < pplTokensTotal} means a prefix of the validation text was used.
     */
    public record Summary(String model, long parameters, String cpu, int samples, int seqLen, double pruneSeconds, int linearLayers,
                          int sparseLayers, double meanRelativeLoss, double meanRelativeLossMagnitude, String validName, int pplTokensUsed,
                          int pplTokensTotal, int ctx, double pplDense, double pplSparse, double pplSeconds, String prompt, int genTokens,
                          String textDense, String textSparse, DecodeReport decode, double totalSeconds) {

        /** The compact, readable summary printed by {@code twofour demo}. */
        public String text() {
            StringBuilder sb = new StringBuilder();
            sb.append(String.format(Locale.ROOT, "twofour demo: %s (%.1fM parameters), dense vs 2:4 pruned with prox + refine%n%n", model, parameters / 1e6));
            sb.append(String.format(Locale.ROOT, "prune       %d/%d linear layers now 2:4, in %.1f s on the CPU (%d x %d calibration tokens)%n",
                    sparseLayers, linearLayers, pruneSeconds, samples, seqLen));
            sb.append(String.format(Locale.ROOT, "            mean relative output error per layer %.4f (magnitude pruning: %.4f)%n",
                    meanRelativeLoss, meanRelativeLossMagnitude));
            boolean subset = pplTokensUsed < pplTokensTotal;
            sb.append(String.format(Locale.ROOT, "perplexity  %s, %s tokens, windows of %d: dense %.2f, 2:4 %.2f (%+.1f%%)%n", validName,
                    subset ? String.format(Locale.ROOT, "first %d of %d", pplTokensUsed, pplTokensTotal) : "all " + pplTokensTotal, ctx,
                    pplDense, pplSparse, 100 * (pplSparse / pplDense - 1)));
            if (subset) sb.append("            (a prefix of the file, to keep the demo short; --ppl-tokens 0 evaluates all of it)\n");
            sb.append(String.format(Locale.ROOT, "generate    \"%s\" + %d tokens, greedy%n", prompt, genTokens));
            sb.append("            dense: ").append(oneLine(textDense)).append('\n');
            sb.append("            2:4:   ").append(oneLine(textSparse)).append('\n');
            DecodeReport d = decode;
            boolean gpu = d.backend().equals("cuda");
            sb.append(String.format(Locale.ROOT, "decode      %s%s, prompt %d, %d tokens per sequence, median of %d%n", gpu ? "GPU: " : "", d.device(),
                    d.promptLen(), d.gen(), d.reps()));
            sb.append("            batch  mode    ms/token   tok/s total   weights/token   speedup\n");
            for (DecodeResult r : d.results()) {
                sb.append(String.format(Locale.ROOT, "            %5d  %-5s  %9.3f  %12.1f  %14s   %s%n", r.batch(), r.mode(), r.msPerStepMedian(),
                        r.tokensPerSecondTotal(), DecodeReport.mb(r.weightBytesPerToken()),
                        r.mode().equals("dense") || Double.isNaN(r.speedup()) ? "" : String.format(Locale.ROOT, "%.2fx", r.speedup())));
            }
            // On the GPU, say which weights each run had (the pruned checkpoint, packed: the CUDA 2:4 path).
            if (gpu) for (String n : d.notes()) sb.append("            ").append(n).append('\n');
            sb.append(String.format(Locale.ROOT, "%ndone in %.1f s%n", totalSeconds));
            return sb.toString();
        }

        private static String oneLine(String s) {
            return s.replace("\r", "").replace("\n", " / ").strip();
        }
    }

    private Demo() {}

    /** Runs the demo; progress bars and notes go to {@code err}. */
    public static Summary run(Options o, PrintStream err) throws IOException {
        long t0 = System.nanoTime();
        Path work = Files.createTempDirectory("twofour-demo");
        try {
            return run(o, err, work, t0);
        } finally {
            deleteTree(work);
        }
    }

    private static Summary run(Options o, PrintStream err, Path work, long t0) throws IOException {
        ModelConfig cfg = ModelConfig.load(o.modelDir());
        String name = o.modelDir().toAbsolutePath().normalize().getFileName().toString();
        Tokenizer tokenizer = Tokenizer.load(o.modelDir());
        long params = parameters(o.modelDir());

        // 1. Prune.
        Path pruned = work.resolve("pruned");
        ProgressBar pb = ProgressBar.on(err, "prune", cfg.numLayers());
        PruneRequest req = new PruneRequest(o.modelDir(), o.calibFile(), pruned, PruneSettings.of(Method.PROX, true), o.samples(),
                o.seqLen(), 0L, "cpu", true);
        PruneReport report = Pruner.run(req, (layer, layers, done, total, label) ->
                pb.update(layer + done / (double) total, "block " + (layer + 1) + "/" + layers + " " + label));
        pb.finish("done");

        // 2. Perplexity and 3. generation, on the CPU.
        String text = Files.readString(o.validFile());
        int[] allIds = Perplexity.tokenize(tokenizer, text);
        int[] ids = o.pplTokens() > 0 && o.pplTokens() < allIds.length ? Arrays.copyOf(allIds, o.pplTokens()) : allIds;
        double pplDense, pplSparse;
        String textDense, textSparse;
        int linear, sparse = 0;
        long p0 = System.nanoTime();
        SamplingParams greedy = SamplingParams.greedy(o.genTokens());
        try (CpuBackend backend = o.cpuThreads() > 0 ? new CpuBackend(o.cpuThreads()) : new CpuBackend()) {
            try (Transformer dense = Transformer.load(o.modelDir(), backend, new Transformer.Options(true))) {
                pplDense = perplexity(dense, ids, o.ctx(), err, "ppl dense");
                textDense = new Generator(dense, tokenizer).generate(o.prompt(), greedy, null).text();
            }
            try (Transformer sp = Transformer.load(pruned, backend, Transformer.Options.defaults())) {
                linear = sp.numLayers() * dev.twofour.model.WeightNames.Linear.values().length;
                for (int l = 0; l < sp.numLayers(); l++) {
                    for (var w : dev.twofour.model.WeightNames.Linear.values()) {
                        if (sp.linearLayout(l, w) == dev.twofour.runtime.LinearWeights.Layout.SPARSE24) sparse++;
                    }
                }
                pplSparse = perplexity(sp, ids, o.ctx(), err, "ppl 2:4  ");
                textSparse = new Generator(sp, tokenizer).generate(o.prompt(), greedy, null).text();
            }
        }
        double pplSeconds = (System.nanoTime() - p0) / 1e9;

        // 4. Decode speed.
        BenchTarget target = new BenchTarget(o.modelDir(), pruned, null, o.gpu(), CudaDtype.F16, o.cpuThreads());
        DecodeBench.Options d = o.decode();
        double rounds = 2.0 * d.batches().size() * (1 + d.reps());
        DecodeReport decode = DecodeBench.run(target, d, ProgressBar.on(err, "decode", rounds), new PrintStream(PrintStream.nullOutputStream()));

        String cpu;
        try (CpuBackend b = o.cpuThreads() > 0 ? new CpuBackend(o.cpuThreads()) : new CpuBackend()) {
            cpu = b.description();
        }
        return new Summary(name, params, cpu, report.samples(), report.seqLen(), report.seconds(), linear, sparse, report.meanRelativeLoss(),
                report.meanRelativeLossMagnitude(), o.validFile().getFileName().toString(), ids.length, allIds.length, o.ctx(), pplDense,
                pplSparse, pplSeconds, o.prompt(), o.genTokens(), textDense, textSparse, decode, (System.nanoTime() - t0) / 1e9);
    }

    private static double perplexity(Transformer m, int[] ids, int ctx, PrintStream err, String title) {
        ProgressBar bar = ProgressBar.on(err, title, 1);
        Perplexity.Result r = Perplexity.evaluate(m, ids, Math.min(ctx, m.config().maxPositionEmbeddings() - 1), Perplexity.DEFAULT_WINDOWS_PER_STEP,
                (done, total, tokens) -> bar.update(done / (double) total, done + "/" + total + " windows"));
        bar.finish(r.predictedTokens() + " tokens");
        return r.perplexity();
    }

    static long parameters(Path dir) throws IOException {
        long n = 0;
        try (Checkpoint ck = Checkpoint.open(dir)) {
            for (String t : ck.names()) n += ck.tensor(t).numel();
        }
        return n;
    }

    private static void deleteTree(Path root) {
        if (!Files.exists(root)) return;
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException("removing the demo's scratch folder " + root + ": " + e.getMessage(), e);
        }
    }
}
