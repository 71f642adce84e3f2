package dev.twofour.runtime.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A tiny fork-join for the CPU kernels: {@link #forRange} splits {@code [0, n)} into chunks that the
 * calling thread and {@code threads - 1} workers take from a shared counter. Workers spin briefly between
 * jobs before parking, because a decode step issues ~60 small parallel ops back to back and a park/unpark
 * round trip per op would cost more than the op. Calls are serialised (one job at a time); not reentrant.
 */
final class Parallel implements AutoCloseable {
    interface Body {
        void run(int start, int end);
    }

    private static final long SPIN_NANOS = 50_000;

    private final int threads;
    private final Thread[] workers;
    private volatile Job job;          // current job, or null
    private volatile long generation;  // bumped per job so workers see new ones
    private volatile boolean closed;

    private static final class Job {
        final int n, chunk, numChunks;
        final Body body;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable failure;

        Job(int n, int chunk, Body body) {
            this.n = n;
            this.chunk = chunk;
            this.numChunks = (n + chunk - 1) / chunk;
            this.body = body;
        }

        /** Runs chunks until none are left. */
        void work() {
            int c;
            while ((c = next.getAndIncrement()) < numChunks) {
                try {
                    if (failure == null) body.run(c * chunk, Math.min(n, (c + 1) * chunk));
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    done.incrementAndGet();
                }
            }
        }
    }

    Parallel(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            Thread t = new Thread(this::workerLoop, "twofour-cpu-" + (i + 1));
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
    }

    int threads() { return threads; }

    /**
     * Runs {@code body} over {@code [0, n)} in chunks of a multiple of {@code grain} items, on all threads,
     * and returns when every chunk is done (rethrowing the first failure).
     */
    synchronized void forRange(int n, int grain, Body body) {
        if (n <= 0) return;
        if (closed) throw new IllegalStateException("CPU backend is closed");
        int units = (n + grain - 1) / grain;
        // About 4 chunks per thread balances uneven rows without much counter traffic.
        int chunks = Math.min(units, threads * 4);
        if (threads == 1 || chunks <= 1) {
            body.run(0, n);
            return;
        }
        int chunk = ((units + chunks - 1) / chunks) * grain;
        Job j = new Job(n, chunk, body);
        job = j;
        generation++;
        for (Thread w : workers) LockSupport.unpark(w);
        j.work();
        // Spin briefly (the worker is usually finishing its last chunk), then yield: on a busy machine the
        // worker may not be running, and spinning would only keep it off the core.
        long spinUntil = System.nanoTime() + 20_000;
        while (j.done.get() < j.numChunks) {
            if (System.nanoTime() < spinUntil) Thread.onSpinWait();
            else Thread.yield();
        }
        job = null;
        if (j.failure != null) {
            if (j.failure instanceof RuntimeException re) throw re;
            if (j.failure instanceof Error e) throw e;
            throw new RuntimeException(j.failure);
        }
    }

    private void workerLoop() {
        long seen = 0;
        while (!closed) {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (generation == seen && !closed) {
                if (System.nanoTime() < spinUntil) Thread.onSpinWait();
                else LockSupport.parkNanos(this, 1_000_000);
            }
            seen = generation;
            Job j = job;
            if (j != null) j.work();
        }
    }

    @Override public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
