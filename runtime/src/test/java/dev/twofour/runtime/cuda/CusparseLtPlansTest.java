package dev.twofour.runtime.cuda;

import dev.twofour.cuda.CudaDtype;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The probe's verdict on a cuSPARSELt plan's output vs cuBLAS (CPU only; the GPU side is in CusparseLtPlansGpuTest). */
class CusparseLtPlansTest {
    private static float[] random(long seed, int n) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    @Test
    void roundingNoisePassesAWrongOrUnwrittenResultDoesNot() {
        float[] ref = random(3, 1237);
        float[] close = ref.clone();
        Random r = new Random(5);
        for (int i = 0; i < close.length; i++) close[i] *= 1 + (float) (r.nextGaussian() * 1e-3);  // fp16 rounding scale
        assertNull(CusparseLtPlans.verdict(ref, close, CudaDtype.F16));

        float[] wrong = random(4, 1237);  // another result altogether
        String why = CusparseLtPlans.verdict(ref, wrong, CudaDtype.F16);
        assertNotNull(why);
        assertTrue(why.contains("wrong results") && why.contains("relative error"), why);

        float[] transposedRows = ref.clone();  // a layout mix-up: same values, other places
        for (int i = 0; i + 1 < transposedRows.length; i += 2) {
            float t = transposedRows[i];
            transposedRows[i] = transposedRows[i + 1];
            transposedRows[i + 1] = t;
        }
        assertNotNull(CusparseLtPlans.verdict(ref, transposedRows, CudaDtype.BF16));

        float[] unwritten = ref.clone();
        unwritten[1000] = Float.NaN;  // the probe poisons its output with NaN first
        String nan = CusparseLtPlans.verdict(ref, unwritten, CudaDtype.BF16);
        assertNotNull(nan);
        assertTrue(nan.contains("element 1000"), nan);
    }

    @Test
    void bf16AllowsMoreThanFp16() {
        float[] ref = random(8, 999);
        float[] off = ref.clone();
        for (int i = 0; i < off.length; i++) off[i] *= 1.02f;  // 2% off everywhere
        assertNotNull(CusparseLtPlans.verdict(ref, off, CudaDtype.F16));
        assertNull(CusparseLtPlans.verdict(ref, off, CudaDtype.BF16));
    }

    @Test
    void keysNameShapeRowsAndConfiguration() {
        assertEquals("4096x11008 at M=32 (configuration 7, split-K 2)", new CusparseLtPlans.Key(4096, 11008, 32, 7, 2).toString());
    }
}
