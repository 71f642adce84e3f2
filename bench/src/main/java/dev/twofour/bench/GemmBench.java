package dev.twofour.bench;

import dev.twofour.cuda.Cublas;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaException;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.CusparseLt;
import dev.twofour.cuda.CusparseLtGemm;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.kernels.Convert;
import dev.twofour.kernels.Fill;
import dev.twofour.kernels.Kernels;
import dev.twofour.kernels.Sparse24Gemm;
import dev.twofour.kernels.ref.HalfFloats;

import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code twofour bench gemm}: for each shape and M, dense cuBLAS, cuSPARSELt (default and tuned by
 * a configuration sweep) and our 2:4 kernel on the same random 2:4 weight. Each result is checked
 * against dense first; then timed with CUDA events around graph replays (warm-up, median of
 * {@code reps}), weights rotated among copies totalling more than {@code rotateBytes} so they do
 * not sit in L2. Also measures device-to-device copy bandwidth, the ceiling for the memory-bound
 * cases.
 */
public final class GemmBench {
    /** {@code out}: when not null, the reports are rewritten there after every shape (a run cut short keeps what it did). */
    /** {@code sweepSeconds}: how long the cuSPARSELt configuration sweep may take per M (the "tuned" column). */
    public record Options(List<GemmShapes.Shape> shapes, List<Integer> ms, CudaDtype dtype, boolean tune,
                          int oursMaxM, boolean oursSweep, int warmup, int iters, int reps, long rotateBytes,
                          java.nio.file.Path out, double sweepSeconds) {
        public static final List<Integer> DEFAULT_MS = List.of(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096);
        public static final double DEFAULT_SWEEP_SECONDS = 2;

        public Options(List<GemmShapes.Shape> shapes, List<Integer> ms, CudaDtype dtype, boolean tune, int oursMaxM, boolean oursSweep,
                       int warmup, int iters, int reps, long rotateBytes, java.nio.file.Path out) {
            this(shapes, ms, dtype, tune, oursMaxM, oursSweep, warmup, iters, reps, rotateBytes, out, DEFAULT_SWEEP_SECONDS);
        }

        public Options {
            if (!(sweepSeconds > 0)) throw new IllegalArgumentException("--sweep-seconds must be > 0, got " + sweepSeconds);
            if (shapes.isEmpty()) throw new IllegalArgumentException("no shapes to benchmark");
            if (ms.isEmpty() || ms.stream().anyMatch(m -> m <= 0)) throw new IllegalArgumentException("--m values must be > 0, got " + ms);
            if (dtype != CudaDtype.F16 && dtype != CudaDtype.BF16) throw new IllegalArgumentException("--dtype must be fp16 or bf16");
        }
    }

    /**
     * What {@code twofour tune}'s child process ({@link TuneChild}) adds to the benchmark of one shape: the M values
     * to run cuSPARSELt only at ({@code ltOnlyMs}: dense and ours were measured by an earlier child), configurations to leave out
     * ({@code skip}, "ID:SPLITK", and "default" for the library's default plan: they crashed an earlier child),
     * whether to run cusparseLtMatmulSearch, the smallest M a cuSPARSELt plan gets (the runtime pads fewer rows up to
     * it), seconds the configuration sweep may take per M, and who hears of each step. A cuSPARSELt failure in a
     * tuning child is thrown (the process ends: its context may be poisoned) instead of logged.
     */
    record TuneHooks(java.util.Set<Integer> ltOnlyMs, java.util.Set<String> skip, boolean search, int ltMinM, double sweepSeconds, TuneListener listener) {}

    /** Hears what a tuning child does, in order: {@link #trying} comes before anything that may crash the process. */
    interface TuneListener {
        void trying(int m, String what);
        /** A checked, timed result; configId and splitK are the cuSPARSELt configuration (-1 for other methods). */
        void result(GemmResult r, int configId, int splitK);
        /** Every cuSPARSELt measurement of this M is done. */
        void ltDone(int m);
    }

    private final Options o;
    private final TuneHooks hooks;  // null: a plain benchmark
    private final PrintStream log;
    private final CudaContext ctx;
    private final Kernels kernels;
    private final CudaStream stream;
    private final Cublas cublas;
    private final CusparseLt lt;
    private final String ltMissing;
    private final Sparse24Gemm ours;
    private final int es;

