package dev.twofour.server;

import java.util.List;

/**
 * A validated /v1/completions or /v1/chat/completions request.
 * Exactly one of {@code promptText}, {@code promptIds}, {@code messages} is non-null.
 *
 * @param maxTokens   null when the client gave none (then: what the context leaves)
 * @param seed        null when the client gave none (then: a random one)
 * @param topLogprobs -1 when no logprobs were asked for
 */
record CompletionRequest(boolean chat, String model, String promptText, int[] promptIds,
                         List<CompletionEngine.ChatTurn> messages, Integer maxTokens,
                         float temperature, int topK, float topP, float minP,
                         float frequencyPenalty, float presencePenalty, float repetitionPenalty,
                         Long seed, List<String> stop, int topLogprobs, boolean stream,
                         boolean includeUsage, boolean ignoreEos) {
}
