package dev.twofour.model;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A 2:4-sparse weight W [n][k] in twofour's packed layout (docs/FORMAT.md):
 * <ul>
 *   <li>{@code values}: [n][kPadded/2] elements of {@code dtype}, little-endian: per group of 4
 *       inputs the 2 kept values, lower input index first;</li>
 *   <li>{@code metadata}: [n][kPadded/8] bytes: one nibble per group, group g of a row in byte g/2
 *       (low nibble for even g), bits 0-1 = in-group index of the first kept value, bits 2-3 = the
 *       second's (first &lt; second).</li>
 * </ul>
 * {@code kPadded} is k rounded up to a multiple of 16; padded groups have indices (0,1) and
 * values 0. The segments are not owned: they are heap arrays, or slices of a mapped cache file.
 */
public record Packed24(DType dtype, int n, int k, int kPadded, MemorySegment values, MemorySegment metadata) {

    public Packed24 {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(values, "values");
        Objects.requireNonNull(metadata, "metadata");
        if (!dtype.isComputeType()) throw new IllegalArgumentException("packed 2:4 dtype must be F32, F16 or BF16, got " + dtype);
        if (n <= 0 || k <= 0) throw new IllegalArgumentException("n and k must be > 0, got n=" + n + " k=" + k);
        if (k % 4 != 0) throw new IllegalArgumentException("k=" + k + " is not a multiple of 4");
        if (kPadded != paddedK(k)) throw new IllegalArgumentException("kPadded must be " + paddedK(k) + " for k=" + k + ", got " + kPadded);
        if (values.byteSize() != valuesBytes(n, kPadded, dtype)) {
            throw new IllegalArgumentException("values must be " + valuesBytes(n, kPadded, dtype) + " bytes for ["
                    + n + "][" + kPadded / 2 + "] " + dtype + ", got " + values.byteSize());
        }
        if (metadata.byteSize() != metadataBytes(n, kPadded)) {
            throw new IllegalArgumentException("metadata must be " + metadataBytes(n, kPadded) + " bytes for ["
                    + n + "][" + kPadded / 8 + "], got " + metadata.byteSize());
        }
    }

    /** k rounded up to a multiple of 16 (one 16-byte fp16 load of values = 4 groups = 16 inputs). */
    public static int paddedK(int k) {
        return Math.addExact(k, 15) / 16 * 16;
    }

    static long valuesBytes(int n, int kPadded, DType dtype) {
        return (long) n * (kPadded / 2) * dtype.byteSize();
    }

    static long metadataBytes(int n, int kPadded) {
        return (long) n * (kPadded / 8);
    }

    /** True when k was padded (kPadded > k). */
    public boolean padded() { return kPadded != k; }

    /** Elements per row of {@code values}: kPadded / 2. */
    public int valuesPerRow() { return kPadded / 2; }

    /** Bytes per row of {@code metadata}: kPadded / 8. */
    public int metadataBytesPerRow() { return kPadded / 8; }

    /** Bytes of the dense weight [n][k]. */
    public long denseBytes() { return (long) n * k * dtype.byteSize(); }

    /** Bytes of values plus metadata. */
    public long packedBytes() { return values.byteSize() + metadata.byteSize(); }
}
