package dev.twofour.kernels.ref;

import dev.twofour.cuda.CudaDtype;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RefTest {
    @Test
    void uniformIsNeverZeroAndInRange() {
        float[] v = RandomFillRef.fillF32(100_003, 42, 0.5f);
        double sum = 0;
        for (float f : v) {
            assertTrue(f != 0 && Math.abs(f) <= 0.5f && Math.abs(f) >= 0.5f / 1024, "value " + f);
            sum += f;
        }
        assertTrue(Math.abs(sum / v.length) < 0.01, "mean " + sum / v.length);
        assertArrayEquals(v, RandomFillRef.fillF32(100_003, 42, 0.5f));
        assertNotEquals(v[7], RandomFillRef.fillF32(8, 43, 0.5f)[7]);
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals((short) 0x3F80, HalfFloats.floatToBf16(1.0f));
        assertEquals((short) 0x3F80, HalfFloats.floatToBf16(Float.intBitsToFloat(0x3F808000))); // tie -> even
        assertEquals((short) 0x3F82, HalfFloats.floatToBf16(Float.intBitsToFloat(0x3F818000))); // tie -> even (up)
        assertEquals((short) 0x3F81, HalfFloats.floatToBf16(Float.intBitsToFloat(0x3F808001)));
        assertEquals(1.0f, HalfFloats.bf16ToFloat((short) 0x3F80));
        assertEquals(-2.0f, HalfFloats.f16ToFloat(HalfFloats.floatToF16(-2.0f)));
    }

    @Test
    void randomSparseWeightIsValid24() {
        for (CudaDtype dt : new CudaDtype[] {CudaDtype.F16, CudaDtype.BF16}) {
            Packed24 w = RandomFillRef.sparse24(dt, 5, 180, 7, 0.02f);
            assertEquals(192, w.kPadded());
            int[] patternCount = new int[16];
            for (int row = 0; row < 5; row++) {
                for (int g = 0; g < 48; g++) {
                    int i0 = w.index(row, g, 0), i1 = w.index(row, g, 1);
                    assertTrue(i0 < i1, "row " + row + " group " + g);
                    if (g >= 45) {
                        assertEquals(0, i0); assertEquals(1, i1);
                        assertEquals(0, w.values()[row * 96 + 2 * g]);
                        assertEquals(0, w.values()[row * 96 + 2 * g + 1]);
                    } else {
                        patternCount[i0 | i1 << 2]++;
                        assertNotEquals(0, w.values()[row * 96 + 2 * g]);
                    }
                }
            }
            int used = 0;
            for (int c : patternCount) if (c > 0) used++;
            assertEquals(6, used, "all six patterns should appear");
            float[] dense = w.toDense();
            for (int row = 0; row < 5; row++)
                for (int g = 0; g < 45; g++) {
                    int nz = 0;
                    for (int e = 0; e < 4; e++) if (dense[row * 180 + 4 * g + e] != 0) nz++;
                    assertEquals(2, nz);
                }
        }
    }

    @Test
    void gemmRefMatchesDenseProduct() {
        Random rnd = new Random(3);
        int m = 3, n = 17, k = 100, ldx = 103;
        Packed24 w = RandomFillRef.sparse24(CudaDtype.F16, n, k, 11, 1f);
        float[] x = new float[m * ldx];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        float[] y = Sparse24GemmRef.gemm(x, ldx, w, m);
        float[] dense = w.toDense();
        for (int t = 0; t < m; t++)
            for (int row = 0; row < n; row++) {
                double s = 0;
                for (int c = 0; c < k; c++) s += (double) x[t * ldx + c] * dense[row * k + c];
                assertEquals(s, y[t * n + row], 1e-5 * (1 + Math.abs(s)), "y[" + t + "][" + row + "]");
            }
    }

    @Test
    void swigluAndAxpby() {
        float[] g = {-2f, 0.5f, 3f, 9f}, u = {1f, 2f, -1f, 0.25f}, out = new float[4];
        ElementwiseRef.swiglu(g, 2, u, 2, out, 2, 2, 2);
        assertEquals(-2f / (1 + Math.exp(2)) * 1f, out[0], 1e-6);
        assertEquals(3f / (1 + Math.exp(-3)) * -1f, out[2], 1e-6);
        float[] y = {1f, 2f};
        ElementwiseRef.axpby(new float[] {3f, 4f}, y, 2f, -1f);
        assertArrayEquals(new float[] {5f, 6f}, y);
    }
}
