package dev.twofour.runtime;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** A batch of sequences of different lengths gives each sequence the logits it gets alone. */
class BatchForwardTest {
    @Test void batchedStepsMatchSingleSequenceSteps() {
        Transformer m = TinyModel.model();
        int vocab = m.vocabSize();
        int[][] prompts = {{0, 747, 264, 2538, 527, 3841}, {0, 340}, {0, 5, 17, 99, 1000, 2000, 3000, 4000, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}};
        float[][] alone = new float[3][];
        float[][] aloneNext = new float[3][];
        for (int i = 0; i < 3; i++) {
            try (KvCache c = m.newKvCache(64)) {
                int s = c.newSequence();
                alone[i] = m.forward(c, List.of(new Transformer.SequenceInput(s, prompts[i])), false);
                aloneNext[i] = m.forward(c, List.of(new Transformer.SequenceInput(s, new int[]{7 + i})), false);
            }
        }
        try (KvCache c = m.newKvCache(128)) {
            int[] s = {c.newSequence(), c.newSequence(), c.newSequence()};
            // prefill 0 and 2 together, then decode 0 and 2 while 1 prefills, all in one step
            float[] a = m.forward(c, List.of(new Transformer.SequenceInput(s[0], prompts[0]), new Transformer.SequenceInput(s[2], prompts[2])), false);
            check(alone[0], a, 0, vocab);
            check(alone[2], a, 1, vocab);
            float[] b = m.forward(c, List.of(new Transformer.SequenceInput(s[2], new int[]{9}), new Transformer.SequenceInput(s[1], prompts[1]),
                    new Transformer.SequenceInput(s[0], new int[]{7})), false);
            check(aloneNext[2], b, 0, vocab);
            check(alone[1], b, 1, vocab);
            check(aloneNext[0], b, 2, vocab);
        }
    }

    static void check(float[] want, float[] got, int row, int vocab) {
        for (int j = 0; j < vocab; j++) {
            float g = got[row * vocab + j];
            assertTrue(Math.abs(want[j] - g) <= 1e-4f * (1 + Math.abs(want[j])), "row " + row + " token " + j + ": " + want[j] + " vs " + g);
        }
    }
}
