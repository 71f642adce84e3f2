package dev.twofour.kernels.transformer.ref;

import java.util.Arrays;

/**
 * Plain-Java twin of the GPU sampler (tf_sampler.cuh): penalties, temperature, top-k, top-p, min-p, and a
 * Philox draw over probabilities in 32.32 fixed point. Thresholds are found by sorting here and by radix
 * select on the GPU; both give the largest key that keeps the required count or mass. The fixed-point
 * probabilities use exp2 on both sides, which can differ in the last bit, so a draw that lands exactly on a
 * boundary may pick a neighbour: tests allow a few such cases in many draws.
 */
public final class SamplerRef {
    private SamplerRef() {}

    /** One row's parameters; {@code topK <= 0} and {@code topP >= 1} disable those filters. */
    public record Params(float temperature, int topK, float topP, float minP, float repetition, float frequency,
                         float presence, long seed) {
        public static Params greedy() { return new Params(0f, 0, 1f, 0f, 1f, 0f, 0f, 0L); }
    }

    /** Order-preserving unsigned key of a float (as a non-negative long). */
    public static long orderKey(float z) {
        int u = Float.floatToRawIntBits(z);
        int k = u < 0 ? ~u : (u | 0x80000000);
        return k & 0xFFFFFFFFL;
    }

    /** exp(z - m) in 32.32 fixed point, the expression the kernel evaluates. */
    public static long probFix(float z, float m) {
        float d = (z - m) * 1.44269504f;
        float e = (float) Math.pow(2.0, d);
        return (long) (e * 4294967296.0f);
    }

    /**
     * The id the kernel samples for {@code logits} (not modified) with {@code counts} (bits 0-23 generated count,
     * bit 30 prompt flag; may be null) at Philox counter {@code step}. -1 when every logit is NaN.
     */
    public static int sample(float[] logits, int[] counts, Params p, int step) {
        int vocab = logits.length;
        boolean greedy = !(p.temperature() > 0f) || p.topK() == 1;
        boolean penal = counts != null && (p.repetition() != 1f || p.frequency() != 0f || p.presence() != 0f);
        float[] z = new float[vocab];
        float best = Float.NEGATIVE_INFINITY;
        int bestI = Integer.MAX_VALUE;
        for (int i = 0; i < vocab; i++) {
            float v = logits[i];
            if (penal && counts[i] != 0) {
                int gen = counts[i] & 0xFFFFFF;
                if (p.repetition() != 1f) v = v > 0f ? v / p.repetition() : v * p.repetition();
                v -= p.frequency() * (float) gen + (gen > 0 ? p.presence() : 0f);
            }
            if (!greedy) {
                v = v / p.temperature();
                if (Float.isNaN(v)) v = Float.NEGATIVE_INFINITY;
            }
            z[i] = v;
            if (v > best || (v == best && i < bestI)) { best = v; bestI = i; }
        }
        if (bestI == Integer.MAX_VALUE) return -1;
        if (greedy || best == Float.NEGATIVE_INFINITY) return bestI;
        float m = best;
        long thr = 0;
        long[] keys = new long[vocab];
        for (int i = 0; i < vocab; i++) keys[i] = orderKey(z[i]);
        if (p.topK() > 0 && p.topK() < vocab) {
            long[] sorted = keys.clone();
            Arrays.sort(sorted);
            thr = sorted[vocab - p.topK()];
        }
        if (p.topP() > 0f && p.topP() < 1f) {
            long total = 0;
            for (int i = 0; i < vocab; i++) if (keys[i] >= thr) total += probFix(z[i], m);
            long target = (long) ((double) p.topP() * (double) total);
            if (target > 0) {
                Integer[] order = new Integer[vocab];
                for (int i = 0; i < vocab; i++) order[i] = i;
                Arrays.sort(order, (a, b) -> Long.compare(keys[b], keys[a]));
                long acc = 0;
                for (int idx : order) {
                    if (keys[idx] < thr) break;
                    long w = probFix(z[idx], m);
                    if (w == 0) continue;
                    acc += w;
                    if (acc >= target) { thr = Math.max(thr, keys[idx]); break; }
                }
            }
        }
        if (p.minP() > 0f) thr = Math.max(thr, orderKey(m + (float) Math.log(p.minP())));
        long total = 0;
        for (int i = 0; i < vocab; i++) if (keys[i] >= thr) total += probFix(z[i], m);
        int[] r = Philox.next(new int[] {step, 0, 0, 0}, (int) p.seed(), (int) (p.seed() >>> 32));
        long rand64 = ((long) r[0] << 32) | (r[1] & 0xFFFFFFFFL);
        long target = Math.unsignedMultiplyHigh(rand64, total);
        long run = 0;
        for (int i = 0; i < vocab; i++) {
            if (keys[i] < thr) continue;
            run += probFix(z[i], m);
            if (run > target) return i;
        }
        return bestI;
    }

    /** The set of ids the filters keep (probability > 0 after top-k / top-p / min-p), for property checks. */
    public static boolean[] kept(float[] logits, Params p) {
        int vocab = logits.length;
        boolean[] keep = new boolean[vocab];
        // reuse sample's thresholds by sampling with every counter would be slow; recompute directly
        float[] z = new float[vocab];
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) { z[i] = logits[i] / p.temperature(); m = Math.max(m, z[i]); }
        long[] keys = new long[vocab];
        for (int i = 0; i < vocab; i++) keys[i] = orderKey(z[i]);
        long thr = 0;
        if (p.topK() > 0 && p.topK() < vocab) {
            long[] sorted = keys.clone();
            Arrays.sort(sorted);
            thr = sorted[vocab - p.topK()];
        }
        if (p.topP() > 0f && p.topP() < 1f) {
            double total = 0;
            for (int i = 0; i < vocab; i++) if (keys[i] >= thr) total += Math.exp(z[i] - m);
            Integer[] order = new Integer[vocab];
            for (int i = 0; i < vocab; i++) order[i] = i;
            Arrays.sort(order, (a, b) -> Long.compare(keys[b], keys[a]));
            double acc = 0;
            for (int idx : order) {
                if (keys[idx] < thr) break;
                acc += Math.exp(z[idx] - m);
                if (acc >= p.topP() * total * (1 - 1e-6)) { thr = Math.max(thr, keys[idx]); break; }
            }
        }
        if (p.minP() > 0f) thr = Math.max(thr, orderKey(m + (float) Math.log(p.minP())));
        for (int i = 0; i < vocab; i++) keep[i] = keys[i] >= thr;
        return keep;
    }
}
