package dev.twofour.pruner;

import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.kernels.Kernels;
import dev.twofour.kernels.PruneKernels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The prune kernels (prune.cuh) against their Java twins: GroupProx, Masks.keepTopTwo, Baselines. */
@Tag("gpu")
class PruneKernelsGpuTest {
    static Kernels kernels;
    static final CudaStream STREAM = CudaStream.legacyDefault();

    @BeforeAll
    static void setUp() {
        String why = CudaPruneEngine.unavailableReason();
        assumeTrue(why == null, why);
        kernels = Kernels.load(CudaContext.primary(0));
    }

    /** Random groups of awkward kinds: plain, ties (2, 3 or 4 equal magnitudes), zeros, and wide dynamic range. */
    static float[] awkwardGroups(int groups, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] w = new float[4 * groups];
        for (int g = 0; g < groups; g++) {
            int o = 4 * g;
            for (int i = 0; i < 4; i++) w[o + i] = (float) (rnd.nextGaussian() * Math.exp(rnd.nextGaussian()));
            switch (g % 8) {
                case 1 -> w[o + 2] = Math.copySign(w[o + 1], rnd.nextBoolean() ? 1 : -1);               // two tied
                case 2 -> { w[o + 2] = -w[o + 1]; w[o + 3] = w[o + 1]; }                                   // three tied
                case 3 -> { w[o + 1] = w[o]; w[o + 2] = -w[o]; w[o + 3] = w[o]; }                         // four tied
                case 4 -> w[o + rnd.nextInt(4)] = 0f;                                                      // one zero
                case 5 -> { w[o] = 0f; w[o + 3] = 0f; }                                                    // already 2-sparse
                case 6 -> w[o + 3] = w[o + 2] * 1.01f;                                                     // near tie
                case 7 -> w[o + rnd.nextInt(4)] *= 1e-4f;                                                  // one tiny entry
                default -> { }
            }
        }
        return w;
    }

    static double objective(float[] w, int o, float[] y, double t) {
        double q = 0;
        for (int i = 0; i < 4; i++) { double d = (double) w[o + i] - y[o + i]; q += d * d; }
        return 0.5 * q + t * GroupProx.r(w[o], w[o + 1], w[o + 2], w[o + 3]);
    }

    @Test
    void proxKernelMatchesGroupProxOnAwkwardGroups() {
        int groups = 20_011;
        float[] y = awkwardGroups(groups, 11);
        double[] ts = {0, 1e-9, 1e-4, 0.01, 0.1, 0.3, 1, 3, 30, 1e3, 1e7};
        try (DeviceBuffer w = DeviceBuffer.allocate(16L * groups); DeviceBuffer counter = DeviceBuffer.allocate(4)) {
            for (double t : ts) {
                float[] ref = y.clone();
                int refDense = new GroupProx(1e-9).proxAll(ref, 0, groups, t);
                w.copyFrom(MemorySegment.ofArray(y));
                counter.fill32(0);
                PruneKernels.prox(kernels, STREAM, w, groups, t, 1e-9, counter);
                float[] got = new float[4 * groups];
                w.copyTo(MemorySegment.ofArray(got));
                int[] dense = new int[1];
                counter.copyTo(MemorySegment.ofArray(dense));
                int mismatched = 0, gotDense = 0;
                for (int g = 0; g < groups; g++) {
                    int o = 4 * g;
                    double scale = 0;
                    for (int i = 0; i < 4; i++) scale = Math.max(scale, Math.abs(y[o + i]));
                    boolean same = true;
                    for (int i = 0; i < 4; i++) {
                        assertTrue(Float.isFinite(got[o + i]), "non-finite prox output at t=" + t);
                        if (Math.abs(got[o + i] - ref[o + i]) > 1e-5 * scale) same = false;
                    }
                    if (!same) {
                        mismatched++;
                        // A different answer is only acceptable where two candidates tie: never worse.
                        double fg = objective(got, o, y, t), fr = objective(ref, o, y, t);
                        assertTrue(fg <= fr + 1e-6 * scale * scale + 1e-12,
                                "t=" + t + " group " + g + ": kernel objective " + fg + " > reference " + fr);
                    }
                    int nz = 0;
                    for (int i = 0; i < 4; i++) if (got[o + i] != 0) nz++;
                    if (nz > 2) gotDense++;
                }
                assertTrue(mismatched <= groups / 1000, "t=" + t + ": " + mismatched + " of " + groups + " groups differ from GroupProx");
                assertEquals(gotDense, dense[0], "t=" + t + ": dense-group counter");
                assertTrue(Math.abs(dense[0] - refDense) <= mismatched, "t=" + t + ": dense groups " + dense[0] + " vs reference " + refDense);
            }
        }
    }

    @Test
    void keepTopTwoMatchesMasks() {
        int rows = 37, cols = 52;
        SplittableRandom rnd = new SplittableRandom(5);
        float[] w = awkwardGroups(rows * cols / 4, 6);
        float[] w0 = awkwardGroups(rows * cols / 4, 7);
        for (int i = 0; i < w.length; i += 9) w[i] = 0f; // zeros for the prox score's fallback
        double[] colScale = new double[cols];
        for (int j = 0; j < cols; j++) colScale[j] = Math.exp(rnd.nextGaussian());
        for (PruneKernels.Score mode : PruneKernels.Score.values()) {
            float[] score = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                score[i] = switch (mode) {
                    case MAGNITUDE -> Math.abs(w[i]);
                    case COLUMN_SCALED -> (float) (Math.abs(w[i]) * colScale[i % cols]);
                    case PROX -> w[i] != 0 ? Math.abs(w[i]) : -1f / (1f + Math.abs(w0[i]));
                };
            }
            float[] ref = w.clone();
            Masks.keepTopTwo(ref, score);
            try (DeviceBuffer d = CudaPruneEngine.upload(w); DeviceBuffer d0 = CudaPruneEngine.upload(w0);
                 DeviceBuffer cs = DeviceBuffer.of(MemorySegment.ofArray(colScale))) {
                PruneKernels.keepTopTwo(kernels, STREAM, d, d0, cs, rows, cols, mode);
                assertArrayEquals(ref, CudaPruneEngine.download(d, w.length), "keepTopTwo " + mode);
            }
        }
    }

    @Test
    void rowDotAndSubMatchJava() {
        int rows = 29, cols = 1004;
        float[] a = LayerMathTest.randomWeights(rows, cols, 3), b = LayerMathTest.randomWeights(rows, cols, 4);
        try (DeviceBuffer da = CudaPruneEngine.upload(a); DeviceBuffer db = CudaPruneEngine.upload(b);
             DeviceBuffer out = DeviceBuffer.allocate(8L * rows)) {
            PruneKernels.rowDot(kernels, STREAM, da, db, out, rows, cols);
            double[] got = new double[rows];
            out.copyTo(MemorySegment.ofArray(got));
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int i = 0; i < cols; i++) s += (double) a[r * cols + i] * b[r * cols + i];
                assertEquals(s, got[r], 1e-12 * cols, "row " + r);
            }
            PruneKernels.sub(kernels, STREAM, da, db, da, (long) rows * cols);
            float[] d = CudaPruneEngine.download(da, (long) rows * cols);
            for (int i = 0; i < d.length; i++) assertEquals(a[i] - b[i], d[i], 0f, "sub " + i);
        }
    }
}
