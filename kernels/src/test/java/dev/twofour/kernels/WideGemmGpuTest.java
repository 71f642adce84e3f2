package dev.twofour.kernels;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaGraph;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.kernels.ref.Packed24;
import dev.twofour.kernels.ref.RandomFillRef;
import dev.twofour.kernels.ref.Sparse24GemmRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The wide 2:4 GEMM (sparse24_wide.cuh, 16 < m <= 64) against the Java reference on random data: fp16 and bf16, m below,
 * at and above both token tiles, odd n (partial row groups), K from one window to 172, every CTA shape, forced and automatic
 * splits (through the workspace, and on sm_90+ in a thread-block cluster), 32- and 64-row warps, aligned (cp.async) and
 * odd (plain loads) X strides, Y strides for 8-byte and for 2-byte stores, each run twice into a NaN-poisoned Y (the split
 * counters must reset themselves). Runs on the GPU machine.
 */
@Tag("gpu")
class WideGemmGpuTest {
    static Kernels kernels;
    static CudaStream stream;

    @BeforeAll
    static void setUp() {
        kernels = GpuTestSupport.kernelsOrSkip();
        stream = CudaStream.create();
    }

    @AfterAll
    static void tearDown() {
        if (stream != null) stream.close();
    }

    @Test
    void wideGemmMatchesTheReference() {
        int[] ns = {77, 1000, 4096 + 16 + 8};
        int[] ks = {64, 128 + 64, 4096, 11008};
        int[] ms = {17, 31, 32, 33, 48, 64};
        Random rnd = new Random(4164);
        List<String> failures = new ArrayList<>();
        int runs = 0;
        try (Sparse24Gemm gemm = new Sparse24Gemm(kernels)) {
            for (CudaDtype dt : new CudaDtype[] {CudaDtype.F16, CudaDtype.BF16}) {
                double tol = dt == CudaDtype.F16 ? 2e-3 : 1e-2;
                for (int n : ns)
                    for (int k : ks) {
                        Packed24 w = RandomFillRef.sparse24(dt, n, k, rnd.nextLong(), 0.05f);
                        try (DeviceBuffer vals = KernelsGpuTest.upload(w.values());
                             DeviceBuffer meta = DeviceBuffer.of(MemorySegment.ofArray(w.metadata()))) {
                            for (int m : ms) {
                                int ldx = k + (m % 2 == 1 ? 5 : 8);   // odd strides: X by plain loads; even: cp.async
                                int ldy = m % 2 == 1 ? n + 3 : ((n + 3) & ~3) + 4;   // odd: 2-byte stores of Y; even: 8-byte
                                float[] x = new float[m * ldx];
                                for (int i = 0; i < x.length; i++) x[i] = KernelsGpuTest.round(dt, (float) rnd.nextGaussian());
                                float[] want = Sparse24GemmRef.gemm(x, ldx, w, m);
                                Set<Sparse24Gemm.WidePlan> plans = new LinkedHashSet<>();
                                for (int rows : new int[] {96, 128, 256})
                                    for (int splits : new int[] {0, 1, 2, 3, 4, 5})   // 4: _cl4; 5: the fixup's loop past 4
                                        plans.add(Sparse24Gemm.widePlan(m, n, k, kernels.multiprocessors(), kernels.sharedPerBlockOptin(), rows, splits));
                                plans.add(gemm.widePlan(m, n, k));
                                plans.remove(null);
                                for (Sparse24Gemm.WidePlan p : List.copyOf(plans)) {   // 64-row warps where compiled
                                    Sparse24Gemm.WidePlan r = p.withRowsPerWarp(64);
                                    if (r != null) plans.add(r);
                                }
                                if (gemm.wideClusters()) {   // every split plan of 2-4 splits also reduced in a cluster
                                    for (Sparse24Gemm.WidePlan p : List.copyOf(plans)) {
                                        Sparse24Gemm.WidePlan c = p.withClusterReduce(true);
                                        if (c != null) plans.add(c);
                                    }
                                }
                                try (DeviceBuffer xb = KernelsGpuTest.uploadAs(dt, x); DeviceBuffer yb = DeviceBuffer.allocate((long) m * ldy * 2)) {
                                    for (Sparse24Gemm.WidePlan p : plans)
                                        for (int rep = 0; rep < 2; rep++) {
                                            runs++;
                                            String what = dt + " m=" + m + " n=" + n + " k=" + k + " ldx=" + ldx + " " + p + " rep " + rep;
                                            check(dt, m, n, yb, ldy, want, tol, what, failures,
                                                    () -> gemm.run(stream, dt, xb, ldx, vals, meta, yb, ldy, p));
                                        }
                                    // The plan-less run takes the wide kernel for these m.
                                    runs++;
                                    check(dt, m, n, yb, ldy, want, tol, dt + " m=" + m + " n=" + n + " k=" + k + " plan-less run", failures,
                                            () -> gemm.run(stream, dt, xb, ldx, vals, meta, yb, ldy, m, n, k));
                                }
                            }
                        }
                    }
            }
            assertNotNull(gemm.widePlan(64, 22016, 4096), "64 tokens of 22016x4096 must fit the wide kernel");
            assertNotNull(gemm.widePlan(64, 4096, 11008), "64 tokens of 4096x11008 must fit the wide kernel");
            assertNull(gemm.defaultWidePlan(16, 4096, 4096), "m <= 16 keeps the streaming / classic choice");
        }
        if (!failures.isEmpty()) {
            fail(failures.size() + " of " + runs + " wide GEMM runs wrong; first ones:\n  "
                    + String.join("\n  ", failures.subList(0, Math.min(25, failures.size()))));
        }
        assertTrue(runs >= 1500, "only " + runs + " wide runs");
    }

