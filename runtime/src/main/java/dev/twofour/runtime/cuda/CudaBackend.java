package dev.twofour.runtime.cuda;

import dev.twofour.cuda.Cublas;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.cuda.PinnedHostBuffer;
import dev.twofour.kernels.Elementwise;
import dev.twofour.kernels.Kernels;
import dev.twofour.kernels.Sparse24Gemm;
import dev.twofour.kernels.transformer.TransformerKernels;
import dev.twofour.model.Bf16;
import dev.twofour.model.DType;
import dev.twofour.model.Half;
import dev.twofour.model.TensorView;
import dev.twofour.runtime.Backend;
import dev.twofour.runtime.KvCache;
import dev.twofour.runtime.KvStorage;
import dev.twofour.runtime.LinearWeights;
import dev.twofour.runtime.Rope;
import dev.twofour.runtime.StepLayout;
import dev.twofour.runtime.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The runtime's {@link Backend} on one GPU: every op is a launch on one stream (cuBLAS GemmEx with fp32
 * compute and our GEMV for linear layers, the transformer kernels for the rest), activations in fp16 or bf16.
 * This is the general path the {@link dev.twofour.runtime.Transformer} drives op by op (perplexity, the
 * pruner's calibration, batches of mixed prefill and decode over the paged {@link KvCache}); the fast decode
 * loop with CUDA graphs and GPU sampling is {@link CudaModel}, which owns its fused weights.
 *
 * <p>A {@link StepLayout} is uploaded once per step (recognised by identity): token ids, positions, cache
 * slots from the block tables, per-token and per-sequence tables and lengths. Prefill attention needs each
 * sequence's tokens of a step to be consecutive positions ending at its context length (what
 * {@code Transformer} builds); a layout that is not is rejected with a message.
 */
public final class CudaBackend implements Backend {
    private final CudaContext context;
    private final CudaDtype dtype;
    private final TransformerKernels tk;
    private final Kernels kernels;
    private final CudaStream stream;
    private final Cublas cublas;
    private final Sparse24Gemm sparseGemm;
    private final List<AutoCloseable> owned = new ArrayList<>();
    private final Map<Rope, DeviceBuffer> invFreqs = new IdentityHashMap<>();
    private DeviceBuffer unpackScratch;
    private boolean closed;

    // the current step's inputs on the device
    private StepLayout lastStep;
    private DeviceBuffer stepInts;
    private PinnedHostBuffer stepHost;
    private long offTokens, offPositions, offSlots, offKvLens, offTokTables, offSeqTables, offSeqStart, offCtx;
    private int maxBlocks, maxQLen;
    private boolean allSingle;
    private DeviceBuffer attnScratch;
    private DeviceBuffer attnCounters;
    private DeviceBuffer gatherIdx;

    /** A backend on {@code context}'s GPU with activations in {@code dtype} (F16 or BF16). */
    public CudaBackend(CudaContext context, CudaDtype dtype) {
        if (dtype != CudaDtype.F16 && dtype != CudaDtype.BF16) {
            throw new IllegalArgumentException("the CUDA backend runs fp16 or bf16 activations, not " + dtype);
        }
        this.context = context;
        this.dtype = dtype;
        context.setCurrent();
        this.kernels = Kernels.load(context);
        this.tk = new TransformerKernels(kernels);
        this.stream = own(CudaStream.createNonBlocking());
        this.cublas = own(Cublas.create());
        cublas.setStream(stream);
        this.sparseGemm = own(new Sparse24Gemm(kernels));
    }

    private <T extends AutoCloseable> T own(T r) {
        owned.add(r);
        return r;
    }

    @Override public String name() { return "cuda"; }

    @Override public String description() {
        CudaContext.MemoryInfo mem = context.memoryInfo();
        return String.format("cuda: %s, %s activations, %.1f of %.1f GiB free", context.device().name(), dtype,
                mem.free() / (double) (1L << 30), mem.total() / (double) (1L << 30));
    }

    public CudaDtype dtype() { return dtype; }

    // ---------------------------------------------------------------- memory

    /** A {@code [rows][cols]} activation in device memory. */
    static final class CudaTensor implements Tensor {
        final DeviceBuffer buffer;
        private final int rows, cols;

        CudaTensor(DeviceBuffer buffer, int rows, int cols) {
            this.buffer = buffer;
            this.rows = rows;
            this.cols = cols;
        }

        @Override public int rows() { return rows; }

        @Override public int cols() { return cols; }

        long address() { return buffer.address(); }

