package dev.twofour.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Page-locked host memory (cuMemHostAlloc, portable to every context), needed for copies that
 * are truly asynchronous. {@link #segment()} stops being accessible when this buffer closes.
 */
public final class PinnedHostBuffer extends NativeOwner {
    private static final int CU_MEMHOSTALLOC_PORTABLE = 0x01;

    private final long address;
    private final long bytes;
    private final Arena arena;
    private final MemorySegment segment;

    private PinnedHostBuffer(long address, long bytes) {
        this.address = address;
        this.bytes = bytes;
        this.arena = Arena.ofShared();
        // Tie the segment's accessibility to this buffer: after close, using it throws IllegalStateException.
        this.segment = MemorySegment.ofAddress(address).reinterpret(bytes, arena, null);
    }

    public static PinnedHostBuffer allocate(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("a PinnedHostBuffer needs at least 1 byte, asked for " + bytes);
        Cuda.requireAvailable();
        return new PinnedHostBuffer(Driver.memHostAlloc(bytes, CU_MEMHOSTALLOC_PORTABLE), bytes);
    }

    /** The memory, {@link #bytes()} long. */
    public MemorySegment segment() {
        ensureOpen();
        return segment;
    }

    public long bytes() { return bytes; }

    @Override protected void release() {
        arena.close();
        Driver.memFreeHost(address);
    }

    @Override protected String describe() { return "PinnedHostBuffer of " + bytes + " bytes"; }
}
