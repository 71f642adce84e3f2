package dev.twofour.bench;

import dev.twofour.model.Sparse24;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Magnitude24Test {
    @Test
    void keepsTheTwoLargestMagnitudesOfEveryGroup() {
        float[] w = {0.1f, -3f, 2f, 0.5f, /**/ 1f, 1f, 1f, 1f, /**/ -7f, 0f, 0f, 6f};
        Magnitude24.prune(w);
        assertArrayEquals(new float[] {0, -3f, 2f, 0, /**/ 1f, 1f, 0, 0, /**/ -7f, 0, 0, 6f}, w);
    }

    @Test
    void randomMatricesBecome24AndKeepHalfTheWeights() {
        Random r = new Random(11);
        int n = 37, k = 52;
        float[] w = new float[n * k];
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
        float[] orig = w.clone();
        Magnitude24.prune(w);
        assertTrue(Sparse24.check(w, n, k).is24());
        int kept = 0;
        for (int i = 0; i < w.length; i++) {
            if (w[i] != 0) {
                kept++;
                assertEquals(orig[i], w[i]);
            }
        }
        assertEquals(w.length / 2, kept);
    }
}
