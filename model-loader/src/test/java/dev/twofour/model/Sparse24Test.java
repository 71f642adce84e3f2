package dev.twofour.model;

import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class Sparse24Test {

    /** Random 2:4 weights: per group 0, 1 or 2 nonzeros at random positions, values away from zero. */
    static float[] random24(int n, int k, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] w = new float[n * k];
        for (int e = 0; e < w.length; e += 4) {
            int keep = r.nextInt(10) < 8 ? 2 : r.nextInt(2); // mostly 2, sometimes 0 or 1
            int placed = 0;
            while (placed < keep) {
                int i = r.nextInt(4);
                if (w[e + i] == 0) { w[e + i] = (float) (r.nextBoolean() ? 1 : -1) * (0.05f + (float) r.nextDouble()); placed++; }
            }
        }
        return w;
    }

    /** Independent decoder straight from the FORMAT.md description. */
    static float[] referenceUnpack(Packed24 p) {
        float[] out = new float[p.n() * p.k()];
        TensorView vals = new TensorView("v", p.dtype(), new long[]{p.n(), p.kPadded() / 2}, p.values());
        for (int r = 0; r < p.n(); r++) {
            for (int g = 0; g < p.kPadded() / 4; g++) {
                int b = p.metadata().get(ValueLayout.JAVA_BYTE, (long) r * (p.kPadded() / 8) + g / 2) & 0xFF;
                int nib = g % 2 == 0 ? b & 15 : b >> 4;
                int i0 = nib & 3, i1 = (nib >> 2) & 3;
                assertTrue(i0 < i1, "first index below second");
                float v0 = vals.getFloat((long) r * (p.kPadded() / 2) + 2L * g);
                float v1 = vals.getFloat((long) r * (p.kPadded() / 2) + 2L * g + 1);
                if (4 * g >= p.k()) {
                    assertEquals(0, i0, "padded group indices");
                    assertEquals(1, i1, "padded group indices");
                    assertEquals(0f, v0);
                    assertEquals(0f, v1);
                    continue;
                }
                out[r * p.k() + 4 * g + i0] = v0;
                out[r * p.k() + 4 * g + i1] = v1;
            }
        }
        return out;
    }

    @Test void exactLayoutOfOneRow() {
        // groups: (1,3) | only input 0 | (2,3) | empty
        float[] w = {0, 1.5f, 0, -2, 3, 0, 0, 0, 0, 0, 4, 5, 0, 0, 0, 0};
        Packed24 p = Sparse24.pack(w, 1, 16, DType.F32);
        assertEquals(16, p.kPadded());
        assertFalse(p.padded());
        assertEquals(2, p.metadata().byteSize());
        assertEquals((byte) 0x4D, p.metadata().get(ValueLayout.JAVA_BYTE, 0), "g0 (1,3)=0xD low, g1 (0,1)=0x4 high");
        assertEquals((byte) 0x4E, p.metadata().get(ValueLayout.JAVA_BYTE, 1), "g2 (2,3)=0xE low, g3 (0,1)=0x4 high");
        float[] vals = new TensorView("v", DType.F32, new long[]{8}, p.values()).toFloatArray();
        assertArrayEquals(new float[]{1.5f, -2, 3, 0, 4, 5, 0, 0}, vals);
        // one nonzero at input 2: paired with input 0 -> (0,2) = 0b1000 = 0x8, values (0, x)
        Packed24 q = Sparse24.pack(new float[]{0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1, 16, DType.F16);
        assertEquals((byte) 0x48, q.metadata().get(ValueLayout.JAVA_BYTE, 0));
        assertEquals(Half.fromFloat(7f), q.values().get(TensorView.SHORT_LE, 2));
        assertEquals(0, q.values().get(TensorView.SHORT_LE, 0));
    }

    @Test void roundTripsOnAwkwardShapesInEveryDtype() {
        int[][] shapes = {{7, 172}, {1, 4}, {3, 16}, {5, 20}, {16, 256}, {2, 8}, {33, 100}, {1, 4096}};
        long seed = 11;
        for (DType dt : new DType[]{DType.F32, DType.F16, DType.BF16}) {
            for (int[] s : shapes) {
                int n = s[0], k = s[1];
                float[] w = random24(n, k, seed++);
                TensorView t = TensorView.ofFloats("w", dt, new long[]{n, k}, w);
                float[] exact = t.toFloatArray(); // w rounded to dt
                assertTrue(Sparse24.check(t).is24());
                Packed24 p = Sparse24.pack(t);
                String where = dt + " " + n + "x" + k;
                assertEquals(Packed24.paddedK(k), p.kPadded(), where);
                assertEquals(k % 16 != 0, p.padded(), where);
                assertEquals((long) n * p.kPadded() / 2 * dt.byteSize(), p.values().byteSize(), where);
                assertEquals((long) n * p.kPadded() / 8, p.metadata().byteSize(), where);
                assertArrayEquals(exact, Sparse24.unpack(p), where);
                assertArrayEquals(exact, referenceUnpack(p), where);
                assertEquals(-1, t.data().mismatch(Sparse24.unpackTensor(p, "w").data()), "bit-exact " + where);
                assertEquals((long) n * k * dt.byteSize(), p.denseBytes());
            }
        }
    }

    @Test void k172IsPaddedTo176() {
        Packed24 p = Sparse24.pack(random24(7, 172, 5), 7, 172, DType.F16);
        assertEquals(176, p.kPadded());
        assertEquals(88, p.valuesPerRow());
        assertEquals(22, p.metadataBytesPerRow());
        // group 43 (inputs 172..175) is padding: high nibble of byte 21 of every row = (0,1) = 0x4
        for (int r = 0; r < 7; r++) {
            assertEquals(0x4, (p.metadata().get(ValueLayout.JAVA_BYTE, r * 22L + 21) >> 4) & 0xF);
        }
    }

    @Test void checkFindsTheFirstViolationAndCountsThemAll() {
        float[] w = random24(6, 40, 3);
        w[2 * 40 + 28] = 1; w[2 * 40 + 29] = 1; w[2 * 40 + 30] = 1; // row 2, group 7: 3 nonzeros at least
        w[5 * 40 + 0] = 1; w[5 * 40 + 1] = 1; w[5 * 40 + 2] = 1; w[5 * 40 + 3] = 1; // row 5, group 0: 4
        Sparse24.Report rep = Sparse24.check(w, 6, 40);
        assertFalse(rep.is24());
        assertEquals(2, rep.violations());
        assertEquals(2, rep.firstRow());
        assertEquals(7, rep.firstGroup());
        assertTrue(rep.firstNonzeros() >= 3);
        assertTrue(rep.describe().contains("row 2, group 7"), rep.describe());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sparse24.pack(w, 6, 40, DType.F16));
        assertTrue(e.getMessage().contains("row 2, group 7") && e.getMessage().contains("2 of 60 groups"), e.getMessage());
        // -0 counts as zero
        float[] z = {-0f, -0f, 1, 2};
        assertTrue(Sparse24.check(z, 1, 4).is24());
    }

    @Test void kNotAMultipleOf4IsRejectedClearly() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Sparse24.check(new float[]{1, 0, 0, 0, 0, 1}, 1, 6));
        assertTrue(e.getMessage().contains("K=6") && e.getMessage().contains("multiple of 4"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Sparse24.pack(new float[]{1, 0, 0, 0, 0, 1}, 2, 3, DType.F32));
        assertThrows(IllegalArgumentException.class, () -> Sparse24.pruneMagnitude(new float[6], 1, 6));
        assertThrows(IllegalArgumentException.class, () -> Sparse24.check(TensorView.ofFloats("v", DType.F32, new long[]{8}, new float[8])));
    }

    @Test void magnitudePruningKeepsTheTwoLargestPerGroup() {
        SplittableRandom r = new SplittableRandom(8);
        int n = 9, k = 52;
        float[] w = new float[n * k];
        for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextGaussian());
        w[0] = 0.5f; w[1] = -0.5f; w[2] = 0.5f; w[3] = 0.1f; // ties: keep the lower indices 0 and 1
        float[] orig = w.clone();
        Sparse24.pruneMagnitude(w, n, k);
        assertTrue(Sparse24.check(w, n, k).is24());
        assertArrayEquals(new float[]{0.5f, -0.5f, 0, 0}, java.util.Arrays.copyOf(w, 4));
        for (int e = 4; e < w.length; e += 4) {
            int kept = 0;
            for (int i = 0; i < 4; i++) {
                if (w[e + i] != 0) {
                    kept++;
                    assertEquals(orig[e + i], w[e + i]);
                    // every kept magnitude is at least every dropped one
                    for (int j = 0; j < 4; j++) if (w[e + j] == 0) assertTrue(Math.abs(orig[e + i]) >= Math.abs(orig[e + j]));
                }
            }
            assertEquals(2, kept);
        }
        TensorView t = TensorView.ofFloats("x", DType.BF16, new long[]{n, k}, orig);
        TensorView pruned = Sparse24.pruneMagnitude(t);
        assertEquals(DType.BF16, pruned.dtype());
        assertTrue(Sparse24.check(pruned).is24());
        assertFalse(Sparse24.check(t).is24());
    }
}
