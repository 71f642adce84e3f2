package dev.twofour.runtime;

/** Thrown when a sequence needs more KV-cache blocks than the pool has free. Nothing was changed. */
public final class KvCacheFullException extends IllegalStateException {
    public KvCacheFullException(String message) {
        super(message);
    }
}
