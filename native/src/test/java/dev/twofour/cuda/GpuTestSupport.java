package dev.twofour.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/** Helpers for the GPU tests: half/bfloat16 rounding, random matrices, references. */
final class GpuTestSupport {
    private GpuTestSupport() {}

    static short toHalf(float f) { return Float.floatToFloat16(f); }
    static float fromHalf(short h) { return Float.float16ToFloat(h); }

    static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1); // round to nearest even
        return (short) (rounded >>> 16);
    }

    static float fromBf16(short h) { return Float.intBitsToFloat((h & 0xFFFF) << 16); }

    /** Uniform values in [-1, 1), already rounded to what {@code dtype} can hold. */
    static float[] random(Random rnd, int n, CudaDtype dtype) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = roundTo(dtype, rnd.nextFloat() * 2f - 1f);
        return a;
    }

    static float roundTo(CudaDtype dtype, float v) {
        return switch (dtype) {
            case F16 -> fromHalf(toHalf(v));
            case BF16 -> fromBf16(toBf16(v));
            case F32 -> v;
        };
    }

    /** Writes {@code values} into {@code seg} in {@code dtype}. */
    static void store(MemorySegment seg, float[] values, CudaDtype dtype) {
        for (int i = 0; i < values.length; i++) {
            switch (dtype) {
                case F16 -> seg.setAtIndex(JAVA_SHORT, i, toHalf(values[i]));
                case BF16 -> seg.setAtIndex(JAVA_SHORT, i, toBf16(values[i]));
                case F32 -> seg.setAtIndex(JAVA_FLOAT, i, values[i]);
            }
        }
    }

    static float[] load(MemorySegment seg, int n, CudaDtype dtype) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = switch (dtype) {
                case F16 -> fromHalf(seg.getAtIndex(JAVA_SHORT, i));
                case BF16 -> fromBf16(seg.getAtIndex(JAVA_SHORT, i));
                case F32 -> seg.getAtIndex(JAVA_FLOAT, i);
            };
        }
        return out;
    }

    /** fp64 reference of Y[M][N] = X[M][K] · W[N][K]ᵀ. */
    static double[] linearReference(float[] x, float[] w, int m, int n, int k) {
        double[] y = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int l = 0; l < k; l++) s += (double) x[i * k + l] * w[j * k + l];
                y[i * n + j] = s;
            }
        }
        return y;
    }

    /** max |got - ref| / max |ref|. */
    static double relativeError(float[] got, double[] ref) {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < ref.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(got[i] - ref[i]));
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
        }
        return maxDiff / Math.max(maxRef, 1e-30);
    }

    static byte[] resource(String name) {
        try (InputStream in = GpuTestSupport.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("test resource " + name + " missing");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
