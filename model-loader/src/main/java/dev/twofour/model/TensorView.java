package dev.twofour.model;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * A named tensor over bytes it does not own: a slice of a memory-mapped safetensors file
 * (zero-copy), or of a heap/native segment. Elements are little-endian, row-major, unaligned.
 * A view over a closed file throws {@link IllegalStateException} on access.
 */
public final class TensorView {
    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble DOUBLE_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final String name;
    private final DType dtype;
    private final long[] shape;
    private final long numel;
    private final MemorySegment data;

    /**
     * @throws IllegalArgumentException when the segment's size is not numel × element size
     */
    public TensorView(String name, DType dtype, long[] shape, MemorySegment data) {
        this.name = Objects.requireNonNull(name, "name");
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = shape.clone();
        this.numel = numelOf(this.shape);
        this.data = Objects.requireNonNull(data, "data");
        long expected = Math.multiplyExact(numel, dtype.byteSize());
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "': " + dtype + Arrays.toString(shape)
                    + " needs " + expected + " bytes but the data has " + data.byteSize());
        }
    }

    /** A heap tensor holding {@code values} converted to {@code dtype} (F32, F16 or BF16). */
    public static TensorView ofFloats(String name, DType dtype, long[] shape, float[] values) {
        long n = numelOf(shape);
        if (n != values.length) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                    + " has " + n + " elements but " + values.length + " values were given");
        }
        MemorySegment seg = switch (dtype) {
            case F32 -> {
                MemorySegment s = MemorySegment.ofArray(new byte[values.length * 4]);
                for (int i = 0; i < values.length; i++) s.setAtIndex(FLOAT_LE, i, values[i]);
                yield s;
            }
            case F16 -> {
                MemorySegment s = MemorySegment.ofArray(new byte[values.length * 2]);
                for (int i = 0; i < values.length; i++) s.setAtIndex(SHORT_LE, i, Half.fromFloat(values[i]));
                yield s;
            }
            case BF16 -> {
                MemorySegment s = MemorySegment.ofArray(new byte[values.length * 2]);
                for (int i = 0; i < values.length; i++) s.setAtIndex(SHORT_LE, i, Bf16.fromFloat(values[i]));
                yield s;
            }
            default -> throw new IllegalArgumentException("tensor '" + name + "': cannot store floats as " + dtype
                    + "; use F32, F16 or BF16");
        };
        return new TensorView(name, dtype, shape, seg);
    }

    /** Product of the dimensions; 1 for a scalar (empty shape). */
    public static long numelOf(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public String name() { return name; }
    public DType dtype() { return dtype; }
    /** A copy of the shape. */
    public long[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public long dim(int i) { return shape[i]; }
    public long numel() { return numel; }
    public long byteSize() { return data.byteSize(); }
    /** The bytes, little-endian, row-major; zero-copy (a slice of the mapped file). */
    public MemorySegment data() { return data; }

    /** The same bytes under another name (e.g. when writing a tensor out renamed). */
    public TensorView withName(String newName) {
        return new TensorView(newName, dtype, shape, data);
    }

    /** Element {@code i} (flat, row-major) as a float; F64/integer/bool are converted too. */
    public float getFloat(long i) {
        Objects.checkIndex(i, numel);
        return switch (dtype) {
            case F32 -> data.getAtIndex(FLOAT_LE, i);
            case F16 -> Half.toFloat(data.getAtIndex(SHORT_LE, i));
            case BF16 -> Bf16.toFloat(data.getAtIndex(SHORT_LE, i));
            case F64 -> (float) data.getAtIndex(DOUBLE_LE, i);
            case I64 -> (float) data.getAtIndex(LONG_LE, i);
            case I32 -> (float) data.getAtIndex(INT_LE, i);
            case I16 -> (float) data.getAtIndex(SHORT_LE, i);
            case I8 -> (float) data.get(ValueLayout.JAVA_BYTE, i);
            case U8 -> (float) (data.get(ValueLayout.JAVA_BYTE, i) & 0xFF);
            case BOOL -> data.get(ValueLayout.JAVA_BYTE, i) != 0 ? 1f : 0f;
        };
    }

    /**
     * Copies {@code count} elements starting at flat index {@code from} into {@code dst[dstOffset..]}
     * as floats (e.g. one row of a weight matrix, without materializing the whole tensor).
     */
    public void readFloats(long from, float[] dst, int dstOffset, int count) {
        Objects.checkFromIndexSize(from, count, numel);
        Objects.checkFromIndexSize(dstOffset, count, dst.length);
        switch (dtype) {
            case F32 -> MemorySegment.copy(data, FLOAT_LE, from * 4, dst, dstOffset, count);
            case F16 -> {
                for (int j = 0; j < count; j++) dst[dstOffset + j] = Half.toFloat(data.getAtIndex(SHORT_LE, from + j));
            }
            case BF16 -> {
                for (int j = 0; j < count; j++) dst[dstOffset + j] = Bf16.toFloat(data.getAtIndex(SHORT_LE, from + j));
            }
            default -> {
                for (int j = 0; j < count; j++) dst[dstOffset + j] = getFloat(from + j);
            }
        }
    }

    /** All elements as floats (a copy). */
    public float[] toFloatArray() {
        if (numel > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor '" + name + "' has " + numel
                    + " elements, too many for one Java array; read it in parts with readFloats");
        }
        float[] out = new float[(int) numel];
        readFloats(0, out, 0, out.length);
        return out;
    }

    @Override public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
