package dev.twofour.runtime.batch;

import dev.twofour.runtime.KvCacheFullException;

/**
 * The model as the {@link Scheduler} sees it: a KV cache shared by sequences, and one step over a batch
 * of sequences, each bringing some new tokens (a prefill chunk or one decode token) and, when it has
 * read its whole input, getting its next token sampled. The scheduler creates sequences, reserves room
 * before each step and frees sequences; the model appends each step's tokens to the cache and samples.
 *
 * <p>Implementations: {@link TransformerBatchModel} (any backend through {@link dev.twofour.runtime.Transformer},
 * paged cache, sampling on the host) and {@link CudaBatchModel} (the GPU fast path, a slot per sequence,
 * sampling on the device). Called from the scheduler's thread only, except the read-only counters.
 */
public interface BatchModel {
    int vocabSize();

    /** Most tokens one sequence may hold (prompt + generated). */
    int maxContext();

    /** Prompt tokens per sequence per step at most (the scheduler cuts prompts at multiples of this). */
    int prefillChunk();

    /** Starts an empty sequence in the cache and returns its id. */
    int newSequence();

    /** Makes room for {@code newTokens} more tokens of {@code seq}; nothing is taken when it throws. */
    void reserve(int seq, int newTokens) throws KvCacheFullException;

    /** Returns the sequence's cache to the pool. */
    void free(int seq);

    /** Tokens per cache block (a slot model: the whole context). */
    int blockSize();

    int totalBlocks();

    int usedBlocks();

    default int freeBlocks() {
        return totalBlocks() - usedBlocks();
    }

    /**
     * Whether a new sequence whose first chunk has {@code firstChunk} tokens may join a batch of {@code running}
     * sequences without starving them (paged cache: its chunk's blocks plus one spare block per running sequence).
     */
    default boolean canAdmit(int firstChunk, int running) {
        return running == 0 || freeBlocks() >= (firstChunk + blockSize() - 1) / blockSize() + running;
    }

    /** The result of a step: per entry, the sampled token (or -1 when none was asked) and its logprobs (or null). */
    record StepOutput(int[] tokens, TokenSink.Logprobs[] logprobs) {}

    /**
     * Appends {@code tokens[i]} to sequence {@code seqIds[i]} (room already reserved) and, for each i with
     * {@code sampling[i] != null}, samples the next token after its last one. A sequence's result must not
     * depend on which other sequences share the step.
     */
    StepOutput step(int[] seqIds, int[][] tokens, SequenceSampling[] sampling);
}
