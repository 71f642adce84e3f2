package dev.twofour.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Device memory: an owning allocation ({@link #allocate}) or a non-owning view of part of one
 * ({@link #slice}). Copies move {@code host.byteSize()} bytes (at most {@link #bytes()}) from or to
 * the start of this buffer. The calls act on the context current on the calling thread.
 *
 * <p>Synchronous copies accept any host segment (heap segments go through a native bounce
 * buffer); asynchronous copies need native memory, pinned ({@link PinnedHostBuffer}) to be truly
 * asynchronous.
 */
public final class DeviceBuffer extends NativeOwner {
    private final long address;
    private final long bytes;
    private final DeviceBuffer parent; // null for an owning allocation

    private DeviceBuffer(long address, long bytes, DeviceBuffer parent) {
        this.address = address;
        this.bytes = bytes;
        this.parent = parent;
    }

    /** Allocates {@code bytes} (> 0) bytes of device memory, not cleared. */
    public static DeviceBuffer allocate(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("a DeviceBuffer needs at least 1 byte, asked for " + bytes);
        Cuda.requireAvailable();
        return new DeviceBuffer(Driver.memAlloc(bytes), bytes, null);
    }

    /** Allocates a buffer of {@code host.byteSize()} bytes and copies {@code host} into it. */
    public static DeviceBuffer of(MemorySegment host) {
        DeviceBuffer b = allocate(host.byteSize());
        try {
            b.copyFrom(host);
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
        return b;
    }

    /** The device address (CUdeviceptr). */
    public long address() {
        ensureOpen();
        return address;
    }

    public long bytes() { return bytes; }

    /** A non-owning view of {@code length} bytes from {@code offset}; it becomes unusable when this buffer closes. */
    public DeviceBuffer slice(long offset, long length) {
        ensureOpen();
        if (offset < 0 || length <= 0 || offset + length > bytes) {
            throw new IndexOutOfBoundsException("slice(" + offset + ", " + length + ") outside a buffer of " + bytes + " bytes");
        }
        return new DeviceBuffer(address + offset, length, this);
    }

    // --- host -> device ---------------------------------------------------------------------------

    public void copyFrom(MemorySegment host) {
        long n = checkHost(host, "copyFrom");
        if (n == 0) return;
        if (host.isNative()) {
            Driver.memcpyHtoD(address, host, n, 0L, false);
        } else {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment bounce = a.allocate(n, 64);
                bounce.copyFrom(host);
                Driver.memcpyHtoD(address, bounce, n, 0L, false);
            }
        }
    }

    public void copyFrom(MemorySegment host, CudaStream stream) {
        long n = checkHost(host, "copyFrom");
        requireNative(host);
        if (n == 0) return;
        Driver.memcpyHtoD(address, host, n, stream.handle(), true);
    }

    // --- device -> host ---------------------------------------------------------------------------

    public void copyTo(MemorySegment host) {
        long n = checkHost(host, "copyTo");
        if (n == 0) return;
        if (host.isNative()) {
            Driver.memcpyDtoH(host, address, n, 0L, false);
        } else {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment bounce = a.allocate(n, 64);
                Driver.memcpyDtoH(bounce, address, n, 0L, false);
                host.copyFrom(bounce);
            }
        }
    }

    public void copyTo(MemorySegment host, CudaStream stream) {
        long n = checkHost(host, "copyTo");
        requireNative(host);
        if (n == 0) return;
        Driver.memcpyDtoH(host, address, n, stream.handle(), true);
    }

    // --- device -> device -------------------------------------------------------------------------

    /** Copies all of {@code src} (at most this buffer's size) to the start of this buffer. */
    public void copyFrom(DeviceBuffer src) {
        long n = checkDevice(src);
        Driver.memcpyDtoD(address, src.address(), n, 0L, false);
    }

    public void copyFrom(DeviceBuffer src, CudaStream stream) {
        long n = checkDevice(src);
        Driver.memcpyDtoD(address, src.address(), n, stream.handle(), true);
    }

    // --- fills ------------------------------------------------------------------------------------

    /** Sets every byte to {@code value}. */
    public void memset(byte value) {
        ensureOpen();
        Driver.memsetD8(address, value, bytes, 0L, false);
    }

    public void memset(byte value, CudaStream stream) {
        ensureOpen();
        Driver.memsetD8(address, value, bytes, stream.handle(), true);
    }

    /** Sets every 32-bit word to {@code value} (e.g. Float.floatToRawIntBits(x)); needs a size and address multiple of 4. */
    public void fill32(int value) {
        long words = checkWords();
        Driver.memsetD32(address, value, words, 0L, false);
    }

    public void fill32(int value, CudaStream stream) {
        long words = checkWords();
        Driver.memsetD32(address, value, words, stream.handle(), true);
    }

    // ---------------------------------------------------------------------------------------------

    private long checkHost(MemorySegment host, String op) {
        ensureOpen();
        long n = host.byteSize();
        if (n > bytes) {
            throw new IllegalArgumentException(op + ": host segment of " + n + " bytes does not fit a DeviceBuffer of "
                    + bytes + " bytes");
        }
        return n;
    }

    private static void requireNative(MemorySegment host) {
        if (!host.isNative()) {
            throw new IllegalArgumentException("asynchronous copies need native host memory (a PinnedHostBuffer or an "
                    + "Arena segment), not a Java array segment: use the synchronous copy or copy into native memory first");
        }
    }

    private long checkDevice(DeviceBuffer src) {
        ensureOpen();
        if (src.bytes() > bytes) {
            throw new IllegalArgumentException("copyFrom: source of " + src.bytes() + " bytes does not fit a DeviceBuffer of "
                    + bytes + " bytes");
        }
        return src.bytes();
    }

    private long checkWords() {
        ensureOpen();
        if (bytes % 4 != 0 || address % 4 != 0) {
            throw new IllegalArgumentException("fill32 needs a 4-byte aligned buffer whose size is a multiple of 4, got "
                    + bytes + " bytes at 0x" + Long.toHexString(address));
        }
        return bytes / 4;
    }

    @Override protected void release() {
        if (parent == null) Driver.memFree(address);
    }

    @Override protected String describe() {
        return (parent == null ? "DeviceBuffer of " : "DeviceBuffer slice of ") + bytes + " bytes"
                + (parent != null && parent.isClosed() ? " (its parent buffer was closed)" : "");
    }

    /** A slice refuses to work once it, or any buffer it was cut from, is closed. */
    @Override protected void ensureOpen() {
        super.ensureOpen();
        if (parent != null && parent.isClosed()) throw new IllegalStateException(describe() + " is closed");
        if (parent != null) parent.ensureOpen();
    }
}