    /**
     * The wide kernel inside a CUDA graph, as a decode step captures it (programmatic dependent launch between the nodes):
     * two launches per graph on two weights, the graph replayed three times, both outputs checked after each replay;
     * every split path (none, workspace, cluster where the GPU has them).
     */
    @Test
    void wideGemmReplaysInACudaGraph() {
        int n = 1000, k = 4096, m = 40;
        Random rnd = new Random(64);
        List<String> failures = new ArrayList<>();
        try (Sparse24Gemm gemm = new Sparse24Gemm(kernels)) {
            CudaDtype dt = CudaDtype.F16;
            Packed24 w0 = RandomFillRef.sparse24(dt, n, k, rnd.nextLong(), 0.05f);
            Packed24 w1 = RandomFillRef.sparse24(dt, n, k, rnd.nextLong(), 0.05f);
            float[] x = new float[m * k];
            for (int i = 0; i < x.length; i++) x[i] = KernelsGpuTest.round(dt, (float) rnd.nextGaussian());
            float[] want0 = Sparse24GemmRef.gemm(x, k, w0, m), want1 = Sparse24GemmRef.gemm(x, k, w1, m);
            List<Sparse24Gemm.WidePlan> plans = new ArrayList<>();
            plans.add(Sparse24Gemm.widePlan(m, n, k, kernels.multiprocessors(), kernels.sharedPerBlockOptin(), 128, 1));
            plans.add(Sparse24Gemm.widePlan(m, n, k, kernels.multiprocessors(), kernels.sharedPerBlockOptin(), 96, 5));
            Sparse24Gemm.WidePlan three = Sparse24Gemm.widePlan(m, n, k, kernels.multiprocessors(), kernels.sharedPerBlockOptin(), 128, 3);
            plans.add(three);
            if (gemm.wideClusters()) plans.add(three.withClusterReduce(true));
            try (DeviceBuffer v0 = KernelsGpuTest.upload(w0.values()); DeviceBuffer m0 = DeviceBuffer.of(MemorySegment.ofArray(w0.metadata()));
                 DeviceBuffer v1 = KernelsGpuTest.upload(w1.values()); DeviceBuffer m1 = DeviceBuffer.of(MemorySegment.ofArray(w1.metadata()));
                 DeviceBuffer xb = KernelsGpuTest.uploadAs(dt, x);
                 DeviceBuffer y0 = DeviceBuffer.allocate((long) m * n * 2); DeviceBuffer y1 = DeviceBuffer.allocate((long) m * n * 2)) {
                for (Sparse24Gemm.WidePlan p : plans) {
                    gemm.reserve(p);   // no allocation during capture
                    try (CudaGraph graph = CudaGraph.capture(stream, () -> {
                        gemm.run(stream, dt, xb, k, v0, m0, y0, n, p);
                        gemm.run(stream, dt, xb, k, v1, m1, y1, n, p);
                    })) {
                        for (int replay = 0; replay < 3; replay++) {
                            y0.memset((byte) 0xFF);
                            y1.memset((byte) 0xFF);
                            graph.launch(stream);
                            stream.synchronize();
                            String what = "graph replay " + replay + " of " + p;
                            try {
                                KernelsGpuTest.assertClose(dt, want0, KernelsGpuTest.downloadAs(dt, y0, m * n), 2e-3, what + " (first weight)");
                                KernelsGpuTest.assertClose(dt, want1, KernelsGpuTest.downloadAs(dt, y1, m * n), 2e-3, what + " (second weight)");
                            } catch (AssertionError e) {
                                failures.add(e.getMessage());
                            }
                        }
                    } catch (RuntimeException e) {
                        failures.add(p + ": " + e);
                    }
                }
            }
        }
        if (!failures.isEmpty()) fail(failures.size() + " graph replays wrong:\n  " + String.join("\n  ", failures));
    }

    /** Runs {@code launch} into a NaN-poisoned Y, compares with {@code want} and checks nothing past n in a row was written. */
    private static void check(CudaDtype dt, int m, int n, DeviceBuffer yb, int ldy, float[] want, double tol, String what,
                              List<String> failures, Runnable launch) {
        yb.memset((byte) 0xFF);  // NaN in fp16 and bf16
        try {
            launch.run();
            stream.synchronize();
        } catch (RuntimeException e) {
            failures.add(what + ": " + e);
            return;
        }
        float[] got = KernelsGpuTest.downloadAs(dt, yb, m * ldy);
        float[] packed = new float[m * n];
        for (int t = 0; t < m; t++) System.arraycopy(got, t * ldy, packed, t * n, n);
        try {
            KernelsGpuTest.assertClose(dt, want, packed, tol, what);
            for (int t = 0; t < m; t++)
                for (int c = n; c < ldy && t * ldy + c < got.length; c++)
                    assertTrue(Float.isNaN(got[t * ldy + c]), what + ": wrote outside Y at [" + t + "][" + c + "]");
        } catch (AssertionError e) {
            failures.add(e.getMessage());
        }
    }
}