        @Override public void close() { buffer.close(); }
    }

    private static CudaTensor t(Tensor x) {
        if (x instanceof CudaTensor c) return c;
        throw new IllegalArgumentException("the CUDA backend got a tensor of another backend: " + x.getClass().getName());
    }

    @Override public Tensor allocate(int rows, int cols) {
        checkOpen();
        return new CudaTensor(DeviceBuffer.allocate((long) rows * cols * dtype.byteSize()), rows, cols);
    }

    @Override public Tensor upload(TensorView weight) {
        int rows = weight.rank() == 1 ? 1 : (int) weight.dim(0);
        int cols = (int) (weight.numel() / rows);
        CudaTensor out = (CudaTensor) allocate(rows, cols);
        out.buffer.copyFrom(MemorySegment.ofArray(convert(weight.dtype(), weight.data(), weight.numel())));
        return out;
    }

    /** {@code n} elements of {@code src} (F32/F16/BF16) as 16-bit values of this backend's dtype. */
    private short[] convert(DType srcType, MemorySegment src, long n) {
        short[] out = new short[Math.toIntExact(n)];
        DType want = dtype == CudaDtype.F16 ? DType.F16 : DType.BF16;
        if (srcType == want) {
            MemorySegment.copy(src, ValueLayout.JAVA_SHORT_UNALIGNED, 0, out, 0, out.length);
            return out;
        }
        for (int i = 0; i < out.length; i++) {
            float f = switch (srcType) {
                case F32 -> src.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
                case F16 -> Half.toFloat(src.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
                case BF16 -> Bf16.toFloat(src.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
                default -> throw new IllegalArgumentException("weights of dtype " + srcType + " are not supported (F32, F16, BF16)");
            };
            out[i] = toBits(f);
        }
        return out;
    }

    private short toBits(float f) {
        return dtype == CudaDtype.F16 ? Half.fromFloat(f) : Bf16.fromFloat(f);
    }

    private float fromBits(short b) {
        return dtype == CudaDtype.F16 ? Half.toFloat(b) : Bf16.toFloat(b);
    }

    @Override public void copyFromHost(float[] src, int rows, Tensor dst) {
        CudaTensor d = t(dst);
        int n = rows * d.cols();
        short[] bits = new short[n];
        for (int i = 0; i < n; i++) bits[i] = toBits(src[i]);
        stream.synchronize();  // the synchronous copy runs on the legacy stream: earlier work on ours first
        d.buffer.copyFrom(MemorySegment.ofArray(bits));
    }

    @Override public void copyToHost(Tensor src, int rows, float[] dst) {
        CudaTensor s = t(src);
        int n = rows * s.cols();
        short[] bits = new short[n];
        stream.synchronize();
        s.buffer.slice(0, (long) n * dtype.byteSize()).copyTo(MemorySegment.ofArray(bits));
        for (int i = 0; i < n; i++) dst[i] = fromBits(bits[i]);
    }

    // ---------------------------------------------------------------- weights

    /** A linear layer on the device plus, for dense ones, its weight (the embedding table reads it). */
    static final class CudaLinearWeights implements LinearWeights {
        final CudaLinear impl;
        final DeviceBuffer dense;   // null for 2:4
        private final Layout layout;
        private final DType dtype;

        CudaLinearWeights(CudaLinear impl, DeviceBuffer dense, Layout layout, DType dtype) {
            this.impl = impl;
            this.dense = dense;
            this.layout = layout;
            this.dtype = dtype;
        }

        @Override public Layout layout() { return layout; }

        @Override public DType dtype() { return dtype; }

        @Override public int outFeatures() { return impl.outFeatures(); }

        @Override public int inFeatures() { return impl.inFeatures(); }

        @Override public long weightBytes() { return impl.weightBytes(); }

        @Override public void close() { impl.close(); }
    }

    private DType modelDType() { return dtype == CudaDtype.F16 ? DType.F16 : DType.BF16; }

    @Override public LinearWeights denseLinear(String name, DType srcType, MemorySegment data, int outFeatures, int inFeatures) {
        checkOpen();
        DeviceBuffer w = DeviceBuffer.of(MemorySegment.ofArray(convert(srcType, data, (long) outFeatures * inFeatures)));
        CublasLinear impl = new CublasLinear(cublas, tk, w, true, dtype, dtype, outFeatures, inFeatures);
        return new CudaLinearWeights(impl, w, LinearWeights.Layout.DENSE, modelDType());
    }

    @Override public LinearWeights sparse24Linear(String name, DType srcType, MemorySegment values, MemorySegment metadata,
                                                  int outFeatures, int inFeatures) {
        checkOpen();
        int kp = (inFeatures + 15) & ~15;
        DeviceBuffer v = DeviceBuffer.of(MemorySegment.ofArray(convert(srcType, values, (long) outFeatures * (kp / 2))));
        DeviceBuffer m = DeviceBuffer.of(metadata.asSlice(0, (long) outFeatures * (kp / 8)));
        long need = (long) outFeatures * inFeatures * dtype.byteSize();
        if (unpackScratch == null || unpackScratch.bytes() < need) {
            // weights are created before any step: growing here never races with queued work
            stream.synchronize();
            if (unpackScratch != null) unpackScratch.close();
            unpackScratch = DeviceBuffer.allocate(need);
        }
        Sparse24CudaLinear impl = new Sparse24CudaLinear(sparseGemm, kernels, cublas, null, v, m, null,
                dev.twofour.kernels.Sparse24Selection.builtIn(), dtype, outFeatures, inFeatures);
        return new CudaLinearWeights(impl, null, LinearWeights.Layout.SPARSE24, modelDType());
    }

    /** Per layer K and V, {@code [numBlocks × blockSize][numKvHeads × headDim]} in the backend dtype. */
    static final class CudaKvStorage implements KvStorage {
        final DeviceBuffer[] k, v;
        private boolean closed;

        CudaKvStorage(KvCache.Shape shape, CudaDtype dtype) {
            k = new DeviceBuffer[shape.numLayers()];
            v = new DeviceBuffer[shape.numLayers()];
            long bytes = (long) shape.numBlocks() * shape.blockSize() * shape.kvWidth() * dtype.byteSize();
            try {
                for (int l = 0; l < shape.numLayers(); l++) {
                    k[l] = DeviceBuffer.allocate(bytes);
                    v[l] = DeviceBuffer.allocate(bytes);
                }
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        @Override public void close() {
            if (closed) return;
            closed = true;
            for (DeviceBuffer b : k) if (b != null) b.close();
            for (DeviceBuffer b : v) if (b != null) b.close();
        }
    }

    @Override public KvStorage allocateKv(KvCache.Shape shape) {
        checkOpen();
        long bytes = 2L * shape.numLayers() * shape.numBlocks() * shape.blockSize() * shape.kvWidth() * dtype.byteSize();
        long free = context.memoryInfo().free();
        if (bytes > free) {
            throw new IllegalStateException(String.format("the KV cache (%d layers x %d blocks x %d tokens) needs %.2f GiB but %.2f GiB "
                    + "are free on %s; use fewer blocks or a shorter context", shape.numLayers(), shape.numBlocks(),
                    shape.blockSize(), bytes / (double) (1L << 30), free / (double) (1L << 30), context.device().name()));
        }
        return new CudaKvStorage(shape, dtype);
    }

    private static CudaKvStorage kv(KvCache cache) {
        if (cache.storage() instanceof CudaKvStorage s) return s;
        throw new IllegalArgumentException("the KV cache was not allocated by the CUDA backend");
    }

    // ---------------------------------------------------------------- step inputs

    private void upload(StepLayout step) {
        if (step == lastStep) return;
        int tokens = step.numTokens(), seqs = step.numSequences(), bs = step.blockSize();
        maxBlocks = 1;
        for (int[] tb : step.blockTables()) maxBlocks = Math.max(maxBlocks, tb.length);
        allSingle = true;
        maxQLen = 0;
        for (int s = 0; s < seqs; s++) {
            int n = step.seqStart()[s + 1] - step.seqStart()[s];
            maxQLen = Math.max(maxQLen, n);
            if (n != 1) allSingle = false;
            for (int i = 0; i < n; i++) {
                int t = step.seqStart()[s] + i;
                if (step.positions()[t] != step.contextLength()[s] - n + i) {
                    throw new IllegalArgumentException("the CUDA backend needs each sequence's tokens of a step at consecutive positions "
                            + "ending at its context length; sequence " + s + " token " + i + " is at " + step.positions()[t]
                            + " with context " + step.contextLength()[s]);
                }
            }
        }
        long ints = 0;
        offTokens = ints; ints += tokens;
        offPositions = ints; ints += tokens;
        offSlots = ints; ints += tokens;
        offKvLens = ints; ints += tokens;
        offTokTables = ints; ints += (long) tokens * maxBlocks;
        offSeqTables = ints; ints += (long) seqs * maxBlocks;
        offSeqStart = ints; ints += seqs + 1;
        offCtx = ints; ints += seqs;
        long bytes = ints * 4;
        stream.synchronize();  // the staging buffer and the device inputs of the previous step are free again
        if (stepInts == null || stepInts.bytes() < bytes) {
            if (stepInts != null) { stepInts.close(); stepHost.close(); }
            stepInts = DeviceBuffer.allocate(Math.max(bytes, 4096));
            stepHost = PinnedHostBuffer.allocate(stepInts.bytes());
        }
        MemorySegment h = stepHost.segment();
        for (int t = 0; t < tokens; t++) {
            int s = step.seqOfToken()[t], p = step.positions()[t];
            int[] tb = step.blockTables()[s];
            h.setAtIndex(ValueLayout.JAVA_INT, offTokens + t, step.tokens()[t]);
            h.setAtIndex(ValueLayout.JAVA_INT, offPositions + t, p);
            h.setAtIndex(ValueLayout.JAVA_INT, offSlots + t, tb[p / bs] * bs + p % bs);
            h.setAtIndex(ValueLayout.JAVA_INT, offKvLens + t, p + 1);
            for (int j = 0; j < maxBlocks; j++) h.setAtIndex(ValueLayout.JAVA_INT, offTokTables + (long) t * maxBlocks + j, j < tb.length ? tb[j] : 0);
        }
        for (int s = 0; s < seqs; s++) {
            int[] tb = step.blockTables()[s];
            for (int j = 0; j < maxBlocks; j++) h.setAtIndex(ValueLayout.JAVA_INT, offSeqTables + (long) s * maxBlocks + j, j < tb.length ? tb[j] : 0);
            h.setAtIndex(ValueLayout.JAVA_INT, offCtx + s, step.contextLength()[s]);
        }
        for (int s = 0; s <= seqs; s++) h.setAtIndex(ValueLayout.JAVA_INT, offSeqStart + s, step.seqStart()[s]);
        stepInts.copyFrom(h.asSlice(0, bytes), stream);
        lastStep = step;
    }

    private long ints(long offset) { return stepInts.address() + offset * 4; }

    private DeviceBuffer invFreq(Rope rope) {
        return invFreqs.computeIfAbsent(rope, r -> own(DeviceBuffer.of(MemorySegment.ofArray(r.invFreq()))));
    }

    // ---------------------------------------------------------------- ops

    @Override public void embedding(LinearWeights table, StepLayout step, Tensor out) {
        CudaLinearWeights w = (CudaLinearWeights) table;
        if (w.dense == null) throw new IllegalArgumentException("the embedding table must be dense");
        upload(step);
        tk.gatherRows(stream, dtype, t(out).address(), t(out).cols(), w.dense.address(), w.inFeatures(), ints(offTokens),
                step.numTokens(), w.inFeatures(), w.outFeatures());
    }

    @Override public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out, int rows) {
        int c = t(x).cols();
        tk.addRmsNorm(stream, dtype, t(x).address(), c, 0L, 0, t(weight).address(), t(out).address(), t(out).cols(), rows, c, eps);
    }

    @Override public void add(Tensor residual, Tensor delta, int rows) {
        if (rows <= 0) return;
        Elementwise.axpby(kernels, stream, dtype, t(delta).buffer, t(residual).buffer, (long) rows * t(residual).cols(), 1f, 1f);
    }

    @Override public void addRmsNorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out, int rows) {
        int c = t(residual).cols();
        tk.addRmsNorm(stream, dtype, t(residual).address(), c, t(delta).address(), t(delta).cols(), t(weight).address(),
                t(out).address(), t(out).cols(), rows, c, eps);
    }

    @Override public void linear(LinearWeights w, Tensor x, Tensor y, int rows) {
        if (rows <= 0) return;
        CudaLinearWeights lw = (CudaLinearWeights) w;
        if (lw.impl instanceof Sparse24CudaLinear sp && rows > Sparse24CudaLinear.MAX_OURS_ROWS) {
            sp.forwardUnpacked(stream, t(x).buffer, t(y).buffer, rows, unpackScratch);
            return;
        }
        lw.impl.forward(stream, t(x).buffer, t(y).buffer, rows);
    }

    @Override public void addBias(Tensor y, Tensor bias, int rows) {
        tk.addBias(stream, dtype, t(y).address(), t(y).cols(), t(bias).address(), rows, t(y).cols());
    }

    @Override public void rope(Tensor x, int numHeads, Rope rope, StepLayout step) {
        upload(step);
        tk.ropeAppend(stream, dtype, step.numTokens(), t(x).address(), t(x).cols(), numHeads, 0L, 0, 0L, 0, 0, false,
                ints(offPositions), 0L, 0L, 0L, invFreq(rope).address(), rope.headDim());
    }

    @Override public void kvAppend(KvCache cache, int layer, Tensor k, Tensor v, StepLayout step) {
        upload(step);
        CudaKvStorage s = kv(cache);
        KvCache.Shape sh = cache.shape();
        tk.ropeAppend(stream, dtype, step.numTokens(), 0L, 0, 0, t(k).address(), t(k).cols(), t(v).address(), t(v).cols(),
                sh.numKvHeads(), false, ints(offPositions), ints(offSlots), s.k[layer].address(), s.v[layer].address(), 0L, sh.headDim());
    }

    @Override public void attention(Tensor q, KvCache cache, int layer, int numHeads, StepLayout step, Tensor out) {
        upload(step);
        CudaKvStorage s = kv(cache);
        KvCache.Shape sh = cache.shape();
        int hd = sh.headDim();
        if (allSingle) {
            int rows = step.numTokens();
            int maxLen = 0;
            for (int c : step.contextLength()) maxLen = Math.max(maxLen, c);
            int splits = tk.decodeSplits(rows, sh.numKvHeads(), maxLen);
            long need = TransformerKernels.decodeScratchFloats(rows, numHeads, hd, splits) * 4;
            if (attnScratch == null || attnScratch.bytes() < need) {
                stream.synchronize();
                if (attnScratch != null) attnScratch.close();
                attnScratch = DeviceBuffer.allocate(need);
            }
            long counterBytes = TransformerKernels.decodeCounterInts(rows, sh.numKvHeads()) * 4L;
            if (attnCounters == null || attnCounters.bytes() < counterBytes) {
                stream.synchronize();
                if (attnCounters != null) attnCounters.close();
                attnCounters = DeviceBuffer.allocate(counterBytes);
                attnCounters.memset((byte) 0);  // the kernel leaves every counter at 0 again after each launch
            }
            // one launch: the last block of each (row, KV head) merges the splits (TransformerKernels.attentionDecode)
            tk.attentionDecode(stream, dtype, rows, t(q).address(), t(q).cols(), s.k[layer].address(), s.v[layer].address(),
                    ints(offTokTables), maxBlocks, ints(offKvLens), sh.blockSize(), numHeads, sh.numKvHeads(), hd, splits,
                    attnScratch.address(), attnCounters.address(), t(out).address(), t(out).cols());
        } else {
            tk.attentionPrefill(stream, dtype, step.numSequences(), maxQLen, t(q).address(), t(q).cols(), s.k[layer].address(),
                    s.v[layer].address(), ints(offSeqTables), maxBlocks, ints(offSeqStart), ints(offCtx), sh.blockSize(),
                    numHeads, sh.numKvHeads(), hd, t(out).address(), t(out).cols());
        }
    }

    @Override public void swiglu(Tensor gate, Tensor up, Tensor out, int rows) {
        int c = t(gate).cols();
        tk.swiglu(stream, dtype, t(gate).address(), c, t(up).address(), t(up).cols(), t(out).address(), t(out).cols(), rows, c);
    }

    @Override public void gatherRows(Tensor src, int[] rows, Tensor dst) {
        if (rows.length == 0) return;
        stream.synchronize();  // the index buffer may still be read by the previous gather
        if (gatherIdx == null || gatherIdx.bytes() < rows.length * 4L) {
            if (gatherIdx != null) gatherIdx.close();
            gatherIdx = DeviceBuffer.allocate(Math.max(256, rows.length * 4L));
        }
        gatherIdx.copyFrom(MemorySegment.ofArray(rows));
        tk.gatherRows(stream, dtype, t(dst).address(), t(dst).cols(), t(src).address(), t(src).cols(), gatherIdx.address(),
                rows.length, t(src).cols(), t(src).rows());
    }

    @Override public void synchronize() { stream.synchronize(); }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("the CUDA backend is closed");
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        try {
            stream.synchronize();
        } catch (RuntimeException ignored) {
            // freeing anyway
        }
        for (AutoCloseable a : new AutoCloseable[] {unpackScratch, stepInts, stepHost, attnScratch, attnCounters, gatherIdx}) {
            try {
                if (a != null) a.close();
            } catch (Exception ignored) {
                // keep going
            }
        }
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception ignored) {
                // keep going
            }
        }
    }
}
