package dev.twofour.kernels;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.cuda.Dim3;
import dev.twofour.cuda.KernelArgs;

/**
 * Seeded pseudo-random fills on the GPU (synthetic models, tests, benchmarks). Element i is
 * {@code scale * u(seed, i)}, u uniform in [-1, 1] with |u| >= 2^-10: never zero.
 * Java twin: {@link dev.twofour.kernels.ref.RandomFillRef}.
 */
public final class Fill {
    private Fill() {}

    private static final int BLOCK = 256;

    /** Fills {@code count} elements of {@code dtype} at the start of {@code out}. */
    public static void random(Kernels kernels, CudaStream stream, DeviceBuffer out, long count, CudaDtype dtype,
                              long seed, float scale) {
        if (count <= 0) throw new IllegalArgumentException("count must be > 0, got " + count);
        Launch.requireBytes(out, count * dtype.byteSize(), "fill output");
        kernels.function("twofour_fill_" + Launch.suffix(dtype)).launch(
                Dim3.of(kernels.gridFor(count, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(out).i64(count).i64(seed).f32(scale));
    }

    /**
     * A random 2:4 weight [n][k] straight into the packed layout: values [n][kp/2] of {@code dtype}
     * and metadata [n][kp/8] bytes (kp = k rounded up to 16). No dense intermediate.
     */
    public static void sparse24(Kernels kernels, CudaStream stream, DeviceBuffer values, DeviceBuffer metadata,
                                int n, int k, CudaDtype dtype, long seed, float scale) {
        Launch.requireHalf(dtype, "sparse 2:4 fill");
        if (n <= 0 || k <= 0 || k % 4 != 0) throw new IllegalArgumentException("a 2:4 weight needs n > 0 and k > 0 a multiple of 4, got n=" + n + " k=" + k);
        long kp = (k + 15) & ~15L;
        Launch.requireBytes(values, n * kp / 2 * 2, "2:4 values");
        Launch.requireBytes(metadata, n * kp / 8, "2:4 metadata");
        kernels.function("twofour_fill_sparse24_" + Launch.suffix(dtype)).launch(
                Dim3.of(kernels.gridFor(n * kp / 8, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(values).ptr(metadata).i32(n).i32(k).i64(seed).f32(scale));
    }

    /**
     * The dense [n][k] twin (same 16-bit dtype) of a packed 2:4 weight, for cuBLAS baselines and
     * cuSPARSELt compression. Java twin: {@link dev.twofour.kernels.ref.Packed24#toDense()}.
     */
    public static void unpack24(Kernels kernels, CudaStream stream, DeviceBuffer values, DeviceBuffer metadata,
                                DeviceBuffer dense, int n, int k) {
        if (n <= 0 || k <= 0 || k % 4 != 0) throw new IllegalArgumentException("a 2:4 weight needs n > 0 and k > 0 a multiple of 4, got n=" + n + " k=" + k);
        long kp = (k + 15) & ~15L;
        Launch.requireBytes(values, n * kp / 2 * 2, "2:4 values");
        Launch.requireBytes(metadata, n * kp / 8, "2:4 metadata");
        Launch.requireBytes(dense, (long) n * k * 2, "dense output");
        long groups = (long) n * (k / 4);
        kernels.function("twofour_sparse24_unpack").launch(
                Dim3.of(kernels.gridFor(groups, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(values).ptr(metadata).ptr(dense).i32(n).i32(k));
    }
}
