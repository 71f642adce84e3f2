package dev.twofour.runtime.cpu;

import dev.twofour.model.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Vector API helpers shared by the CPU kernels: the preferred float species, and loads that widen
 * fp16/bf16 weights to fp32 lanes in registers.
 *
 * <p>fp16 → fp32 without a hardware-specific intrinsic: the 15 magnitude bits shifted left by 13 form a
 * float whose exponent is 112 too small; multiplying by 2^112 fixes the exponent, and also turns fp16
 * subnormals into the right (normal) floats. Inf/NaN (exponent 31) get their exponent forced to 255.
 * Measured on this machine's AVX-512 core this is faster than a loop of {@link Float#float16ToFloat}.
 */
final class Vec {
    private Vec() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);

    /** Element kinds the kernels switch on (an int so the JIT can unswitch loops on it). */
    static final int KIND_F32 = 0, KIND_F16 = 1, KIND_BF16 = 2;

    static int kind(DType dtype) {
        return switch (dtype) {
            case F32 -> KIND_F32;
            case F16 -> KIND_F16;
            case BF16 -> KIND_BF16;
            default -> throw new IllegalArgumentException("weights must be F32, F16 or BF16, got " + dtype);
        };
    }

    /**
     * Widens 16-bit floats with one formula for both fp16 and bf16 (no branch, so C2 keeps vectors in
     * registers; a switch between differently computed vectors made the loops box them, 13× slower).
     * The halves are sign-extended to int and shifted left by {@code shift}: for bf16 (16) that is already the
     * fp32 bit pattern; for fp16 (13) the sign lands in bit 31 (plus copies in bits 28-30 that {@code keep}
     * clears), exponent and mantissa in bits 13-27, and multiplying by {@code mul} = 2^112 rebiases the exponent
     * (subnormals come out right too). Where the fp16 exponent is 31 (inf/NaN) the fp32 exponent is forced to 255.
     */
    static FloatVector widen16(ShortVector h, Widen16 c) {
        IntVector i = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        FloatVector f = i.lanewise(VectorOperators.LSHL, c.shift).and(c.keep).reinterpretAsFloats().mul(c.mul);
        VectorMask<Integer> special = i.and(c.specialMask).compare(VectorOperators.EQ, c.specialValue);
        return f.reinterpretAsInts().lanewise(VectorOperators.OR, 0x7f800000, special).reinterpretAsFloats();
    }

    /** Constants of {@link #widen16} for one 16-bit dtype. */
    record Widen16(int shift, int keep, float mul, int specialMask, int specialValue) {
        static final Widen16 F16 = new Widen16(13, 0x8FFFE000, 0x1p112f, 0x7c00, 0x7c00);
        /** bf16 is the top half of an fp32: shift by 16, no rescale, no special case (mask 0 never equals 1). */
        static final Widen16 BF16 = new Widen16(16, 0xFFFF0000, 1f, 0, 1);

        static Widen16 of(int kind) {
            return kind == KIND_BF16 ? BF16 : F16;
        }
    }

    /** {@code L} 16-bit weights at byte {@code off} of {@code seg}, widened to fp32. */
    static FloatVector load16(MemorySegment seg, long off, Widen16 c) {
        return widen16(ShortVector.fromMemorySegment(S, seg, off, LE), c);
    }

    /** {@code L} fp32 weights at byte {@code off}. */
    static FloatVector load32(MemorySegment seg, long off) {
        return FloatVector.fromMemorySegment(F, seg, off, LE);
    }

    /** One weight element at element index {@code idx} as a float. */
    static float get(int kind, MemorySegment seg, long idx) {
        return switch (kind) {
            case KIND_F16 -> Float.float16ToFloat(seg.get(SHORT_LE, idx * 2));
            case KIND_BF16 -> Float.intBitsToFloat((seg.get(SHORT_LE, idx * 2) & 0xffff) << 16);
            default -> seg.get(FLOAT_LE, idx * 4);
        };
    }

    /** Converts {@code count} weights from element {@code from} into {@code dst[dstOff..]}. */
    static void widen(int kind, MemorySegment seg, long from, int count, float[] dst, int dstOff) {
        int i = 0;
        if (kind == KIND_F32) {
            for (; i + L <= count; i += L) load32(seg, (from + i) * 4).intoArray(dst, dstOff + i);
        } else {
            Widen16 c = Widen16.of(kind);
            for (; i + L <= count; i += L) load16(seg, (from + i) * 2, c).intoArray(dst, dstOff + i);
        }
        for (; i < count; i++) dst[dstOff + i] = get(kind, seg, from + i);
    }

    /** {@code Σ a[ao+i] b[bo+i]} for i < n. */
    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i + L <= n; i += L) acc = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc);
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }
}
