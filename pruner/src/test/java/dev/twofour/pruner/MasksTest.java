package dev.twofour.pruner;

import dev.twofour.model.DType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class MasksTest {
    @Test
    void keepsTheTwoHighestScoresPerGroup() {
        float[] w = {1, 2, 3, 4, -5, 0.5f, 7, -0.1f};
        float[] score = {0.4f, 0.1f, 0.3f, 0.2f, 5, 0.5f, 7, 0.1f};
        Masks.keepTopTwo(w, score);
        assertArrayEquals(new float[]{1, 0, 3, 0, -5, 0, 7, 0}, w);
        assertTrue(Masks.isTwoFour(w));
        assertFalse(Masks.isTwoFour(new float[]{1, 1, 1, 0}));
    }

    @Test
    void tiesKeepTheLowerIndices() {
        float[] w = {1, 1, 1, 1};
        Masks.keepTopTwo(w, new float[]{2, 2, 2, 2});
        assertArrayEquals(new float[]{1, 1, 0, 0}, w);
    }

    @Test
    void roundingToTheStorageTypeKeepsZerosPositive() {
        float[] r = ModelPruner.roundTo(new float[]{-0f, 0.1f, 1e-9f, -3.3333333f}, DType.F16);
        assertEquals(0f, r[0]);
        assertEquals(Float.floatToRawIntBits(0f), Float.floatToRawIntBits(r[0]), "−0 becomes +0 (no set sign bit in the 2:4 zeros)");
        assertEquals(0.0999755859375f, r[1]);
        assertEquals(0f, r[2], "underflows to zero in fp16");
        assertNotEquals(-3.3333333f, r[3]);
        assertThrows(IllegalArgumentException.class, () -> ModelPruner.roundTo(new float[4], DType.I32));
    }
}
