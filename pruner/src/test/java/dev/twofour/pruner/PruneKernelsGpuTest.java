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
                int refDense = new GroupProx(CpuPruneEngine.PROX_TOLERANCE).proxAll(ref, 0, groups, t);
                w.copyFrom(MemorySegment.ofArray(y));
                counter.fill32(0);
                PruneKernels.prox(kernels, STREAM, w, groups, t, CpuPruneEngine.PROX_TOLERANCE, counter);
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
                // On the H100 35 of 20011 groups (t = 0.3) took the other of two tied candidates: the GPU contracts
                // a*b+c into one fma in fp64, the JVM does not. Each such answer is checked above to be no worse.
                assertTrue(mismatched <= groups / 100, "t=" + t + ": " + mismatched + " of " + groups + " groups differ from GroupProx");
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

    @Test
    void supportMaskScaleCopyReverseAndDiagonalMatchJava() {
        int rows = 23, cols = 60, n = rows * cols;
        float[] v = awkwardGroups(n / 4, 21), w0 = awkwardGroups(n / 4, 22);
        for (int g = 0; g < n / 4; g++) { // 2, 1 or 0 nonzeros per group, as after a 2:4 mask
            v[4 * g + g % 4] = 0f;
            v[4 * g + (g + 1) % 4] = 0f;
            if (g % 3 == 0) v[4 * g + (g + 2) % 4] = 0f;
            if (g % 7 == 0) v[4 * g + (g + 3) % 4] = 0f;
        }
        byte[] keepRef = new byte[n];
        for (int o = 0; o < n; o += 4) { // CpuPruneEngine.widenToTwo
            boolean[] k = new boolean[4];
            int kept = 0;
            for (int i = 0; i < 4; i++) { k[i] = v[o + i] != 0; if (k[i]) kept++; }
            while (kept < 2) {
                int best = -1;
                for (int i = 0; i < 4; i++) if (!k[i] && (best < 0 || Math.abs(w0[o + i]) > Math.abs(w0[o + best]))) best = i;
                k[best] = true;
                kept++;
            }
            for (int i = 0; i < 4; i++) keepRef[o + i] = (byte) (k[i] ? 1 : 0);
        }
        try (DeviceBuffer dv = CudaPruneEngine.upload(v); DeviceBuffer d0 = CudaPruneEngine.upload(w0);
             DeviceBuffer keep = DeviceBuffer.allocate(n)) {
            PruneKernels.support(kernels, STREAM, dv, d0, keep, n);
            byte[] got = new byte[n];
            keep.copyTo(MemorySegment.ofArray(got));
            assertArrayEquals(keepRef, got, "support");
            PruneKernels.mask(kernels, STREAM, d0, keep, n);
            float[] masked = CudaPruneEngine.download(d0, n);
            for (int i = 0; i < n; i++) assertEquals(keepRef[i] != 0 ? w0[i] : 0f, masked[i], 0f, "mask " + i);
            PruneKernels.scale(kernels, STREAM, dv, dv, n, -0.37f);
            float[] scaled = CudaPruneEngine.download(dv, n);
            for (int i = 0; i < n; i++) assertEquals(-0.37f * v[i], scaled[i], 0f, "scale " + i);
        }
        int k = 37;
        float[] h = new float[k * k];
        SplittableRandom rnd = new SplittableRandom(8);
        for (int i = 0; i < h.length; i++) h[i] = (float) (rnd.nextDouble() + 0.1);
        try (DeviceBuffer dh = CudaPruneEngine.upload(h); DeviceBuffer rev = DeviceBuffer.allocate(4L * k * k);
             DeviceBuffer diag = DeviceBuffer.allocate(8L * k); DeviceBuffer dst = DeviceBuffer.allocate(4L * k * k)) {
            PruneKernels.reverse(kernels, STREAM, dh, rev, k);
            float[] r = CudaPruneEngine.download(rev, (long) k * k);
            for (int i = 0; i < k; i++) for (int j = 0; j < k; j++) assertEquals(h[(k - 1 - i) * k + (k - 1 - j)], r[i * k + j], 0f, "reverse");
            PruneKernels.diagSqrt(kernels, STREAM, dh, k, diag);
            double[] d = new double[k];
            diag.copyTo(MemorySegment.ofArray(d));
            for (int j = 0; j < k; j++) assertEquals(Math.sqrt(h[j * k + j]), d[j], 0.0, "diagSqrt " + j);
            dst.memset((byte) 0);
            // a 5 x 9 block from (2, 3) of h to (10, 20) of dst
            PruneKernels.copy2d(kernels, STREAM, dh.address() + 4L * (2 * k + 3), k, dst.address() + 4L * (10 * k + 20), k, 5, 9);
            float[] c = CudaPruneEngine.download(dst, (long) k * k);
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < k; j++) {
                    boolean inside = i >= 10 && i < 15 && j >= 20 && j < 29;
                    assertEquals(inside ? h[(i - 8) * k + (j - 17)] : 0f, c[i * k + j], 0f, "copy2d (" + i + "," + j + ")");
                }
            }
        }
    }

    /** One masked CG step (CpuPruneEngine.refine's loop body) in Java, for the kernel twin. */
    static void cgStepRef(float[] v, float[] res, float[] dir, float[] hd, byte[] keep, double[] rr, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            int o = r * cols;
            if (rr[r] == 0) continue;
            double dhd = 0;
            for (int i = 0; i < cols; i++) if (keep[o + i] != 0) dhd += (double) dir[o + i] * hd[o + i];
            if (!(dhd > 0)) { rr[r] = 0; continue; }
            double alpha = rr[r] / dhd;
            for (int i = 0; i < cols; i++) {
                if (keep[o + i] == 0) continue;
                v[o + i] += (float) (alpha * dir[o + i]);
                res[o + i] -= (float) (alpha * hd[o + i]);
            }
            double next = 0;
            for (int i = 0; i < cols; i++) next += (double) res[o + i] * res[o + i];
            double beta = next / rr[r];
            for (int i = 0; i < cols; i++) dir[o + i] = keep[o + i] != 0 ? (float) (res[o + i] + beta * dir[o + i]) : 0f;
            rr[r] = next;
        }
    }

    @Test
    void cgStepMatchesJava() {
        int rows = 19, cols = 1036, n = rows * cols;
        SplittableRandom rnd = new SplittableRandom(13);
        byte[] keep = new byte[n];
        float[] v = new float[n], res = new float[n], dir = new float[n], hd = new float[n];
        for (int i = 0; i < n; i++) {
            keep[i] = (byte) (rnd.nextInt(2));
            v[i] = (float) rnd.nextGaussian();
            res[i] = keep[i] != 0 ? (float) rnd.nextGaussian() : 0f;
            dir[i] = keep[i] != 0 ? (float) rnd.nextGaussian() : 0f;
            hd[i] = (float) rnd.nextGaussian();
        }
        double[] rr = new double[rows];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < cols; i++) rr[r] += (double) res[r * cols + i] * res[r * cols + i];
            if (r % 5 == 0) rr[r] = 0; // finished rows stay untouched
        }
        for (int i = 0; i < cols; i++) hd[3 * cols + i] = -Math.abs(hd[3 * cols + i]) * Math.signum(dir[3 * cols + i]); // row 3: dir·hd < 0
        float[] vr = v.clone(), resr = res.clone(), dirr = dir.clone();
        double[] rrr = rr.clone();
        cgStepRef(vr, resr, dirr, hd, keep, rrr, rows, cols);
        try (DeviceBuffer dv = CudaPruneEngine.upload(v); DeviceBuffer dres = CudaPruneEngine.upload(res);
             DeviceBuffer ddir = CudaPruneEngine.upload(dir); DeviceBuffer dhd = CudaPruneEngine.upload(hd);
             DeviceBuffer dkeep = DeviceBuffer.of(MemorySegment.ofArray(keep)); DeviceBuffer drr = DeviceBuffer.of(MemorySegment.ofArray(rr))) {
            PruneKernels.cgStep(kernels, STREAM, dv, dres, ddir, dhd, dkeep, drr, rows, cols);
            float[] gv = CudaPruneEngine.download(dv, n), gres = CudaPruneEngine.download(dres, n), gdir = CudaPruneEngine.download(ddir, n);
            double[] grr = new double[rows];
            drr.copyTo(MemorySegment.ofArray(grr));
            assertEquals(0.0, grr[3], "a row with dir·H·dir <= 0 ends");
            for (int r = 0; r < rows; r++) {
                assertEquals(rrr[r], grr[r], 1e-9 * Math.max(1, rrr[r]), "rr row " + r);
                for (int i = r * cols; i < (r + 1) * cols; i++) {
                    assertEquals(vr[i], gv[i], 1e-5f * (1 + Math.abs(vr[i])), "v " + i);
                    assertEquals(resr[i], gres[i], 1e-5f * (1 + Math.abs(resr[i])), "res " + i);
                    assertEquals(dirr[i], gdir[i], 1e-4f * (1 + Math.abs(dirr[i])), "dir " + i);
                }
            }
        }
    }
}
