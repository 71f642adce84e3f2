package dev.twofour.cuda;

/** A CUDA event, for timing ({@link #elapsedMillis}) and for ordering streams. */
public final class CudaEvent extends NativeOwner {
    private final long handle;
    private final boolean timing;

    private CudaEvent(long handle, boolean timing) {
        this.handle = handle;
        this.timing = timing;
    }

    /** An event that records time. */
    public static CudaEvent create() {
        Cuda.requireAvailable();
        return new CudaEvent(Driver.eventCreate(0), true); // CU_EVENT_DEFAULT
    }

    /** A cheaper event for ordering only (elapsedMillis refuses it). */
    public static CudaEvent createWithoutTiming() {
        Cuda.requireAvailable();
        return new CudaEvent(Driver.eventCreate(2), false); // CU_EVENT_DISABLE_TIMING
    }

    /** Records this event at the current end of {@code stream}'s queue. */
    public void record(CudaStream stream) {
        Driver.eventRecord(handle(), stream.handle());
    }

    /** Waits until the work before the recorded point has finished. */
    public void synchronize() {
        Driver.eventSynchronize(handle());
    }

    /** Milliseconds between two recorded events (waits for {@code end} first). */
    public static float elapsedMillis(CudaEvent start, CudaEvent end) {
        if (!start.timing || !end.timing) {
            throw new IllegalArgumentException("elapsedMillis needs events made by CudaEvent.create(), not createWithoutTiming()");
        }
        end.synchronize();
        return Driver.eventElapsedTime(start.handle(), end.handle());
    }

    /** The CUevent value. */
    public long handle() {
        ensureOpen();
        return handle;
    }

    @Override protected void release() { Driver.eventDestroy(handle); }

    @Override protected String describe() { return "CudaEvent"; }
}
