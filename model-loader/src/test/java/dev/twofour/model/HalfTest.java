package dev.twofour.model;

import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * fp16 conversions against an independent reference: decoding by the IEEE formula, encoding by
 * exact (BigDecimal) nearest-value search with ties to the even pattern.
 */
class HalfTest {

    /** IEEE binary16 decoding written from the definition. */
    static double referenceToDouble(int bits) {
        int sign = (bits >> 15) & 1;
        int exp = (bits >> 10) & 0x1F;
        int mant = bits & 0x3FF;
        double v;
        if (exp == 0) v = mant * Math.pow(2, -24);
        else if (exp == 31) v = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        else v = (1024 + mant) * Math.pow(2, exp - 25);
        return sign == 1 ? -v : v;
    }

    /** Magnitude of pattern b in 0..0x7C00, where 0x7C00 counts as 65536 (the next step after 65504). */
    static BigDecimal magnitude(int b) {
        return b == 0x7C00 ? BigDecimal.valueOf(65536) : new BigDecimal(referenceToDouble(b));
    }

    /** Nearest fp16 of a non-NaN float by exact comparison, ties to even. */
    static short referenceFromFloat(float f) {
        int sign = Float.floatToRawIntBits(f) < 0 ? 0x8000 : 0;
        if (Float.isInfinite(f)) return (short) (sign | 0x7C00);
        BigDecimal a = new BigDecimal(Math.abs((double) f));
        // binary search the largest pattern with magnitude <= a among 0..0x7C00
        int lo = 0, hi = 0x7C00;
        if (a.compareTo(magnitude(0x7C00)) >= 0) return (short) (sign | 0x7C00);
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (magnitude(mid).compareTo(a) <= 0) lo = mid; else hi = mid - 1;
        }
        int below = lo, above = lo + 1;
        int cmp = a.subtract(magnitude(below)).compareTo(magnitude(above).subtract(a));
        int pick = cmp < 0 ? below : cmp > 0 ? above : ((below & 1) == 0 ? below : above);
        return (short) (sign | pick);
    }

    @Test void everyPatternDecodesLikeTheFormulaAndRoundTrips() {
        for (int b = 0; b < 65536; b++) {
            short h = (short) b;
            float f = Half.toFloat(h);
            double ref = referenceToDouble(b);
            if (Double.isNaN(ref)) {
                assertTrue(Float.isNaN(f), "pattern " + Integer.toHexString(b));
                assertTrue(Half.isNaN(Half.fromFloat(f)), "NaN stays NaN: " + Integer.toHexString(b));
                assertTrue(Half.isNaN(h));
            } else {
                assertEquals(Double.doubleToRawLongBits(ref), Double.doubleToRawLongBits(f),
                        "pattern " + Integer.toHexString(b)); // also checks the sign of zero
                assertEquals(h, Half.fromFloat(f), "round trip of " + Integer.toHexString(b));
                assertFalse(Half.isNaN(h));
            }
        }
    }

    @Test void roundingAtEveryBoundaryMatchesTheReference() {
        // For each pair of neighbours: the exact midpoint (a tie) and the floats just beside it.
        int checked = 0;
        for (int b = 0; b < 0x7C00; b++) {
            double mid = (referenceToDouble(b) + (b + 1 == 0x7C00 ? 65536 : referenceToDouble(b + 1))) / 2;
            float m = (float) mid;
            assertEquals(mid, m, 0.0, "midpoints are floats");
            for (float f : new float[]{m, Math.nextUp(m), Math.nextDown(m), (float) referenceToDouble(b)}) {
                for (float s : new float[]{f, -f}) {
                    assertEquals(referenceFromFloat(s), Half.fromFloat(s), "value " + s);
                    checked++;
                }
            }
        }
        assertTrue(checked > 200_000);
    }

    @Test void randomFloatsMatchTheReference() {
        SplittableRandom r = new SplittableRandom(1234);
        for (int i = 0; i < 200_000; i++) {
            float f;
            switch (i % 3) {
                case 0 -> f = Float.intBitsToFloat(r.nextInt()); // any pattern
                case 1 -> f = (float) ((r.nextDouble() * 2 - 1) * 70000); // around the range
                default -> f = (float) ((r.nextDouble() * 2 - 1) * Math.pow(2, -14 - r.nextInt(12))); // subnormals
            }
            if (Float.isNaN(f)) {
                assertTrue(Half.isNaN(Half.fromFloat(f)));
                continue;
            }
            assertEquals(referenceFromFloat(f), Half.fromFloat(f), "value " + f);
        }
    }

    @Test void specialValues() {
        assertEquals((short) 0x7C00, Half.fromFloat(Float.POSITIVE_INFINITY));
        assertEquals((short) 0xFC00, Half.fromFloat(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0x7C00, Half.fromFloat(65520f), "the tie above 65504 goes to infinity");
        assertEquals((short) 0x7BFF, Half.fromFloat(Math.nextDown(65520f)));
        assertEquals((short) 0x8000, Half.fromFloat(-0f));
        assertEquals((short) 0x0001, Half.fromFloat(0x1p-24f), "smallest subnormal");
        assertEquals((short) 0x0000, Half.fromFloat(0x1p-25f), "a tie with zero rounds to even (zero)");
        assertEquals((short) 0x0001, Half.fromFloat(Math.nextUp(0x1p-25f)));
        assertEquals(65504f, Half.toFloat((short) 0x7BFF));
        assertEquals(Half.MAX_VALUE, Half.toFloat((short) 0x7BFF));
        assertEquals(1f, Half.toFloat((short) 0x3C00));
        assertTrue(Half.isZero((short) 0x8000) && Half.isZero((short) 0) && !Half.isZero((short) 1));
    }
}
