package dev.twofour.runtime.batch;

/**
 * Receives one sequence's events from the scheduler thread, in order: {@link #onToken} zero or more
 * times, then exactly one {@link #onFinish} or {@link #onError}. Must return quickly (it runs inside the
 * step loop): hand the event to another thread rather than doing I/O here.
 */
public interface TokenSink {
    /** @param logprobs null unless the request asked for them */
    void onToken(int token, Logprobs logprobs);

    void onFinish(FinishReason reason);

    void onError(Throwable error);

    /** Why a sequence ended. */
    enum FinishReason {
        /** a stop token was sampled */
        STOP,
        /** maxNewTokens generated, or the context is full */
        LENGTH,
        /** cancelled through its {@link Scheduler.Handle}, or the scheduler closed */
        CANCELLED
    }

    /**
     * Natural-log probabilities under the model's raw distribution (softmax of the logits, before
     * temperature and penalties): the chosen token's, and the {@code topIds.length} most likely, best first.
     */
    record Logprobs(float logprob, int[] topIds, float[] topLogprobs) {}
}
