package dev.twofour.runtime;

import dev.twofour.model.DType;

/**
 * The weights of one linear layer {@code y = x Wᵀ} ({@code W} is {@code [outFeatures][inFeatures]}, the
 * Hugging Face layout), held by a {@link Backend} in one of its layouts. This is the strategy the
 * transformer calls through {@link Backend#linear}: dense (fp16/bf16/fp32) or 2:4 packed (values +
 * metadata, the layout of docs/FORMAT.md, read directly, never expanded in memory).
 */
public interface LinearWeights extends AutoCloseable {
    enum Layout { DENSE, SPARSE24 }

    Layout layout();

    /** The weight dtype (dense weights, or the packed values). */
    DType dtype();

    int outFeatures();

    int inFeatures();

    /** Bytes of weight data a forward pass streams (values + metadata for 2:4). */
    long weightBytes();

    /** Frees backend storage it owns (memory-mapped weights stay with their file); closing twice is harmless. */
    @Override void close();
}
