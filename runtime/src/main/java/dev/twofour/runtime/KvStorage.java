package dev.twofour.runtime;

/**
 * Backend-owned storage of a {@link KvCache}: for every layer, K and V of {@code numBlocks × blockSize}
 * token slots, each {@code numKvHeads × headDim} wide. Opaque above the backend.
 */
public interface KvStorage extends AutoCloseable {
    @Override void close();
}
