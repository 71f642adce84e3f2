package dev.twofour.kernels;

import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.kernels.ref.ElementwiseRef;
import dev.twofour.kernels.ref.HalfFloats;
import dev.twofour.kernels.ref.Packed24;
import dev.twofour.kernels.ref.RandomFillRef;
import dev.twofour.kernels.ref.Sparse24GemmRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** Every kernel against its Java twin on random data at awkward sizes. Runs on the GPU machine. */
@Tag("gpu")
class KernelsGpuTest {
    static CudaContext ctx;
    static Kernels kernels;
    static CudaStream stream;

    @BeforeAll
    static void setUp() {
        kernels = GpuTestSupport.kernelsOrSkip();
        ctx = kernels.context();
        stream = CudaStream.create();
    }

    @AfterAll
    static void tearDown() {
        if (stream != null) stream.close();
    }

    static short[] download16(DeviceBuffer b, int n) {
        short[] out = new short[n];
        b.copyTo(MemorySegment.ofArray(out));
        return out;
    }

    static float[] downloadF32(DeviceBuffer b, int n) {
        float[] out = new float[n];
        b.copyTo(MemorySegment.ofArray(out));
        return out;
    }

    static DeviceBuffer upload(short[] data) { return DeviceBuffer.of(MemorySegment.ofArray(data)); }

    static DeviceBuffer upload(float[] data) { return DeviceBuffer.of(MemorySegment.ofArray(data)); }

    @Test
    void loadIsOncePerContext() {
        assertSame(kernels, Kernels.load(ctx));
    }

    @Test
    void randomFillsMatchTheReferenceBitForBit() {
        int n = 100_003;
        try (DeviceBuffer b = DeviceBuffer.allocate(n * 4L)) {
            Fill.random(kernels, stream, b, n, CudaDtype.F32, 1234, 0.75f);
            stream.synchronize();
            assertArrayEquals(RandomFillRef.fillF32(n, 1234, 0.75f), downloadF32(b, n));
            for (CudaDtype dt : new CudaDtype[] {CudaDtype.F16, CudaDtype.BF16}) {
                Fill.random(kernels, stream, b, n - 2, dt, -99, 0.02f);
                stream.synchronize();
                assertArrayEquals(RandomFillRef.fill16(dt, n - 2, -99, 0.02f), download16(b, n - 2), dt.toString());
            }
        }
    }

    @Test
    void sparseFillMatchesTheReference() {
        for (CudaDtype dt : new CudaDtype[] {CudaDtype.F16, CudaDtype.BF16}) {
            int n = 37, k = 4100;
            Packed24 ref = RandomFillRef.sparse24(dt, n, k, 77, 0.05f);
            try (DeviceBuffer v = DeviceBuffer.allocate(ref.values().length * 2L);
                 DeviceBuffer m = DeviceBuffer.allocate(ref.metadata().length)) {
                v.memset((byte) 0x7F);
                m.memset((byte) 0x7F);
                Fill.sparse24(kernels, stream, v, m, n, k, dt, 77, 0.05f);
                stream.synchronize();
                assertArrayEquals(ref.values(), download16(v, ref.values().length), dt + " values");
                byte[] meta = new byte[ref.metadata().length];
                m.copyTo(MemorySegment.ofArray(meta));
                assertArrayEquals(ref.metadata(), meta, dt + " metadata");
                try (DeviceBuffer dense = DeviceBuffer.allocate((long) n * k * 2)) {
                    dense.memset((byte) 0x7F);
                    Fill.unpack24(kernels, stream, v, m, dense, n, k);
                    stream.synchronize();
                    assertArrayEquals(ref.toDense(), HalfFloats.toFloats(dt, download16(dense, n * k)), dt + " unpacked");
                }
            }
        }
    }

