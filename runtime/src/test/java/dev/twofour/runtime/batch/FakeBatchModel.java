package dev.twofour.runtime.batch;

import dev.twofour.runtime.KvCacheFullException;
import dev.twofour.runtime.Sampler;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A model whose logits are a pseudo-random function of each sequence's whole token history, with a
 * block pool that counts like the real paged cache. It checks the scheduler's bookkeeping: every step's
 * tokens continue their sequence and fit the reserved blocks.
 */
final class FakeBatchModel implements BatchModel {
    static final int VOCAB = 37;

    private final int maxContext;
    private final int prefillChunk;
    private final int blockSize;
    private final int totalBlocks;
    private final long stepMillis;
    private final Map<Integer, List<Integer>> history = new HashMap<>();
    private final Map<Integer, Integer> blocks = new HashMap<>();
    private int nextId = 1;
    private int used;
    final List<int[]> stepTokenCounts = new ArrayList<>(); // per step: tokens of each entry
    volatile RuntimeException failNextStep;

    FakeBatchModel(int maxContext, int prefillChunk, int blockSize, int totalBlocks, long stepMillis) {
        this.maxContext = maxContext;
        this.prefillChunk = prefillChunk;
        this.blockSize = blockSize;
        this.totalBlocks = totalBlocks;
        this.stepMillis = stepMillis;
    }

    /** The logits after a history: what the real model would compute from the tokens so far. */
    static float[] logitsAfter(List<Integer> tokens) {
        long h = 0x9E3779B97F4A7C15L;
        for (int t : tokens) h = (h ^ t) * 0xBF58476D1CE4E5B9L + 7;
        SplittableRandom r = new SplittableRandom(h);
        float[] l = new float[VOCAB];
        for (int i = 0; i < VOCAB; i++) l[i] = (float) (r.nextDouble() * 6 - 3);
        return l;
    }

    @Override public int vocabSize() { return VOCAB; }
    @Override public int maxContext() { return maxContext; }
    @Override public int prefillChunk() { return prefillChunk; }
    @Override public int blockSize() { return blockSize; }
    @Override public synchronized int totalBlocks() { return totalBlocks; }
    @Override public synchronized int usedBlocks() { return used; }

    @Override public synchronized int newSequence() {
        int id = nextId++;
        history.put(id, new ArrayList<>());
        blocks.put(id, 0);
        return id;
    }

    @Override public synchronized void reserve(int seq, int newTokens) {
        int have = blocks.get(seq);
        int need = (history.get(seq).size() + newTokens + blockSize - 1) / blockSize - have;
        if (need <= 0) return;
        if (need > totalBlocks - used) throw new KvCacheFullException("fake pool full");
        used += need;
        blocks.put(seq, have + need);
    }

    @Override public synchronized void free(int seq) {
        Integer b = blocks.remove(seq);
        if (b != null) used -= b;
        history.remove(seq);
    }

    @Override public StepOutput step(int[] seqIds, int[][] tokens, SequenceSampling[] sampling) {
        if (stepMillis > 0) {
            try {
                Thread.sleep(stepMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        RuntimeException fail = failNextStep;
        if (fail != null) {
            failNextStep = null;
            throw fail;
        }
        synchronized (this) {
            int[] counts = new int[seqIds.length];
            int[] next = new int[seqIds.length];
            TokenSink.Logprobs[] lps = new TokenSink.Logprobs[seqIds.length];
            for (int i = 0; i < seqIds.length; i++) {
                List<Integer> h = history.get(seqIds[i]);
                if (h == null) throw new IllegalStateException("step on unknown or freed sequence " + seqIds[i]);
                for (int t : tokens[i]) h.add(t);
                if (h.size() > blocks.get(seqIds[i]) * blockSize) throw new IllegalStateException("sequence " + seqIds[i] + " past its blocks");
                if (h.size() > maxContext) throw new IllegalStateException("sequence " + seqIds[i] + " past the context");
                counts[i] = tokens[i].length;
                next[i] = -1;
                if (sampling[i] != null) {
                    float[] l = logitsAfter(h);
                    Sampler sampler = (Sampler) sampling[i].modelState();
                    if (sampler == null) {
                        sampler = new Sampler(sampling[i].params(), VOCAB, sampling[i].prompt());
                        sampling[i].setModelState(sampler);
                    }
                    next[i] = sampler.sample(l, 0);
                    if (sampling[i].topLogprobs() >= 0) lps[i] = Scheduler.logprobs(l, next[i], sampling[i].topLogprobs());
                }
            }
            stepTokenCounts.add(counts);
            return new StepOutput(next, lps);
        }
    }
}
