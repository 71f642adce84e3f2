package dev.twofour.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The arguments of a kernel launch, in the order of the kernel's parameters, each with the C type
 * the kernel declares: {@code new KernelArgs().ptr(y).ptr(x).i32(n).f32(scale)}.
 *
 * <p>cuLaunchKernel takes {@code void** kernelParams}: an array of pointers, one per parameter,
 * each pointing at the parameter's value. {@link #pointerArray(Arena)} builds exactly that; the
 * driver copies the values during the launch call, so the memory may be reused right after
 * (launches use a per-thread scratch area). A KernelArgs can be reused for many launches.
 */
public final class KernelArgs {
    private static final int SLOT = 8; // every value gets an 8-byte aligned slot

    private enum Kind { I16, I32, I64, F32, F64 }

    private long[] bits = new long[8];
    private Kind[] kinds = new Kind[8];
    private int count;

    private KernelArgs add(Kind kind, long value) {
        if (count == bits.length) {
            bits = Arrays.copyOf(bits, count * 2);
            kinds = Arrays.copyOf(kinds, count * 2);
        }
        bits[count] = value;
        kinds[count] = kind;
        count++;
        return this;
    }

    /** A device pointer ({@code T*}). */
    public KernelArgs ptr(long deviceAddress) { return add(Kind.I64, deviceAddress); }

    /** The address of a device buffer ({@code T*}). */
    public KernelArgs ptr(DeviceBuffer buffer) { return add(Kind.I64, buffer.address()); }

    /** {@code int} / {@code unsigned int}. */
    public KernelArgs i32(int v) { return add(Kind.I32, v); }

    /** {@code long long} / {@code size_t} / {@code int64_t}. */
    public KernelArgs i64(long v) { return add(Kind.I64, v); }

    public KernelArgs f32(float v) { return add(Kind.F32, Float.floatToRawIntBits(v)); }

    public KernelArgs f64(double v) { return add(Kind.F64, Double.doubleToRawLongBits(v)); }

    /** A 16-bit value ({@code __half}, {@code __nv_bfloat16}, {@code short}) given by its bits. */
    public KernelArgs u16(short bits) { return add(Kind.I16, bits); }

    public int size() { return count; }

    /** Removes all arguments, to fill the object again. */
    public KernelArgs clear() {
        count = 0;
        return this;
    }

    /** Builds the {@code void*[]} array and the values it points at in {@code arena}. */
    public MemorySegment pointerArray(Arena arena) {
        MemorySegment seg = arena.allocate((long) Math.max(1, count) * 2 * SLOT, 16);
        fill(seg);
        return seg;
    }

    private static final ThreadLocal<MemorySegment[]> SCRATCH = ThreadLocal.withInitial(() -> new MemorySegment[1]);

    /** The array in this thread's scratch area (valid until the next launch on this thread). */
    MemorySegment pointerArray() {
        MemorySegment[] holder = SCRATCH.get();
        long need = (long) Math.max(1, count) * 2 * SLOT;
        if (holder[0] == null || holder[0].byteSize() < need) {
            holder[0] = Arena.ofAuto().allocate(Math.max(need, 64 * 2 * SLOT), 16);
        }
        MemorySegment seg = holder[0];
        fill(seg);
        return seg;
    }

    /** Layout: count pointers, then count 8-byte value slots. */
    private void fill(MemorySegment seg) {
        long valuesOffset = (long) count * SLOT;
        for (int i = 0; i < count; i++) {
            long slot = valuesOffset + (long) i * SLOT;
            switch (kinds[i]) {
                case I16 -> seg.set(JAVA_SHORT, slot, (short) bits[i]);
                case I32 -> seg.set(JAVA_INT, slot, (int) bits[i]);
                case F32 -> seg.set(JAVA_FLOAT, slot, Float.intBitsToFloat((int) bits[i]));
                case I64 -> seg.set(JAVA_LONG, slot, bits[i]);
                case F64 -> seg.set(JAVA_DOUBLE, slot, Double.longBitsToDouble(bits[i]));
            }
            seg.set(ADDRESS, (long) i * SLOT, seg.asSlice(slot));
        }
    }
}
