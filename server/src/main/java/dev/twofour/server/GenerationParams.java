package dev.twofour.server;

/**
 * Sampling settings of one request, already validated by the HTTP layer.
 *
 * @param maxTokens         tokens to generate at most (>= 1)
 * @param temperature       0 = greedy
 * @param topK              0 = off
 * @param topP              1 = off
 * @param minP              0 = off
 * @param seed              seed of this request's own random generator (same seed, same output)
 * @param topLogprobs       -1 = no logprobs, 0 = the chosen token's only, k > 0 = also the k most likely
 * @param ignoreEos         keep generating past end-of-sequence tokens (benchmarks)
 * @param chat              a chat reply: also ends at the chat template's end-of-turn token
 */
public record GenerationParams(int maxTokens, float temperature, int topK, float topP, float minP,
                               float frequencyPenalty, float presencePenalty, float repetitionPenalty,
                               long seed, int topLogprobs, boolean ignoreEos, boolean chat) {
    public GenerationParams {
        if (maxTokens < 1) throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
    }
}
