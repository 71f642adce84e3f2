package dev.twofour.kernels;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.cuda.Dim3;
import dev.twofour.cuda.KernelArgs;

/**
 * Elementwise ops in fp32 math over fp32/fp16/bf16 storage. Java twin: {@link dev.twofour.kernels.ref.ElementwiseRef}.
 */
public final class Elementwise {
    private Elementwise() {}

    private static final int BLOCK = 256;

    /** y[i] = a * x[i] + b * y[i] for {@code count} elements. */
    public static void axpby(Kernels kernels, CudaStream stream, CudaDtype dtype, DeviceBuffer x, DeviceBuffer y,
                             long count, float a, float b) {
        if (count <= 0) throw new IllegalArgumentException("count must be > 0, got " + count);
        Launch.requireBytes(x, count * dtype.byteSize(), "axpby x");
        Launch.requireBytes(y, count * dtype.byteSize(), "axpby y");
        kernels.function("twofour_axpby_" + Launch.suffix(dtype)).launch(
                Dim3.of(kernels.gridFor(count, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(x).ptr(y).i64(count).f32(a).f32(b));
    }

    /**
     * out[r][c] = silu(gate[r][c]) * up[r][c] for rows x cols, each matrix with its own row stride
     * (elements), so gate and up may be the two halves of a fused gate/up output.
     */
    public static void swiglu(Kernels kernels, CudaStream stream, CudaDtype dtype,
                              DeviceBuffer gate, long ldGate, DeviceBuffer up, long ldUp,
                              DeviceBuffer out, long ldOut, int rows, int cols) {
        if (rows <= 0 || cols <= 0) throw new IllegalArgumentException("swiglu needs rows > 0 and cols > 0, got " + rows + "x" + cols);
        if (ldGate < cols || ldUp < cols || ldOut < cols) throw new IllegalArgumentException("swiglu row strides must be >= cols (" + cols + ")");
        long es = dtype.byteSize();
        Launch.requireBytes(gate, ((rows - 1) * ldGate + cols) * es, "swiglu gate");
        Launch.requireBytes(up, ((rows - 1) * ldUp + cols) * es, "swiglu up");
        Launch.requireBytes(out, ((rows - 1) * ldOut + cols) * es, "swiglu out");
        kernels.function("twofour_swiglu_" + Launch.suffix(dtype)).launch(
                Dim3.of(kernels.gridFor((long) rows * cols, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(gate).i64(ldGate).ptr(up).i64(ldUp).ptr(out).i64(ldOut).i32(rows).i32(cols));
    }
}
