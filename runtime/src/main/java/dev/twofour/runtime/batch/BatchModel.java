package dev.twofour.runtime.batch;

import dev.twofour.runtime.KvCacheFullException;

/**
 * The model as the {@link Scheduler} sees it: a pool of KV-cache blocks shared by sequences, and one
 * forward step over a batch of sequences, each bringing some new tokens (a prefill chunk or one decode
 * token). The scheduler creates sequences, reserves blocks before each step and frees sequences; the
 * model appends each step's tokens to the cache and returns the logits after each sequence's last new
 * token. {@link TransformerBatchModel} is the runtime's implementation (over a paged
 * {@link dev.twofour.runtime.KvCache}). Called from the scheduler's thread only, except the read-only
 * counters.
 */
public interface BatchModel {
    int vocabSize();

    /** Most tokens one sequence may hold (prompt + generated). */
    int maxContext();

    /** Starts an empty sequence in the cache and returns its id. */
    int newSequence();

    /** Makes room for {@code newTokens} more tokens of {@code seq}; nothing is taken when it throws. */
    void reserve(int seq, int newTokens) throws KvCacheFullException;

    /** Returns the sequence's blocks to the pool. */
    void free(int seq);

    int blockSize();

    int totalBlocks();

    int usedBlocks();

    default int freeBlocks() {
        return totalBlocks() - usedBlocks();
    }

    /**
     * Appends {@code tokens[i]} to sequence {@code seqIds[i]} (blocks already reserved) and returns, for each
     * i with {@code wantLogits[i]}, the next-token logits {@code [vocabSize]} after its last token (other rows
     * may be null). The result for a sequence must not depend on which other sequences share the step.
     */
    float[][] step(int[] seqIds, int[][] tokens, boolean[] wantLogits);
}
