package dev.twofour.bench;

import dev.twofour.runtime.KvCache;
import dev.twofour.runtime.Transformer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A {@link Transformer} (CPU backend) with a paged KV cache, greedy on the host. */
final class CpuBenchModel implements BenchModel {
    private static final int PREFILL_CHUNK = 256;
    private final Transformer model;
    private final KvCache cache;
    private final String mode, note;
    private final AutoCloseable owner;

    /**
     * @param owner closed after the model (the backend it runs on); may be null
     */
    CpuBenchModel(Transformer model, String mode, String note, int maxTokens, AutoCloseable owner) {
        this.model = model;
        this.mode = mode;
        this.note = note;
        this.owner = owner;
        this.cache = model.newKvCache(maxTokens);
    }

    @Override public String mode() { return mode; }

    @Override public String weightsNote() { return note; }

    @Override public long weightBytesPerToken() { return model.linearWeightBytes(); }

    @Override public long deviceMemoryUsed() { return -1; }

    @Override public int newSequence() { return cache.newSequence(); }

    @Override public int prefillAndSample(int seq, int[] prompt) {
        float[] logits = forwardPrompt(seq, prompt);
        return argmax(logits, 0, model.vocabSize());
    }

    @Override public void prefill(int seq, int[] prompt) {
        forwardPrompt(seq, prompt);
    }

    private float[] forwardPrompt(int seq, int[] prompt) {
        float[] logits = null;
        for (int from = 0; from < prompt.length; from += PREFILL_CHUNK) {
            int[] chunk = Arrays.copyOfRange(prompt, from, Math.min(prompt.length, from + PREFILL_CHUNK));
            logits = model.forward(cache, List.of(new Transformer.SequenceInput(seq, chunk)), false);
        }
        return logits;
    }

    @Override public int[] decodeStep(int[] seqs, int[] tokens) {
        List<Transformer.SequenceInput> batch = new ArrayList<>(seqs.length);
        for (int i = 0; i < seqs.length; i++) batch.add(new Transformer.SequenceInput(seqs[i], new int[] {tokens[i]}));
        float[] logits = model.forward(cache, batch, false);
        int vocab = model.vocabSize();
        int[] next = new int[seqs.length];
        for (int i = 0; i < seqs.length; i++) next[i] = argmax(logits, i * vocab, vocab);
        return next;
    }

    static int argmax(float[] a, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (a[off + i] > a[off + best]) best = i;
        return best;
    }

    @Override public void free(int seq) { cache.free(seq); }

    @Override public void close() {
        cache.close();
        model.close();
        if (owner != null) {
            try {
                owner.close();
            } catch (Exception ignored) {
                // the backend's close does not fail in practice
            }
        }
    }
}
