package dev.twofour.model;

/**
 * bfloat16 conversions: the upper 16 bits of an fp32. Rounding is to nearest, ties to even;
 * values past the largest bf16 round to infinity; subnormals, signed zeros and infinities are
 * kept; a NaN stays a NaN (made quiet, so that rounding can never carry it into infinity).
 */
public final class Bf16 {
    private Bf16() {}

    public static float toFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    public static short fromFloat(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            // NaN: truncating could drop every payload bit and leave infinity; set the quiet bit.
            return (short) ((bits >>> 16) | 0x0040);
        }
        // Round to nearest even: add 0x7FFF plus the lowest kept bit, then truncate.
        // A carry out of the mantissa bumps the exponent, which is the correct rounded value
        // (and turns the largest values into infinity, as IEEE rounding does).
        int lsb = (bits >>> 16) & 1;
        return (short) ((bits + 0x7FFF + lsb) >>> 16);
    }

    /** True for +0 and -0. */
    public static boolean isZero(short bits) {
        return (bits & 0x7FFF) == 0;
    }
}
