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

/**
 * cuSPARSELt on a real GPU: prune check, compression and Y = X·Wᵀ against an fp64 Java reference.
 * No algorithm search here: it can poison the context (it belongs in a tuning process).
 */
@Tag("gpu")
class CusparseLtGpuTest {
    static CudaContext ctx;
    static CusparseLt lt;
    static CudaStream stream;

    @BeforeAll static void open() {
        assumeTrue(Cuda.isAvailable(), () -> "no GPU: " + Cuda.unavailableReason());
        assumeTrue(CusparseLt.isInstalled(), () -> "no cuSPARSELt: "
                + CudaLibraries.system().describeSearch(CudaLibraries.Kind.CUSPARSELT));
        ctx = CudaContext.primary(0);
        lt = CusparseLt.create();
        stream = CudaStream.create();
    }

    @AfterAll static void closeAll() {
        if (lt != null) lt.close();
        if (stream != null) stream.close();
        if (ctx != null) ctx.close();
    }

    @BeforeEach void current() { ctx.setCurrent(); }

    /** W[N][K] with exactly 2 nonzeros (|v| >= 0.05) in every group of 4 along K, at random positions. */
    static float[] random24(Random rnd, int n, int k, CudaDtype dtype) {
        float[] w = new float[n * k];
        for (int r = 0; r < n; r++) {
            for (int g = 0; g < k; g += 4) {
                int a = rnd.nextInt(4), b = (a + 1 + rnd.nextInt(3)) % 4;
                for (int idx : new int[]{a, b}) {
                    float v = 0.05f + rnd.nextFloat() * 0.95f;
                    w[r * k + g + idx] = roundTo(dtype, rnd.nextBoolean() ? v : -v);
                }
            }
        }
        return w;
    }

    static DeviceBuffer upload(Arena arena, float[] values, CudaDtype dtype) {
        MemorySegment host = arena.allocate((long) values.length * dtype.byteSize(), 16);
        store(host, values, dtype);
        return DeviceBuffer.of(host);
    }

    @Test void versionAndNames() {
        assertTrue(lt.version() >= CusparseLt.MIN_VERSION, "version " + lt.version());
        assertEquals(lt.version(), CusparseLt.libraryVersion());
        assertEquals("0.8.1", CusparseLt.formatVersion(801));
        if (CusparseLtApi.getErrorName != null) {
            assertEquals("CUSPARSE_STATUS_INVALID_VALUE", StatusNames.name(CudaException.Library.CUSPARSELT, 3));
        }
    }

    @Test void pruneCheckAcceptsA24MatrixAndRejectsADenseOne() {
        int n = 64, k = 128, m = 16;
        Random rnd = new Random(11);
        try (Arena arena = Arena.ofConfined();
             CusparseLtGemm gemm = CusparseLtGemm.create(lt, n, k, m, CudaDtype.F16);
             DeviceBuffer w24 = upload(arena, random24(rnd, n, k, CudaDtype.F16), CudaDtype.F16);
             DeviceBuffer dense = upload(arena, random(rnd, n * k, CudaDtype.F16), CudaDtype.F16)) {
            assertTrue(gemm.pruneCheck(w24.address(), stream), "a 2:4 matrix passes");
            assertFalse(gemm.pruneCheck(dense.address(), stream), "a dense random matrix fails");
        }
    }

    private void checkGemm(int m, int n, int k, CudaDtype dtype, long seed, double tolerance) {
        Random rnd = new Random(seed);
        float[] w = random24(rnd, n, k, dtype);
        float[] x = random(rnd, m * k, dtype);
        double[] ref = linearReference(x, w, m, n, k);
        try (Arena arena = Arena.ofConfined();
             CusparseLtGemm gemm = CusparseLtGemm.create(lt, n, k, m, dtype);
             DeviceBuffer dw = upload(arena, w, dtype);
             DeviceBuffer dx = upload(arena, x, dtype);
             DeviceBuffer dy = DeviceBuffer.allocate((long) m * n * dtype.byteSize())) {
            assertTrue(gemm.pruneCheck(dw.address(), stream));
            gemm.compress(dw.address(), stream);
            assertTrue(gemm.compressedBytes() > 0);
            dw.memset((byte) 0x55); // the compressed copy must not depend on the dense weight any more
            dy.memset((byte) 0x7F);
            gemm.matmul(stream, dx.address(), dy.address());
            stream.synchronize();
            MemorySegment hy = arena.allocate((long) m * n * dtype.byteSize());
            dy.copyTo(hy);
            double err = relativeError(load(hy, m * n, dtype), ref);
            assertTrue(err < tolerance, dtype + " M=" + m + " N=" + n + " K=" + k + " relative error " + err
                    + " with config " + gemm.config());
        }
    }

