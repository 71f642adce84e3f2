package dev.twofour.runtime.batch;

import dev.twofour.runtime.SamplingParams;

/**
 * One generation for the {@link Scheduler}.
 *
 * @param prompt       prompt token ids (at least one)
 * @param maxNewTokens tokens to generate at most; generation also ends when the context is full
 * @param stopTokenIds tokens that end the generation (not reported); empty to ignore end-of-sequence
 * @param topLogprobs  -1: no logprobs; 0: the chosen token's; k > 0: also the k most likely
 * @param params       sampling parameters; give a seed for reproducible output (each sequence has its own
 *                     random stream, so the same seed gives the same tokens whatever else runs in the batch)
 */
public record SequenceRequest(int[] prompt, int maxNewTokens, int[] stopTokenIds, int topLogprobs, SamplingParams params) {
    public SequenceRequest {
        if (prompt == null || prompt.length == 0) throw new IllegalArgumentException("prompt must hold at least one token");
        if (maxNewTokens < 1) throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
        if (params == null) throw new IllegalArgumentException("params are required");
        stopTokenIds = stopTokenIds == null ? new int[0] : stopTokenIds.clone();
        prompt = prompt.clone();
    }
}
