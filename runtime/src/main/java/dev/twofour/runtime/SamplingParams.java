package dev.twofour.runtime;

import java.util.List;

/**
 * How to pick the next token. Defaults ({@link #defaults()}) are greedy with no penalties.
 *
 * @param temperature       0 = greedy (argmax after penalties); otherwise logits are divided by it
 * @param topK              keep the k most likely tokens; 0 = off
 * @param topP              nucleus: keep the smallest set of most likely tokens whose probability reaches p; 1 = off
 * @param minP              keep tokens with probability ≥ minP × the top token's; 0 = off
 * @param repetitionPenalty Hugging Face semantics, over prompt and generated tokens: a positive logit is divided
 *                          by it, a negative one multiplied; 1 = off
 * @param frequencyPenalty  OpenAI semantics, over generated tokens: logit −= penalty × count; 0 = off
 * @param presencePenalty   OpenAI semantics, over generated tokens: logit −= penalty if the token occurred; 0 = off
 * @param seed              same seed, same output (a per-request {@link java.util.Random}); null = random
 * @param maxTokens         at most this many generated tokens (finish reason "length")
 * @param stop              stop strings: generation ends when the decoded text contains one; it is not emitted
 * @param stopTokenIds      token ids that end generation (not emitted); null = the model's eos ids
 * @param logprobs          report the log-probability of each chosen token (under the model's distribution,
 *                          before penalties and temperature)
 */
public record SamplingParams(float temperature, int topK, float topP, float minP, float repetitionPenalty,
                             float frequencyPenalty, float presencePenalty, Long seed, int maxTokens,
                             List<String> stop, List<Integer> stopTokenIds, boolean logprobs) {
    public static final int DEFAULT_MAX_TOKENS = 256;

    public SamplingParams {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be >= 0 and finite, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("top_k must be >= 0 (0 = off), got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        if (!(minP >= 0 && minP <= 1)) throw new IllegalArgumentException("min_p must be in [0, 1], got " + minP);
        if (!(repetitionPenalty > 0) || Float.isInfinite(repetitionPenalty)) throw new IllegalArgumentException("repetition_penalty must be > 0 (1 = off), got " + repetitionPenalty);
        if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2)) throw new IllegalArgumentException("frequency_penalty must be in [-2, 2], got " + frequencyPenalty);
        if (!(presencePenalty >= -2 && presencePenalty <= 2)) throw new IllegalArgumentException("presence_penalty must be in [-2, 2], got " + presencePenalty);
        if (maxTokens < 1) throw new IllegalArgumentException("max_tokens must be >= 1, got " + maxTokens);
        stop = stop == null ? List.of() : List.copyOf(stop);
        for (String s : stop) if (s.isEmpty()) throw new IllegalArgumentException("stop strings must not be empty");
        stopTokenIds = stopTokenIds == null ? null : List.copyOf(stopTokenIds);
    }

    /** Greedy, 256 tokens, stop at the model's eos ids. */
    public static SamplingParams defaults() {
        return new SamplingParams(0f, 0, 1f, 0f, 1f, 0f, 0f, null, DEFAULT_MAX_TOKENS, List.of(), null, false);
    }

    public static SamplingParams greedy(int maxTokens) { return defaults().withMaxTokens(maxTokens); }

    public boolean isGreedy() { return temperature == 0f; }

    public SamplingParams withTemperature(float v) { return new SamplingParams(v, topK, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty, seed, maxTokens, stop, stopTokenIds, logprobs); }
    public SamplingParams withTopK(int v) { return new SamplingParams(temperature, v, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty, seed, maxTokens, stop, stopTokenIds, logprobs); }
    public SamplingParams withTopP(float v) { return new SamplingParams(temperature, topK, v, minP, repetitionPenalty, frequencyPenalty, presencePenalty, seed, maxTokens, stop, stopTokenIds, logprobs); }
    public SamplingParams withMinP(float v) { return new SamplingParams(temperature, topK, topP, v, repetitionPenalty, frequencyPenalty, presencePenalty, seed, maxTokens, stop, stopTokenIds, logprobs); }
    public SamplingParams withRepetitionPenalty(float v) { return new SamplingParams(temperature, topK, topP, minP, v, frequencyPenalty, presencePenalty, seed, maxTokens, stop, stopTokenIds, logprobs); }
    public SamplingParams withFrequencyPenalty(float v) { return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, v, presencePenalty, seed, maxTokens, stop, stopTokenIds, logprobs); }
    public SamplingParams withPresencePenalty(float v) { return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, v, seed, maxTokens, stop, stopTokenIds, logprobs); }
    public SamplingParams withSeed(Long v) { return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty, v, maxTokens, stop, stopTokenIds, logprobs); }
    public SamplingParams withMaxTokens(int v) { return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty, seed, v, stop, stopTokenIds, logprobs); }
    public SamplingParams withStop(List<String> v) { return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty, seed, maxTokens, v, stopTokenIds, logprobs); }
    public SamplingParams withStopTokenIds(List<Integer> v) { return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty, seed, maxTokens, stop, v, logprobs); }
    public SamplingParams withLogprobs(boolean v) { return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty, seed, maxTokens, stop, stopTokenIds, v); }
}
