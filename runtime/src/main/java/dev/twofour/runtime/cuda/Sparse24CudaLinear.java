package dev.twofour.runtime.cuda;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.cuda.Cublas;
import dev.twofour.kernels.Fill;
import dev.twofour.kernels.Kernels;
import dev.twofour.kernels.Sparse24Gemm;

/**
 * A 2:4 weight in our packed layout (values [out][kp/2], metadata [out][kp/8], docs/FORMAT.md) run by the
 * 2:4 GEMM of dev.twofour.kernels ({@link Sparse24Gemm}), never expanded. One {@link Sparse24Gemm} (one
 * workspace) is shared by all layers of a model: they run one after another on one stream.
 * Up to {@link #MAX_OURS_ROWS} rows our kernel runs; more rows (prefill) unpack the weight into a shared dense
 * scratch and run cuBLAS (correct and compute-bound; cuSPARSELt is the faster route there and is not wired yet).
 */
final class Sparse24CudaLinear implements CudaLinear {
    static final int MAX_OURS_ROWS = 64;
    private final Sparse24Gemm gemm;
    private final Kernels kernels;
    private final Cublas cublas;
    private final DeviceBuffer scratch;
    private final DeviceBuffer values, metadata;
    private final CudaDtype dtype;
    private final int out, in;

    Sparse24CudaLinear(Sparse24Gemm gemm, Kernels kernels, Cublas cublas, DeviceBuffer scratch, DeviceBuffer values,
                       DeviceBuffer metadata, CudaDtype dtype, int out, int in) {
        this.gemm = gemm;
        this.kernels = kernels;
        this.cublas = cublas;
        this.scratch = scratch;
        this.values = values;
        this.metadata = metadata;
        this.dtype = dtype;
        this.out = out;
        this.in = in;
    }

    static long valuesBytes(int out, int in, CudaDtype dtype) { return (long) out * (((in + 15) & ~15) / 2) * dtype.byteSize(); }

    static long metadataBytes(int out, int in) { return (long) out * (((in + 15) & ~15) / 8); }

    @Override public int outFeatures() { return out; }

    @Override public int inFeatures() { return in; }

    @Override public long weightBytes() { return values.bytes() + metadata.bytes(); }

    @Override public void prepare(int rows) {
        if (rows <= MAX_OURS_ROWS) gemm.reserve(gemm.plan(rows, out, in));
    }

    @Override public void forward(CudaStream stream, DeviceBuffer x, DeviceBuffer y, int rows) {
        if (rows > MAX_OURS_ROWS) {
            forwardUnpacked(stream, x, y, rows, scratch);
            return;
        }
        gemm.run(stream, dtype, x, in, values, metadata, y, out, rows, out, in);
    }

    /** Unpacks into {@code dense} (at least out × in elements) and runs cuBLAS: the many-row path. */
    void forwardUnpacked(CudaStream stream, DeviceBuffer x, DeviceBuffer y, int rows, DeviceBuffer dense) {
        Fill.unpack24(kernels, stream, values, metadata, dense, out, in);
        cublas.linear(x.address(), dense.address(), y.address(), rows, out, in, dtype, dtype);
    }

    @Override public void close() {
        values.close();
        metadata.close();
    }
}