    private GemmBench(Options o, TuneHooks hooks, PrintStream log) {
        this.o = o;
        this.hooks = hooks;
        this.log = log;
        this.ctx = CudaContext.primary(0);
        this.kernels = Kernels.load(ctx);
        this.stream = CudaStream.create();
        this.cublas = Cublas.create();
        cublas.setStream(stream);
        CusparseLt l = null;
        String why = null;
        try {
            l = CusparseLt.create();
        } catch (RuntimeException e) {
            why = e.getMessage();
        }
        this.lt = l;
        this.ltMissing = why;
        this.ours = new Sparse24Gemm(kernels);
        this.es = o.dtype().byteSize();
    }

    /** Runs the whole benchmark on GPU 0. */
    public static GemmReport run(Options o, PrintStream log) {
        if (!Kernels.available()) throw new IllegalStateException(Kernels.unavailableReason());
        GemmBench b = new GemmBench(o, null, log);
        try {
            return b.runAll();
        } finally {
            b.close();
        }
    }

    /**
     * Measures the one shape of {@code o} for a tuning child: results go to {@code hooks.listener()} as they come.
     * Fails (CudaException) when cuSPARSELt is missing or fails: the child's parent records it.
     */
    static void tuneShape(Options o, TuneHooks hooks, PrintStream log) {
        if (!Kernels.available()) throw new IllegalStateException(Kernels.unavailableReason());
        GemmBench b = new GemmBench(o, hooks, log);
        try {
            if (b.lt == null) log.println("cuSPARSELt not used: " + b.ltMissing);
            for (GemmShapes.Shape s : o.shapes()) b.runShape(s, 0);
        } finally {
            b.close();
        }
    }

    private void close() {
        ours.close();
        if (lt != null) lt.close();
        cublas.close();
        stream.close();
    }

    private GemmReport runAll() {
        String device = ctx.device().name();
        double copy = measureCopyGBps();
        log.printf("device: %s, %d SMs; device-to-device copy: %.0f GB/s (read + write)%n", device, kernels.multiprocessors(), copy);
        if (lt == null) log.println("cuSPARSELt not used: " + ltMissing);
        List<GemmResult> results = new ArrayList<>();
        String ltVersion = lt == null ? "none" : CusparseLt.formatVersion(lt.version());
        GemmReport report = null;
        for (GemmShapes.Shape s : o.shapes()) {
            results.addAll(runShape(s, copy));
            report = new GemmReport(device, o.dtype().name().toLowerCase(java.util.Locale.ROOT), copy,
                    "cuBLAS " + Cublas.version() + ", cuSPARSELt " + ltVersion, Instant.now().toString(), List.copyOf(results));
            if (o.out() != null) report.writeAll(o.out(), new PrintStream(java.io.OutputStream.nullOutputStream()));
        }
        return report;
    }

    private double measureCopyGBps() {
        long bytes = 1L << 30;
        try (DeviceBuffer a = DeviceBuffer.allocate(bytes); DeviceBuffer b = DeviceBuffer.allocate(bytes)) {
            Fill.random(kernels, stream, a, bytes / 4, CudaDtype.F32, 1, 1f);
            GpuTimer.Timing memcpy = GpuTimer.time(stream, 1, 2, 5, 5, c -> b.copyFrom(a, stream));
            GpuTimer.Timing kernel = GpuTimer.time(stream, 1, 2, 5, 5, c -> Convert.copy(kernels, stream, a, b, bytes));
            double viaMemcpy = 2.0 * bytes / (memcpy.medianMicros() * 1e3), viaKernel = 2.0 * bytes / (kernel.medianMicros() * 1e3);
            log.printf("copy bandwidth: cuMemcpyDtoD %.0f GB/s, 16-byte copy kernel %.0f GB/s (read + write; the larger is the yardstick)%n",
                    viaMemcpy, viaKernel);
            return Math.max(viaMemcpy, viaKernel);
        }
    }

