package dev.twofour.runtime.cuda;

import dev.twofour.cuda.Cublas;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.kernels.transformer.TransformerKernels;

/**
 * Dense {@code W [out][in]}, fp32 accumulation, output in {@code outType}: 1..8 rows (decode) through our
 * weight-streaming GEMV when {@code gemv} is given, more rows through cuBLAS GemmEx.
 */
final class CublasLinear implements CudaLinear {
    private final Cublas cublas;
    private final TransformerKernels gemv;
    private final DeviceBuffer weight;
    private final boolean ownsWeight;
    private final CudaDtype dtype, outType;
    private final int out, in;

    CublasLinear(Cublas cublas, TransformerKernels gemv, DeviceBuffer weight, boolean ownsWeight, CudaDtype dtype,
                 CudaDtype outType, int out, int in) {
        this.cublas = cublas;
        this.gemv = gemv;
        this.weight = weight;
        this.ownsWeight = ownsWeight;
        this.dtype = dtype;
        this.outType = outType;
        this.out = out;
        this.in = in;
    }

    @Override public int outFeatures() { return out; }

    @Override public int inFeatures() { return in; }

    @Override public long weightBytes() { return (long) out * in * dtype.byteSize(); }

    /** Weights smaller than this (elements) are launch-bound: cuBLAS is as fast, and keeps cuBLAS's rounding. */
    static final long GEMV_MIN_ELEMENTS = 1L << 22;
    /** Our GEMV serves up to this many rows; cuBLAS beyond (measured: 8 rows were slower through the GEMV). */
    static final int GEMV_MAX_ROWS = Integer.getInteger("twofour.cuda.gemvMaxRows", 2);
    /** Output rows per warp of the GEMV (1, 2 or 4; 1 measured fastest on the H100: 157.9 vs 151.2 tok/s at batch 1). */
    static final int GEMV_ROWS_PER_WARP = Integer.getInteger("twofour.cuda.gemvR", 1);

    @Override public void forward(CudaStream stream, DeviceBuffer x, DeviceBuffer y, int rows) {
        forward(stream, x, y, rows, true);
    }

    /** {@link #forward}, with our GEMV allowed or not (the profiler compares both). */
    void forward(CudaStream stream, DeviceBuffer x, DeviceBuffer y, int rows, boolean allowGemv) {
        if (allowGemv && gemv != null && rows <= GEMV_MAX_ROWS && (long) out * in >= GEMV_MIN_ELEMENTS
                && TransformerKernels.gemvSupports(rows, in, in, x.address(), weight.address())) {
            gemv.gemv(stream, dtype, rows, x.address(), in, weight.address(), y.address(), out, out, in, outType == CudaDtype.F32,
                    GEMV_ROWS_PER_WARP);
            return;
        }
        cublas.linear(x.address(), weight.address(), y.address(), rows, out, in, dtype, outType);
    }

    /** Our GEMV with {@code rowsPerWarp}, whatever the defaults say (the profiler compares variants). */
    void forwardGemv(CudaStream stream, DeviceBuffer x, DeviceBuffer y, int rows, int rowsPerWarp) {
        gemv.gemv(stream, dtype, rows, x.address(), in, weight.address(), y.address(), out, out, in, outType == CudaDtype.F32, rowsPerWarp);
    }

    boolean hasGemv() { return gemv != null; }

    /**
     * Off unless -Dtwofour.cuda.fuseSwiglu=true: the GEMV recomputes SwiGLU per warp, slower on the H100 (45.6 us
     * against 32.4 + 10.4 us for llama2-7b's down projection at one row).
     */
    private static final boolean FUSE_SWIGLU = Boolean.parseBoolean(System.getProperty("twofour.cuda.fuseSwiglu", "false"));

    @Override public boolean fusesSwigluByDefault() { return FUSE_SWIGLU; }

    /**
     * For a down projection: {@code y = W · swiglu(gateUp)} in one launch when our GEMV serves these rows
     * ({@code gateUp} is {@code [rows][2 in]}); false (nothing done) otherwise.
     */
    @Override public boolean forwardSwiglu(CudaStream stream, DeviceBuffer gateUp, DeviceBuffer y, int rows) {
        if (gemv == null || rows > Math.min(2, GEMV_MAX_ROWS) || (long) out * in < GEMV_MIN_ELEMENTS || outType != dtype
                || !TransformerKernels.gemvSupports(1, in, 2 * in, gateUp.address(), weight.address())) {
            return false;
        }
        gemv.gemvSwiglu(stream, dtype, rows, gateUp.address(), 2 * in, weight.address(), y.address(), out, out, in);
        return true;
    }

    @Override public void close() {
        if (ownsWeight) weight.close();
    }
}
