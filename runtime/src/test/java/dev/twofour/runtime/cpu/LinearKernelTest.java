package dev.twofour.runtime.cpu;

import dev.twofour.model.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LinearKernelTest {
    static final Parallel PAR = new Parallel(2);

    @AfterAll static void close() { PAR.close(); }

    static void assertClose(float[] want, float[] got, float tol, String what) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) {
            float err = Math.abs(want[i] - got[i]);
            assertTrue(err <= tol * (1 + Math.abs(want[i])), what + " at " + i + ": want " + want[i] + " got " + got[i]);
        }
    }

    @Test void denseMatchesReferenceForAllDtypesAndAwkwardSizes() {
        Random rnd = new Random(11);
        int[][] shapes = {{37, 52}, {5, 3}, {64, 256}, {33, 100}, {70, 17}};
        for (DType dt : new DType[]{DType.F16, DType.BF16, DType.F32}) {
            for (int[] s : shapes) {
                int n = s[0], k = s[1];
                float[] w = TestWeights.random(rnd, n * k, dt);
                DenseLinear lin = new DenseLinear("w", dt, TestWeights.segment(w, dt), n, k);
                for (int M : new int[]{1, 2, 3, 8, 9, 21}) {
                    float[] x = TestWeights.random(rnd, M * k, DType.F32);
                    float[] y = new float[M * n];
                    lin.forward(x, M, y, PAR);
                    assertClose(TestWeights.reference(x, M, w, n, k), y, 1e-4f, dt + " " + n + "x" + k + " M=" + M);
                }
            }
        }
    }

    @Test void sparse24MatchesDenseReference() {
        Random rnd = new Random(12);
        int[][] shapes = {{37, 52}, {8, 4}, {64, 256}, {33, 96}, {19, 100}, {3, 768}};
        for (DType dt : new DType[]{DType.F16, DType.BF16, DType.F32}) {
            for (int[] s : shapes) {
                int n = s[0], k = s[1];
                float[] w = TestWeights.random(rnd, n * k, dt);
                TestWeights.make24(rnd, w, n, k);
                MemorySegment[] p = TestWeights.pack(w, n, k, dt);
                Sparse24Linear lin = new Sparse24Linear("w", dt, p[0], p[1], n, k);
                float[] row = new float[k];
                for (int r = 0; r < n; r++) {
                    lin.decodeRow(r, row);
                    for (int i = 0; i < k; i++) assertEquals(w[r * k + i], row[i], "decode row " + r + " col " + i);
                }
                for (int M : new int[]{1, 2, 5, 8, 9, 23}) {
                    float[] x = TestWeights.random(rnd, M * k, DType.F32);
                    float[] y = new float[M * n];
                    lin.forward(x, M, y, PAR);
                    assertClose(TestWeights.reference(x, M, w, n, k), y, 1e-4f, "2:4 " + dt + " " + n + "x" + k + " M=" + M);
                }
            }
        }
    }

    @Test void fp16WideningHandlesSubnormalsInfAndNan() {
        short[] bits = {0x0001, 0x03ff, (short) 0x8001, 0x0400, 0x7bff, (short) 0xfbff, 0x7c00, (short) 0xfc00, 0x7e00, 0x3c00, 0, (short) 0x8000, 0x1234, 0x5678, (short) 0x9abc, 0x2bcd};
        MemorySegment seg = MemorySegment.ofArray(new byte[bits.length * 2]);
        for (int i = 0; i < bits.length; i++) seg.setAtIndex(Vec.SHORT_LE, i, bits[i]);
        float[] out = new float[bits.length];
        Vec.widen(Vec.KIND_F16, seg, 0, bits.length, out, 0);
        float[] bf = new float[bits.length];
        Vec.widen(Vec.KIND_BF16, seg, 0, bits.length, bf, 0);
        for (int i = 0; i < bits.length; i++) assertEquals(Float.intBitsToFloat((bits[i] & 0xffff) << 16), bf[i], "bf16 " + i);
        for (int i = 0; i < bits.length; i++) {
            float want = Float.float16ToFloat(bits[i]);
            assertTrue(Float.compare(want, out[i]) == 0 || (Float.isNaN(want) && Float.isNaN(out[i])),
                    "bits " + Integer.toHexString(bits[i] & 0xffff) + ": want " + want + " got " + out[i]);
        }
    }
}