    private List<GemmResult> runShape(GemmShapes.Shape s, double copyGBps) {
        sweptRows.clear();
        int n = s.n(), k = s.k();
        long kp = (k + 15) & ~15L;
        long valuesBytes = n * kp / 2 * es, metaBytes = n * kp / 8, denseBytes = (long) n * k * es;
        int sparseCopies = copies(valuesBytes + metaBytes), denseCopies = copies(denseBytes);
        int maxM = o.ms().stream().mapToInt(Integer::intValue).max().orElseThrow();
        int maxMPadded = (maxM + 15) & ~15;
        log.printf("%n== %s (N=%d, K=%d), %s: %d packed copies, %d dense copies%n", s.name(), n, k, o.dtype(), sparseCopies, denseCopies);
        List<GemmResult> out = new ArrayList<>();
        List<DeviceBuffer> owned = new ArrayList<>();
        try {
            DeviceBuffer[] vals = new DeviceBuffer[sparseCopies], meta = new DeviceBuffer[sparseCopies], dense = new DeviceBuffer[denseCopies];
            for (int i = 0; i < sparseCopies; i++) {
                vals[i] = own(owned, valuesBytes);
                meta[i] = own(owned, metaBytes);
                Fill.sparse24(kernels, stream, vals[i], meta[i], n, k, o.dtype(), 1000 + i, 0.02f);
            }
            for (int i = 0; i < denseCopies; i++) {
                dense[i] = own(owned, denseBytes);
                Fill.unpack24(kernels, stream, vals[i % sparseCopies], meta[i % sparseCopies], dense[i], n, k);
            }
            DeviceBuffer x = own(owned, (long) maxMPadded * k * es);
            Fill.random(kernels, stream, x, (long) maxMPadded * k, o.dtype(), 7, 1f);
            DeviceBuffer yDense = own(owned, (long) maxMPadded * n * es), y = own(owned, (long) maxMPadded * n * es);
            stream.synchronize();
            for (int m : o.ms()) {
                long flops = 2L * m * n * k;
                long io = (long) m * k * es + (long) m * n * es;
                // Dense first: it is the reference for the others.
                cublas.linear(x.address(), dense[0].address(), yDense.address(), m, n, k, o.dtype(), o.dtype());
                stream.synchronize();
                float[] ref = download(yDense, m * n);
                boolean ltOnly = hooks != null && hooks.ltOnlyMs().contains(m);
                // In a cuSPARSELt-only tuning run the speedups are filled in by the parent from the dense time it has.
                double tDense = Double.NaN;
                if (!ltOnly) {
                    trying(m, "dense");
                    GpuTimer.Timing td = GpuTimer.time(stream, denseCopies, o.warmup(), o.iters(), o.reps(),
                            c -> cublas.linear(x.address(), dense[c].address(), yDense.address(), m, n, k, o.dtype(), o.dtype()));
                    tDense = td.medianMicros();
                    emit(out, result(s, m, "dense", tDense, flops, denseBytes + io, tDense, 0, td.graph() ? "cublasGemmEx" : "cublasGemmEx, eager"), -1, -1);
                    if (m <= o.oursMaxM()) trying(m, "ours");
                    if (m <= o.oursMaxM()) emit(out, runOurs(s, m, x, y, vals, meta, ref, flops, valuesBytes + metaBytes + io, tDense, copyGBps), -1, -1);
                }
                if (lt != null) out.addAll(runCusparseLt(s, m, x, y, dense, ref, flops, valuesBytes + metaBytes + io, tDense));
                if (hooks != null && lt != null) hooks.listener().ltDone(m);
                printRow(s, m, out);
            }
        } catch (RuntimeException | Error e) {
            closeQuietly(owned, e);  // a sticky CUDA error fails every free: keep the first error visible
            throw e;
        }
        closeQuietly(owned, null);
        return out;
    }

    private static void closeQuietly(List<DeviceBuffer> owned, Throwable primary) {
        RuntimeException first = null;
        for (DeviceBuffer b : owned) {
            try {
                b.close();
            } catch (RuntimeException e) {
                if (primary != null) primary.addSuppressed(e);
                else if (first == null) first = e;
            }
        }
        if (first != null) throw first;
    }

