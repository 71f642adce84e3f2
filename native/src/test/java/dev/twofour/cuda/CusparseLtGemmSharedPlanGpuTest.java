package dev.twofour.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static dev.twofour.cuda.CusparseLtGpuTest.random24;
import static dev.twofour.cuda.CusparseLtGpuTest.upload;
import static dev.twofour.cuda.GpuTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * One cuSPARSELt plan, planned once with a given configuration, running several weights of its shape from their own
 * compressed copies (how a model's layers share plans), against the fp64 Java reference.
 */
@Tag("gpu")
class CusparseLtGemmSharedPlanGpuTest {
    static CudaContext ctx;
    static CusparseLt lt;
    static CudaStream stream;

    @BeforeAll static void open() {
        assumeTrue(Cuda.isAvailable(), () -> "no GPU: " + Cuda.unavailableReason());
        assumeTrue(CusparseLt.isInstalled(), "no cuSPARSELt");
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

    @Test void onePlanRunsTwoWeightsFromTheirOwnCompressedCopies() {
        int m = 32, n = 320, k = 576;
        CudaDtype dt = CudaDtype.F16;
        Random rnd = new Random(41);
        float[] w1 = random24(rnd, n, k, dt), w2 = random24(rnd, n, k, dt), x = random(rnd, m * k, dt);
        try (Arena arena = Arena.ofConfined();
             CusparseLtGemm plan = CusparseLtGemm.create(lt, n, k, m, dt, new CusparseLtGemm.Config(0, 1, null));
             DeviceBuffer d1 = upload(arena, w1, dt);
             DeviceBuffer d2 = upload(arena, w2, dt);
             DeviceBuffer dx = upload(arena, x, dt);
             DeviceBuffer dy = DeviceBuffer.allocate((long) m * n * 2)) {
            assertEquals(0, plan.config().configId());
            assertEquals(1, plan.config().splitK());
            DeviceBuffer c1 = plan.compressedCopy(d1.address(), stream);
            DeviceBuffer c2 = plan.compressedCopy(d2.address(), stream);
            try (c1; c2) {
                assertFalse(plan.isCompressed(), "compressedCopy leaves the plan's own weight alone");
                d1.memset((byte) 0x55);  // the copies must not depend on the dense weights any more
                d2.memset((byte) 0x55);
                float[][] ws = {w1, w2};
                DeviceBuffer[] cs = {c1, c2};
                for (int i = 0; i < 2; i++) {
                    dy.memset((byte) 0x7F);
                    plan.matmul(stream, cs[i], dx.address(), dy.address());
                    stream.synchronize();
                    MemorySegment hy = arena.allocate((long) m * n * 2);
                    dy.copyTo(hy);
                    double err = relativeError(load(hy, m * n, dt), linearReference(x, ws[i], m, n, k));
                    assertTrue(err < 2e-3, "weight " + (i + 1) + " through the shared plan: relative error " + err);
                }
                try (DeviceBuffer small = DeviceBuffer.allocate(64)) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> plan.matmul(stream, small, dx.address(), dy.address()));
                    assertTrue(e.getMessage().contains("compressedCopy"), e.getMessage());
                }
            }
        }
    }

    @Test void aConfigurationOutOfRangeIsRefusedAtCreate() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CusparseLtGemm.create(lt, 256, 512, 16, CudaDtype.F16, new CusparseLtGemm.Config(100_000, 1, null)));
        assertTrue(e.getMessage().contains("config 100000 is outside"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> CusparseLtGemm.create(lt, 256, 512, 16, CudaDtype.F16, new CusparseLtGemm.Config(0, 0, null)));
    }
}
