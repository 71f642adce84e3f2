package dev.twofour.kernels;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.cuda.Dim3;
import dev.twofour.cuda.KernelArgs;
import dev.twofour.kernels.ref.HalfFloats;
import dev.twofour.kernels.ref.Packed24;
import dev.twofour.kernels.ref.RandomFillRef;
import dev.twofour.kernels.ref.Sparse24GemmRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * twofour_mmasp_probe_{f16,bf16} and twofour_mmasp_probe_nonnull_{f16,bf16} (sparse24_mmasp.cuh: the 2:4 window
 * step on mma.sp::ordered_metadata.m16n8k32, with tokens beyond M as nullptr or as zero rows) against the plain Java
 * product: fp32 Y[M][N] = X[M][K] · Wᵀ, W random 2:4 in our packed layout. Rows not a multiple
 * of 16 (the probe must neither read past N nor write there), tokens not a multiple of 8. Runs on the GPU machine.
 */
@Tag("gpu")
class MmaSpGpuTest {
    static Kernels kernels;
    static CudaStream stream;
    static final int SLACK = 64;   // fp32 entries past Y[M][N] that must stay untouched

    @BeforeAll
    static void setUp() {
        kernels = GpuTestSupport.kernelsOrSkip();
        stream = CudaStream.create();
    }

    @AfterAll
    static void tearDown() {
        if (stream != null) stream.close();
    }

    /** Launches a probe kernel: grid = ceil(n / 16) CTAs of one warp. */
    static void probe(String kernel, CudaDtype dt, DeviceBuffer values, DeviceBuffer meta, DeviceBuffer x, DeviceBuffer y, int m, int n, int k) {
        if (k % 64 != 0 || m < 1 || m > 16) throw new IllegalArgumentException("the probe needs k a multiple of 64 and 1 <= m <= 16, got m=" + m + " k=" + k);
        kernels.function(kernel + (dt == CudaDtype.F16 ? "_f16" : "_bf16")).launch(
                Dim3.of((n + 15) / 16), Dim3.of(32), 0, stream,
                new KernelArgs().ptr(values).ptr(meta).ptr(x).ptr(y).i32(m).i32(n).i32(k));
    }

    @Test
    void probeMatchesThePlainProduct() {
        Random rnd = new Random(2024);
        List<String> failures = new ArrayList<>();
        int runs = 0;
        for (CudaDtype dt : new CudaDtype[] {CudaDtype.F16, CudaDtype.BF16}) {
            for (int n : new int[] {16, 48, 200}) {
                for (int k : new int[] {64, 640}) {
                    Packed24 w = RandomFillRef.sparse24(dt, n, k, rnd.nextLong(), 0.5f);
                    try (DeviceBuffer vals = DeviceBuffer.of(MemorySegment.ofArray(w.values()));
                         DeviceBuffer meta = DeviceBuffer.of(MemorySegment.ofArray(w.metadata()))) {
                        for (int m : new int[] {1, 5, 8, 13, 16}) {
                            float[] x = new float[m * k];
                            for (int i = 0; i < x.length; i++) x[i] = HalfFloats.toFloat(dt, HalfFloats.fromFloat(dt, (float) rnd.nextGaussian()));
                            float[] want = Sparse24GemmRef.gemm(x, k, w, m);
                            try (DeviceBuffer xb = DeviceBuffer.of(MemorySegment.ofArray(HalfFloats.fromFloats(dt, x)));
                                 DeviceBuffer yb = DeviceBuffer.allocate((m * n + SLACK) * 4L)) {
                                for (String kernel : new String[] {"twofour_mmasp_probe", "twofour_mmasp_probe_nonnull"}) {
                                    yb.memset((byte) 0xFF);  // NaN: catches entries the probe does not write
                                    probe(kernel, dt, vals, meta, xb, yb, m, n, k);
                                    stream.synchronize();
                                    float[] got = new float[m * n + SLACK];
                                    yb.copyTo(MemorySegment.ofArray(got));
                                    runs++;
                                    String problem = compare(want, got, m * n);
                                    if (problem != null) failures.add(kernel + " " + dt + " n=" + n + " k=" + k + " m=" + m + ": " + problem);
                                }
                            }
                        }
                    }
                }
            }
        }
        if (!failures.isEmpty()) {
            fail(failures.size() + " of " + runs + " probe runs wrong:\n  " + String.join("\n  ", failures));
        }
    }

    /**
     * null when got[0, count) matches want (relative L2 error below 1e-4: fp32 accumulation of exact fp16/bf16
     * products, only the order differs) and got[count..] is still the NaN poison; otherwise what is wrong.
     */
    static String compare(float[] want, float[] got, int count) {
        double num = 0, den = 0, worst = -1;
        int worstAt = -1;
        for (int i = 0; i < count; i++) {
            if (Float.isNaN(got[i])) return "NaN at " + i + " (not written)";
            double d = got[i] - want[i];
            num += d * d;
            den += (double) want[i] * want[i];
            if (Math.abs(d) > worst) { worst = Math.abs(d); worstAt = i; }
        }
        for (int i = count; i < got.length; i++)
            if (Float.floatToRawIntBits(got[i]) != -1) return "wrote past Y at " + i;
        double rel = Math.sqrt(num / Math.max(den, 1e-30));
        if (rel >= 1e-4) return "relative error " + rel + ", worst at " + worstAt + ": got " + got[worstAt] + " want " + want[worstAt];
        return null;
    }
}
