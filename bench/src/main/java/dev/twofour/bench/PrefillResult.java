package dev.twofour.bench;

/**
 * Prefill speed of one model (dense or 2:4) for one prompt length.
 *
 * @param mode        "dense" or "2:4"
 * @param length      prompt tokens
 * @param millisMedian wall time of the whole prefill (all chunks, logits of the last token back on the host), median
 * @param millisMin   the fastest repetition
 * @param tokensPerSecond length / median time
 * @param speedup     dense time / this time (1 for dense, NaN without dense)
 */
public record PrefillResult(String mode, int length, double millisMedian, double millisMin, double tokensPerSecond, double speedup) {}
