package dev.twofour.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static dev.twofour.cuda.GpuTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** cuBLAS GEMMs against fp64 Java references at awkward shapes. */
@Tag("gpu")
class CublasGpuTest {
    static CudaContext ctx;
    static Cublas cublas;
    static CudaStream stream;

    @BeforeAll static void open() {
        assumeTrue(Cuda.isAvailable(), () -> "no GPU: " + Cuda.unavailableReason());
        ctx = CudaContext.primary(0);
        cublas = Cublas.create();
        stream = CudaStream.create();
        cublas.setStream(stream);
    }

    @AfterAll static void closeAll() {
        if (cublas != null) cublas.close();
        if (stream != null) stream.close();
        if (ctx != null) ctx.close();
    }

    @BeforeEach void current() { ctx.setCurrent(); }

    @Test void versionIsReadable() {
        int v = Cublas.version();
        assertTrue(v >= 120000, "cuBLAS version " + v);
        assertTrue(cublas.handleVersion() >= 120000);
    }

    private float[] runLinear(float[] x, float[] w, int m, int n, int k, CudaDtype in, CudaDtype out) {
        try (Arena arena = Arena.ofConfined();
             DeviceBuffer dx = DeviceBuffer.allocate((long) m * k * in.byteSize());
             DeviceBuffer dw = DeviceBuffer.allocate((long) n * k * in.byteSize());
             DeviceBuffer dy = DeviceBuffer.allocate((long) m * n * out.byteSize())) {
            MemorySegment hx = arena.allocate((long) m * k * in.byteSize());
            MemorySegment hw = arena.allocate((long) n * k * in.byteSize());
            store(hx, x, in);
            store(hw, w, in);
            dx.copyFrom(hx);
            dw.copyFrom(hw);
            dy.memset((byte) 0x7F); // poison
            cublas.linear(dx.address(), dw.address(), dy.address(), m, n, k, in, out);
            stream.synchronize();
            MemorySegment hy = arena.allocate((long) m * n * out.byteSize());
            dy.copyTo(hy);
            return load(hy, m * n, out);
        }
    }

    @Test void gemmExFp16MatchesFp64ReferenceAtAwkwardShapes() {
        Random rnd = new Random(1234);
        int[][] shapes = {{3, 77, 130}, {1, 5, 8}, {17, 256, 136}, {64, 33, 1000}};
        for (int[] s : shapes) {
            int m = s[0], n = s[1], k = s[2];
            float[] x = random(rnd, m * k, CudaDtype.F16);
            float[] w = random(rnd, n * k, CudaDtype.F16);
            double[] ref = linearReference(x, w, m, n, k);
            double err = relativeError(runLinear(x, w, m, n, k, CudaDtype.F16, CudaDtype.F16), ref);
            assertTrue(err < 2e-3, "fp16 M=" + m + " N=" + n + " K=" + k + " relative error " + err);
        }
    }

    @Test void gemmExBf16AndFp32() {
        Random rnd = new Random(99);
        int m = 5, n = 71, k = 66;
        float[] x = random(rnd, m * k, CudaDtype.BF16);
        float[] w = random(rnd, n * k, CudaDtype.BF16);
        double[] ref = linearReference(x, w, m, n, k);
        double errBf16 = relativeError(runLinear(x, w, m, n, k, CudaDtype.BF16, CudaDtype.F32), ref);
        assertTrue(errBf16 < 2e-3, "bf16 in, fp32 out: relative error " + errBf16);

        float[] xf = random(rnd, m * k, CudaDtype.F32);
        float[] wf = random(rnd, n * k, CudaDtype.F32);
        double errF32 = relativeError(runLinear(xf, wf, m, n, k, CudaDtype.F32, CudaDtype.F32),
                linearReference(xf, wf, m, n, k));
        assertTrue(errF32 < 2e-3, "fp32 relative error " + errF32); // TF32 is not enabled: expect ~1e-6
    }

