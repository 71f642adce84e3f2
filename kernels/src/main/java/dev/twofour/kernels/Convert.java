package dev.twofour.kernels;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.cuda.Dim3;
import dev.twofour.cuda.KernelArgs;

/**
 * fp16 / bf16 <-> fp32 on the GPU; round-to-nearest-even downwards.
 * Java twin: {@link dev.twofour.kernels.ref.HalfFloats}.
 */
public final class Convert {
    private Convert() {}

    private static final int BLOCK = 256;

    /** out[i] (fp32) = in[i] (fp16 or bf16), for {@code count} elements. */
    public static void toF32(Kernels kernels, CudaStream stream, DeviceBuffer in, CudaDtype inType, DeviceBuffer out, long count) {
        Launch.requireHalf(inType, "conversion to fp32");
        check(in, count * 2, out, count * 4, count);
        kernels.function("twofour_" + Launch.suffix(inType) + "_to_f32").launch(
                Dim3.of(kernels.gridFor(count, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(in).ptr(out).i64(count));
    }

    /** out[i] (fp16 or bf16) = in[i] (fp32), for {@code count} elements. */
    public static void fromF32(Kernels kernels, CudaStream stream, DeviceBuffer in, DeviceBuffer out, CudaDtype outType, long count) {
        Launch.requireHalf(outType, "conversion from fp32");
        check(in, count * 4, out, count * 2, count);
        kernels.function("twofour_f32_to_" + Launch.suffix(outType)).launch(
                Dim3.of(kernels.gridFor(count, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(in).ptr(out).i64(count));
    }

    private static void check(DeviceBuffer in, long inBytes, DeviceBuffer out, long outBytes, long count) {
        if (count <= 0) throw new IllegalArgumentException("count must be > 0, got " + count);
        Launch.requireBytes(in, inBytes, "conversion input");
        Launch.requireBytes(out, outBytes, "conversion output");
    }

    /** Copies {@code bytes} (a multiple of 16) from {@code in} to {@code out} with 16-byte loads: the bandwidth yardstick. */
    public static void copy(Kernels kernels, CudaStream stream, DeviceBuffer in, DeviceBuffer out, long bytes) {
        if (bytes <= 0 || bytes % 16 != 0) throw new IllegalArgumentException("copy needs a positive multiple of 16 bytes, got " + bytes);
        Launch.requireBytes(in, bytes, "copy input");
        Launch.requireBytes(out, bytes, "copy output");
        kernels.function("twofour_copy16").launch(Dim3.of((int) Math.min((bytes / 16 + BLOCK - 1) / BLOCK, kernels.multiprocessors() * 8L)),
                Dim3.of(BLOCK), 0, stream, new KernelArgs().ptr(in).ptr(out).i64(bytes / 16));
    }
}