    @Test
    void conversionsRoundTrip() {
        int n = 70_001;
        Random rnd = new Random(5);
        float[] src = new float[n];
        for (int i = 0; i < n; i++) src[i] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(9) - 4));
        src[0] = 65520f; // rounds to +inf in fp16
        src[1] = Float.NaN;
        for (CudaDtype dt : new CudaDtype[] {CudaDtype.F16, CudaDtype.BF16}) {
            try (DeviceBuffer f = upload(src); DeviceBuffer h = DeviceBuffer.allocate(n * 2L); DeviceBuffer back = DeviceBuffer.allocate(n * 4L)) {
                Convert.fromF32(kernels, stream, f, h, dt, n);
                Convert.toF32(kernels, stream, h, dt, back, n);
                stream.synchronize();
                short[] got = download16(h, n);
                float[] up = downloadF32(back, n);
                for (int i = 0; i < n; i++) {
                    short want = HalfFloats.fromFloat(dt, src[i]);
                    if (Float.isNaN(src[i])) {
                        assertTrue(Float.isNaN(HalfFloats.toFloat(dt, got[i])), "NaN stays NaN");
                        continue;
                    }
                    assertEquals(want, got[i], dt + " element " + i + " of " + src[i]);
                    assertEquals(HalfFloats.toFloat(dt, want), up[i], dt + " element " + i);
                }
            }
        }
    }

    @Test
    void copyCopiesEveryByte() {
        int n = 4 * 100_003;
        float[] src = RandomFillRef.fillF32(n, 3, 1f);
        try (DeviceBuffer a = upload(src); DeviceBuffer b = DeviceBuffer.allocate(n * 4L)) {
            b.memset((byte) 0);
            Convert.copy(kernels, stream, a, b, n * 4L);
            stream.synchronize();
            assertArrayEquals(src, downloadF32(b, n));
        }
    }

    @Test
    void axpbyAndSwigluMatchTheReference() {
        Random rnd = new Random(9);
        int rows = 13, cols = 1001, ld = 2 * cols + 3;   // gate and up: halves of one fused row
        for (CudaDtype dt : new CudaDtype[] {CudaDtype.F32, CudaDtype.F16, CudaDtype.BF16}) {
            float[] fused = new float[rows * ld];
            for (int i = 0; i < fused.length; i++) fused[i] = round(dt, (float) rnd.nextGaussian() * 3);
            float[] want = new float[rows * cols];
            float[] up = new float[fused.length - cols];
            System.arraycopy(fused, cols, up, 0, up.length);
            ElementwiseRef.swiglu(fused, ld, up, ld, want, cols, rows, cols);
            try (DeviceBuffer f = uploadAs(dt, fused); DeviceBuffer out = DeviceBuffer.allocate((long) rows * cols * dt.byteSize())) {
                Elementwise.swiglu(kernels, stream, dt, f, ld, f.slice((long) cols * dt.byteSize(), f.bytes() - (long) cols * dt.byteSize()), ld,
                        out, cols, rows, cols);
                stream.synchronize();
                assertClose(dt, want, downloadAs(dt, out, rows * cols), dt == CudaDtype.F32 ? 1e-5 : dt == CudaDtype.F16 ? 2e-3 : 1e-2, "swiglu " + dt);
            }
            int n = 50_021;
            float[] x = new float[n], y = new float[n];
            for (int i = 0; i < n; i++) { x[i] = round(dt, (float) rnd.nextGaussian()); y[i] = round(dt, (float) rnd.nextGaussian()); }
            try (DeviceBuffer xb = uploadAs(dt, x); DeviceBuffer yb = uploadAs(dt, y)) {
                Elementwise.axpby(kernels, stream, dt, xb, yb, n, 0.7f, -1.3f);
                stream.synchronize();
                ElementwiseRef.axpby(x, y, 0.7f, -1.3f);
                assertClose(dt, y, downloadAs(dt, yb, n), dt == CudaDtype.F32 ? 1e-5 : dt == CudaDtype.F16 ? 2e-3 : 1e-2, "axpby " + dt);
            }
        }
    }

    /** Sizes chosen to hit every edge: M not a multiple of 8, N not of 128, K not of 16 or 256. */
    @Test
    void sparse24GemmMatchesTheReference() {
        int[][] shapes = {{77, 176}, {1000, 4112}, {128, 64}, {300, 2048}};
        int[] ms = {1, 3, 7, 16, 19};
        Random rnd = new Random(17);
        java.util.List<String> failures = new java.util.ArrayList<>();
        int runs = 0;
        try (Sparse24Gemm gemm = new Sparse24Gemm(kernels)) {
            for (CudaDtype dt : new CudaDtype[] {CudaDtype.F16, CudaDtype.BF16}) {
                double tol = dt == CudaDtype.F16 ? 2e-3 : 1e-2;
                for (int[] shape : shapes) {
                    int n = shape[0], k = shape[1];
                    Packed24 w = RandomFillRef.sparse24(dt, n, k, rnd.nextLong(), 0.05f);
                    try (DeviceBuffer vals = upload(w.values()); DeviceBuffer meta = DeviceBuffer.of(MemorySegment.ofArray(w.metadata()))) {
                        for (int m : ms) {
                            int ldx = k + (m % 2 == 1 ? 5 : 0);   // odd strides take the scalar staging path
                            int ldy = n + 3;
                            float[] x = new float[m * ldx];
                            for (int i = 0; i < x.length; i++) x[i] = round(dt, (float) rnd.nextGaussian());
                            float[] want = Sparse24GemmRef.gemm(x, ldx, w, m);
                            for (int tile : new int[] {8, 16, 32}) {
                                for (int splitsAndStep : new int[] {0, 1, 3, 10, 11, 13}) {   // +10: mma.sp
                                    int splits = splitsAndStep % 10;
                                    Sparse24Gemm.Plan p = Sparse24Gemm.plan(m, n, k, kernels.multiprocessors(), tile, splits)
                                            .withSparseMma(splitsAndStep >= 10);
                                    try (DeviceBuffer xb = uploadAs(dt, x); DeviceBuffer yb = DeviceBuffer.allocate((long) m * ldy * 2)) {
                                        for (int rep = 0; rep < 2; rep++) {   // twice: the split counters must reset themselves
                                            runs++;
                                            runAndCheck(gemm, dt, xb, ldx, vals, meta, yb, ldy, p, want, tol, "rep " + rep, failures);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if (!failures.isEmpty()) {
            fail(failures.size() + " of " + runs + " GEMM runs wrong; first ones:\n  "
                    + String.join("\n  ", failures.subList(0, Math.min(25, failures.size()))));
        }
    }

    /**
     * The streaming kernel: K multiples of 128 from 1 to 86 chunks per warp (partial last warp and stage, warps with no
     * chunks at all), N across several 16-row tiles per CTA (round-robin over the SMs) and not a multiple of 16, M up
     * to 16 (both compiled tiles), odd X strides (scalar staging), each run twice into a NaN-poisoned Y.
     */
    @Test
    void sparse24StreamGemmMatchesTheReference() {
        int[][] shapes = {{77, 128}, {4133, 384}, {1000, 4096}, {130, 11008}, {16, 1152}};
        int[] ms = {1, 3, 8, 11, 16};
        Random rnd = new Random(23);
        java.util.List<String> failures = new java.util.ArrayList<>();
        int runs = 0;
        try (Sparse24Gemm gemm = new Sparse24Gemm(kernels)) {
            for (CudaDtype dt : new CudaDtype[] {CudaDtype.F16, CudaDtype.BF16}) {
                double tol = dt == CudaDtype.F16 ? 2e-3 : 1e-2;
                for (int[] shape : shapes) {
                    int n = shape[0], k = shape[1];
                    Packed24 w = RandomFillRef.sparse24(dt, n, k, rnd.nextLong(), 0.05f);
                    try (DeviceBuffer vals = upload(w.values()); DeviceBuffer meta = DeviceBuffer.of(MemorySegment.ofArray(w.metadata()))) {
                        for (int m : ms) {
                            Sparse24Gemm.StreamPlan p = gemm.streamPlan(m, n, k);
                            if (p == null) continue;   // X does not fit beside the ring (checked below for the shapes that must run)
                            int ldx = k + (m % 2 == 1 ? 5 : 0);
                            int ldy = n + 3;
                            float[] x = new float[m * ldx];
                            for (int i = 0; i < x.length; i++) x[i] = round(dt, (float) rnd.nextGaussian());
                            float[] want = Sparse24GemmRef.gemm(x, ldx, w, m);
                            try (DeviceBuffer xb = uploadAs(dt, x); DeviceBuffer yb = DeviceBuffer.allocate((long) m * ldy * 2)) {
                                // Both tensor-core steps, then every compiled ring that fits (mma.sp only).
                                java.util.Set<Sparse24Gemm.StreamPlan> variants = new java.util.LinkedHashSet<>();
                                variants.add(p.withSparseMma(false));
                                Sparse24Gemm.StreamPlan sp = p.withSparseMma(true);
                                variants.add(sp);
                                for (int[] ring : new int[][] {{8, 4, 16}, {8, 2, 16}, {8, 3, 16}, {8, 8, 8}, {8, 4, 8}, {16, 4, 8}, {16, 2, 16}}) {
                                    Sparse24Gemm.StreamPlan r = sp.withRing(ring[0], ring[1], ring[2], kernels.sharedPerBlockOptin());
                                    if (r != null) variants.add(r);
                                }
                                variants.remove(null);
                                for (Sparse24Gemm.StreamPlan q : variants) {
                                    for (int rep = 0; rep < 2; rep++) {
                                        runs++;
                                        String what = dt + " m=" + m + " n=" + n + " k=" + k + " " + q + " rep " + rep;
                                        runAndCheck(dt, m, n, yb, ldy, want, tol, what, failures,
                                                () -> gemm.run(stream, dt, xb, ldx, vals, meta, yb, ldy, q, false));
                                    }
                                }
                            }
                        }
                    }
                }
            }
            assertNotNull(gemm.streamPlan(16, 22016, 4096), "16 tokens of K = 4096 must fit the streaming kernel");
            assertNotNull(gemm.streamPlan(1, 4096, 11008), "1 token of K = 11008 must fit the streaming kernel");
        }
        if (!failures.isEmpty()) {
            fail(failures.size() + " of " + runs + " streaming GEMM runs wrong; first ones:\n  "
                    + String.join("\n  ", failures.subList(0, Math.min(25, failures.size()))));
        }
        assertTrue(runs >= 120, "only " + runs + " streaming runs");
    }

    /**
     * Runs {@code p} into a NaN-poisoned Y (catches unwritten outputs), compares with {@code want} and checks that
     * nothing past n in a row of stride ldy was written; a failure is added to {@code failures}.
     */
    private static void runAndCheck(Sparse24Gemm gemm, CudaDtype dt, DeviceBuffer xb, int ldx, DeviceBuffer vals, DeviceBuffer meta,
                                    DeviceBuffer yb, int ldy, Sparse24Gemm.Plan p, float[] want, double tol, String note,
                                    java.util.List<String> failures) {
        String what = dt + " m=" + p.m() + " n=" + p.n() + " k=" + p.k() + " " + p + " " + note;
        runAndCheck(dt, p.m(), p.n(), yb, ldy, want, tol, what, failures, () -> gemm.run(stream, dt, xb, ldx, vals, meta, yb, ldy, p));
    }

    private static void runAndCheck(CudaDtype dt, int m, int n, DeviceBuffer yb, int ldy, float[] want, double tol, String what,
                                    java.util.List<String> failures, Runnable launch) {
        yb.memset((byte) 0xFF);  // NaN in fp16 and bf16
        launch.run();
        stream.synchronize();
        float[] got = downloadAs(dt, yb, m * ldy);
        float[] packed = new float[m * n];
        for (int t = 0; t < m; t++) System.arraycopy(got, t * ldy, packed, t * n, n);
        try {
            assertClose(dt, want, packed, tol, what);
            for (int t = 0; t < m; t++)
                for (int c = n; c < ldy && t * ldy + c < got.length; c++)
                    assertTrue(Float.isNaN(got[t * ldy + c]), "wrote outside Y at [" + t + "][" + c + "]");
        } catch (AssertionError e) {
            failures.add(e.getMessage());
        }
    }

    static float round(CudaDtype dt, float f) {
        return dt == CudaDtype.F32 ? f : HalfFloats.toFloat(dt, HalfFloats.fromFloat(dt, f));
    }

    static DeviceBuffer uploadAs(CudaDtype dt, float[] values) {
        return dt == CudaDtype.F32 ? upload(values) : upload(HalfFloats.fromFloats(dt, values));
    }

    static float[] downloadAs(CudaDtype dt, DeviceBuffer b, int n) {
        return dt == CudaDtype.F32 ? downloadF32(b, n) : HalfFloats.toFloats(dt, download16(b, n));
    }

    /** ‖got − want‖ / ‖want‖ < tol, and no NaN anywhere. */
    static void assertClose(CudaDtype dt, float[] want, float[] got, double tol, String what) {
        double num = 0, den = 0, worst = -1;
        int worstAt = -1, bad = 0;
        for (int i = 0; i < want.length; i++) {
            if (Float.isNaN(got[i])) fail(what + ": NaN at " + i + " (unwritten or wrong)");
            double d = got[i] - want[i];
            num += d * d;
            den += (double) want[i] * want[i];
            if (Math.abs(d) > worst) { worst = Math.abs(d); worstAt = i; }
            if (Math.abs(d) > 10 * tol * (1 + Math.abs(want[i]))) bad++;
        }
        double rel = Math.sqrt(num / Math.max(den, 1e-30));
        assertTrue(rel < tol, what + ": relative error " + rel + " >= " + tol + "; " + bad + " of " + want.length
                + " elements off, worst at index " + worstAt + ": got " + got[worstAt] + " want " + want[worstAt]);
    }
}
