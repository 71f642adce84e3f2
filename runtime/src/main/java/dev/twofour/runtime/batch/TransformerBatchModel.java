package dev.twofour.runtime.batch;

import dev.twofour.runtime.KvCache;
import dev.twofour.runtime.KvCacheFullException;
import dev.twofour.runtime.Sampler;
import dev.twofour.runtime.Transformer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The {@link BatchModel} of a {@link Transformer}: its paged {@link KvCache} is the block pool, and a
 * scheduler step is one {@link Transformer#forward} over all the step's sequences, so the decode tokens
 * of the whole batch go through each linear layer together (batched GEMMs, where 2:4 pays). Tokens are
 * sampled on the host, each sequence with its own {@link Sampler} (kept in its {@link SequenceSampling}).
 * Owns the cache; the transformer stays the caller's.
 */
public final class TransformerBatchModel implements BatchModel, AutoCloseable {
    private final Transformer model;
    private final KvCache cache;
    private final int maxContext;
    private final int prefillChunk;

    /**
     * @param kvTokens     total tokens the KV cache holds over all sequences (rounded up to whole blocks);
     *                     at least one full context
     * @param maxContext   tokens per sequence at most; 0 = the model's max_position_embeddings
     * @param prefillChunk prompt tokens per sequence per step
     */
    public TransformerBatchModel(Transformer model, int kvTokens, int maxContext, int prefillChunk) {
        if (prefillChunk < 1) throw new IllegalArgumentException("prefillChunk must be >= 1, got " + prefillChunk);
        this.prefillChunk = prefillChunk;
        int modelContext = model.config().maxPositionEmbeddings();
        if (maxContext < 0) throw new IllegalArgumentException("maxContext must be >= 0 (0 = the model's), got " + maxContext);
        this.maxContext = maxContext == 0 ? modelContext : Math.min(maxContext, modelContext);
        this.model = model;
        this.cache = model.newKvCache(Math.max(kvTokens, this.maxContext));
    }

    /** A cache for {@code maxBatch} sequences of up to {@code tokensPerSequence} tokens each (and at least one full context). */
    public static TransformerBatchModel forBatch(Transformer model, int maxBatch, int tokensPerSequence, int maxContext, int prefillChunk) {
        long tokens = (long) maxBatch * tokensPerSequence;
        if (tokens > Integer.MAX_VALUE / 2) throw new IllegalArgumentException("KV cache of " + tokens + " tokens is too large");
        return new TransformerBatchModel(model, (int) tokens, maxContext, prefillChunk);
    }

    public Transformer transformer() {
        return model;
    }

    @Override public int vocabSize() { return model.vocabSize(); }
    @Override public int maxContext() { return maxContext; }
    @Override public int prefillChunk() { return prefillChunk; }
    @Override public int newSequence() { return cache.newSequence(); }
    @Override public void reserve(int seq, int newTokens) throws KvCacheFullException { cache.reserve(seq, newTokens); }
    @Override public void free(int seq) { cache.free(seq); }
    @Override public int blockSize() { return cache.blockSize(); }
    @Override public int totalBlocks() { return cache.numBlocks(); }
    @Override public int usedBlocks() { return cache.usedBlocks(); }
    @Override public int freeBlocks() { return cache.freeBlocks(); }

    @Override public StepOutput step(int[] seqIds, int[][] tokens, SequenceSampling[] sampling) {
        List<Transformer.SequenceInput> batch = new ArrayList<>(seqIds.length);
        for (int i = 0; i < seqIds.length; i++) batch.add(new Transformer.SequenceInput(seqIds[i], tokens[i]));
        float[] logits = model.forward(cache, batch, false);
        int vocab = model.vocabSize();
        int[] next = new int[seqIds.length];
        TokenSink.Logprobs[] logprobs = new TokenSink.Logprobs[seqIds.length];
        for (int i = 0; i < seqIds.length; i++) {
            SequenceSampling s = sampling[i];
            if (s == null) {
                next[i] = -1;
                continue;
            }
            Sampler sampler = (Sampler) s.modelState();
            if (sampler == null) {
                sampler = new Sampler(s.params(), vocab, s.prompt());
                s.setModelState(sampler);
            }
            next[i] = sampler.sample(logits, i * vocab);
            if (s.topLogprobs() >= 0) {
                logprobs[i] = Scheduler.logprobs(Arrays.copyOfRange(logits, i * vocab, (i + 1) * vocab), next[i], s.topLogprobs());
            }
        }
        return new StepOutput(next, logprobs);
    }

    /** Frees the KV cache (not the transformer). */
    @Override public void close() {
        cache.close();
    }
}