    private GemmResult runOurs(GemmShapes.Shape s, int m, DeviceBuffer x, DeviceBuffer y, DeviceBuffer[] vals, DeviceBuffer[] meta,
                               float[] ref, long flops, long bytes, double tDense, double copyGBps) {
        int n = s.n(), k = s.k();
        int[] tiles = m <= 8 ? new int[] {8} : new int[] {16, 32};
        List<GemmResult> candidates = new ArrayList<>();
        Sparse24Gemm.WidePlan wide = m > 16 ? ours.widePlan(m, n, k) : null;
        if (wide != null) {
            // 16 < m <= 64: the wide kernel (what Sparse24Gemm.run picks there), its default plan first, then every CTA shape
            // with the cost model's splits and with forced ones; every variant goes to the log (variants.log).
            java.util.Set<Sparse24Gemm.WidePlan> wides = new java.util.LinkedHashSet<>();
            wides.add(wide);
            for (int rows : new int[] {96, 128, 256})
                for (int splits : new int[] {0, 1, 2, 3, 4, 6, 8}) {
                    Sparse24Gemm.WidePlan p = Sparse24Gemm.widePlan(m, n, k, kernels.multiprocessors(), kernels.sharedPerBlockOptin(), rows, splits);
                    if (p == null) continue;
                    for (Sparse24Gemm.WidePlan q : new Sparse24Gemm.WidePlan[] {p, p.withRowsPerWarp(32), p.withRowsPerWarp(64)}) {
                        if (q == null) continue;
                        wides.add(q);
                        if (ours.wideClusters()) wides.add(q.withClusterReduce(true));   // 2-4 splits reduced in a cluster
                    }
                }
            wides.remove(null);
            for (Sparse24Gemm.WidePlan p : wides) {
                try {
                    candidates.add(timeOurs(s, m, x, y, vals, meta, ref, flops, bytes, tDense, p));
                } catch (RuntimeException e) {   // e.g. a refused cluster launch: log it and go on with the other variants
                    log.printf("   ours     %-8s m=%-4d FAILED %s: %s%n", s.name(), m, p, e.getMessage());
                    stream.synchronize();
                }
            }
            tiles = candidates.isEmpty() ? new int[] {16, 32} : new int[0];   // the classic kernel only if every wide variant failed
        }
        for (int tile : tiles) {
            Sparse24Gemm.Plan p = Sparse24Gemm.plan(m, n, k, kernels.multiprocessors(), tile, 0);
            candidates.add(timeOurs(s, m, x, y, vals, meta, ref, flops, bytes, tDense, p));
            if (tile <= 16) candidates.add(timeOurs(s, m, x, y, vals, meta, ref, flops, bytes, tDense, p.withSparseMma(true)));
        }
        Sparse24Gemm.StreamPlan sp = wide != null ? null : ours.streamPlan(m, n, k);
        if (sp != null) {
            // The default ring with both tensor-core steps, then every other compiled ring that fits (mma.sp).
            java.util.Set<Sparse24Gemm.StreamPlan> streams = new java.util.LinkedHashSet<>();
            streams.add(sp);
            Sparse24Gemm.StreamPlan other = sp.withSparseMma(!sp.sparseMma());
            if (other != null) streams.add(other);
            Sparse24Gemm.StreamPlan withSp = sp.sparseMma() ? sp : other;
            if (withSp != null) {
                for (int[] ring : new int[][] {{8, 4, 16}, {8, 8, 8}, {8, 4, 8}, {16, 4, 8}, {16, 2, 16}}) {
                    Sparse24Gemm.StreamPlan r = withSp.withRing(ring[0], ring[1], ring[2], kernels.sharedPerBlockOptin());
                    if (r != null) streams.add(r.oneCtaPerSm(kernels.sharedPerBlockOptin()));
                }
            }
            for (Sparse24Gemm.StreamPlan p : streams) candidates.add(timeOurs(s, m, x, y, vals, meta, ref, flops, bytes, tDense, p));
        }
        GemmResult best = null;
        for (GemmResult r : candidates) {
            if (candidates.size() > 1) {
                log.printf("   ours     %-8s m=%-4d %8.2f us %6.0f GB/s (%.0f%% of copy) err %.1e  %s%n", s.name(), m, r.micros(), r.gbps(),
                        100 * r.gbps() / copyGBps, r.relError(), r.note());
            }
            // A wrong variant never wins: the fastest correct one is reported (a wrong one only if all are).
            boolean ok = r.relError() <= tolerance(), bestOk = best != null && best.relError() <= tolerance();
            if (best == null || (ok && !bestOk) || (ok == bestOk && r.micros() < best.micros())) best = r;
        }
        if (o.oursSweep()) {
            for (int tile : tiles)
                for (int splits : new int[] {1, 2, 4, 8, 16, 32}) {
                    Sparse24Gemm.Plan p = Sparse24Gemm.plan(m, n, k, kernels.multiprocessors(), tile, splits);
                    GemmResult r = timeOurs(s, m, x, y, vals, meta, ref, flops, bytes, tDense, p);
                    log.printf("   sweep %-8s m=%-4d tile=%-2d splits=%-3d sb/split=%-3d %8.2f us %6.0f GB/s (%.0f%% of copy)%n", s.name(), m, tile,
                            p.splits(), p.superblocksPerSplit(), r.micros(), r.gbps(), 100 * r.gbps() / copyGBps);
                }
        }
        return best;
    }

