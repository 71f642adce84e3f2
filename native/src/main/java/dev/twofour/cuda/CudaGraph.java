package dev.twofour.cuda;

/**
 * A CUDA graph captured from a stream and instantiated, ready to replay with {@link #launch}.
 * Typical use:
 * <pre>
 *   try (CudaGraph g = CudaGraph.capture(stream, () -> { ...enqueue work on stream... })) {
 *       g.launch(stream);
 *   }
 * </pre>
 * or {@link #beginCapture} ... {@link #endCapture}. Work enqueued during capture is recorded,
 * not run. Capture uses thread-local mode: other threads may keep using CUDA meanwhile.
 */
public final class CudaGraph extends NativeOwner {
    /** CUstreamCaptureMode values. */
    public enum CaptureMode {
        GLOBAL(0), THREAD_LOCAL(1), RELAXED(2);
        final int value;
        CaptureMode(int value) { this.value = value; }
    }

    private final long graph;
    private final long exec;

    private CudaGraph(long graph, long exec) {
        this.graph = graph;
        this.exec = exec;
    }

    public static void beginCapture(CudaStream stream) {
        beginCapture(stream, CaptureMode.THREAD_LOCAL);
    }

    public static void beginCapture(CudaStream stream, CaptureMode mode) {
        if (stream.handle() == 0L) throw new IllegalArgumentException("the legacy default stream cannot be captured: use CudaStream.create()");
        Driver.streamBeginCapture(stream.handle(), mode.value);
    }

    /** Ends the capture begun on {@code stream} and instantiates the graph. */
    public static CudaGraph endCapture(CudaStream stream) {
        long[] g = new long[1];
        int rc = Driver.streamEndCapture(stream.handle(), g);
        if (rc != 0) {
            if (g[0] != 0) Driver.graphDestroy(g[0]);
            throw CudaException.of(CudaException.Library.DRIVER, rc, "cuStreamEndCapture",
                    "ending a graph capture (an operation inside it was not capturable or failed)");
        }
        try {
            long exec = Driver.graphInstantiate(g[0], 0L);
            return new CudaGraph(g[0], exec);
        } catch (RuntimeException e) {
            Driver.graphDestroy(g[0]);
            throw e;
        }
    }

    /** Captures what {@code body} enqueues on {@code stream}; if it throws, the capture is abandoned. */
    public static CudaGraph capture(CudaStream stream, Runnable body) {
        beginCapture(stream);
        try {
            body.run();
        } catch (RuntimeException | Error e) {
            long[] g = new long[1];
            Driver.streamEndCapture(stream.handle(), g);
            if (g[0] != 0) {
                try {
                    Driver.graphDestroy(g[0]);
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
        return endCapture(stream);
    }

    /** Enqueues one replay of the graph on {@code stream}. */
    public void launch(CudaStream stream) {
        ensureOpen();
        Driver.graphLaunch(exec, stream.handle());
    }

    @Override protected void release() {
        try {
            Driver.graphExecDestroy(exec);
        } finally {
            Driver.graphDestroy(graph);
        }
    }

    @Override protected String describe() { return "CudaGraph"; }
}
