package dev.twofour.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The driver binding on a real GPU. */
@Tag("gpu")
class CudaDriverGpuTest {
    static CudaContext ctx;

    @BeforeAll static void open() {
        assumeTrue(Cuda.isAvailable(), () -> "no GPU: " + Cuda.unavailableReason());
        ctx = CudaContext.primary(0);
    }

    @AfterAll static void closeAll() {
        if (ctx != null) ctx.close();
    }

    @BeforeEach void current() { ctx.setCurrent(); }

    @Test void deviceFacts() {
        CudaDevice d = Cuda.device(0);
        assertFalse(d.name().isBlank());
        assertTrue(d.computeCapability().major() >= 7, "compute capability " + d.computeCapability());
        assertTrue(d.totalMemory() > (1L << 30));
        assertTrue(d.uuid().matches("GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), d.uuid());
        assertTrue(d.multiprocessorCount() > 0);
        assertTrue(Cuda.driverVersion() >= 11000);
        CudaContext.MemoryInfo mi = ctx.memoryInfo();
        assertTrue(mi.free() > 0 && mi.free() <= mi.total(), mi.toString());
        assertTrue(ctx.isCurrent());
        assertThrows(IllegalArgumentException.class, () -> Cuda.device(Cuda.deviceCount()));
    }

    @Test void randomCopiesRoundTripAtOddSizes() {
        Random rnd = new Random(42);
        for (long n : new long[]{1, 3, 17, 4099, 1_000_003, 33_554_441}) {
            byte[] data = new byte[(int) n];
            rnd.nextBytes(data);
            try (Arena arena = Arena.ofConfined();
                 DeviceBuffer a = DeviceBuffer.allocate(n);
                 DeviceBuffer b = DeviceBuffer.allocate(n + 5);
                 PinnedHostBuffer pinned = PinnedHostBuffer.allocate(n);
                 CudaStream stream = CudaStream.create()) {
                MemorySegment host = arena.allocate(n);
                MemorySegment.copy(data, 0, host, JAVA_BYTE, 0, data.length);

                a.copyFrom(host);                          // H2D sync, native segment
                b.memset((byte) 0x77);
                b.copyFrom(a);                             // D2D sync
                byte[] back = new byte[(int) n];
                b.slice(0, n).copyTo(MemorySegment.ofArray(back)); // D2H sync through a heap segment
                assertArrayEquals(data, back, "sync round trip of " + n + " bytes");

                byte[] tail = new byte[5];
                b.slice(n, 5).copyTo(MemorySegment.ofArray(tail));
                assertArrayEquals(new byte[]{0x77, 0x77, 0x77, 0x77, 0x77}, tail, "bytes past the copy untouched");

                // Async path: pinned -> device -> device -> pinned on one stream.
                pinned.segment().copyFrom(host);
                a.memset((byte) 0, stream);
                a.copyFrom(pinned.segment(), stream);
                b.copyFrom(a, stream);
                pinned.segment().fill((byte) 0);
                b.slice(0, n).copyTo(pinned.segment(), stream);
                stream.synchronize();
                assertArrayEquals(data, pinned.segment().toArray(JAVA_BYTE), "async round trip of " + n + " bytes");
            }
        }
    }

    @Test void fillsAndSlices() {
        int words = 1001;
        try (Arena arena = Arena.ofConfined(); DeviceBuffer buf = DeviceBuffer.allocate(words * 4L)) {
            buf.fill32(Float.floatToRawIntBits(2.5f));
            buf.slice(40, 8).fill32(Float.floatToRawIntBits(-1f));
            MemorySegment host = arena.allocate(words * 4L);
            buf.copyTo(host);
            for (int i = 0; i < words; i++) {
                float expect = (i == 10 || i == 11) ? -1f : 2.5f;
                assertEquals(expect, host.getAtIndex(JAVA_FLOAT, i), "word " + i);
            }
            assertThrows(IllegalArgumentException.class, () -> buf.slice(1, 8).fill32(0));
            assertThrows(IndexOutOfBoundsException.class, () -> buf.slice(words * 4L - 4, 8));
        }
    }

    @Test void ownersRefuseUseAfterCloseAndCloseTwiceHarmlessly() {
        DeviceBuffer buf = DeviceBuffer.allocate(64);
        DeviceBuffer view = buf.slice(16, 16);
        buf.close();
        buf.close();
        assertThrows(IllegalStateException.class, buf::address);
        assertThrows(IllegalStateException.class, view::address, "a slice dies with its buffer");

        PinnedHostBuffer pinned = PinnedHostBuffer.allocate(128);
        MemorySegment seg = pinned.segment();
        seg.set(JAVA_INT, 0, 7);
        pinned.close();
        pinned.close();
        assertThrows(IllegalStateException.class, () -> seg.get(JAVA_INT, 0), "pinned memory is not readable after close");
        assertThrows(IllegalStateException.class, pinned::segment);

        CudaStream s = CudaStream.create();
        s.close();
        s.close();
        assertThrows(IllegalStateException.class, s::synchronize);

        CudaEvent e = CudaEvent.create();
        e.close();
        e.close();
        assertThrows(IllegalStateException.class, e::synchronize);
    }

    @Test void eventTimingIsPositive() {
        long bytes = 256L << 20;
        try (DeviceBuffer buf = DeviceBuffer.allocate(bytes);
             CudaStream stream = CudaStream.create();
             CudaEvent start = CudaEvent.create();
             CudaEvent end = CudaEvent.create()) {
            start.record(stream);
            for (int i = 0; i < 8; i++) buf.memset((byte) i, stream);
            end.record(stream);
            float ms = CudaEvent.elapsedMillis(start, end);
            assertTrue(ms > 0f, "elapsed " + ms + " ms");
            assertTrue(ms < 10_000f, "elapsed " + ms + " ms");
        }
        try (CudaEvent a = CudaEvent.createWithoutTiming(); CudaEvent b = CudaEvent.create()) {
            assertThrows(IllegalArgumentException.class, () -> CudaEvent.elapsedMillis(a, b));
        }
    }

    /** The same memset + copy work, eagerly and as a graph replay, gives the same bytes. */
    @Test void graphReplayEqualsEagerExecution() {
        int words = 70_001;
        long bytes = words * 4L;
        try (Arena arena = Arena.ofConfined();
             CudaStream stream = CudaStream.create();
             DeviceBuffer a = DeviceBuffer.allocate(bytes);
             DeviceBuffer b = DeviceBuffer.allocate(bytes);
             DeviceBuffer c = DeviceBuffer.allocate(bytes)) {
            Runnable work = () -> {
                a.fill32(0x3F80_0000, stream);                      // 1.0f everywhere
                a.slice(4 * 1000, 4 * 777).fill32(0x4040_0000, stream); // 3.0f in a window
                b.copyFrom(a, stream);
                b.slice(4 * 5, 4 * 3).fill32(0xDEAD_BEEF, stream);
                c.copyFrom(b, stream);
            };
            c.memset((byte) 0x11);
            work.run();
            stream.synchronize();
            MemorySegment eager = arena.allocate(bytes);
            c.copyTo(eager);

            try (CudaGraph graph = CudaGraph.capture(stream, work)) {
                for (int replay = 0; replay < 2; replay++) {
                    a.memset((byte) 0x22);
                    b.memset((byte) 0x33);
                    c.memset((byte) 0x44); // poison: the replay must rewrite everything
                    graph.launch(stream);
                    stream.synchronize();
                    MemorySegment replayed = arena.allocate(bytes);
                    c.copyTo(replayed);
                    assertEquals(-1L, eager.mismatch(replayed), "replay " + replay + " differs from eager execution");
                }
                graph.close();
                assertThrows(IllegalStateException.class, () -> graph.launch(stream));
            }
            assertEquals(Float.intBitsToFloat(0x4040_0000), eager.getAtIndex(JAVA_FLOAT, 1000));
            assertEquals(0xDEAD_BEEF, eager.getAtIndex(JAVA_INT, 6));
            assertEquals(1f, eager.getAtIndex(JAVA_FLOAT, words - 1));
        }
    }

    @Test void failedCaptureIsAbandonedAndTheStreamStaysUsable() {
        try (CudaStream stream = CudaStream.create(); DeviceBuffer a = DeviceBuffer.allocate(64)) {
            RuntimeException boom = assertThrows(RuntimeException.class, () -> CudaGraph.capture(stream, () -> {
                a.memset((byte) 1, stream);
                throw new IllegalStateException("body failed");
            }));
            assertEquals("body failed", boom.getMessage());
            a.memset((byte) 2, stream); // runs for real: the capture was ended
            stream.synchronize();
        }
    }

    @Test void absurdAllocationThrowsAndTheJvmLivesOn() {
        CudaException e = assertThrows(CudaException.class, () -> DeviceBuffer.allocate(1L << 50)); // 1 PiB
        assertEquals("cuMemAlloc_v2", e.call());
        assertTrue(e.errorName().equals("CUDA_ERROR_OUT_OF_MEMORY") || e.errorName().equals("CUDA_ERROR_INVALID_VALUE"),
                e.getMessage());
        assertTrue(e.getMessage().contains("cuMemAlloc"), e.getMessage());
        try (DeviceBuffer ok = DeviceBuffer.allocate(1 << 20)) {
            ok.memset((byte) 3);
        }
    }

    @Test void handWrittenKernelMatchesJava() {
        int n = 100_003;
        Random rnd = new Random(7);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = rnd.nextFloat() * 4f - 2f;
        try (CudaModule module = CudaModule.load(GpuTestSupport.resource("test_kernels.ptx"));
             Arena arena = Arena.ofConfined();
             CudaStream stream = CudaStream.create();
             DeviceBuffer dx = DeviceBuffer.of(MemorySegment.ofArray(x));
             DeviceBuffer dy = DeviceBuffer.allocate(n * 4L)) {
            dy.fill32(Float.floatToRawIntBits(Float.NaN));
            CudaFunction axpb = module.function("axpb");
            assertSame(axpb, module.function("axpb"));
            axpb.launch(Dim3.of(Dim3.blocksFor(n, 256)), Dim3.of(256), 0, stream,
                    new KernelArgs().ptr(dy).ptr(dx).f32(1.5f).f32(-0.25f).i32(n));
            stream.synchronize();
            MemorySegment y = arena.allocate(n * 4L);
            dy.copyTo(y);
            for (int i = 0; i < n; i++) {
                assertEquals(Math.fma(x[i], 1.5f, -0.25f), y.getAtIndex(JAVA_FLOAT, i), "y[" + i + "]");
            }

            // More than 48 KiB of dynamic shared memory needs the opt-in, done by launch().
            int threads = 256;
            int offset = 60 * 1024;
            int shared = offset + threads * 4;
            CudaFunction echo = module.function("shared_echo");
            echo.launch(Dim3.of(1), Dim3.of(threads), shared, stream,
                    new KernelArgs().ptr(dy).ptr(dx).i32(offset).i32(threads));
            stream.synchronize();
            dy.copyTo(y);
            for (int i = 0; i < threads; i++) assertEquals(x[i], y.getAtIndex(JAVA_FLOAT, i), "echo[" + i + "]");
            assertTrue(echo.attribute(CudaFunction.ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES) >= shared);

            CudaException missing = assertThrows(CudaException.class, () -> module.function("no_such_kernel"));
            assertEquals("cuModuleGetFunction", missing.call());
            module.close();
            assertThrows(IllegalStateException.class, () -> axpb.launch(Dim3.of(1), Dim3.of(1), 0, stream, new KernelArgs()));
        }
    }
}
