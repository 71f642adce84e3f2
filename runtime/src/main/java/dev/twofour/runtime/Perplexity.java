package dev.twofour.runtime;

import dev.twofour.model.tokenizer.Tokenizer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.ArrayList;
import java.util.List;

/**
 * Perplexity with the protocol of shared/DATA.md (the one transformers' reference number uses):
 * split the text on the exact string "\n\n"; skip parts that are only whitespace; tokenize each part as it is
 * (no stripping, no special tokens); append {@code <bos> + ids + <eos>} per part to one id list; windows of
 * {@code ctx + 1} ids starting at 0, ctx, 2·ctx, … (the last may be shorter; one of fewer than 2 ids is
 * skipped), each predicting its ids 1..n-1 from the ones before with no context from earlier windows;
 * ppl = exp(total NLL / total predicted ids). Several windows go through the model in one step (as separate
 * sequences), so the backend sees large batched matmuls.
 */
public final class Perplexity {
    private Perplexity() {}

    /** Default windows per forward step. */
    public static final int DEFAULT_WINDOWS_PER_STEP = 4;

    public record Result(double perplexity, double totalNll, long predictedTokens, int windows, double seconds) {}

    @FunctionalInterface
    public interface Progress {
        void update(int windowsDone, int windowsTotal, long tokensDone);
    }

    /** The id list of the protocol for {@code text}. */
    public static int[] tokenize(Tokenizer tokenizer, String text) {
        int bos = tokenizer.bosId();
        List<Integer> eos = tokenizer.eosIds();
        if (bos < 0 || eos.isEmpty()) {
            throw new IllegalArgumentException("perplexity needs a tokenizer with BOS and EOS tokens (bos " + bos + ", eos " + eos + ")");
        }
        int eosId = eos.get(0);
        IntList ids = new IntList();
        int from = 0;
        while (from <= text.length()) {
            int next = text.indexOf("\n\n", from);
            String part = next < 0 ? text.substring(from) : text.substring(from, next);
            if (!part.isBlank()) {
                ids.add(bos);
                for (int id : tokenizer.encode(part, false, false)) ids.add(id);
                ids.add(eosId);
            }
            if (next < 0) break;
            from = next + 2;
        }
        return ids.toArray();
    }

    public static Result evaluate(Transformer model, Tokenizer tokenizer, String text, int ctx, Progress progress) {
        return evaluate(model, tokenize(tokenizer, text), ctx, DEFAULT_WINDOWS_PER_STEP, progress);
    }

    /** Perplexity of an id list (already in protocol form) with windows of {@code ctx} predicted ids. */
    public static Result evaluate(Transformer model, int[] ids, int ctx, int windowsPerStep, Progress progress) {
        if (ctx < 1) throw new IllegalArgumentException("ctx must be >= 1, got " + ctx);
        if (ctx + 1 > model.config().maxPositionEmbeddings()) {
            throw new IllegalArgumentException("ctx " + ctx + " needs windows of " + (ctx + 1) + " tokens, past the model's context of "
                    + model.config().maxPositionEmbeddings() + "; use --ctx " + (model.config().maxPositionEmbeddings() - 1) + " or less");
        }
        long t0 = System.nanoTime();
        List<int[]> windows = new ArrayList<>();
        for (int s = 0; s < ids.length; s += ctx) {
            int end = Math.min(ids.length, s + ctx + 1);
            if (end - s >= 2) windows.add(java.util.Arrays.copyOfRange(ids, s, end));
        }
        int vocab = model.vocabSize();
        double nll = 0;
        long predicted = 0;
        try (KvCache cache = model.newKvCache(windowsPerStep * (ctx + 1) + KvCache.DEFAULT_BLOCK_SIZE * windowsPerStep)) {
            for (int w0 = 0; w0 < windows.size(); w0 += windowsPerStep) {
                int w1 = Math.min(windows.size(), w0 + windowsPerStep);
                List<Transformer.SequenceInput> batch = new ArrayList<>();
                int[] seqs = new int[w1 - w0];
                for (int w = w0; w < w1; w++) {
                    seqs[w - w0] = cache.newSequence();
                    batch.add(new Transformer.SequenceInput(seqs[w - w0], windows.get(w)));
                }
                float[] logits = model.forward(cache, batch, true);
                int row = 0;
                for (int w = w0; w < w1; w++) {
                    int[] win = windows.get(w);
                    for (int i = 0; i + 1 < win.length; i++, row++) {
                        int off = row * vocab;
                        nll += logSumExp(logits, off, vocab) - logits[off + win[i + 1]];
                    }
                    row++; // the window's last position predicts nothing
                    predicted += win.length - 1;
                }
                for (int s : seqs) cache.free(s);
                if (progress != null) progress.update(w1, windows.size(), predicted);
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        return new Result(Math.exp(nll / predicted), nll, predicted, windows.size(), seconds);
    }

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** {@code log Σ exp(a[off..off+n))}, vectorised, accumulated in double per vector. */
    static double logSumExp(float[] a, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        int i = 0;
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (; i + F.length() <= n; i += F.length()) mv = mv.max(FloatVector.fromArray(F, a, off + i));
        max = mv.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) max = Math.max(max, a[off + i]);
        double sum = 0;
        i = 0;
        for (; i + F.length() <= n; i += F.length()) {
            sum += FloatVector.fromArray(F, a, off + i).sub(max).lanewise(VectorOperators.EXP).reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) sum += Math.exp(a[off + i] - max);
        return max + Math.log(sum);
    }

    private static final class IntList {
        int[] a = new int[1024];
        int n;

        void add(int v) {
            if (n == a.length) a = java.util.Arrays.copyOf(a, 2 * n);
            a[n++] = v;
        }

        int[] toArray() { return java.util.Arrays.copyOf(a, n); }
    }
}