    private double tolerance() { return o.dtype() == CudaDtype.BF16 ? 1e-2 : 2e-3; }

    private GemmResult timeOurs(GemmShapes.Shape s, int m, DeviceBuffer x, DeviceBuffer y, DeviceBuffer[] vals, DeviceBuffer[] meta,
                                float[] ref, long flops, long bytes, double tDense, Sparse24Gemm.Plan p) {
        ours.reserve(p);
        String note = "classic" + (p.sparseMma() ? " mma.sp" : "") + ", tile " + p.tokensPerTile() + ", " + p.splits() + " splits x " + p.superblocksPerSplit() + " superblocks";
        return timeOurs(s, m, y, ref, flops, bytes, tDense, vals.length, note,
                c -> ours.run(stream, o.dtype(), x, s.k(), vals[c], meta[c], y, s.n(), p));
    }

    private GemmResult timeOurs(GemmShapes.Shape s, int m, DeviceBuffer x, DeviceBuffer y, DeviceBuffer[] vals, DeviceBuffer[] meta,
                                float[] ref, long flops, long bytes, double tDense, Sparse24Gemm.WidePlan p) {
        ours.reserve(p);
        String note = "wide, tile " + p.tokensPerTile() + ", " + p.rowsPerCta() + " rows (" + p.threads() / 32 + " warps) x " + p.stages()
                + " stages, " + p.rowGroups()
                + " row groups x " + p.splits() + " splits of " + p.windowsPerSplit() + " windows" + (p.clusterReduce() ? " (cluster)" : "")
                + ", " + p.ctas() + " CTAs";
        return timeOurs(s, m, y, ref, flops, bytes, tDense, vals.length, note,
                c -> ours.run(stream, o.dtype(), x, s.k(), vals[c], meta[c], y, s.n(), p));
    }

    private GemmResult timeOurs(GemmShapes.Shape s, int m, DeviceBuffer x, DeviceBuffer y, DeviceBuffer[] vals, DeviceBuffer[] meta,
                                float[] ref, long flops, long bytes, double tDense, Sparse24Gemm.StreamPlan p) {
        String note = "stream" + (p.sparseMma() ? " mma.sp" : "") + ", tile " + p.tokensPerTile() + ", " + p.stages() + " stages of "
                + p.chunksPerStage() + " chunks, " + p.ctas() + " CTAs";
        return timeOurs(s, m, y, ref, flops, bytes, tDense, vals.length, note,
                c -> ours.run(stream, o.dtype(), x, s.k(), vals[c], meta[c], y, s.n(), p, false));
    }

    /** Checks one launch of {@code launch} (copy 0) against {@code ref} into a NaN-poisoned Y, then times it over the copies. */
    private GemmResult timeOurs(GemmShapes.Shape s, int m, DeviceBuffer y, float[] ref, long flops, long bytes, double tDense,
                                int copies, String note, java.util.function.IntConsumer launch) {
        y.memset((byte) 0xFF, stream);
        launch.accept(0);
        stream.synchronize();
        double err = relError(ref, download(y, m * s.n()));
        GpuTimer.Timing t = GpuTimer.time(stream, copies, o.warmup(), o.iters(), o.reps(), launch::accept);
        return result(s, m, "ours", t.medianMicros(), flops, bytes, tDense, err, note + (t.graph() ? "" : ", eager"));
    }

    private void emit(List<GemmResult> out, GemmResult r, int configId, int splitK) {
        out.add(r);
        if (hooks != null) hooks.listener().result(r, configId, splitK);
    }

    private void trying(int m, String what) {
        if (hooks != null) hooks.listener().trying(m, what);
    }

    private boolean skipped(String what) {
        return hooks != null && skips(hooks.skip(), what);
    }

    /** Whether {@code skip} leaves out {@code what} ("default", "search" or "ID:SPLITK", also by a "from:C" entry). */
    static boolean skips(java.util.Set<String> skip, String what) {
        if (skip.contains(what)) return true;
        int colon = what.indexOf(':');
        if (colon < 0) return false;
        int id = Integer.parseInt(what.substring(0, colon));
        for (String k : skip) {
            if (k.startsWith(FROM_CONFIG) && id > Integer.parseInt(k.substring(FROM_CONFIG.length()))) return true;
        }
        return false;
    }