    @Test void stridedBatchedLinearAndMatmul() {
        Random rnd = new Random(5);
        int batch = 3, m = 7, n = 19, k = 40;
        CudaDtype t = CudaDtype.F16;
        float[] x = random(rnd, batch * m * k, t);
        float[] w = random(rnd, batch * n * k, t);
        try (Arena arena = Arena.ofConfined();
             DeviceBuffer dx = DeviceBuffer.allocate((long) x.length * 2);
             DeviceBuffer dw = DeviceBuffer.allocate((long) w.length * 2);
             DeviceBuffer dy = DeviceBuffer.allocate((long) batch * m * n * 4)) {
            MemorySegment hx = arena.allocate((long) x.length * 2);
            MemorySegment hw = arena.allocate((long) w.length * 2);
            store(hx, x, t);
            store(hw, w, t);
            dx.copyFrom(hx);
            dw.copyFrom(hw);
            cublas.linearStridedBatched(dx.address(), (long) m * k, dw.address(), (long) n * k, dy.address(),
                    (long) m * n, batch, m, n, k, t, CudaDtype.F32);
            stream.synchronize();
            MemorySegment hy = arena.allocate((long) batch * m * n * 4);
            dy.copyTo(hy);
            float[] y = load(hy, batch * m * n, CudaDtype.F32);
            for (int b = 0; b < batch; b++) {
                float[] xb = java.util.Arrays.copyOfRange(x, b * m * k, (b + 1) * m * k);
                float[] wb = java.util.Arrays.copyOfRange(w, b * n * k, (b + 1) * n * k);
                float[] yb = java.util.Arrays.copyOfRange(y, b * m * n, (b + 1) * m * n);
                double err = relativeError(yb, linearReference(xb, wb, m, n, k));
                assertTrue(err < 2e-3, "batch " + b + " relative error " + err);
            }

            // matmul: C[M][N] = A[M][K] · B[K][N]; with B = Wᵀ laid out [K][N] it equals linear.
            float[] wt = new float[k * n];
            for (int j = 0; j < n; j++) for (int l = 0; l < k; l++) wt[l * n + j] = w[j * k + l];
            store(hw, wt, t);
            dw.copyFrom(hw.asSlice(0, (long) k * n * 2));
            cublas.matmul(dx.address(), dw.address(), dy.address(), m, n, k, t, CudaDtype.F32);
            stream.synchronize();
            dy.copyTo(hy);
            float[] c = load(hy, m * n, CudaDtype.F32);
            double err = relativeError(c, linearReference(java.util.Arrays.copyOf(x, m * k),
                    java.util.Arrays.copyOf(w, n * k), m, n, k));
            assertTrue(err < 2e-3, "matmul relative error " + err);
        }
    }

    @Test void badArgumentsAreACudaExceptionNotACrash() {
        try (DeviceBuffer d = DeviceBuffer.allocate(1024)) {
            CudaException e = assertThrows(CudaException.class, () -> cublas.gemmEx(Cublas.Op.N, Cublas.Op.N, 4, 4, 4,
                    1f, d.address(), CudaDtype.F16, 1, d.address(), CudaDtype.F16, 4, 0f, d.address(), CudaDtype.F16, 4));
            assertEquals("cublasGemmEx", e.call());
            assertEquals("CUBLAS_STATUS_INVALID_VALUE", e.errorName());
        }
    }

    @Test void gemmIsCapturableIntoAGraph() {
        Random rnd = new Random(8);
        int m = 4, n = 48, k = 64;
        CudaDtype t = CudaDtype.F16;
        float[] x = random(rnd, m * k, t);
        float[] w = random(rnd, n * k, t);
        try (Arena arena = Arena.ofConfined();
             DeviceBuffer dx = DeviceBuffer.allocate((long) m * k * 2);
             DeviceBuffer dw = DeviceBuffer.allocate((long) n * k * 2);
             DeviceBuffer dy = DeviceBuffer.allocate((long) m * n * 4)) {
            MemorySegment hx = arena.allocate((long) m * k * 2);
            MemorySegment hw = arena.allocate((long) n * k * 2);
            store(hx, x, t);
            store(hw, w, t);
            dx.copyFrom(hx);
            dw.copyFrom(hw);
            try (CudaGraph g = CudaGraph.capture(stream,
                    () -> cublas.linear(dx.address(), dw.address(), dy.address(), m, n, k, t, CudaDtype.F32))) {
                dy.memset((byte) 0x7F);
                g.launch(stream);
                stream.synchronize();
            }
            MemorySegment hy = arena.allocate((long) m * n * 4);
            dy.copyTo(hy);
            double err = relativeError(load(hy, m * n, CudaDtype.F32), linearReference(x, w, m, n, k));
            assertTrue(err < 2e-3, "graph-replayed GEMM relative error " + err);
        }
    }
}