    @Test void gemmFp16M16MatchesReference() { checkGemm(16, 256, 512, CudaDtype.F16, 21, 2e-3); }

    @Test void gemmFp16M32MatchesReference() { checkGemm(32, 256, 512, CudaDtype.F16, 22, 2e-3); }

    @Test void gemmBf16MatchesReference() { checkGemm(32, 256, 512, CudaDtype.BF16, 23, 8e-3); }

    @Test void configsCanBeSetAndABadOneFallsBack() {
        int m = 16, n = 256, k = 512;
        CudaDtype t = CudaDtype.F16;
        Random rnd = new Random(31);
        float[] w = random24(rnd, n, k, t);
        float[] x = random(rnd, m * k, t);
        double[] ref = linearReference(x, w, m, n, k);
        try (Arena arena = Arena.ofConfined();
             CusparseLtGemm gemm = CusparseLtGemm.create(lt, n, k, m, t);
             DeviceBuffer dw = upload(arena, w, t);
             DeviceBuffer dx = upload(arena, x, t);
             DeviceBuffer dy = DeviceBuffer.allocate((long) m * n * 2)) {
            gemm.compress(dw.address(), stream);
            int count = gemm.configCount();
            assertTrue(count >= 1, "config count " + count);
            MemorySegment hy = arena.allocate((long) m * n * 2);
            // Configurations 0 and 1 (when there are two). Not the last id: on the H100 (cuSPARSELt 0.8.0) the last
            // configuration of this small shape raised CUDA_ERROR_ILLEGAL_INSTRUCTION in the matmul, which poisons the
            // context; that is why algorithm search and configuration sweeps belong in a separate tuning process.
            for (int id : count > 1 ? new int[]{0, 1} : new int[]{0}) {
                gemm.setConfig(id, 1, null);
                assertEquals(id, gemm.config().configId());
                dy.memset((byte) 0x7F);
                gemm.matmul(stream, dx.address(), dy.address());
                stream.synchronize();
                dy.copyTo(hy);
                double err = relativeError(load(hy, m * n, t), ref);
                assertTrue(err < 2e-3, "config " + id + " relative error " + err);
            }
            CusparseLtGemm.Config before = gemm.config();
            assertThrows(IllegalArgumentException.class, () -> gemm.setConfig(count, 1, null));
            assertThrows(IllegalArgumentException.class, () -> gemm.setConfig(-1, 1, null));
            assertThrows(IllegalArgumentException.class, () -> gemm.setConfig(0, 0, null));
            assertEquals(before, gemm.config(), "a refused config leaves the previous one in place");

            // The matmul is capturable: a graph replay gives the eager result.
            dy.memset((byte) 0x7F);
            try (CudaGraph g = CudaGraph.capture(stream, () -> gemm.matmul(stream, dx.address(), dy.address()))) {
                g.launch(stream);
                stream.synchronize();
            }
            dy.copyTo(hy);
            assertTrue(relativeError(load(hy, m * n, t), ref) < 2e-3, "graph replay");
        }
        assertThrows(IllegalArgumentException.class, () -> CusparseLtGemm.create(lt, 16, 16, 16, CudaDtype.F32));
    }

    @Test void matmulBeforeCompressIsRefusedAndClosedObjectsThrow() {
        CusparseLtGemm gemm = CusparseLtGemm.create(lt, 64, 64, 16, CudaDtype.F16);
        assertThrows(IllegalStateException.class, () -> gemm.matmul(stream, 0, 0));
        gemm.close();
        gemm.close();
        assertThrows(IllegalStateException.class, gemm::config);
    }
}
