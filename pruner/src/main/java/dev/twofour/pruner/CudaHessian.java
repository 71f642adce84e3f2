package dev.twofour.pruner;

import dev.twofour.cuda.Cublas;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.kernels.PruneKernels;

import java.lang.foreign.MemorySegment;

/**
 * A {@link Hessian} accumulated on the GPU of a {@link CudaPruneEngine}: each {@link #add} uploads
 * the inputs X ([rows][k]) and adds XᵀX to an fp32 [k][k] sum with one cuBLAS GEMM (fp32 compute,
 * so a 2048-token batch is one fp32 sum of 2048 products per entry, and batches add in fp32).
 * {@link #matrix}/{@link #floatMatrix} download it (for CPU code paths); the engine uses
 * {@link #device()} directly. Close frees the device memory.
 */
final class CudaHessian extends Hessian {
    private final CudaPruneEngine engine;
    private DeviceBuffer sum;
    private DeviceBuffer staging;
    private DeviceBuffer normalized;
    private boolean normalizedCurrent;
    private long tokens;
    private double[] cachedMatrix;
    private float[] cachedFloat;
    private boolean closed;

    CudaHessian(CudaPruneEngine engine, int k) {
        super(k, false);
        this.engine = engine;
        this.sum = DeviceBuffer.allocate(4L * k * k);
        sum.memset((byte) 0);
    }

    CudaPruneEngine engine() { return engine; }

    @Override
    public void add(float[] x, int rows) {
        ensureOpen();
        int k = size();
        long bytes = 4L * rows * k;
        if (rows <= 0 || (long) rows * k > x.length) {
            throw new IllegalArgumentException("Hessian.add: " + rows + " rows of " + k + " need "
                    + (long) rows * k + " floats, the array holds " + x.length);
        }
        engine.begin();
        if (staging == null || staging.bytes() < bytes) {
            if (staging != null) staging.close();
            staging = null;
            staging = DeviceBuffer.allocate(bytes);
        }
        staging.copyFrom(MemorySegment.ofArray(x).asSlice(0, bytes));
        // Column-major, X's bytes are the k×rows matrix A (lda k); sum += A·Aᵀ = XᵀX.
        engine.cublas().gemmEx(Cublas.Op.N, Cublas.Op.T, k, k, rows, 1f, staging.address(), CudaDtype.F32, k,
                staging.address(), CudaDtype.F32, k, 1f, sum.address(), CudaDtype.F32, k);
        tokens += rows;
        normalizedCurrent = false;
        cachedMatrix = null;
        cachedFloat = null;
    }

    @Override public long tokens() { return tokens; }

    /** H = sum / tokens on the device, fp32 [k][k] (owned by this Hessian). */
    DeviceBuffer device() {
        ensureOpen();
        if (tokens == 0) throw new IllegalStateException("Hessian has no calibration tokens yet");
        if (!normalizedCurrent) {
            engine.begin();
            long count = (long) size() * size();
            if (normalized == null) normalized = DeviceBuffer.allocate(4 * count);
            PruneKernels.scale(engine.kernels(), engine.stream(), sum, normalized, count, (float) (1.0 / tokens));
            normalizedCurrent = true;
        }
        return normalized;
    }

    @Override
    public double[] matrix() {
        if (cachedMatrix == null) {
            float[] f = floatMatrix();
            double[] m = new double[f.length];
            for (int i = 0; i < f.length; i++) m[i] = f[i];
            // cuBLAS computes H_ij and H_ji separately; use the upper triangle for both, like the CPU Hessian.
            Dense.symmetrize(m, size());
            cachedMatrix = m;
        }
        return cachedMatrix;
    }

    @Override
    public float[] floatMatrix() {
        if (cachedFloat == null) {
            DeviceBuffer d = device();
            cachedFloat = CudaPruneEngine.download(d, (long) size() * size());
        }
        return cachedFloat;
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("this GPU Hessian was closed");
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        for (DeviceBuffer b : new DeviceBuffer[]{sum, staging, normalized}) if (b != null) b.close();
        sum = staging = normalized = null;
    }
}
