package dev.twofour.runtime;

import java.util.Arrays;
import java.util.Random;

/**
 * Picks tokens from logits for one request, following its {@link SamplingParams}. It remembers the prompt
 * (for the repetition penalty) and every token it chose (for all penalties), so use one Sampler per request.
 *
 * <p>Order, as in Hugging Face / vLLM: repetition penalty → frequency and presence penalties → greedy
 * argmax if temperature is 0 → temperature → top-k → top-p → min-p → draw from the renormalised
 * distribution with the request's own {@link Random} (seeded: same seed, same tokens). Ties in greedy go
 * to the lowest id, as {@code torch.argmax} does.
 */
public final class Sampler {
    private final SamplingParams params;
    private final int vocab;
    private final Random random;
    private final int[] generatedCount;   // per token id, generated tokens only
    private final boolean[] seen;         // prompt + generated (repetition penalty)
    private final float[] work;
    private long[] order = new long[0];
    private float lastLogprob = Float.NaN;

    public Sampler(SamplingParams params, int vocabSize, int[] promptIds) {
        this.params = params;
        this.vocab = vocabSize;
        this.random = params.seed() != null ? new Random(params.seed()) : new Random();
        this.generatedCount = new int[vocabSize];
        this.seen = new boolean[vocabSize];
        this.work = new float[vocabSize];
        for (int id : promptIds) if (id >= 0 && id < vocabSize) seen[id] = true;
    }

    public SamplingParams params() { return params; }

    /**
     * Chooses the next token from {@code logits[offset .. offset + vocab)} (left unchanged) and records it.
     */
    public int sample(float[] logits, int offset) {
        float[] l = work;
        System.arraycopy(logits, offset, l, 0, vocab);
        applyPenalties(l);
        int token;
        if (params.isGreedy()) {
            token = argmax(l);
        } else {
            token = draw(l);
        }
        if (params.logprobs()) lastLogprob = logSoftmaxAt(logits, offset, vocab, token);
        accept(token);
        return token;
    }

    /** Records a token as generated without sampling it (e.g. a forced token). */
    public void accept(int token) {
        if (token < 0 || token >= vocab) throw new IllegalArgumentException("token " + token + " outside vocabulary of " + vocab);
        generatedCount[token]++;
        seen[token] = true;
    }

    /** Log-probability of the last chosen token under the raw logits; NaN unless logprobs were requested. */
    public float lastLogprob() { return lastLogprob; }

    private void applyPenalties(float[] l) {
        float rep = params.repetitionPenalty(), freq = params.frequencyPenalty(), pres = params.presencePenalty();
        if (rep != 1f) {
            for (int i = 0; i < vocab; i++) if (seen[i]) l[i] = l[i] > 0 ? l[i] / rep : l[i] * rep;
        }
        if (freq != 0f || pres != 0f) {
            for (int i = 0; i < vocab; i++) {
                int c = generatedCount[i];
                if (c > 0) l[i] -= freq * c + pres;
            }
        }
    }

    static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
        return best;
    }

    private int draw(float[] l) {
        float invT = 1f / params.temperature();
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            l[i] *= invT;
            if (l[i] > max) max = l[i];
        }
        // Probabilities (unnormalised): exp(l - max); the top token has 1.
        int n = 0;
        if (order.length < vocab) order = new long[vocab];
        double total = 0;
        for (int i = 0; i < vocab; i++) {
            float p = (float) Math.exp(l[i] - max);
            if (p > 0f) {
                // Sort key: descending probability (positive float bits order like the floats), then ascending id.
                order[n++] = ((long) (Integer.MAX_VALUE - Float.floatToIntBits(p)) << 32) | i;
                total += p;
            }
            l[i] = p;
        }
        Arrays.sort(order, 0, n);
        int keep = n;
        if (params.topK() > 0) keep = Math.min(keep, params.topK());
        if (params.topP() < 1f) {
            double cum = 0, target = params.topP() * total;
            for (int j = 0; j < keep; j++) {
                cum += l[(int) order[j]];
                if (cum >= target) {
                    keep = j + 1;
                    break;
                }
            }
        }
        if (params.minP() > 0f) {
            float threshold = params.minP() * l[(int) order[0]];
            int j = 1;
            while (j < keep && l[(int) order[j]] >= threshold) j++;
            keep = j;
        }
        double sum = 0;
        for (int j = 0; j < keep; j++) sum += l[(int) order[j]];
        double u = random.nextDouble() * sum;
        for (int j = 0; j < keep; j++) {
            u -= l[(int) order[j]];
            if (u < 0) return (int) order[j];
        }
        return (int) order[keep - 1];
    }

    /** {@code log softmax(logits)[token]} in double precision. */
    public static float logSoftmaxAt(float[] logits, int offset, int vocab, int token) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i] - max);
        return (float) (logits[offset + token] - max - Math.log(sum));
    }
}