    /** A skip entry "from:C": every configuration id above C is left out (a tuning child crashed at C). */
    static final String FROM_CONFIG = "from:";

    /**
     * Configuration ids a sweep in this process (a plain `bench gemm`, no child to crash instead) tries: 0..35. On the H100
     * with cuSPARSELt 0.8 configurations 36 to 41 and the last each killed the process (ILLEGAL_INSTRUCTION; `twofour
     * tune`, device run of 2026-11-22).
     */
    static final int IN_PROCESS_CONFIGS = 36;

    /** A configuration the sweep timed: id, split-K and median microseconds. */
    private record Candidate(int configId, int splitK, double micros) {}

    /** Sweep (and search) results by plan rows, for the shape being measured. */
    private final java.util.Map<Integer, List<Candidate>> sweptRows = new java.util.HashMap<>();

    /**
     * cuSPARSELt at M rows: the library's default plan, then (when tuning) every configuration x split-K 1, 2, 4 for
     * up to the sweep's seconds, and cusparseLtMatmulSearch in a tuning child; the fastest configuration whose result
     * matches dense is "cusparselt-tuned". One plan per configuration runs every rotated compressed copy of the
     * weight (plan-free compression), so a configuration costs one plan build.
     */
    private List<GemmResult> runCusparseLt(GemmShapes.Shape s, int m, DeviceBuffer x, DeviceBuffer y, DeviceBuffer[] dense,
                                           float[] ref, long flops, long bytes, double tDense) {
        int n = s.n(), k = s.k();
        List<GemmResult> out = new ArrayList<>();
        List<DeviceBuffer> compressed = new ArrayList<>();
        CusparseLtGemm g0 = null;
        try {
            // The library rejects some small M (it needs N=1 padded, in its terms): pad as a runtime would.
            int m0 = hooks == null ? m : Math.max(m, hooks.ltMinM());
            int mLt = -1;
            String why = null;
            for (int cand : new int[] {m0, (m0 + 7) & ~7, (m0 + 15) & ~15}) {
                if (cand == mLt) continue;
                try {
                    g0 = CusparseLtGemm.create(lt, n, k, cand, o.dtype());
                    mLt = cand;
                    break;
                } catch (CudaException | IllegalArgumentException e) {
                    why = e.getMessage();
                }
            }
            if (g0 == null) {
                log.printf("   cuSPARSELt refused %s m=%d: %s%n", s.name(), m, why);
                return out;
            }
            DeviceBuffer first = g0.compressedCopy(dense[0].address(), stream);
            compressed.add(first);
            int copies = copies(first.bytes());
            for (int i = 1; i < copies; i++) compressed.add(g0.compressedCopy(dense[i % dense.length].address(), stream));
            final int rowsLt = mLt;
            String pad = mLt == m ? "" : ", M padded to " + mLt;
            CusparseLtGemm.Config def = g0.config();
            if (!skipped("default")) {
                trying(m, "default");
                GemmResult r = timeLt(s, m, x, y, g0, compressed, ref, flops, bytes, tDense,
                        "default config " + def.configId() + ", split-K " + def.splitK() + pad, "cusparselt");
                emit(out, r, def.configId(), def.splitK());
            }
            if (o.tune()) {
                // M values padded to the same plan rows share one sweep (and search): the plans are the same
                List<Candidate> candidates = new ArrayList<>(sweptRows.computeIfAbsent(rowsLt, r -> new ArrayList<>()));
                boolean fresh = candidates.isEmpty();
                if (fresh) candidates.addAll(sweep(s, m, rowsLt, x, y, compressed));
                if (fresh && hooks != null && hooks.search() && !skipped("search")) {
                    Candidate c = search(s, m, rowsLt, x, y, dense[0], compressed);
                    if (c != null) candidates.add(c);
                }
                if (fresh) sweptRows.put(rowsLt, List.copyOf(candidates));
                candidates.sort(java.util.Comparator.comparingDouble(Candidate::micros));
                // The fastest configuration that computes the right result (a wrong one never wins); checking a few is enough.
                for (Candidate c : candidates.subList(0, Math.min(4, candidates.size()))) {
                    trying(m, "config " + c.configId() + " split-K " + c.splitK());
                    try (CusparseLtGemm g = CusparseLtGemm.create(lt, n, k, rowsLt, o.dtype(),
                            new CusparseLtGemm.Config(c.configId(), c.splitK(), null))) {
                        GemmResult r = timeLt(s, m, x, y, g, compressed, ref, flops, bytes, tDense,
                                "config " + c.configId() + ", split-K " + c.splitK() + pad, "cusparselt-tuned");
                        if (r.relError() <= tolerance()) {
                            emit(out, r, c.configId(), c.splitK());
                            break;
                        }
                        log.printf("   cuSPARSELt %s m=%d config %d split-K %d is wrong (relative error %.2e): not used%n",
                                s.name(), m, c.configId(), c.splitK(), r.relError());
                    }
                }
            }
        } catch (CudaException e) {
            if (hooks != null) throw e;  // a tuning child ends here; its parent records which step failed
            log.printf("   cuSPARSELt failed on %s m=%d: %s%n", s.name(), m, e.getMessage());
        } finally {
            for (DeviceBuffer b : compressed) b.close();
            if (g0 != null) g0.close();
        }
        return out;
    }

