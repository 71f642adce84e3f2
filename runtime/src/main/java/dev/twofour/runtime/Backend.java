package dev.twofour.runtime;

import dev.twofour.model.DType;
import dev.twofour.model.TensorView;

import java.lang.foreign.MemorySegment;

/**
 * The operations of a Llama-family forward pass over opaque, backend-owned tensors, so the model code in
 * {@link Transformer} is written once and runs on the CPU ({@code dev.twofour.runtime.cpu.CpuBackend}) or
 * on a GPU (the CUDA backend), where every method is a kernel launch on the backend's stream and nothing
 * returns to the host until {@link #copyToHost}.
 *
 * <p>Shapes: a step processes {@code T} tokens of a batch of sequences ({@link StepLayout}); activations are
 * {@code [T][width]} tensors from {@link #allocate}. Ops take the number of valid rows; tensors may be
 * larger (allocated once for the largest step). Linear layers are strategies ({@link LinearWeights}):
 * {@link #denseLinear} and {@link #sparse24Linear} build them; {@link #linear} runs either.
 * The KV cache is paged ({@link KvCache}); its storage comes from {@link #allocateKv}.
 *
 * <p>Precision contract: fp32 accumulation, fp32 RMSNorm/softmax/RoPE math. A backend is used by one
 * thread at a time (the caller serialises steps).
 */
public interface Backend extends AutoCloseable {
    /** Short name: "cpu" or "cuda". */
    String name();

    /** One line for logs: threads, vector width / device name, memory. */
    String description();

    // ---------------------------------------------------------------- memory

    /** A new {@code [rows][cols]} activation tensor; its contents are undefined. */
    Tensor allocate(int rows, int cols);

    /**
     * A small weight (a norm weight or bias) as a backend tensor: 1-D {@code [n]} becomes {@code [1][n]},
     * 2-D stays. Values are converted to the backend's activation dtype.
     */
    Tensor upload(TensorView weight);

    /** Writes {@code rows × dst.cols()} floats from {@code src} (row-major) into the first rows of {@code dst}. */
    void copyFromHost(float[] src, int rows, Tensor dst);

    /** Reads the first {@code rows} rows of {@code src} into {@code dst} (row-major floats). */
    void copyToHost(Tensor src, int rows, float[] dst);

    // ---------------------------------------------------------------- weights

    /**
     * A dense linear layer over {@code data}: {@code [outFeatures][inFeatures]} elements of {@code dtype}
     * (F32, F16, BF16), little-endian. The backend may keep a reference to {@code data} (the CPU backend
     * reads memory-mapped weights in place) or copy it to the device.
     */
    LinearWeights denseLinear(String name, DType dtype, MemorySegment data, int outFeatures, int inFeatures);

    /**
     * A 2:4-packed linear layer in our layout (docs/FORMAT.md): {@code values} {@code [outFeatures][kPadded/2]}
     * of {@code dtype}, {@code metadata} {@code [outFeatures][kPadded/8]} bytes, {@code kPadded} =
     * inFeatures rounded up to a multiple of 16. Read directly, never expanded.
     */
    LinearWeights sparse24Linear(String name, DType dtype, MemorySegment values, MemorySegment metadata,
                                 int outFeatures, int inFeatures);

    /** Storage for a paged KV cache of this shape. */
    KvStorage allocateKv(KvCache.Shape shape);

    // ---------------------------------------------------------------- ops

    /** {@code out[t] = table.row(step.tokens[t])}: embedding gather from a dense {@code [vocab][hidden]} table. */
    void embedding(LinearWeights table, StepLayout step, Tensor out);

    /** {@code out = x / rms(x) * weight} per row, fp32 math. {@code out} may be {@code x}. */
    void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out, int rows);

    /** {@code residual += delta} over the first rows. */
    void add(Tensor residual, Tensor delta, int rows);

    /** Fused residual add and norm: {@code residual += delta; out = rmsNorm(residual) * weight}. */
    void addRmsNorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out, int rows);

    /** {@code y[r] = W x[r]} for the first {@code rows} rows ({@code x} is {@code [rows][inFeatures]}). */
    void linear(LinearWeights w, Tensor x, Tensor y, int rows);

    /** {@code y[r] += bias} ({@code bias} is {@code [1][cols]}). */
    void addBias(Tensor y, Tensor bias, int rows);

    /** Rotates {@code x} ({@code [T][numHeads × headDim]}) in place at each token's position. */
    void rope(Tensor x, int numHeads, Rope rope, StepLayout step);

    /** Writes this step's K and V rows ({@code [T][numKvHeads × headDim]}) into the cache at their positions. */
    void kvAppend(KvCache cache, int layer, Tensor k, Tensor v, StepLayout step);

    /**
     * Causal grouped-query attention of each token over its own sequence's cached K/V at positions
     * {@code 0..position} (after {@link #kvAppend}): {@code q} is {@code [T][numHeads × headDim]}, query head h
     * uses KV head {@code h / (numHeads / numKvHeads)}, scores scaled by {@code 1/sqrt(headDim)}, softmax in fp32.
     */
    void attention(Tensor q, KvCache cache, int layer, int numHeads, StepLayout step, Tensor out);

    /** {@code out = silu(gate) * up}, elementwise over the first rows. {@code out} may be {@code gate}. */
    void swiglu(Tensor gate, Tensor up, Tensor out, int rows);

    /** {@code dst[i] = src[rows[i]]} (e.g. the last token of each sequence before the LM head). */
    void gatherRows(Tensor src, int[] rows, Tensor dst);

    /** Waits until all queued work is done (no-op on the CPU). */
    default void synchronize() {}

    /** Frees backend resources (threads, device memory); closing twice is harmless. */
    @Override void close();
}
