package dev.twofour.cuda;

/**
 * A CUDA stream. {@link #create()} makes a blocking stream (it orders itself with the legacy
 * default stream, so the synchronous copies of DeviceBuffer see its results without an explicit
 * synchronize); {@link #createNonBlocking()} makes one that does not.
 */
public final class CudaStream extends NativeOwner {
    private static final CudaStream LEGACY_DEFAULT = new CudaStream(0L, false);

    private final long handle;
    private final boolean owned;

    private CudaStream(long handle, boolean owned) {
        this.handle = handle;
        this.owned = owned;
    }

    public static CudaStream create() {
        Cuda.requireAvailable();
        return new CudaStream(Driver.streamCreate(0), true);
    }

    public static CudaStream createNonBlocking() {
        Cuda.requireAvailable();
        return new CudaStream(Driver.streamCreate(1), true); // CU_STREAM_NON_BLOCKING
    }

    /** The legacy default stream (handle 0); closing it does nothing. It cannot be captured into a graph. */
    public static CudaStream legacyDefault() {
        return LEGACY_DEFAULT;
    }

    /** The CUstream value. */
    public long handle() {
        if (owned) ensureOpen();
        return handle;
    }

    /** Waits until all work queued on this stream is done; reports errors of that work. */
    public void synchronize() {
        Driver.streamSynchronize(handle());
    }

    /** Makes later work on this stream wait for {@code event} (recorded on any stream). */
    public void waitFor(CudaEvent event) {
        Driver.streamWaitEvent(handle(), event.handle());
    }

    @Override protected void release() {
        if (owned) Driver.streamDestroy(handle);
    }

    @Override protected String describe() { return owned ? "CudaStream" : "the legacy default CudaStream"; }
}