    /**
     * Times the configurations the library accepts, within the sweep's seconds: first every configuration at split-K 1,
     * then split-K 2 and 4 for the {@value #SPLIT_K_FINALISTS} fastest. The first sweep tried (id, split-K 1, 2, 4) in
     * id order and, at ~0.2 s per plan, its 2 seconds ended at configuration 2-3 of 52, while every winner `twofour tune`
     * found on the H100 (configurations 1-12) ran split-K 1 (docs/results/h100/tuning).
     */
    private List<Candidate> sweep(GemmShapes.Shape s, int m, int rowsLt, DeviceBuffer x, DeviceBuffer y, List<DeviceBuffer> compressed) {
        List<Candidate> out = new ArrayList<>();
        int count;
        try (CusparseLtGemm probe = CusparseLtGemm.create(lt, s.n(), s.k(), rowsLt, o.dtype())) {
            count = probe.configCount();
        }
        double seconds = hooks == null ? o.sweepSeconds() : hooks.sweepSeconds();
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        // Some configurations kill the CUDA context (see IN_PROCESS_CONFIGS): a plain benchmark, which runs in this
        // process, leaves them out; a tuning child tries them (its parent survives and skips from there on).
        int ids = hooks == null ? Math.min(count - 1, IN_PROCESS_CONFIGS) : count;
        for (int id = 0; id < ids; id++) {
            if (!timeCandidate(s, m, rowsLt, x, y, compressed, id, 1, deadline, seconds, out)) return out;
        }
        List<Candidate> best = new ArrayList<>(out);
        best.sort(java.util.Comparator.comparingDouble(Candidate::micros));
        for (Candidate c : best.subList(0, Math.min(SPLIT_K_FINALISTS, best.size()))) {
            for (int splitK : new int[] {2, 4}) {
                if (!timeCandidate(s, m, rowsLt, x, y, compressed, c.configId(), splitK, deadline, seconds, out)) return out;
            }
        }
        return out;
    }

    /**
     * Times configuration {@code id} at {@code splitK} into {@code out} (nothing when the library does not take it for
     * this shape, or the tuner skips it); false, having timed nothing, once the sweep's deadline has passed.
     */
    private boolean timeCandidate(GemmShapes.Shape s, int m, int rowsLt, DeviceBuffer x, DeviceBuffer y, List<DeviceBuffer> compressed,
                                  int id, int splitK, long deadline, double seconds, List<Candidate> out) {
        if (System.nanoTime() > deadline) {
            log.printf("   cuSPARSELt sweep %s m=%d stopped after %.0f s at config %d split-K %d%n", s.name(), m, seconds, id, splitK);
            return false;
        }
        if (skipped(id + ":" + splitK)) return true;
        trying(m, "config " + id + " split-K " + splitK);  // planning one has crashed the process too
        CusparseLtGemm g;
        try {
            g = CusparseLtGemm.create(lt, s.n(), s.k(), rowsLt, o.dtype(), new CusparseLtGemm.Config(id, splitK, null));
        } catch (CudaException | IllegalArgumentException e) {
            return true;  // this configuration does not apply to the shape
        }
        try {
            double t = GpuTimer.time(stream, compressed.size(), 1, Math.max(2, o.iters() / 4), 3,
                    c -> g.matmul(stream, compressed.get(c), x.address(), y.address())).medianMicros();
            out.add(new Candidate(id, splitK, t));
        } finally {
            g.close();
        }
        return true;
    }

