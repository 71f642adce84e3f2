package dev.twofour.runtime;

/**
 * An activation or small weight tensor owned by a {@link Backend}: {@code [rows][cols]}, row-major, in the
 * backend's activation dtype (fp32 on the CPU; the CUDA backend keeps fp16/bf16 on the device). Code above
 * the backend never reads it directly; it moves data with {@link Backend#copyFromHost} and
 * {@link Backend#copyToHost}. {@link #rows()} is the capacity: an op works on the first {@code rows} rows
 * it is told to.
 */
public interface Tensor extends AutoCloseable {
    int rows();

    int cols();

    /** Frees the storage; closing twice is harmless, use after close throws. */
    @Override void close();
}
