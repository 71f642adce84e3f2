package dev.twofour.runtime.cuda;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.cuda.Cublas;
import dev.twofour.kernels.Fill;
import dev.twofour.kernels.Kernels;
import dev.twofour.kernels.Sparse24Gemm;
import dev.twofour.kernels.Sparse24Selection;

/**
 * A 2:4 weight in our packed layout (values [out][kp/2], metadata [out][kp/8], docs/FORMAT.md) run by the
 * 2:4 GEMM of dev.twofour.kernels ({@link Sparse24Gemm}), never expanded. One {@link Sparse24Gemm} (one
 * workspace) is shared by all layers of a model: they run one after another on one stream.
 * Which path runs a step of {@code rows} rows follows {@link Sparse24Selection} (measured on the H100: our kernel
 * wins up to about 8 rows, cuBLAS on the dense form above, docs/results/gemm-h100-fp16):
 * <ul>
 *   <li>our kernel, when the selection says so (or when there is no dense copy and rows <= {@link #MAX_OURS_ROWS});</li>
 *   <li>cuBLAS on a dense copy of the 2:4 weight ({@code denseCopy}), kept when the memory plan has room for it
 *       (7B/13B on an 80 GB GPU; not 70B), so a 2:4 model is never slower than the dense one at many rows;</li>
 *   <li>otherwise unpack into the shared scratch, then cuBLAS (prefill of models too big for a dense copy).</li>
 * </ul>
 * cuSPARSELt is the faster route at many rows but is not wired into the model yet (bench gemm measures it).
 */
final class Sparse24CudaLinear implements CudaLinear {
    static final int MAX_OURS_ROWS = 64;
    private final Sparse24Gemm gemm;
    private final Kernels kernels;
    private final Cublas cublas;
    private final DeviceBuffer scratch;
    private final DeviceBuffer values, metadata;
    private final DeviceBuffer denseCopy;  // null when the memory plan has no room for it
    private final Sparse24Selection selection;
    private final CudaDtype dtype;
    private final int out, in;

    Sparse24CudaLinear(Sparse24Gemm gemm, Kernels kernels, Cublas cublas, DeviceBuffer scratch, DeviceBuffer values,
                       DeviceBuffer metadata, DeviceBuffer denseCopy, Sparse24Selection selection, CudaDtype dtype,
                       int out, int in) {
        this.gemm = gemm;
        this.kernels = kernels;
        this.cublas = cublas;
        this.scratch = scratch;
        this.values = values;
        this.metadata = metadata;
        this.denseCopy = denseCopy;
        this.selection = selection;
        this.dtype = dtype;
        this.out = out;
        this.in = in;
    }

    static long valuesBytes(int out, int in, CudaDtype dtype) { return (long) out * (((in + 15) & ~15) / 2) * dtype.byteSize(); }

    static long metadataBytes(int out, int in) { return (long) out * (((in + 15) & ~15) / 8); }

    @Override public int outFeatures() { return out; }

    @Override public int inFeatures() { return in; }

    /** The packed weight only; the dense copy (when kept) is a speed aid, counted in the memory plan. */
    @Override public long weightBytes() { return values.bytes() + metadata.bytes(); }

    /** True when {@code rows} rows run our 2:4 kernel. */
    boolean runsOurs(int rows) {
        if (denseCopy == null) return rows <= MAX_OURS_ROWS;
        return selection.choose(out, in, rows) == Sparse24Selection.Method.OURS;
    }

    @Override public void prepare(int rows) {
        if (runsOurs(rows)) gemm.reserve(gemm.plan(rows, out, in));
    }

    @Override public void forward(CudaStream stream, DeviceBuffer x, DeviceBuffer y, int rows) {
        if (runsOurs(rows)) {
            gemm.run(stream, dtype, x, in, values, metadata, y, out, rows, out, in);
        } else if (denseCopy != null) {
            cublas.linear(x.address(), denseCopy.address(), y.address(), rows, out, in, dtype, dtype);
        } else {
            forwardUnpacked(stream, x, y, rows, scratch);
        }
    }

    /** Unpacks into {@code dense} (at least out × in elements) and runs cuBLAS: the many-row path. */
    void forwardUnpacked(CudaStream stream, DeviceBuffer x, DeviceBuffer y, int rows, DeviceBuffer dense) {
        Fill.unpack24(kernels, stream, values, metadata, dense, out, in);
        cublas.linear(x.address(), dense.address(), y.address(), rows, out, in, dtype, dtype);
    }

    @Override public void close() {
        values.close();
        metadata.close();
        if (denseCopy != null) denseCopy.close();
    }
}
