package dev.twofour.runtime.cuda;

import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;

/**
 * A linear layer on the GPU, {@code y[r] = W x[r]} for the first {@code rows} rows: the strategy the CUDA
 * model calls for every projection. Implementations: {@link CublasLinear} (dense, cuBLAS GemmEx, fp32 compute)
 * and {@link Sparse24CudaLinear} (our packed 2:4 layout through the 2:4 GEMM of dev.twofour.kernels).
 * {@code x} is {@code [rows][in]} and {@code y} {@code [rows][out]}, both contiguous, in the model dtype
 * (the LM head may write fp32). Only enqueues work; capture-safe once {@link #prepare} ran for the row count.
 */
interface CudaLinear extends AutoCloseable {
    int outFeatures();

    int inFeatures();

    /** Bytes of weights one forward pass reads. */
    long weightBytes();

    /** Reserves whatever a call with {@code rows} rows needs (workspaces), outside any graph capture. */
    default void prepare(int rows) {}

    void forward(CudaStream stream, DeviceBuffer x, DeviceBuffer y, int rows);

    /**
     * For a down projection: {@code y = W · swiglu(gateUp)} in one launch ({@code gateUp} is {@code [rows][2 in]},
     * gate then up) when this layer has such a kernel for these rows; false, with nothing done, otherwise.
     */
    default boolean forwardSwiglu(CudaStream stream, DeviceBuffer gateUp, DeviceBuffer y, int rows) { return false; }

    /** Whether a model's decode should call {@link #forwardSwiglu} (where it was measured faster than swiglu + forward). */
    default boolean fusesSwigluByDefault() { return false; }

    /**
     * The residual add and RMSNorm before this layer, fused into it: {@code v = residual + delta} (no add when
     * {@code delta} is null), {@code y = W · (normWeight * rmsnorm(v))}, and v written to {@code residualOut} (skipped when
     * null; must not overlap {@code residual}), rounded like TransformerKernels.addRmsNorm. All {@code [rows][in]}
     * contiguous. True when this layer has such a kernel for these rows and ran it; false, with nothing done, otherwise.
     */
    default boolean forwardAddRmsNorm(CudaStream stream, DeviceBuffer residual, DeviceBuffer delta, DeviceBuffer normWeight,
                                      float eps, DeviceBuffer residualOut, DeviceBuffer y, int rows) {
        return false;
    }

    @Override void close();
}
