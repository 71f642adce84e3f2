package dev.twofour.cuda;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Base of every class that owns a native resource: closing twice is harmless, any use after
 * close throws IllegalStateException naming the object.
 */
abstract class NativeOwner implements AutoCloseable {
    private final AtomicBoolean closed = new AtomicBoolean();

    /** Frees the native resource; called at most once. */
    protected abstract void release();

    /** What this is, for messages ("DeviceBuffer of 4096 bytes"). */
    protected abstract String describe();

    protected void ensureOpen() {
        if (closed.get()) throw new IllegalStateException(describe() + " is closed");
    }

    public final boolean isClosed() {
        return closed.get();
    }

    @Override public final void close() {
        if (closed.compareAndSet(false, true)) release();
    }
}
