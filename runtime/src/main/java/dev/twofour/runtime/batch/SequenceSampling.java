package dev.twofour.runtime.batch;

import dev.twofour.runtime.SamplingParams;

/**
 * How one sequence picks its tokens, as the {@link Scheduler} hands it to {@link BatchModel#step}: the
 * request's parameters and prompt, and a slot for the model's own per-sequence sampler state (the CPU
 * model keeps a {@link dev.twofour.runtime.Sampler} there; it outlives a preemption, so a recomputed
 * sequence continues with the same random stream).
 */
public final class SequenceSampling {
    private final SamplingParams params;
    private final int[] prompt;
    private final int topLogprobs;
    private Object modelState;

    SequenceSampling(SamplingParams params, int[] prompt, int topLogprobs) {
        this.params = params;
        this.prompt = prompt;
        this.topLogprobs = topLogprobs;
    }

    public SamplingParams params() { return params; }

    /** The prompt ids (for the repetition penalty). Do not modify. */
    public int[] prompt() { return prompt; }

    /** -1: no logprobs; 0: the chosen token's; k > 0: also the k most likely. */
    public int topLogprobs() { return topLogprobs; }

    /** The model's state for this sequence (null until the model sets it). */
    public Object modelState() { return modelState; }

    public void setModelState(Object state) { this.modelState = state; }
}
