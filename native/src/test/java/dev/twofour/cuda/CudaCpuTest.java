package dev.twofour.cuda;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** What works without a GPU: the fallback, argument packing and validation. */
class CudaCpuTest {

    @Test void withoutCudaAutoFallsBackToCpuWithOneLine() {
        assumeFalse(Cuda.isAvailable(), "this machine has a usable GPU");
        String reason = Cuda.unavailableReason();
        assertNotNull(reason);
        assertFalse(reason.contains("\n"), "one line: " + reason);

        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream err = new PrintStream(buf, true, StandardCharsets.UTF_8);
        assertEquals(BackendChoice.CPU, BackendChoice.AUTO.resolve(err));
        String printed = buf.toString(StandardCharsets.UTF_8);
        assertTrue(printed.startsWith("twofour: no GPU: using the CPU backend ("), printed);
        assertEquals(1, printed.lines().count());

        assertEquals(BackendChoice.CPU, BackendChoice.CPU.resolve(err));
        CudaException e = assertThrows(CudaException.class, () -> BackendChoice.CUDA.resolve(err));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }

    @Test void withoutCudaAllocationThrowsCudaExceptionNotACrash() {
        assumeFalse(Cuda.isAvailable(), "this machine has a usable GPU");
        assertThrows(CudaException.class, () -> DeviceBuffer.allocate(1024));
        assertThrows(CudaException.class, CudaStream::create);
        assertThrows(CudaException.class, () -> CudaContext.primary(0));
        assertEquals(0, Cuda.deviceCount());
    }

    @Test void backendAndDtypeParsing() {
        assertEquals(BackendChoice.CUDA, BackendChoice.parse("CUDA"));
        assertEquals(BackendChoice.AUTO, BackendChoice.parse(" auto "));
        assertThrows(IllegalArgumentException.class, () -> BackendChoice.parse("tpu"));
        assertEquals(CudaDtype.BF16, CudaDtype.parse("bfloat16"));
        assertEquals(14, CudaDtype.BF16.cudaDataType());
        assertEquals(2, CudaDtype.F16.cudaDataType());
        assertEquals(0, CudaDtype.F32.cudaDataType());
        assertThrows(IllegalArgumentException.class, () -> CudaDtype.parse("int4"));
    }

    @Test void kernelArgsPointAtTheirValues() {
        KernelArgs args = new KernelArgs().ptr(0x7000_0000_1000L).i32(-5).f32(1.5f).i64(1L << 40).u16((short) 0x3c00);
        for (int i = 0; i < 20; i++) args.i32(i); // forces growth past the initial capacity
        assertEquals(25, args.size());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment arr = args.pointerArray(arena);
            MemorySegment p0 = arr.get(ADDRESS, 0).reinterpret(8);
            MemorySegment p1 = arr.get(ADDRESS, 8).reinterpret(4);
            MemorySegment p2 = arr.get(ADDRESS, 16).reinterpret(4);
            MemorySegment p3 = arr.get(ADDRESS, 24).reinterpret(8);
            MemorySegment p4 = arr.get(ADDRESS, 32).reinterpret(2);
            assertEquals(0x7000_0000_1000L, p0.get(JAVA_LONG, 0));
            assertEquals(-5, p1.get(JAVA_INT, 0));
            assertEquals(1.5f, p2.get(JAVA_FLOAT, 0));
            assertEquals(1L << 40, p3.get(JAVA_LONG, 0));
            assertEquals((short) 0x3c00, p4.get(JAVA_SHORT, 0));
            assertEquals(19, arr.get(ADDRESS, 24L * 8).reinterpret(4).get(JAVA_INT, 0));
            for (int i = 0; i < 25; i++) {
                assertEquals(0, arr.get(ADDRESS, i * 8L).address() % 8, "8-byte aligned values");
            }
        }
        assertEquals(0, args.clear().size());
    }

    @Test void dim3Validation() {
        assertEquals(new Dim3(3, 1, 1), Dim3.of(3));
        assertThrows(IllegalArgumentException.class, () -> Dim3.of(0));
        assertEquals(4, Dim3.blocksFor(1000, 256));
        assertEquals(1, Dim3.blocksFor(0, 256));
        assertEquals(1, Dim3.blocksFor(256, 256));
    }

    @Test void versionFormatting() {
        assertEquals("13.0", Cuda.formatVersion(13000));
        assertEquals("12.8", Cuda.formatVersion(12080));
    }
}
