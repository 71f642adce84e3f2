package dev.twofour.kernels.transformer;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.kernels.transformer.ref.Philox;
import dev.twofour.kernels.transformer.ref.SamplerRef;
import dev.twofour.kernels.transformer.ref.TransformerRef;
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

    /**
     * The fused RoPE + KV append + attention twin: at position 0 the rotation is the identity, so with one key the
     * output of every query head is its KV head's v and the cache slot holds k and v as given; at a later position
     * only the new token's slot changes, and its k keeps each rotated pair's norm.
     */
    @Test
    void ropeAttentionDecodeReferenceAppendsAndAttends() {
        Random rnd = new Random(9);
        CudaDtype dt = CudaDtype.F16;
        int nh = 6, nkv = 2, hd = 8, qDim = nh * hd, kvDim = nkv * hd, bs = 4;
        float[] inv = {1f, 0.5f, 0.25f, 0.125f};
        float[] row = new float[qDim + 2 * kvDim];
        for (int i = 0; i < row.length; i++) row[i] = TransformerRef.round(dt, (float) rnd.nextGaussian());
        int[] table = {2, 0, 1};
        float[] kc = new float[3 * bs * kvDim], vc = new float[3 * bs * kvDim];
        for (int i = 0; i < kc.length; i++) { kc[i] = (float) rnd.nextGaussian(); vc[i] = (float) rnd.nextGaussian(); }
        float[] kc0 = kc.clone(), vc0 = vc.clone();
        float[] out = TransformerRef.ropeAttentionDecode(dt, row, nh, nkv, hd, 0, 1, inv, kc, vc, table, bs);
        int slot0 = table[0] * bs;
        for (int c = 0; c < kvDim; c++) {
            assertEquals(row[qDim + c], kc[slot0 * kvDim + c], 0f, "k at position 0 is not rotated");
            assertEquals(row[qDim + kvDim + c], vc[slot0 * kvDim + c], 0f, "v appended");
        }
        for (int h = 0; h < nh; h++) {
            for (int d = 0; d < hd; d++) {
                assertEquals(row[qDim + kvDim + (h / (nh / nkv)) * hd + d], out[h * hd + d], 1e-6f, "one key: output = v, head " + h);
            }
        }
        // position 6 (slot of block table[1], offset 2): only that slot changes
        kc = kc0.clone();
        vc = vc0.clone();
        TransformerRef.ropeAttentionDecode(dt, row, nh, nkv, hd, 6, 7, inv, kc, vc, table, bs);
        int slot6 = table[1] * bs + 2;
        for (int s = 0; s < 3 * bs; s++) {
            for (int c = 0; c < kvDim; c++) {
                if (s == slot6) continue;
                assertEquals(kc0[s * kvDim + c], kc[s * kvDim + c], 0f, "k slot " + s + " untouched");
                assertEquals(vc0[s * kvDim + c], vc[s * kvDim + c], 0f, "v slot " + s + " untouched");
            }
        }
        for (int h = 0; h < nkv; h++) {
            for (int j = 0; j < hd / 2; j++) {
                int a = qDim + h * hd + j, b = a + hd / 2;
                double before = Math.hypot(row[a], row[b]);
                double after = Math.hypot(kc[slot6 * kvDim + h * hd + j], kc[slot6 * kvDim + h * hd + j + hd / 2]);
                assertEquals(before, after, 2e-3 * (1 + before), "rotation keeps the pair's norm");
            }
        }
        assertEquals(0f, TransformerRef.ropeAttentionDecode(dt, row, nh, nkv, hd, 0, 0, inv, kc, vc, table, bs)[5], 0f,
                "no keys: zeros");
    }

    static int argmax(float[] v) {
        int b = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[b]) b = i;
        return b;
    }
}
