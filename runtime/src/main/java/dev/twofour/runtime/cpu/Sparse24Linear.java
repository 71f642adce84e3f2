package dev.twofour.runtime.cpu;

import dev.twofour.model.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.twofour.runtime.cpu.Vec.F;
import static dev.twofour.runtime.cpu.Vec.I;
import static dev.twofour.runtime.cpu.Vec.L;

/**
 * A 2:4-packed linear layer on the CPU, reading our packed layout in place: {@code values [n][kPadded/2]}
 * (two kept weights per group of 4 inputs) and {@code metadata [n][kPadded/8]} (a nibble per group: bits
 * 0-1 and 2-3 are the in-group indices of the two kept values).
 *
 * <p>Decode kernel: one vector of {@code L} kept values covers {@code L/2} groups = {@code 2L} inputs and
 * {@code L/4} metadata bytes. The metadata word, broadcast and shifted per lane ({@code 2j} bits for lane j),
 * gives each lane its input index {@code 4⌊j/2⌋ + idx}; a two-table lane select ({@code selectFrom(xa, xb)})
 * fetches the matching inputs from the {@code 2L} activations, and one FMA accumulates. So the kernel streams
 * half the weight bytes of a dense layer (plus 1/8 byte of metadata per weight) and does half the FMAs.
 */
public final class Sparse24Linear extends CpuLinear {
    private static final ValueLayout.OfShort SHORT_LE = Vec.SHORT_LE;

    private final MemorySegment values, metadata;
    private final int kPadded, valuesPerRow, metaPerRow, elemBytes;
    /** Lane j: right shift of the metadata word, and the group's first input. */
    private static final IntVector SHIFTS, BASES;

    static {
        int[] sh = new int[L], base = new int[L];
        for (int j = 0; j < L; j++) {
            sh[j] = 2 * j;
            base[j] = 4 * (j / 2);
        }
        SHIFTS = IntVector.fromArray(I, sh, 0);
        BASES = IntVector.fromArray(I, base, 0);
    }

    /** The vector kernel needs a whole number of metadata bytes per vector, at most 4. */
    private static final boolean VECTOR_KERNEL = L == 4 || L == 8 || L == 16;

    Sparse24Linear(String name, DType dtype, MemorySegment values, MemorySegment metadata, int n, int k) {
        super(name, dtype, n, k);
        if (k % 4 != 0) throw new IllegalArgumentException(name + ": 2:4 needs in-features divisible by 4, got " + k);
        this.kPadded = (k + 15) / 16 * 16;
        this.valuesPerRow = kPadded / 2;
        this.metaPerRow = kPadded / 8;
        this.elemBytes = dtype.byteSize();
        checkBytes(name, "values", values, (long) n * valuesPerRow * elemBytes);
        checkBytes(name, "metadata", metadata, (long) n * metaPerRow);
        this.values = values;
        this.metadata = metadata;
    }

    @Override public Layout layout() { return Layout.SPARSE24; }

    @Override public long weightBytes() { return values.byteSize() + metadata.byteSize(); }

    private int nibble(int row, int group) {
        int b = metadata.get(ValueLayout.JAVA_BYTE, (long) row * metaPerRow + (group >> 1)) & 0xff;
        return (group & 1) == 0 ? b & 0xf : b >>> 4;
    }

    @Override void decodeRow(int row, float[] dst) {
        java.util.Arrays.fill(dst, 0, k, 0f);
        long v = (long) row * valuesPerRow;
        int groups = k / 4;
        for (int g = 0; g < groups; g++) {
            int nib = nibble(row, g);
            dst[4 * g + (nib & 3)] += Vec.get(kind, values, v + 2L * g);
            dst[4 * g + ((nib >>> 2) & 3)] += Vec.get(kind, values, v + 2L * g + 1);
        }
    }

    private int metaWord(long byteOffset) {
        return switch (L) {
            case 16 -> metadata.get(Vec.INT_LE, byteOffset);
            case 8 -> metadata.get(SHORT_LE, byteOffset) & 0xffff;
            default -> metadata.get(ValueLayout.JAVA_BYTE, byteOffset) & 0xff;
        };
    }

    @Override void forwardSmall(float[] x, int M, float[] y, int r0, int r1) {
        if (kind == Vec.KIND_F32) small(x, M, y, r0, r1, null);
        else small(x, M, y, r0, r1, Vec.Widen16.of(kind));
    }

    /** {@code c == null}: fp32 values; otherwise 16-bit values widened with {@code c}. */
    private void small(float[] x, int M, float[] y, int r0, int r1, Vec.Widen16 c) {
        int chunks = VECTOR_KERNEL ? k / (2 * L) : 0;    // whole 2L-input chunks inside k
        int groups = k / 4;
        boolean f32 = c == null;
        for (int r = r0; r < r1; r++) {
            long vBase = (long) r * valuesPerRow;
            long mBase = (long) r * metaPerRow;
            for (int m = 0; m < M; m += 2) {
                boolean two = m + 1 < M;
                int x0 = m * k, x1 = two ? x0 + k : x0;
                FloatVector a0 = FloatVector.zero(F), a1 = a0;
                if (f32) {
                    for (int cc = 0; cc < chunks; cc++) {
                        FloatVector w = Vec.load32(values, (vBase + (long) cc * L) * 4);
                        IntVector idx = indices(mBase, cc);
                        int xo = cc * 2 * L;
                        a0 = w.fma(select(idx, x, x0 + xo), a0);
                        if (two) a1 = w.fma(select(idx, x, x1 + xo), a1);
                    }
                } else {
                    for (int cc = 0; cc < chunks; cc++) {
                        FloatVector w = Vec.load16(values, (vBase + (long) cc * L) * 2, c);
                        IntVector idx = indices(mBase, cc);
                        int xo = cc * 2 * L;
                        a0 = w.fma(select(idx, x, x0 + xo), a0);
                        if (two) a1 = w.fma(select(idx, x, x1 + xo), a1);
                    }
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
                for (int g = chunks * L / 2; g < groups; g++) {
                    int nib = nibble(r, g);
                    float w0 = Vec.get(kind, values, vBase + 2L * g), w1 = Vec.get(kind, values, vBase + 2L * g + 1);
                    int i0 = 4 * g + (nib & 3), i1 = 4 * g + ((nib >>> 2) & 3);
                    s0 += w0 * x[x0 + i0] + w1 * x[x0 + i1];
                    s1 += w0 * x[x1 + i0] + w1 * x[x1 + i1];
                }
                y[m * n + r] = s0;
                if (two) y[(m + 1) * n + r] = s1;
            }
        }
    }

    /** Lane j: the input index (within the chunk's 2L inputs) of kept value j. */
    private IntVector indices(long mBase, int chunk) {
        int meta = metaWord(mBase + (long) chunk * (L / 4));
        return IntVector.broadcast(I, meta).lanewise(VectorOperators.LSHR, SHIFTS).and(3).or(BASES);
    }

    /** {@code x[off + idx[j]]} per lane: a two-table lane select over the chunk's 2L inputs, done on int bits. */
    private static FloatVector select(IntVector idx, float[] x, int off) {
        IntVector a = FloatVector.fromArray(F, x, off).reinterpretAsInts();
        IntVector b = FloatVector.fromArray(F, x, off + L).reinterpretAsInts();
        return idx.selectFrom(a, b).reinterpretAsFloats();
    }
}
