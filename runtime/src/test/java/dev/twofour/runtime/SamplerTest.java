package dev.twofour.runtime;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {
    static final int V = 11;

    static float[] logits(float... v) { return v; }

    static float[] ramp() {
        float[] l = new float[V];
        for (int i = 0; i < V; i++) l[i] = 0.3f * i - 1f;   // token 10 most likely
        return l;
    }

    static SamplingParams sample(float t) { return SamplingParams.defaults().withTemperature(t).withSeed(7L); }

    @Test void greedyPicksArgmaxAndLowestIdOnTies() {
        Sampler s = new Sampler(SamplingParams.defaults(), 5, new int[0]);
        assertEquals(3, s.sample(logits(1, 2, 0, 5, -1), 0));
        assertEquals(1, s.sample(logits(0, 4, 4, 1, 4), 0));
        // offset into a [rows][vocab] array
        assertEquals(2, s.sample(logits(9, 9, 9, 9, 9, 0, 0, 3, 1, 1), 5));
    }

    @Test void repetitionPenaltyUsesHfSemanticsOverPromptAndOutput() {
        // token 0 (logit 2.0, in the prompt) divided by 2 -> 1.0 < token 1 (1.5): greedy switches to 1
        Sampler s = new Sampler(SamplingParams.defaults().withRepetitionPenalty(2f), 3, new int[]{0});
        assertEquals(1, s.sample(logits(2f, 1.5f, -3f), 0));
        // a negative logit of a seen token is multiplied: token 1 (-1 -> -2) now below token 2 (-1.5)
        Sampler t = new Sampler(SamplingParams.defaults().withRepetitionPenalty(2f), 3, new int[]{1});
        assertEquals(2, t.sample(logits(-5f, -1f, -1.5f), 0));
        // without penalty token 1 wins
        assertEquals(1, new Sampler(SamplingParams.defaults(), 3, new int[]{1}).sample(logits(-5f, -1f, -1.5f), 0));
    }

    @Test void frequencyAndPresencePenaltiesCountGeneratedTokensOnly() {
        // prompt tokens do not count for OpenAI penalties
        Sampler p = new Sampler(SamplingParams.defaults().withPresencePenalty(1f), 2, new int[]{0, 0, 0});
        assertEquals(0, p.sample(logits(1f, 0.5f), 0));       // generated 0 once
        assertEquals(1, p.sample(logits(1f, 0.5f), 0));       // 1 - 1 = 0 < 0.5
        // frequency: logit -= 0.3 * count
        Sampler f = new Sampler(SamplingParams.defaults().withFrequencyPenalty(0.3f), 2, new int[0]);
        int[] got = new int[4];
        for (int i = 0; i < 4; i++) got[i] = f.sample(logits(1f, 0.5f), 0);
        // 0 (1.0), 0 (0.7), 1 (0.4 < 0.5), 1 then 0.4 vs 0.2 -> 0
        assertEquals(List.of(0, 0, 1, 0), List.of(got[0], got[1], got[2], got[3]));
    }

    @Test void sameSeedSameTokensDifferentSeedDifferentTokens() {
        int[] a = run(sample(1.5f), 200), b = run(sample(1.5f), 200), c = run(sample(1.5f).withSeed(8L), 200);
        assertTrue(java.util.Arrays.equals(a, b));
        assertTrue(!java.util.Arrays.equals(a, c));
    }

    static int[] run(SamplingParams p, int n) {
        Sampler s = new Sampler(p, V, new int[0]);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = s.sample(ramp(), 0);
        return out;
    }

    static Map<Integer, Integer> histogram(SamplingParams p, int n) {
        Map<Integer, Integer> h = new HashMap<>();
        for (int t : run(p, n)) h.merge(t, 1, Integer::sum);
        return h;
    }

    @Test void temperatureSamplesFollowTheSoftmax() {
        int n = 20000;
        Map<Integer, Integer> h = histogram(sample(1f), n);
        float[] l = ramp();
        double z = 0;
        for (float x : l) z += Math.exp(x);
        for (int i = 0; i < V; i++) {
            double p = Math.exp(l[i]) / z;
            double freq = h.getOrDefault(i, 0) / (double) n;
            assertEquals(p, freq, 4 * Math.sqrt(p * (1 - p) / n) + 1e-3, "token " + i);
        }
        // low temperature concentrates on the top token
        assertTrue(histogram(sample(0.05f), 2000).getOrDefault(10, 0) > 1990);
    }

    @Test void topKKeepsOnlyTheKMostLikely() {
        Set<Integer> seen = histogram(sample(5f).withTopK(3), 3000).keySet();
        assertEquals(Set.of(8, 9, 10), seen);
    }

    @Test void topPKeepsTheSmallestNucleus() {
        // probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.75 keeps {0,1}; 0.85 keeps {0,1,2}
        float[] l = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15), (float) Math.log(0.05)};
        assertEquals(Set.of(0, 1), drawSet(SamplingParams.defaults().withTemperature(1f).withSeed(3L).withTopP(0.75f), l));
        assertEquals(Set.of(0, 1, 2), drawSet(SamplingParams.defaults().withTemperature(1f).withSeed(3L).withTopP(0.85f), l));
        assertEquals(Set.of(0), drawSet(SamplingParams.defaults().withTemperature(1f).withSeed(3L).withTopP(0.1f), l));
    }

    @Test void minPDropsTokensBelowAFractionOfTheTop() {
        float[] l = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15), (float) Math.log(0.05)};
        // 0.25 x 0.5 = 0.125: keeps 0.5, 0.3, 0.15
        assertEquals(Set.of(0, 1, 2), drawSet(SamplingParams.defaults().withTemperature(1f).withSeed(3L).withMinP(0.25f), l));
        assertEquals(Set.of(0, 1), drawSet(SamplingParams.defaults().withTemperature(1f).withSeed(3L).withMinP(0.5f), l));
    }

    static Set<Integer> drawSet(SamplingParams p, float[] l) {
        Sampler s = new Sampler(p, l.length, new int[0]);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 3000; i++) seen.add(s.sample(l, 0));
        return seen;
    }

    @Test void logprobIsTheRawLogSoftmaxOfTheChosenToken() {
        Sampler s = new Sampler(SamplingParams.defaults().withLogprobs(true).withRepetitionPenalty(3f), 3, new int[]{0});
        float[] l = logits(2f, 1f, 0f);
        int t = s.sample(l, 0);
        double z = Math.exp(2) + Math.exp(1) + Math.exp(0);
        assertEquals(Math.log(Math.exp(l[t]) / z), s.lastLogprob(), 1e-6);
        assertTrue(Float.isNaN(new Sampler(SamplingParams.defaults(), 3, new int[0]).lastLogprob()));
    }

    @Test void invalidParametersAreRejectedWithTheirName() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.defaults().withTemperature(-1f)).getMessage().contains("temperature"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.defaults().withTopP(0f)).getMessage().contains("top_p"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.defaults().withMaxTokens(0)).getMessage().contains("max_tokens"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.defaults().withStop(List.of(""))).getMessage().contains("stop"));
        assertNotEquals(null, SamplingParams.defaults().withFrequencyPenalty(2f));
    }
}
