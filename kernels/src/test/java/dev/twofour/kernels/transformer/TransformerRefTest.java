package dev.twofour.kernels.transformer;

import dev.twofour.kernels.transformer.ref.Philox;
import dev.twofour.kernels.transformer.ref.SamplerRef;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** CPU checks of the references the GPU tests trust. */
class TransformerRefTest {
    @Test
    void philoxMatchesTheRandom123KnownAnswers() {
        assertArrayEquals(new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
                Philox.next(new int[] {0, 0, 0, 0}, 0, 0));
        assertArrayEquals(new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
                Philox.next(new int[] {-1, -1, -1, -1}, -1, -1));
        assertArrayEquals(new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
                Philox.next(new int[] {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, 0xa4093822, 0x299f31d0));
    }

    @Test
    void orderKeyIsMonotone() {
        float[] v = {Float.NEGATIVE_INFINITY, -3e38f, -1f, -1e-30f, -0f, 0f, 1e-30f, 2f, 3e38f, Float.POSITIVE_INFINITY};
        for (int i = 1; i < v.length; i++) assertTrue(SamplerRef.orderKey(v[i - 1]) <= SamplerRef.orderKey(v[i]), "at " + i);
    }

    @Test
    void samplerReferenceRespectsItsFilters() {
        Random rnd = new Random(5);
        float[] logits = new float[1001];
        for (int i = 0; i < logits.length; i++) logits[i] = (float) rnd.nextGaussian() * 2f;
        assertEquals(argmax(logits), SamplerRef.sample(logits, null, SamplerRef.Params.greedy(), 0));
        SamplerRef.Params topK = new SamplerRef.Params(0.7f, 5, 1f, 0f, 1f, 0f, 0f, 99L);
        boolean[] keep = SamplerRef.kept(logits, topK);
        int kept = 0;
        for (boolean b : keep) if (b) kept++;
        assertEquals(5, kept);
        int[] hist = new int[logits.length];
        for (int step = 0; step < 2000; step++) {
            int id = SamplerRef.sample(logits, null, topK, step);
            assertTrue(keep[id], "sampled " + id + " outside the top-5");
            hist[id]++;
        }
        // the most likely token is drawn most often
        int best = argmax(logits);
        for (int i = 0; i < hist.length; i++) assertTrue(hist[i] <= hist[best], "token " + i + " beat the argmax");
        // repetition penalty pushes the argmax down when it was generated
        int[] counts = new int[logits.length];
        counts[best] = 1;
        SamplerRef.Params rep = new SamplerRef.Params(0f, 0, 1f, 0f, 1e6f, 0f, 0f, 0L);
        assertTrue(SamplerRef.sample(logits, counts, rep, 0) != best);
    }

    static int argmax(float[] v) {
        int b = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[b]) b = i;
        return b;
    }
}
