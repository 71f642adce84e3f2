package dev.twofour.model;

import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** bf16 conversions against an exact nearest-value reference with ties to even. */
class Bf16Test {

    /** Magnitude of pattern b in 0..0x7F80, where 0x7F80 counts as 2^128 (the step after the largest). */
    static BigDecimal magnitude(int b) {
        return b == 0x7F80 ? new BigDecimal(Math.pow(2, 128)) : new BigDecimal((double) Float.intBitsToFloat(b << 16));
    }

    static short referenceFromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = bits < 0 ? 0x8000 : 0;
        if (Float.isInfinite(f)) return (short) (sign | 0x7F80);
        BigDecimal a = new BigDecimal(Math.abs((double) f));
        int below = (bits & 0x7FFFFFFF) >>> 16; // truncation: the largest bf16 not above |f|
        if (magnitude(below).compareTo(a) == 0) return (short) (sign | below);
        int above = below + 1;
        int cmp = a.subtract(magnitude(below)).compareTo(magnitude(above).subtract(a));
        int pick = cmp < 0 ? below : cmp > 0 ? above : ((below & 1) == 0 ? below : above);
        return (short) (sign | pick);
    }

    @Test void everyPatternRoundTrips() {
        for (int b = 0; b < 65536; b++) {
            short h = (short) b;
            float f = Bf16.toFloat(h);
            assertEquals(b << 16, Float.floatToRawIntBits(f));
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(Bf16.toFloat(Bf16.fromFloat(f))));
            } else {
                assertEquals(h, Bf16.fromFloat(f), "pattern " + Integer.toHexString(b));
            }
        }
    }

    @Test void roundingAtEveryBoundaryMatchesTheReference() {
        for (int b = 0; b < 0x7F80; b++) {
            int midBits = (b << 16) | 0x8000; // exactly halfway to the next pattern
            for (int fb : new int[]{midBits, midBits + 1, midBits - 1, b << 16, (b << 16) | 1}) {
                float f = Float.intBitsToFloat(fb);
                for (float s : new float[]{f, -f}) assertEquals(referenceFromFloat(s), Bf16.fromFloat(s), "value " + s);
            }
        }
    }

    @Test void randomFloatsAndSpecials() {
        SplittableRandom r = new SplittableRandom(99);
        for (int i = 0; i < 300_000; i++) {
            float f = Float.intBitsToFloat(r.nextInt());
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(Bf16.toFloat(Bf16.fromFloat(f))), "NaN stays NaN: " + Integer.toHexString(Float.floatToRawIntBits(f)));
                continue;
            }
            assertEquals(referenceFromFloat(f), Bf16.fromFloat(f), "value " + f);
        }
        // A NaN whose payload lives only in the low 16 bits must not become infinity.
        float lowPayloadNaN = Float.intBitsToFloat(0x7F800001);
        assertTrue(Float.isNaN(Bf16.toFloat(Bf16.fromFloat(lowPayloadNaN))));
        assertEquals((short) 0x7F80, Bf16.fromFloat(Float.MAX_VALUE), "rounds past the largest bf16 to infinity");
        assertEquals((short) 0xFF80, Bf16.fromFloat(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0x8000, Bf16.fromFloat(-0f));
        assertEquals((short) 0x0001, Bf16.fromFloat(Float.MIN_VALUE * 65536), "subnormal kept");
        assertEquals((short) 0x3F80, Bf16.fromFloat(1f));
        assertEquals((short) 0x3F80, Bf16.fromFloat(Float.intBitsToFloat(0x3F808000)), "tie to even (down)");
        assertEquals((short) 0x3F82, Bf16.fromFloat(Float.intBitsToFloat(0x3F818000)), "tie to even (up)");
    }
}
