package dev.twofour.bench;

import java.io.PrintStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * {@code twofour bench prefill}: for each mode (dense, 2:4) and prompt length, one untimed warm-up prefill, then
 * {@code reps} timed prefills of a random prompt into a fresh sequence (wall time until the last token's logits
 * are on the host); median and minimum.
 */
public final class PrefillBench {
    /**
     * @param lengths prompt lengths
     * @param chunk   prompt tokens per forward pass on the GPU (CudaModel's prefill chunk)
     * @param reps    timed repetitions per length
     * @param sparse  auto | off | both
     */
    public record Options(List<Integer> lengths, int chunk, int reps, String sparse) {
        public static final List<Integer> DEFAULT_LENGTHS = List.of(512, 2048, 8192);

        public Options {
            if (lengths == null || lengths.isEmpty()) lengths = DEFAULT_LENGTHS;
            lengths = List.copyOf(lengths);
            for (int l : lengths) if (l < 1) throw new IllegalArgumentException("--lengths values must be >= 1, got " + l);
            if (chunk < 1) throw new IllegalArgumentException("--chunk must be >= 1, got " + chunk);
            if (reps < 1) throw new IllegalArgumentException("--reps must be >= 1, got " + reps);
            if (sparse == null) sparse = "both";
        }

        int maxLength() { return lengths.stream().mapToInt(Integer::intValue).max().orElse(1); }
    }

    private PrefillBench() {}

    public static PrefillReport run(BenchTarget target, Options o, ProgressBar bar, PrintStream log) {
        int context = target.config().maxPositionEmbeddings();
        List<String> notes = new ArrayList<>();
        if (o.maxLength() > context) {
            if (target.preset() == null) {
                throw new IllegalArgumentException("--lengths " + o.maxLength() + " is longer than " + target.label() + "'s context of " + context + " positions");
            }
            // Synthetic weights: positions past the trained context cost the same, so the timing is still meaningful.
            notes.add("prompts past " + target.label() + "'s " + context + "-position context are timed on synthetic weights (the cost does not depend on it)");
        }
        List<Boolean> modes = target.modes(o.sparse());
        String device = target.deviceName();
        int vocab = target.config().vocabSize();
        List<PrefillResult> results = new ArrayList<>();
        double total = 0;
        for (int l : o.lengths()) total += (1.0 + o.reps()) * l;
        total *= modes.size();
        double done = 0;
        for (boolean sparse : modes) {
            String mode = sparse ? "2:4" : "dense";
            bar.update(done, mode + ": loading");
            BenchModel opened = DecodeBench.openOrSkip(target, sparse, 1, o.maxLength() + 1, Math.min(o.chunk(), o.maxLength()), notes, log);
            if (opened == null) {
                for (int l : o.lengths()) done += (1.0 + o.reps()) * l;
                continue;
            }
            try (BenchModel m = opened) {
                notes.add(mode + ": " + m.weightsNote());
                for (int len : o.lengths()) {
                    try {
                        Random rnd = new Random(len);
                        int[] prompt = DecodeBench.randomIds(rnd, len, vocab);
                        String label = mode + " " + len + " tokens";
                        time(m, prompt);  // warm-up
                        done += len;
                        bar.update(done, label);
                        double[] ms = new double[o.reps()];
                        for (int r = 0; r < o.reps(); r++) {
                            ms[r] = time(m, prompt);
                            done += len;
                            bar.update(done, label);
                        }
                        double med = DecodeBench.median(ms), min = java.util.Arrays.stream(ms).min().orElse(med);
                        PrefillResult res = new PrefillResult(mode, len, med, min, len * 1000.0 / med, Double.NaN);
                        results.add(res);
                        log.println(String.format(Locale.ROOT, "%-5s prefill %5d tokens: %9.2f ms (min %.2f), %10.0f tok/s", mode, len, med, min,
                                res.tokensPerSecond()));
                    } catch (RuntimeException e) {
                        // Keep what was measured; a failed GPU context is not used again.
                        DecodeBench.failed(notes, log, mode + ": stopped at " + len + " tokens", e);
                        break;
                    }
                }
            }
        }
        bar.finish("done");
        if (results.isEmpty()) throw new IllegalStateException("nothing was measured: " + String.join("; ", notes));
        List<PrefillResult> withSpeedup = new ArrayList<>();
        for (PrefillResult r : results) {
            double dense = results.stream().filter(d -> d.mode().equals("dense") && d.length() == r.length())
                    .mapToDouble(PrefillResult::millisMedian).findFirst().orElse(Double.NaN);
            withSpeedup.add(new PrefillResult(r.mode(), r.length(), r.millisMedian(), r.millisMin(), r.tokensPerSecond(), dense / r.millisMedian()));
        }
        return new PrefillReport(device, target.backendName(), target.label(), target.dtypeName(), Math.min(o.chunk(), o.maxLength()), o.reps(),
                Instant.now().toString(), notes, withSpeedup);
    }

    private static double time(BenchModel m, int[] prompt) {
        int s = m.newSequence();
        try {
            long a = System.nanoTime();
            m.prefill(s, prompt);
            return (System.nanoTime() - a) / 1e6;
        } finally {
            m.free(s);
        }
    }
}
