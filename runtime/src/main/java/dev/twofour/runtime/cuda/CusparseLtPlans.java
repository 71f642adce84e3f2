package dev.twofour.runtime.cuda;

import dev.twofour.cuda.Cublas;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.CusparseLt;
import dev.twofour.cuda.CusparseLtGemm;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.kernels.Fill;
import dev.twofour.kernels.Kernels;
import dev.twofour.kernels.ref.HalfFloats;

import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

/**
 * The cuSPARSELt plans of one 2:4 model: one per (N, K, M, configuration), shared by every layer of that shape.
 * A plan does not depend on the weight (each layer passes its own compressed copy to
 * {@link CusparseLtGemm#matmul(CudaStream, DeviceBuffer, long, long)}), and building one takes long, so a 32-layer
 * model builds 4 shapes x few M plans instead of 128 x few (twice each, as create + setConfig did).
 *
 * <p>Each plan is probed once, on the first weight that asks for it: one matmul on a random input, compared with
 * cuBLAS on the dense weight. A plan whose build or probe fails, or whose result is wrong, is dropped for the whole
 * model and reported once on stderr (shape, M, configuration); the layers then run those rows on our kernel or
 * cuBLAS. What cannot be caught here: a configuration that kills the CUDA context (ILLEGAL_INSTRUCTION, seen on the
 * H100 with the last configuration id) fails everything after it; {@code twofour tune} never writes one.
 */
final class CusparseLtPlans implements AutoCloseable {
    /** A plan's identity: weights N x K, M rows, cuSPARSELt configuration id and split-K. */
    record Key(int n, int k, int m, int configId, int splitK) {
        @Override public String toString() {
            return n + "x" + k + " at M=" + m + " (configuration " + configId + ", split-K " + splitK + ")";
        }
    }

    private final CusparseLt lt;
    private final Kernels kernels;
    private final Cublas cublas;
    private final CudaStream stream;
    private final CudaDtype dtype;
    private final PrintStream log;
    private final Map<Key, CusparseLtGemm> plans = new HashMap<>();
    /** Keys whose build or probe failed: never built again, reported once. */
    private final Map<Key, String> dropped = new HashMap<>();
    /** Keys whose probe passed. */
    private final java.util.Set<Key> verified = new java.util.HashSet<>();
    private int builds;
    private boolean closed;

    CusparseLtPlans(CusparseLt lt, Kernels kernels, Cublas cublas, CudaStream stream, CudaDtype dtype, PrintStream log) {
        this.lt = lt;
        this.kernels = kernels;
        this.cublas = cublas;
        this.stream = stream;
        this.dtype = dtype;
        this.log = log;
    }

    /** The plan for {@code key}, built on first use; null when it cannot be built (reported once). */
    CusparseLtGemm plan(Key key) {
        checkOpen();
        if (dropped.containsKey(key)) return null;
        CusparseLtGemm g = plans.get(key);
        if (g != null) return g;
        try {
            builds++;
            g = CusparseLtGemm.create(lt, key.n(), key.k(), key.m(), dtype, new CusparseLtGemm.Config(key.configId(), key.splitK(), null));
        } catch (RuntimeException e) {  // CudaException (refused) or IllegalArgumentException (id out of range)
            drop(key, "could not be planned: " + e.getMessage());
            return null;
        }
        plans.put(key, g);
        return g;
    }

    /**
     * True when the plan of {@code key} computes the right result: probed once (on the first weight that asks),
     * with {@code compressed} (this weight compressed by a plan of the same shape) against cuBLAS on
     * {@code denseW}. A failed probe drops the plan (closed, reported once) and answers false from then on.
     */
    boolean verify(Key key, DeviceBuffer compressed, DeviceBuffer denseW) {
        checkOpen();
        if (dropped.containsKey(key)) return false;
        if (verified.contains(key)) return true;
        CusparseLtGemm g = plans.get(key);
        if (g == null) throw new IllegalStateException("no cuSPARSELt plan for " + key + ": call plan(key) first");
        String why;
        try {
            why = probe(g, key, compressed, denseW);
        } catch (RuntimeException e) {
            why = "failed on a probe input: " + e.getMessage();
        }
        if (why == null) {
            verified.add(key);
            return true;
        }
        plans.remove(key);
        try {
            g.close();
        } catch (RuntimeException ignored) {
            // dropping it anyway
        }
        drop(key, why);
        return false;
    }

    /** Runs one matmul of {@code g} and cuBLAS on the same random input; null when they agree, else why not. */
    private String probe(CusparseLtGemm g, Key key, DeviceBuffer compressed, DeviceBuffer denseW) {
        long es = dtype.byteSize();
        int m = key.m(), n = key.n(), k = key.k();
        try (DeviceBuffer x = DeviceBuffer.allocate((long) m * k * es);
             DeviceBuffer yRef = DeviceBuffer.allocate((long) m * n * es);
             DeviceBuffer y = DeviceBuffer.allocate((long) m * n * es)) {
            Fill.random(kernels, stream, x, (long) m * k, dtype, 0x5eed_24L + m, 1f);
            cublas.linear(x.address(), denseW.address(), yRef.address(), m, n, k, dtype, dtype);
            y.memset((byte) 0xFF, stream);  // NaN in both 16-bit types: an unwritten element cannot pass
            g.matmul(stream, compressed, x.address(), y.address());
            stream.synchronize();
            return verdict(download(yRef, (long) m * n), download(y, (long) m * n), dtype);
        }
    }

    private float[] download(DeviceBuffer b, long count) {
        short[] h = new short[Math.toIntExact(count)];
        b.copyTo(MemorySegment.ofArray(h));
        return HalfFloats.toFloats(dtype, h);
    }

    /** Largest relative error (‖got − ref‖ / ‖ref‖) a probe accepts: both sides accumulate in fp32 and round once. */
    static double tolerance(CudaDtype dtype) { return dtype == CudaDtype.BF16 ? 3e-2 : 1e-2; }

    /** Null when {@code got} matches {@code ref} within {@link #tolerance}; otherwise what is wrong. */
    static String verdict(float[] ref, float[] got, CudaDtype dtype) {
        double num = 0, den = 0;
        for (int i = 0; i < ref.length; i++) {
            if (!Float.isFinite(got[i])) return "gave a non-finite value at element " + i + " (cuBLAS: " + ref[i] + ")";
            double d = (double) got[i] - ref[i];
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        double err = Math.sqrt(num / Math.max(den, 1e-30));
        if (err > tolerance(dtype)) {
            return String.format(java.util.Locale.ROOT, "gave wrong results (relative error %.2e vs cuBLAS, tolerance %.0e)", err, tolerance(dtype));
        }
        return null;
    }

    private void drop(Key key, String why) {
        dropped.put(key, why);
        log.println("twofour: cuSPARSELt plan " + key + " " + why + "; layers of that shape run those rows on our kernel or cuBLAS");
    }

    /** Plans built so far (each key at most once). */
    int builds() { return builds; }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("the cuSPARSELt plans of this model are closed");
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        RuntimeException first = null;
        for (CusparseLtGemm g : plans.values()) {
            try {
                g.close();
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        plans.clear();
        if (first != null) throw first;
    }
}
