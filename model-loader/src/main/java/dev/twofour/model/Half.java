package dev.twofour.model;

/**
 * IEEE 754 binary16 (fp16) conversions. Rounding is to nearest, ties to even; overflow gives
 * infinity; subnormals, signed zeros, infinities and NaNs are kept (a NaN stays a NaN).
 * The JDK's {@link Float#float16ToFloat} / {@link Float#floatToFloat16} implement exactly that and
 * are intrinsics on x86 and ARM, so we delegate; HalfTest checks them bit for bit against an
 * independent reference over every fp16 pattern and every rounding boundary.
 */
public final class Half {
    private Half() {}

    /** Positive infinity as fp16 bits. */
    public static final short POSITIVE_INFINITY = (short) 0x7C00;
    /** Largest finite fp16 value, 65504. */
    public static final float MAX_VALUE = 65504f;

    public static float toFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    public static short fromFloat(float value) {
        return Float.floatToFloat16(value);
    }

    /** True for +0 and -0. */
    public static boolean isZero(short bits) {
        return (bits & 0x7FFF) == 0;
    }

    public static boolean isNaN(short bits) {
        return (bits & 0x7C00) == 0x7C00 && (bits & 0x03FF) != 0;
    }
}
