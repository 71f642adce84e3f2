package dev.twofour.runtime.cuda;

import dev.twofour.runtime.SamplingParams;

import java.util.function.IntConsumer;

/**
 * One sequence generated on {@link CudaModel}'s fast path (prefill, then one graph replay per token, sampling on the
 * GPU): what {@code twofour generate --preset NAME} runs. Stops at {@code params.maxTokens()} or a stop id
 * ({@code params.stopTokenIds()}; none for synthetic weights unless given). Stop strings are the text layer's job.
 */
public final class CudaGeneration {
    private CudaGeneration() {}

    /** Token counts and times of one generation. */
    public record Stats(int promptTokens, int generated, double ttftMillis, double decodeTokensPerSecond, double totalMillis) {
        public String line() {
            return String.format("%d prompt tokens, %d generated; TTFT %.1f ms; decode %.1f tok/s (%.3f ms/token); total %.1f ms",
                    promptTokens, generated, ttftMillis, decodeTokensPerSecond,
                    decodeTokensPerSecond > 0 ? 1000.0 / decodeTokensPerSecond : 0, totalMillis);
        }
    }

    /** Generates from {@code prompt}, handing each new token id to {@code onToken} as soon as it is on the host. */
    public static Stats generate(CudaModel model, int[] prompt, SamplingParams params, IntConsumer onToken) {
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt has no tokens");
        int max = params.maxTokens();
        if (prompt.length + max > model.options().maxContext()) {
            throw new IllegalArgumentException("prompt (" + prompt.length + " tokens) + max tokens (" + max
                    + ") exceed the context of " + model.options().maxContext() + " positions; lower --max-tokens");
        }
        java.util.List<Integer> stops = params.stopTokenIds() == null ? java.util.List.of() : params.stopTokenIds();
        int slot = model.newSequence();
        try {
            long t0 = System.nanoTime();
            int token = model.prefillAndSample(slot, prompt, params);
            long t1 = System.nanoTime();
            int generated = 1;
            onToken.accept(token);
            SamplingParams[] p = {params};
            int[] slots = {slot}, last = new int[1];
            while (generated < max && !stops.contains(token)) {
                last[0] = token;
                token = model.decodeStep(slots, last, p)[0];
                generated++;
                onToken.accept(token);
            }
            long t2 = System.nanoTime();
            double decodeSeconds = (t2 - t1) / 1e9;
            return new Stats(prompt.length, generated, (t1 - t0) / 1e6,
                    generated > 1 ? (generated - 1) / decodeSeconds : 0, (t2 - t0) / 1e6);
        } finally {
            model.free(slot);
        }
    }
}
