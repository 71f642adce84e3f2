package dev.twofour.bench;

import java.io.PrintStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * {@code twofour bench decode}: for each mode (dense, 2:4) and batch size, {@code reps} repetitions of: prefill a
 * {@code promptLen}-token random prompt for every sequence of the batch (the first one's time is the TTFT), then
 * {@code gen - 1} timed decode steps (greedy; on the GPU one CUDA-graph replay each, sampling on the device). One
 * untimed warm-up round first per batch (it also captures the batch's CUDA graph). Reported: medians of the
 * per-repetition medians, the p90 of all steps, tokens/s per sequence and in total, speedup over dense at the
 * same batch, weights streamed per step and the GPU memory in use.
 */
public final class DecodeBench {
    /**
     * @param batches     batch sizes (1..64)
     * @param promptLen   prompt tokens per sequence
     * @param gen         tokens generated per sequence (the first by the prefill, the rest by timed decode steps)
     * @param warmupSteps decode steps of the untimed warm-up round
     * @param reps        timed repetitions per batch
     * @param sparse      auto | off | both
     */
    public record Options(List<Integer> batches, int promptLen, int gen, int warmupSteps, int reps, String sparse) {
        public static final List<Integer> DEFAULT_BATCHES = List.of(1, 8, 32, 64);

        public Options {
            if (batches == null || batches.isEmpty()) batches = DEFAULT_BATCHES;
            batches = List.copyOf(batches);
            for (int b : batches) if (b < 1 || b > 64) throw new IllegalArgumentException("--batch values must be 1..64, got " + b);
            if (promptLen < 1) throw new IllegalArgumentException("--prompt-len must be >= 1, got " + promptLen);
            if (gen < 2) throw new IllegalArgumentException("--gen must be >= 2 (the first token comes from the prefill), got " + gen);
            if (warmupSteps < 0) throw new IllegalArgumentException("--warmup must be >= 0, got " + warmupSteps);
            if (reps < 1) throw new IllegalArgumentException("--reps must be >= 1, got " + reps);
            if (sparse == null) sparse = "both";
        }

        int maxBatch() { return batches.stream().mapToInt(Integer::intValue).max().orElse(1); }

        int maxContext() { return promptLen + gen + 1; }
    }

    private DecodeBench() {}

    /** Runs every mode and batch; {@code bar} shows progress, {@code log} gets one line per result. */
    public static DecodeReport run(BenchTarget target, Options o, ProgressBar bar, PrintStream log) {
        List<Boolean> modes = target.modes(o.sparse());
        String device = target.deviceName();
        double roundsPerMode = o.batches().size() * (1.0 + o.reps());
        double totalRounds = modes.size() * roundsPerMode;
        List<DecodeResult> results = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        int vocab = target.config().vocabSize();
        double doneRounds = 0;
        for (boolean sparse : modes) {
            String mode = sparse ? "2:4" : "dense";
            bar.update(doneRounds, mode + ": loading");
            BenchModel opened = openOrSkip(target, sparse, o.maxBatch(), o.maxContext(), Math.min(512, Math.max(o.promptLen(), 16)), notes, log);
            if (opened == null) {
                doneRounds += roundsPerMode;
                continue;
            }
            try (BenchModel m = opened) {
                notes.add(mode + ": " + m.weightsNote());
                for (int b : o.batches()) {
                    try {
                        Random rnd = new Random(1000L * b + 1);
                        double base = doneRounds;
                        String label = String.format(Locale.ROOT, "%s batch %d", mode, b);
                        round(m, b, o, vocab, rnd, Math.min(o.warmupSteps(), o.gen() - 1),
                                f -> bar.update(base + f, label + " warm-up"));
                        doneRounds += 1;
                        double[] ttft = new double[o.reps()], medians = new double[o.reps()];
                        double[] all = new double[o.reps() * (o.gen() - 1)];
                        for (int r = 0; r < o.reps(); r++) {
                            double base2 = doneRounds;
                            Round t = round(m, b, o, vocab, rnd, o.gen() - 1, f -> bar.update(base2 + f, label));
                            ttft[r] = t.ttftMillis();
                            double[] s = t.stepMillis().clone();
                            System.arraycopy(s, 0, all, r * s.length, s.length);
                            medians[r] = median(s);
                            doneRounds += 1;
                        }
                        double med = median(medians), p90 = percentile(all, 0.9);
                        DecodeResult res = new DecodeResult(mode, b, median(ttft), med, p90, 1000.0 / med, b * 1000.0 / med, Double.NaN,
                                m.weightBytesPerToken(), m.deviceMemoryUsed(), o.gen() - 1);
                        results.add(res);
                        log.println(line(res));
                    } catch (RuntimeException e) {
                        // Keep what was measured; a failed GPU context is not used again.
                        failed(notes, log, mode + ": stopped at batch " + b, e);
                        break;
                    }
                }
            }
        }
        bar.finish("done");
        if (results.isEmpty()) throw new IllegalStateException("nothing was measured: " + String.join("; ", notes));
        return new DecodeReport(device, target.backendName(), target.label(), target.dtypeName(), o.promptLen(), o.gen(),
                Math.min(o.warmupSteps(), o.gen() - 1), o.reps(), Instant.now().toString(), notes, withSpeedups(results), null);
    }

    /**
     * Opens the model, or returns null (with a note) when the CUDA backend's memory plan says it does not fit on the
     * GPU: a 70B model runs 2:4 where dense cannot, and the report says so instead of failing.
     */
    static BenchModel openOrSkip(BenchTarget target, boolean sparse, int maxBatch, int maxContext, int chunk, List<String> notes, PrintStream log) {
        String mode = sparse ? "2:4" : "dense";
        try {
            return target.open(sparse, maxBatch, maxContext, chunk);
        } catch (IllegalArgumentException e) {
            throw e;  // a usage error: nothing can run
        } catch (RuntimeException e) {
            String msg = e.getMessage() == null ? e.toString() : e.getMessage();
            if (msg.contains("does not fit")) {
                String first = msg.lines().findFirst().orElse(msg).replaceFirst("\\s*Plan:\\s*$", "");
                notes.add(mode + ": not run: " + first);
                log.println(mode + ": not run: " + first);
            } else {
                failed(notes, log, mode + ": could not be loaded", e);
            }
            return null;
        }
    }

    /** Records a failure as a note and a log line (the report keeps what was measured before it). */
    static void failed(List<String> notes, PrintStream log, String what, RuntimeException e) {
        String msg = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
        notes.add(what + ": " + msg);
        log.println(what + ": " + msg);
    }

    /** One line per result, for logs. */
    static String line(DecodeResult r) {
        return String.format(Locale.ROOT, "%-5s batch %2d: TTFT %8.2f ms, %7.3f ms/step (p90 %.3f), %8.1f tok/s per sequence, %9.1f tok/s total",
                r.mode(), r.batch(), r.ttftMillis(), r.msPerStepMedian(), r.msPerStepP90(), r.tokensPerSecondPerSequence(), r.tokensPerSecondTotal());
    }

    private record Round(double ttftMillis, double[] stepMillis) {}

    private static Round round(BenchModel m, int batch, Options o, int vocab, Random rnd, int steps, java.util.function.DoubleConsumer progress) {
        int[] seqs = new int[batch], last = new int[batch];
        double ttft = 0;
        double[] times = new double[steps];
        try {
            for (int i = 0; i < batch; i++) {
                seqs[i] = m.newSequence();
                int[] prompt = randomIds(rnd, o.promptLen(), vocab);
                long a = System.nanoTime();
                last[i] = m.prefillAndSample(seqs[i], prompt);
                if (i == 0) ttft = (System.nanoTime() - a) / 1e6;
            }
            for (int s = 0; s < steps; s++) {
                long a = System.nanoTime();
                last = m.decodeStep(seqs, last);
                times[s] = (System.nanoTime() - a) / 1e6;
                if ((s & 7) == 7) progress.accept((s + 1.0) / steps);
            }
        } finally {
            for (int s : seqs) m.free(s);
        }
        return new Round(ttft, times);
    }

    static List<DecodeResult> withSpeedups(List<DecodeResult> rs) {
        List<DecodeResult> out = new ArrayList<>();
        for (DecodeResult r : rs) {
            double dense = rs.stream().filter(d -> d.mode().equals("dense") && d.batch() == r.batch())
                    .mapToDouble(DecodeResult::msPerStepMedian).findFirst().orElse(Double.NaN);
            out.add(new DecodeResult(r.mode(), r.batch(), r.ttftMillis(), r.msPerStepMedian(), r.msPerStepP90(),
                    r.tokensPerSecondPerSequence(), r.tokensPerSecondTotal(), dense / r.msPerStepMedian(),
                    r.weightBytesPerToken(), r.deviceMemoryBytes(), r.steps()));
        }
        return out;
    }

    static int[] randomIds(Random r, int n, int vocab) {
        int[] ids = new int[n];
        int lo = Math.min(3, vocab - 1);
        for (int i = 0; i < n; i++) ids[i] = lo + r.nextInt(vocab - lo);
        return ids;
    }

    static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** The nearest-rank percentile ({@code q} in (0, 1]). */
    static double percentile(double[] a, double q) {
        double[] s = a.clone();
        Arrays.sort(s);
        int rank = (int) Math.ceil(q * s.length);
        return s[Math.max(0, Math.min(s.length - 1, rank - 1))];
    }
}
