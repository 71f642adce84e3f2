package dev.twofour.pruner;

/** Progress of a model prune, for a progress bar. */
public interface PruneProgress {
    /** Called after each step of block {@code layer}; {@code done} of {@code total} steps, with a short label. */
    void update(int layer, int layers, int done, int total, String label);

    /** Called when a block is finished. */
    default void blockDone(int layer, int layers, long millis) {}

    PruneProgress NONE = (layer, layers, done, total, label) -> {};
}
