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
    public record Options(List<GemmShapes.Shape> shapes, List<Integer> ms, CudaDtype dtype, boolean tune,
                          int oursMaxM, boolean oursSweep, int warmup, int iters, int reps, long rotateBytes,
                          java.nio.file.Path out) {
        public static final List<Integer> DEFAULT_MS = List.of(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096);

        public Options {
            if (shapes.isEmpty()) throw new IllegalArgumentException("no shapes to benchmark");
            if (ms.isEmpty() || ms.stream().anyMatch(m -> m <= 0)) throw new IllegalArgumentException("--m values must be > 0, got " + ms);
            if (dtype != CudaDtype.F16 && dtype != CudaDtype.BF16) throw new IllegalArgumentException("--dtype must be fp16 or bf16");
        }
    }

    private final Options o;
    private final PrintStream log;
    private final CudaContext ctx;
    private final Kernels kernels;
    private final CudaStream stream;
    private final Cublas cublas;
    private final CusparseLt lt;
    private final String ltMissing;
    private final Sparse24Gemm ours;
    private final int es;

    private GemmBench(Options o, PrintStream log) {
        this.o = o;
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
        GemmBench b = new GemmBench(o, log);
        try {
            return b.runAll();
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
                GpuTimer.Timing td = GpuTimer.time(stream, denseCopies, o.warmup(), o.iters(), o.reps(),
                        c -> cublas.linear(x.address(), dense[c].address(), yDense.address(), m, n, k, o.dtype(), o.dtype()));
                double tDense = td.medianMicros();
                out.add(result(s, m, "dense", tDense, flops, denseBytes + io, tDense, 0, td.graph() ? "cublasGemmEx" : "cublasGemmEx, eager"));
                if (m <= o.oursMaxM()) out.add(runOurs(s, m, x, y, vals, meta, ref, flops, valuesBytes + metaBytes + io, tDense, copyGBps));
                if (lt != null) out.addAll(runCusparseLt(s, m, x, y, dense, ref, flops, valuesBytes + metaBytes + io, tDense));
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
        int[] tiles = m <= 8 ? new int[] {8} : m <= 16 ? new int[] {16, 32} : new int[] {16, 32};
        GemmResult best = null;
        for (int tile : tiles) {
            Sparse24Gemm.Plan p = Sparse24Gemm.plan(m, n, k, kernels.multiprocessors(), tile, 0);
            GemmResult r = timeOurs(s, m, x, y, vals, meta, ref, flops, bytes, tDense, p);
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
        int n = s.n(), k = s.k();
        ours.reserve(p);
        y.memset((byte) 0xFF, stream);
        ours.run(stream, o.dtype(), x, k, vals[0], meta[0], y, n, p);
        stream.synchronize();
        double err = relError(ref, download(y, m * n));
        GpuTimer.Timing t = GpuTimer.time(stream, vals.length, o.warmup(), o.iters(), o.reps(),
                c -> ours.run(stream, o.dtype(), x, k, vals[c], meta[c], y, n, p));
        String note = "tile " + p.tokensPerTile() + ", " + p.splits() + " splits x " + p.superblocksPerSplit() + " superblocks"
                + (t.graph() ? "" : ", eager");
        return result(s, m, "ours", t.medianMicros(), flops, bytes, tDense, err, note);
    }

    private List<GemmResult> runCusparseLt(GemmShapes.Shape s, int m, DeviceBuffer x, DeviceBuffer y, DeviceBuffer[] dense,
                                           float[] ref, long flops, long bytes, double tDense) {
        int n = s.n(), k = s.k();
        List<GemmResult> out = new ArrayList<>();
        List<CusparseLtGemm> gs = new ArrayList<>();
        try {
            // The library rejects some small M (it needs N=1 padded, in its terms): pad as a runtime would.
            int mLt = -1;
            String why = null;
            for (int cand : new int[] {m, (m + 7) & ~7, (m + 15) & ~15}) {
                if (cand == mLt) continue;
                try {
                    CusparseLtGemm g = CusparseLtGemm.create(lt, n, k, cand, o.dtype());
                    g.compress(dense[0].address(), stream);
                    gs.add(g);
                    mLt = cand;
                    break;
                } catch (CudaException | IllegalArgumentException e) {
                    why = e.getMessage();
                }
            }
            if (gs.isEmpty()) {
                log.printf("   cuSPARSELt refused %s m=%d: %s%n", s.name(), m, why);
                return out;
            }
            int copies = copies(gs.getFirst().compressedBytes());
            for (int i = 1; i < copies; i++) {
                CusparseLtGemm g = CusparseLtGemm.create(lt, n, k, mLt, o.dtype());
                gs.add(g);
                g.compress(dense[i % dense.length].address(), stream);
            }
            String pad = mLt == m ? "" : ", M padded to " + mLt;
            out.add(timeLt(s, m, x, y, gs, ref, flops, bytes, tDense, "default config " + gs.getFirst().config().configId() + pad));
            if (o.tune()) {
                CusparseLtGemm g0 = gs.getFirst();
                CusparseLtGemm.Config bestCfg = g0.config();
                double bestT = Double.MAX_VALUE;
                long deadline = System.nanoTime() + 2_000_000_000L;  // the sweep gets 2 s per shape and M
                sweep:
                for (int id = 0; id <= g0.maxConfigId(); id++) {
                    for (int splitK : new int[] {1, 2, 4}) {
                        try {
                            for (CusparseLtGemm g : gs) g.setConfig(id, splitK, null);
                        } catch (CudaException e) {
                            continue;  // this configuration does not apply to the shape
                        }
                        double t = GpuTimer.time(stream, gs.size(), 1, Math.max(2, o.iters() / 4), 3,
                                c -> gs.get(c).matmul(stream, x.address(), y.address())).medianMicros();
                        if (t < bestT) { bestT = t; bestCfg = g0.config(); }
                        if (System.nanoTime() > deadline) break sweep;
                    }
                }
                for (CusparseLtGemm g : gs) g.setConfig(bestCfg.configId(), bestCfg.splitK(), bestCfg.splitKMode());
                GemmResult r = timeLt(s, m, x, y, gs, ref, flops, bytes, tDense,
                        "config " + bestCfg.configId() + ", split-K " + bestCfg.splitK() + pad);
                out.add(new GemmResult(r.shape(), r.n(), r.k(), r.m(), r.dtype(), "cusparselt-tuned", r.micros(), r.tflops(), r.gbps(),
                        r.speedup(), r.relError(), r.note()));
            }
        } catch (CudaException e) {
            log.printf("   cuSPARSELt failed on %s m=%d: %s%n", s.name(), m, e.getMessage());
        } finally {
            for (CusparseLtGemm g : gs) g.close();
        }
        return out;
    }

    private GemmResult timeLt(GemmShapes.Shape s, int m, DeviceBuffer x, DeviceBuffer y, List<CusparseLtGemm> gs, float[] ref,
                              long flops, long bytes, double tDense, String note) {
        y.memset((byte) 0xFF, stream);
        gs.getFirst().matmul(stream, x.address(), y.address());
        stream.synchronize();
        double err = relError(ref, download(y, m * s.n()));
        GpuTimer.Timing t = GpuTimer.time(stream, gs.size(), o.warmup(), o.iters(), o.reps(),
                c -> gs.get(c).matmul(stream, x.address(), y.address()));
        return result(s, m, "cusparselt", t.medianMicros(), flops, bytes, tDense, err, note + (t.graph() ? "" : ", eager"));
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
