package dev.twofour.bench;

import dev.twofour.cuda.CudaEvent;
import dev.twofour.cuda.CudaGraph;
import dev.twofour.cuda.CudaStream;

import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * Times GPU work with CUDA events: warm-up, then {@code iters} launches (rotating over
 * {@code copies} weight copies so they do not sit in L2) captured into one CUDA graph so that host
 * launch overhead stays out, replayed {@code reps} times; the result is the median per launch.
 * Falls back to eager launches when the work cannot be captured.
 */
final class GpuTimer {
    record Timing(double medianMicros, double minMicros, boolean graph) {}

    private GpuTimer() {}

    static Timing time(CudaStream stream, int copies, int warmup, int iters, int reps, IntConsumer launch) {
        for (int i = 0; i < warmup; i++) launch.accept(i % copies);
        stream.synchronize();
        CudaGraph graph = null;
        try {
            graph = CudaGraph.capture(stream, () -> {
                for (int i = 0; i < iters; i++) launch.accept(i % copies);
            });
        } catch (RuntimeException e) {
            graph = null;  // not capturable: time eager launches instead
        }
        double[] t = new double[reps];
        try (CudaEvent a = CudaEvent.create(); CudaEvent b = CudaEvent.create()) {
            if (graph != null) {
                graph.launch(stream);  // first replay uploads the graph
                stream.synchronize();
            }
            for (int r = 0; r < reps; r++) {
                a.record(stream);
                if (graph != null) graph.launch(stream);
                else for (int i = 0; i < iters; i++) launch.accept(i % copies);
                b.record(stream);
                b.synchronize();
                t[r] = CudaEvent.elapsedMillis(a, b) * 1000.0 / iters;
            }
        } finally {
            if (graph != null) graph.close();
        }
        Arrays.sort(t);
        return new Timing(t[reps / 2], t[0], graph != null);
    }
}