    /** Configurations of the split-K 1 sweep that are also timed at split-K 2 and 4. */
    static final int SPLIT_K_FINALISTS = 4;

    /**
     * cusparseLtMatmulSearch on a fresh default plan (its own compressed copy: the search runs the plan's own
     * weight), then the configuration it chose, timed like the sweep's. Null when it chose nothing new.
     */
    private Candidate search(GemmShapes.Shape s, int m, int rowsLt, DeviceBuffer x, DeviceBuffer y, DeviceBuffer dense0,
                             List<DeviceBuffer> compressed) {
        CusparseLtGemm.Config found;
        try (CusparseLtGemm g = CusparseLtGemm.create(lt, s.n(), s.k(), rowsLt, o.dtype())) {
            g.compress(dense0.address(), stream);
            trying(m, "search");
            found = g.search(stream, x.address(), y.address(), 0);
        }
        log.printf("   cuSPARSELt search m=%d chose config %d, split-K %d%n", m, found.configId(), found.splitK());
        trying(m, "config " + found.configId() + " split-K " + Math.max(1, found.splitK()));
        try (CusparseLtGemm g = CusparseLtGemm.create(lt, s.n(), s.k(), rowsLt, o.dtype(),
                new CusparseLtGemm.Config(found.configId(), Math.max(1, found.splitK()), found.splitKMode()))) {
            double t = GpuTimer.time(stream, compressed.size(), 1, Math.max(2, o.iters() / 4), 3,
                    c -> g.matmul(stream, compressed.get(c), x.address(), y.address())).medianMicros();
            return new Candidate(found.configId(), Math.max(1, found.splitK()), t);
        }
    }

    private GemmResult timeLt(GemmShapes.Shape s, int m, DeviceBuffer x, DeviceBuffer y, CusparseLtGemm g, List<DeviceBuffer> compressed,
                              float[] ref, long flops, long bytes, double tDense, String note, String method) {
        y.memset((byte) 0xFF, stream);
        g.matmul(stream, compressed.getFirst(), x.address(), y.address());
        stream.synchronize();
        double err = relError(ref, download(y, m * s.n()));
        GpuTimer.Timing t = GpuTimer.time(stream, compressed.size(), o.warmup(), o.iters(), o.reps(),
                c -> g.matmul(stream, compressed.get(c), x.address(), y.address()));
        return result(s, m, method, t.medianMicros(), flops, bytes, tDense, err, note + (t.graph() ? "" : ", eager"));
    }

    private GemmResult result(GemmShapes.Shape s, int m, String method, double micros, long flops, long bytes, double tDense,
                              double err, String note) {
        return new GemmResult(s.name(), s.n(), s.k(), m, o.dtype().name().toLowerCase(java.util.Locale.ROOT), method, micros,
                flops / (micros * 1e6), bytes / (micros * 1e3), tDense / micros, err, note);
    }

    private void printRow(GemmShapes.Shape s, int m, List<GemmResult> all) {
        StringBuilder sb = new StringBuilder(String.format("  %-8s m=%-5d", s.name(), m));
        for (GemmResult r : all) {
            if (r.m() != m || !r.shape().equals(s.name())) continue;
            sb.append(String.format(" | %s %.1f us %.2fx %.0f GB/s err %.1e", r.method(), r.micros(), r.speedup(), r.gbps(), r.relError()));
        }
        log.println(sb);
    }

    private int copies(long bytesPerCopy) {
        return (int) Math.max(2, Math.min(32, (o.rotateBytes() + bytesPerCopy - 1) / Math.max(1, bytesPerCopy)));
    }

    private static DeviceBuffer own(List<DeviceBuffer> owned, long bytes) {
        DeviceBuffer b = DeviceBuffer.allocate(bytes);
        owned.add(b);
        return b;
    }

    private float[] download(DeviceBuffer b, int count) {
        short[] h = new short[count];
        b.copyTo(MemorySegment.ofArray(h));
        return HalfFloats.toFloats(o.dtype(), h);
    }

    /** ‖got − ref‖ / ‖ref‖; NaN when any element is NaN (unwritten output). */
    static double relError(float[] ref, float[] got) {
        double num = 0, den = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Float.isNaN(got[i])) return Double.NaN;
            double d = got[i] - ref[i];
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-30));
    }
}
