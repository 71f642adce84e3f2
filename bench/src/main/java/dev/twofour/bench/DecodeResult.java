package dev.twofour.bench;

/**
 * Decode speed of one model (dense or 2:4) at one batch size.
 *
 * @param mode               "dense" or "2:4"
 * @param batch              sequences decoded together
 * @param ttftMillis         time to first token of a {@code promptLen}-token prompt (prefill + first sample),
 *                           median over repetitions
 * @param msPerStepMedian    milliseconds per decode step (one token for each sequence of the batch): the median of
 *                           the per-repetition medians
 * @param msPerStepP90       90th percentile of all timed steps
 * @param tokensPerSecondPerSequence 1000 / msPerStepMedian
 * @param tokensPerSecondTotal       batch × 1000 / msPerStepMedian
 * @param speedup            dense step time / this step time at the same batch (1 for dense, NaN without dense)
 * @param weightBytesPerToken weights a step streams (linear layers and LM head)
 * @param deviceMemoryBytes  GPU memory in use with the model loaded (-1 on the CPU)
 * @param steps              timed decode steps per repetition
 */
public record DecodeResult(String mode, int batch, double ttftMillis, double msPerStepMedian, double msPerStepP90,
                           double tokensPerSecondPerSequence, double tokensPerSecondTotal, double speedup,
                           long weightBytesPerToken, long deviceMemoryBytes, int steps) {}
