package dev.twofour.kernels.ref;

import dev.twofour.cuda.CudaDtype;

/**
 * fp16 / bf16 bit patterns to and from float, round-to-nearest-even, as the kernels do
 * (__float2half_rn, __float2bfloat16_rn). fp16 uses the JDK's own conversions.
 */
public final class HalfFloats {
    private HalfFloats() {}

    public static float f16ToFloat(short bits) { return Float.float16ToFloat(bits); }

    public static short floatToF16(float f) { return Float.floatToFloat16(f); }

    public static float bf16ToFloat(short bits) { return Float.intBitsToFloat((bits & 0xFFFF) << 16); }

    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) 0x7FFF;  // what __float2bfloat16_rn returns for NaN
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    /** The 16-bit pattern of {@code f} in {@code dtype} (F16 or BF16). */
    public static short fromFloat(CudaDtype dtype, float f) {
        return switch (dtype) {
            case F16 -> floatToF16(f);
            case BF16 -> floatToBf16(f);
            case F32 -> throw new IllegalArgumentException("fp32 is not a 16-bit type");
        };
    }

    /** The value of the 16-bit pattern {@code bits} in {@code dtype} (F16 or BF16). */
    public static float toFloat(CudaDtype dtype, short bits) {
        return switch (dtype) {
            case F16 -> f16ToFloat(bits);
            case BF16 -> bf16ToFloat(bits);
            case F32 -> throw new IllegalArgumentException("fp32 is not a 16-bit type");
        };
    }

    public static float[] toFloats(CudaDtype dtype, short[] bits) {
        float[] out = new float[bits.length];
        for (int i = 0; i < bits.length; i++) out[i] = toFloat(dtype, bits[i]);
        return out;
    }

    public static short[] fromFloats(CudaDtype dtype, float[] values) {
        short[] out = new short[values.length];
        for (int i = 0; i < values.length; i++) out[i] = fromFloat(dtype, values[i]);
        return out;
    }
}
