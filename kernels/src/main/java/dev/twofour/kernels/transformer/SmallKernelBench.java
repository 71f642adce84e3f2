package dev.twofour.kernels.transformer;

import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaEvent;
import dev.twofour.cuda.CudaGraph;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.kernels.Fill;
import dev.twofour.kernels.Kernels;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Times the small per-layer decode kernels at Llama shapes, each launched {@code reps} times back to back, two ways:
 * from a CUDA graph (what a decode step replays: no host launch cost, programmatic dependent launch edges) and from
 * the stream (what DecodeSpeed --profile measures; for kernels of a few microseconds that is mostly the host's
 * launch rate). The attention variants of {@link TransformerKernels.DecodeAttention} side by side.
 * <pre>main dev.twofour.kernels.transformer.SmallKernelBench [--dtype f16|bf16] [--reps N]</pre>
 */
public final class SmallKernelBench {
    private SmallKernelBench() {}

    public static void main(String[] args) {
        CudaDtype dt = CudaDtype.F16;
        int reps = 50;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--dtype" -> dt = CudaDtype.valueOf(args[++i].toUpperCase(java.util.Locale.ROOT));
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("unknown argument " + args[i] + "; usage: SmallKernelBench [--dtype f16|bf16] [--reps N]");
                    System.exit(2);
                }
            }
        }
        if (!Cuda.isAvailable() || Cuda.deviceCount() == 0) {
            System.err.println("no GPU: " + Cuda.unavailableReason());
            System.exit(1);
        }
        CudaContext ctx = CudaContext.primary(0);
        try (Kernels kernels = Kernels.load(ctx); CudaStream stream = CudaStream.create()) {
            new Run(new TransformerKernels(kernels), stream, dt, reps).all();
        }
    }

    private static final class Run {
        final TransformerKernels tk;
        final Kernels kernels;
        final CudaStream stream;
        final CudaDtype dt;
        final int reps;
        final List<DeviceBuffer> owned = new ArrayList<>();
        long seed = 1;

        Run(TransformerKernels tk, CudaStream stream, CudaDtype dt, int reps) {
            this.tk = tk;
            this.kernels = tk.kernels();
            this.stream = stream;
            this.dt = dt;
            this.reps = reps;
        }

        DeviceBuffer rand(long elements, float scale) {
            DeviceBuffer b = DeviceBuffer.allocate(elements * dt.byteSize());
            owned.add(b);
            Fill.random(kernels, stream, b, elements, dt, seed++, scale);
            return b;
        }

        DeviceBuffer ints(int[] v) {
            DeviceBuffer b = DeviceBuffer.of(MemorySegment.ofArray(v));
            owned.add(b);
            return b;
        }

        DeviceBuffer floats(float[] v) {
            DeviceBuffer b = DeviceBuffer.of(MemorySegment.ofArray(v));
            owned.add(b);
            return b;
        }

        DeviceBuffer zeros(long bytes) {
            DeviceBuffer b = DeviceBuffer.allocate(bytes);
            b.memset((byte) 0);
            owned.add(b);
            return b;
        }

        void freeAll() {
            stream.synchronize();
            for (DeviceBuffer b : owned) b.close();
            owned.clear();
        }

        /** Microseconds per launch: {graph replay, stream launches}. */
        double[] time(Runnable op) {
            op.run();
            stream.synchronize();
            try (CudaEvent start = CudaEvent.create(); CudaEvent end = CudaEvent.create()) {
                start.record(stream);
                for (int i = 0; i < reps; i++) op.run();
                end.record(stream);
                end.synchronize();
                double streamUs = CudaEvent.elapsedMillis(start, end) * 1000.0 / reps;
                try (CudaGraph g = CudaGraph.capture(stream, () -> { for (int i = 0; i < reps; i++) op.run(); })) {
                    g.launch(stream);
                    stream.synchronize();
                    int replays = 5;
                    start.record(stream);
                    for (int i = 0; i < replays; i++) g.launch(stream);
                    end.record(stream);
                    end.synchronize();
                    double graphUs = CudaEvent.elapsedMillis(start, end) * 1000.0 / (replays * reps);
                    return new double[] {graphUs, streamUs};
                }
            }
        }

        void line(String op, Runnable r) {
            double[] t = time(r);
            System.out.printf("  %-62s %8.2f us (graph)  %8.2f us (stream)%n", op, t[0], t[1]);
        }

        void all() {
            System.out.println("small decode kernels, " + dt + ", " + reps + " back-to-back launches each; attention default variant: "
                    + tk.decodeAttention());
            int hidden = 4096, inter = 11008, vocab = 32000;
            for (int rows : new int[] {1, 8}) {
                System.out.println("batch " + rows + ":");
                DeviceBuffer x = rand((long) rows * hidden, 1f), delta = rand((long) rows * hidden, 0.5f);
                DeviceBuffer w = rand(hidden, 1f), y = rand((long) rows * hidden, 1f);
                line("add+rmsnorm (hidden 4096)", () -> tk.addRmsNorm(stream, dt, x.address(), hidden, delta.address(), hidden,
                        w.address(), y.address(), hidden, rows, hidden, 1e-5f));
                DeviceBuffer gu = rand((long) rows * 2 * inter, 1f), act = rand((long) rows * inter, 1f);
                long es = dt.byteSize();
                line("swiglu (11008)", () -> tk.swiglu(stream, dt, gu.address(), 2 * inter, gu.address() + inter * es, 2 * inter,
                        act.address(), inter, rows, inter));
                DeviceBuffer embed = rand((long) vocab * hidden, 1f);
                int[] ids = new int[rows];
                Random r = new Random(3);
                for (int i = 0; i < rows; i++) ids[i] = r.nextInt(vocab);
                DeviceBuffer dids = ints(ids);
                line("embedding gather", () -> tk.gatherRows(stream, dt, x.address(), hidden, embed.address(), hidden,
                        dids.address(), rows, hidden, vocab));
                float[] lg = new float[rows * vocab];
                for (int i = 0; i < lg.length; i++) lg[i] = (float) r.nextGaussian() * 3f;
                DeviceBuffer logits = floats(lg);
                float[] fp = new float[rows * TransformerKernels.FPARAMS];
                int[] ip = new int[rows * TransformerKernels.IPARAMS];
                for (int b = 0; b < rows; b++) { fp[b * 6 + 1] = 1f; fp[b * 6 + 3] = 1f; ip[b * 4 + 1] = -1; }
                DeviceBuffer dfp = floats(fp), dip = ints(ip), out = zeros(rows * 4L);
                line("sampler (greedy, vocab 32000)", () -> tk.sample(stream, rows, logits.address(), vocab, vocab, dfp.address(),
                        dip.address(), 0L, 0L, out.address(), 0L));
                freeAll();
                for (int[] heads : new int[][] {{32, 32}, {32, 8}}) {
                    for (int context : new int[] {200, 1024, 4096}) {
                        attention(rows, heads[0], heads[1], 128, context);
                    }
                }
            }
        }

        void attention(int rows, int nh, int nkv, int hd, int context) {
            int maxContext = context;  // as DecodeSpeed: the cache holds what the run needs
            int qDim = nh * hd, kvDim = nkv * hd, width = qDim + 2 * kvDim;
            long es = dt.byteSize();
            DeviceBuffer qkv = rand((long) rows * width, 1f);
            DeviceBuffer kc = rand((long) rows * maxContext * kvDim, 1f), vc = rand((long) rows * maxContext * kvDim, 1f);
            int[] table = new int[rows], lens = new int[rows], pos = new int[rows], slots = new int[rows];
            for (int b = 0; b < rows; b++) {
                table[b] = b;
                lens[b] = context;
                pos[b] = context - 1;
                slots[b] = b * maxContext + context - 1;
            }
            float[] inv = new float[hd / 2];
            for (int j = 0; j < inv.length; j++) inv[j] = (float) Math.pow(10000.0, -2.0 * j / hd);
            DeviceBuffer dt_ = ints(table), dl = ints(lens), dp = ints(pos), ds = ints(slots), di = floats(inv);
            int splits = tk.decodeSplits(rows, nkv, maxContext);
            DeviceBuffer scratch = zeros(TransformerKernels.decodeScratchFloats(rows, nh, hd, 64) * 4);
            DeviceBuffer counters = zeros(TransformerKernels.decodeCounterInts(rows, nkv) * 4);
            DeviceBuffer out = rand((long) rows * qDim, 1f);
            long q = qkv.address(), k = q + qDim * es, v = q + (qDim + kvDim) * es;
            String shape = nh + "/" + nkv + " heads, context " + context + ", " + splits + " splits";
            line("rope+kv append (" + nh + "/" + nkv + " heads)", () -> tk.ropeAppend(stream, dt, rows, q, width, nh, k, width, v,
                    width, nkv, true, dp.address(), ds.address(), kc.address(), vc.address(), di.address(), hd));
            line("attention legacy: split + combine, " + shape, () -> tk.attentionDecode(stream, dt, rows, q, width, kc.address(),
                    vc.address(), dt_.address(), 1, dl.address(), maxContext, nh, nkv, hd, splits, scratch.address(), out.address(), qDim));
            line("attention 1 launch, " + shape, () -> tk.attentionDecode(stream, dt, rows, q, width, kc.address(), vc.address(),
                    dt_.address(), 1, dl.address(), maxContext, nh, nkv, hd, splits, scratch.address(), counters.address(),
                    out.address(), qDim));
            line("rope+kv+attention 1 launch (fused), " + shape, () -> tk.ropeAttentionDecode(stream, dt, rows, q, width, k, width,
                    v, width, dp.address(), di.address(), kc.address(), vc.address(), dt_.address(), 1, dl.address(), maxContext,
                    nh, nkv, hd, splits, scratch.address(), counters.address(), out.address(), qDim));
            freeAll();
        }
    }
}
