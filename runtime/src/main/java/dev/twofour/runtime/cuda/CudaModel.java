package dev.twofour.runtime.cuda;

import dev.twofour.cuda.Cublas;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaGraph;
import dev.twofour.cuda.CudaException;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.CusparseLt;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.cuda.PinnedHostBuffer;
import dev.twofour.kernels.Fill;
import dev.twofour.kernels.Kernels;
import dev.twofour.kernels.Sparse24Gemm;
import dev.twofour.kernels.Sparse24Selection;
import dev.twofour.kernels.transformer.TransformerKernels;
import dev.twofour.model.Bf16;
import dev.twofour.model.Checkpoint;
import dev.twofour.model.ConvertedModel;
import dev.twofour.model.ConvertedModelCache;
import dev.twofour.model.DType;
import dev.twofour.model.Half;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.ModelWeights;
import dev.twofour.model.Packed24;
import dev.twofour.model.TensorView;
import dev.twofour.model.WeightNames;
import dev.twofour.runtime.SamplingParams;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;

/**
 * A Llama-family model resident on one GPU: the fast path of the CUDA backend (gpt-fast style). Everything
 * is planned and allocated up front; a decode step is one CUDA graph replay per batch-size bucket
 * (1, 2, 4, ..., 64) whose inputs (token ids, positions, cache rows, lengths, sampling parameters) are
 * updated by one async copy before the replay, and the step returns to the host only with the sampled ids.
 *
 * <p>Weights: q|k|v fused into one [qDim + 2 kvDim][hidden] weight and gate|up into one [2 I][hidden]
 * weight at load time; dense through cuBLAS (fp32 compute), or 2:4-packed through our 2:4 GEMM. A checkpoint's
 * layers load 2:4 per {@link SparseMode} and {@link CheckpointSparsity} (a pruned checkpoint packed on load, or a
 * converted one read packed); synthetic models are all dense or all 2:4.
 *
 * <p>KV cache: one slot per sequence ({@link #newSequence}), {@code maxContext} positions each, K and V
 * [slot * maxContext + position][kvDim] per layer. The attention kernels read it through a block table of
 * one block per sequence (block size = maxContext), so the paged kernels serve this slot layout unchanged.
 *
 * <p>Not thread-safe: one caller at a time.
 */
public final class CudaModel implements AutoCloseable {
    /** Batch-size buckets, one CUDA graph each. */
    static final int[] BUCKETS = {1, 2, 4, 8, 16, 32, 64};
    /**
     * Steps of up to this many rows fuse the add+RMSNorm into the next linear layer where it can (the streaming 2:4
     * kernel). Measured on the H100 (llama2-7b 2:4, kernels/NOTES.md): batch 1 294.4 against 291.0 tok/s, but batch 8
     * 1568 against 1658 (every block normalises all 8 rows itself): one row only.
     */
    static final int FUSED_NORM_ROWS = 1;

    /**
     * @param maxBatch     sequences held at once (KV slots); a decode step takes up to this many
     * @param maxContext   positions per sequence
     * @param prefillChunk prompt tokens per forward pass
     * @param allLogits    keep logits for every prefill row (perplexity); otherwise only the last one
     * @param cudaGraphs   replay decode steps as graphs (off: the same launches, eagerly)
     */
    public record Options(int maxBatch, int maxContext, int prefillChunk, boolean allLogits, boolean cudaGraphs) {
        public Options {
            if (maxBatch < 1 || maxBatch > 64) throw new IllegalArgumentException("maxBatch must be 1..64, got " + maxBatch);
            if (maxContext < 1) throw new IllegalArgumentException("maxContext must be > 0, got " + maxContext);
            if (prefillChunk < 1) throw new IllegalArgumentException("prefillChunk must be > 0, got " + prefillChunk);
        }

        public static Options defaults() { return new Options(8, 2048, 512, false, true); }
    }

    private record Layer(DeviceBuffer ln1, DeviceBuffer ln2, CudaLinear qkv, DeviceBuffer qkvBias, CudaLinear o,
                         CudaLinear gateUp, CudaLinear down) {}

    private final ModelConfig config;
    private final CudaDtype dtype;
    private final Options options;
    private final CudaContext context;
    private final TransformerKernels tk;
    private final CudaStream stream;
    private final Cublas cublas;
    private final Sparse24Gemm sparseGemm;
    private final List<AutoCloseable> owned = new ArrayList<>();
    private final boolean sparse;
    /** What loading decided per linear layer; null for synthetic models. */
    private CheckpointSparsity sparsity;

    private DeviceBuffer embed, finalNorm, invFreq;
    private CudaLinear lmHead;
    private final List<Layer> layers = new ArrayList<>();
    private DeviceBuffer[] kCache, vCache;
    // activations, [rowsMax][...]
    private final int rowsMax;
    private DeviceBuffer x, xAlt, normed, qkvOut, attnOut, delta, gateUpOut, act, lastRows, logits, attnScratch;
    private DeviceBuffer attnCounters;  // decode attention's arrival counters: zeroed once, every launch leaves them zero
    // step inputs (int32 sections of rowsMax + 1), sampler parameters and state
    private DeviceBuffer stepInts, stepFloats, outIds, stepCounter, counts;
    private PinnedHostBuffer hostInts, hostFloats, hostIds;
    private final int sec;
    private static final int TOK = 0, POS = 1, CROW = 2, KVLEN = 3, TABLE = 4, SEQSTART = 5, CTXLEN = 6, GATHER = 7, IPAR = 8;

    private final int[] seqLength;
    private final boolean[] slotUsed;
    private final Map<Integer, CudaGraph> graphs = new LinkedHashMap<>();
    private final Random seeds = new Random();
    private boolean closed;

    private CudaModel(ModelConfig config, CudaDtype dtype, Options options, CudaContext context, boolean sparse) {
        this.config = config;
        this.dtype = dtype;
        this.options = options;
        this.context = context;
        this.sparse = sparse;
        if (!TransformerKernels.supportsHeadDim(config.headDim())) {
            throw new IllegalArgumentException("the CUDA backend supports head_dim 64 and 128; this model has " + config.headDim());
        }
        if (config.groupSize() > TransformerKernels.MAX_GROUP) {
            throw new IllegalArgumentException("the CUDA backend supports up to " + TransformerKernels.MAX_GROUP
                    + " query heads per KV head; this model has " + config.groupSize());
        }
        context.setCurrent();
        Kernels kernels = Kernels.load(context);
        this.tk = new TransformerKernels(kernels);
        this.stream = own(CudaStream.createNonBlocking());
        this.cublas = own(Cublas.create());
        cublas.setStream(stream);
        this.sparseGemm = sparse ? own(new Sparse24Gemm(kernels)) : null;
        this.selection = sparse ? selectionFor(context.device().name(), dtype) : Sparse24Selection.builtIn();
        this.rowsMax = Math.max(options.prefillChunk(), bucketFor(options.maxBatch()));
        this.sec = rowsMax + 1;
        this.seqLength = new int[options.maxBatch()];
        this.slotUsed = new boolean[options.maxBatch()];
    }

    private <T extends AutoCloseable> T own(T r) {
        owned.add(r);
        return r;
    }

    private DeviceBuffer alloc(long bytes) {
        return own(DeviceBuffer.allocate(Math.max(16, bytes)));
    }

    // ------------------------------------------------------------------------------------------ loading

    /**
     * Loads a Hugging Face checkpoint directory in {@code dtype} (F16 or BF16; weights converted if needed) with
     * {@link SparseMode#AUTO}: the linear layers whose weights are 2:4 run through the 2:4 kernels.
     */
    public static CudaModel load(Path dir, CudaDtype dtype, Options options, CudaContext context) throws IOException {
        return load(dir, dtype, options, context, SparseMode.AUTO);
    }

    /**
     * Loads a Hugging Face checkpoint directory in {@code dtype} (F16 or BF16; weights converted if needed). With
     * {@code sparse} auto or on, each fused linear layer whose weights are 2:4 is packed ({@link CheckpointSparsity}:
     * from a valid converted-model cache of {@code twofour convert} when there is one, else checked and packed on
     * load) and runs like a synthetic 2:4 model's layers; in auto the others stay dense (one line on stderr names
     * them), in on they are an error.
     */
    public static CudaModel load(Path dir, CudaDtype dtype, Options options, CudaContext context, SparseMode sparse)
            throws IOException {
        ModelConfig config = ModelConfig.load(dir);
        try (Checkpoint ckpt = Checkpoint.open(dir);
             ConvertedModel converted = sparse == SparseMode.OFF ? null : convertedCache(dir, ckpt, config)) {
            ModelWeights w = ModelWeights.bind(config, ckpt);
            CheckpointSparsity sp = CheckpointSparsity.decide(config, ckpt, converted, sparse);
            String note = sp.denseNote(6);
            if (note != null) System.err.println("twofour: " + dir + ": " + note);
            CudaModel m = new CudaModel(config, dtype, options, context, sp.anyPacked());
            try {
                m.sparsity = sp;
                m.plan(sp.packedMatrix());
                m.uploadWeights(w, sp);
                m.finishSetup();
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
            return m;
        } catch (dev.twofour.model.ModelWeightsException e) {
            throw new IllegalArgumentException("model " + dir + ": " + e.getMessage(), e);
        }
    }

    /** The valid converted-model cache of the checkpoint ({@code twofour convert}), or null (none, stale, unreadable). */
    private static ConvertedModel convertedCache(Path dir, Checkpoint ckpt, ModelConfig config) {
        try {
            ConvertedModelCache.Lookup l = ConvertedModelCache.forModel(dir).lookup(ckpt, WeightNames.linearWeights(config));
            return l.hit() ? l.model() : null;
        } catch (IOException | RuntimeException e) {
            System.err.println("twofour: the converted-model cache of " + dir + " is not used (" + e.getMessage()
                    + "); the weights are checked for 2:4 on load instead");
            return null;
        }
    }

    /**
     * A model of {@code config}'s shape with random weights generated on the GPU (seeded; uniform with the
     * spread of N(0, 0.02), norm weights near 1, never zero): dense, or directly 2:4-packed when
     * {@code sparse24} (no dense intermediate). For speed measurements with nothing on disk.
     */
    public static CudaModel synthetic(ModelConfig config, CudaDtype dtype, boolean sparse24, long seed, Options options,
                                      CudaContext context) {
        CudaModel m = new CudaModel(config, dtype, options, context, sparse24);
        try {
            m.plan(allLayers(config, sparse24));
            m.generateWeights(seed);
            m.finishSetup();
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
    }

    /** Every allocation this model will make, by name, in bytes (the memory plan). */
    public static Map<String, Long> memoryPlan(ModelConfig c, CudaDtype dtype, boolean sparse24, Options o) {
        return memoryPlan(c, dtype, allLayers(c, sparse24), o);
    }

    /** Every fused linear layer ([layer][CheckpointSparsity.Fused ordinal]) packed, or none. */
    static boolean[][] allLayers(ModelConfig c, boolean packed) {
        boolean[][] m = new boolean[c.numLayers()][CheckpointSparsity.Fused.values().length];
        for (boolean[] row : m) Arrays.fill(row, packed);
        return m;
    }

    /**
     * The memory plan of a model whose fused linear layers are 2:4-packed where {@code packed[layer][f]}
     * ({@link CheckpointSparsity.Fused} ordinal f), dense elsewhere.
     */
    static Map<String, Long> memoryPlan(ModelConfig c, CudaDtype dtype, boolean[][] packed, Options o) {
        long es = dtype.byteSize();
        int h = c.hiddenSize(), im = c.intermediateSize(), v = c.vocabSize(), L = c.numLayers();
        int qkvW = c.qDim() + 2 * c.kvDim();
        int rows = Math.max(o.prefillChunk(), bucketFor(o.maxBatch()));
        Map<String, Long> plan = new LinkedHashMap<>();
        long lin = 0;
        int packedCount = 0, total = 0;
        for (boolean[] layer : packed) {
            for (CheckpointSparsity.Fused f : CheckpointSparsity.Fused.values()) {
                int out = f.outFeatures(c), in = f.inFeatures(c);
                total++;
                if (layer[f.ordinal()]) {
                    packedCount++;
                    lin += linBytes24(out, in, dtype);
                } else {
                    lin += (long) out * in * es;
                }
            }
        }
        boolean sparse24 = packedCount > 0;
        String how = packedCount == 0 ? "" : packedCount == total ? ", 2:4 packed" : ", " + packedCount + " of " + total + " 2:4 packed";
        plan.put("linear weights (" + L + " layers" + how + ")", lin);
        plan.put("embeddings" + (c.tieWordEmbeddings() ? " (tied LM head)" : " + LM head"),
                (long) v * h * es * (c.tieWordEmbeddings() ? 1 : 2));
        plan.put("norms", (2L * L + 1) * h * es + (c.attentionBias() ? (long) L * qkvW * es : 0));
        plan.put("KV cache (" + o.maxBatch() + " sequences x " + o.maxContext() + " positions)",
                2L * L * o.maxBatch() * o.maxContext() * c.kvDim() * es);
        plan.put("activations (" + rows + " rows)", (long) rows * (2L * h + qkvW + c.qDim() + h + 2L * im + im) * es
                + (long) bucketFor(o.maxBatch()) * h * es + (long) Math.min(rows, FUSED_NORM_ROWS) * h * es);
        int logitRows = o.allLogits() ? rows : bucketFor(o.maxBatch());
        plan.put("logits (" + logitRows + " rows, fp32)", (long) logitRows * v * 4);
        int maxSplits = 64;
        plan.put("attention scratch", TransformerKernels.decodeScratchFloats(bucketFor(o.maxBatch()), c.numHeads(), c.headDim(), maxSplits) * 4
                + TransformerKernels.decodeCounterInts(bucketFor(o.maxBatch()), c.numKvHeads()) * 4);
        plan.put("sampler state", (long) o.maxBatch() * v * 4 + 64L * 1024);
        plan.put("cuBLAS workspace", Cublas.DEFAULT_WORKSPACE_BYTES);
        if (sparse24) plan.put("2:4 unpack scratch (prefill)", maxDenseElements(c) * es);
        return plan;
    }

    private static long linBytes24(int out, int in, CudaDtype dtype) {
        return Sparse24CudaLinear.valuesBytes(out, in, dtype) + Sparse24CudaLinear.metadataBytes(out, in);
    }

    static int bucketFor(int rows) {
        for (int b : BUCKETS) if (b >= rows) return b;
        throw new IllegalArgumentException("batch of " + rows + " exceeds the largest bucket " + BUCKETS[BUCKETS.length - 1]);
    }

    /** Bytes of dense copies of every 2:4 linear weight (what cuBLAS needs for many-row steps). */
    static long denseCopyBytes(ModelConfig c, CudaDtype dtype) {
        return denseCopyBytes(c, dtype, allLayers(c, true));
    }

    /** Bytes of dense copies of the packed layers of {@code packed} ([layer][Fused ordinal]). */
    static long denseCopyBytes(ModelConfig c, CudaDtype dtype, boolean[][] packed) {
        long b = 0;
        for (boolean[] layer : packed) {
            for (CheckpointSparsity.Fused f : CheckpointSparsity.Fused.values()) {
                if (layer[f.ordinal()]) b += (long) f.outFeatures(c) * f.inFeatures(c) * dtype.byteSize();
            }
        }
        return b;
    }

    /**
     * Whether a 2:4 model also keeps dense copies of its linear weights (cuBLAS for steps of many rows, where our
     * kernel loses): when they fit beside the plan with {@code margin} to spare, unless
     * {@code -Dtwofour.cuda.denseCopies=off}. 7B and 13B on an 80 GB GPU keep them; 70B does not.
     */
    private boolean keepDenseCopies(long planned, long free, long margin, boolean[][] packed) {
        if ("off".equals(System.getProperty("twofour.cuda.denseCopies"))) return false;
        return planned + denseCopyBytes(config, dtype, packed) + margin <= free;
    }

    private boolean denseCopies;

    /** Checks the plan against free device memory, then allocates everything but the weights. */
    private void plan(boolean[][] packed) {
        boolean sparse24 = false;
        for (boolean[] layer : packed) for (boolean b : layer) sparse24 |= b;
        Map<String, Long> plan = memoryPlan(config, dtype, packed, options);
        long total = 0;
        for (long b : plan.values()) total += b;
        long free = context.memoryInfo().free();
        long margin = 512L << 20;  // CUDA graphs, cuBLAS internals, kernel module
        if (sparse24) {
            long lt = cusparseLtBytes(config, dtype, selection);
            if (lt > 0) {
                plan.put("cuSPARSELt compressed copies (tuned layers)", lt);
                total += lt;
            }
        }
        denseCopies = sparse24 && keepDenseCopies(total, free, margin, packed);
        if (total + margin > free) {
            StringBuilder sb = new StringBuilder("the model does not fit on " + context.device().name() + ": it needs "
                    + gib(total) + " + " + gib(margin) + " margin but " + gib(free) + " are free. Plan:");
            plan.forEach((k, v) -> sb.append("\n  ").append(k).append(": ").append(gib(v)));
            sb.append("\nUse fewer sequences (maxBatch) or a shorter context (maxContext)"
                    + (sparse24 ? "" : ", or the 2:4-packed model"));
            throw new IllegalStateException(sb.toString());
        }
        long es = dtype.byteSize();
        int h = config.hiddenSize(), im = config.intermediateSize(), kvDim = config.kvDim();
        int qkvW = config.qDim() + 2 * kvDim;
        kCache = new DeviceBuffer[config.numLayers()];
        vCache = new DeviceBuffer[config.numLayers()];
        long kvBytes = (long) options.maxBatch() * options.maxContext() * kvDim * es;
        for (int l = 0; l < config.numLayers(); l++) {
            kCache[l] = alloc(kvBytes);
            vCache[l] = alloc(kvBytes);
        }
        x = alloc((long) rowsMax * h * es);
        xAlt = alloc((long) Math.min(rowsMax, FUSED_NORM_ROWS) * h * es);
        normed = alloc((long) rowsMax * h * es);
        qkvOut = alloc((long) rowsMax * qkvW * es);
        attnOut = alloc((long) rowsMax * config.qDim() * es);
        delta = alloc((long) rowsMax * h * es);
        gateUpOut = alloc((long) rowsMax * 2 * im * es);
        act = alloc((long) rowsMax * im * es);
        int bMax = bucketFor(options.maxBatch());
        lastRows = alloc((long) bMax * h * es);
        int logitRows = options.allLogits() ? rowsMax : bMax;
        logits = alloc((long) logitRows * config.vocabSize() * 4);
        attnScratch = alloc(TransformerKernels.decodeScratchFloats(bMax, config.numHeads(), config.headDim(), 64) * 4);
        attnCounters = alloc(TransformerKernels.decodeCounterInts(bMax, config.numKvHeads()) * 4);
        attnCounters.memset((byte) 0);
        stepInts = alloc((long) (IPAR * sec + 4L * rowsMax) * 4);
        stepFloats = alloc((long) rowsMax * TransformerKernels.FPARAMS * 4);
        outIds = alloc((long) rowsMax * 4);
        stepCounter = alloc((long) options.maxBatch() * 4);
        counts = alloc((long) options.maxBatch() * config.vocabSize() * 4);
        hostInts = own(PinnedHostBuffer.allocate(stepInts.bytes()));
        hostFloats = own(PinnedHostBuffer.allocate(stepFloats.bytes()));
        hostIds = own(PinnedHostBuffer.allocate(outIds.bytes()));
        double[] inv = config.ropeInverseFrequencies();
        float[] invF = new float[inv.length];
        for (int i = 0; i < inv.length; i++) invF[i] = (float) inv[i];
        invFreq = alloc(invF.length * 4L);
        invFreq.copyFrom(MemorySegment.ofArray(invF));
    }

    private static String gib(long bytes) {
        return String.format("%.2f GiB", bytes / (double) (1L << 30));
    }

    // Weights through one pinned staging buffer, converted to the model dtype on the host when needed.
    private PinnedHostBuffer staging;

    private DeviceBuffer upload(TensorView... parts) {
        long total = 0;
        for (TensorView t : parts) total += t.numel() * dtype.byteSize();
        DeviceBuffer dst = DeviceBuffer.allocate(total);
        long off = 0;
        for (TensorView t : parts) {
            uploadInto(dst, off, t);
            off += t.numel() * dtype.byteSize();
        }
        return dst;
    }

    private void uploadInto(DeviceBuffer dst, long dstOffset, TensorView t) {
        if (staging == null) staging = PinnedHostBuffer.allocate(64L << 20);
        MemorySegment st = staging.segment();
        long es = dtype.byteSize();
        long n = t.numel();
        long perChunk = staging.bytes() / es;
        DType want = dtype == CudaDtype.F16 ? DType.F16 : DType.BF16;
        float[] tmp = t.dtype() == want ? null : new float[(int) Math.min(perChunk, n)];
        for (long from = 0; from < n; from += perChunk) {
            int count = (int) Math.min(perChunk, n - from);
            if (tmp == null) {
                MemorySegment.copy(t.data(), from * es, st, 0, count * es);
            } else {
                t.readFloats(from, tmp, 0, count);
                for (int i = 0; i < count; i++) {
                    short b = dtype == CudaDtype.F16 ? Half.fromFloat(tmp[i]) : Bf16.fromFloat(tmp[i]);
                    st.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i, b);
                }
            }
            dst.slice(dstOffset + from * es, count * es).copyFrom(st.asSlice(0, count * es), stream);
            stream.synchronize();  // the staging buffer is reused
        }
    }

    /** Copies raw bytes through the staging buffer on the model's stream (ordered before the kernels that read them). */
    private void uploadBytes(DeviceBuffer dst, long dstOffset, MemorySegment src) {
        if (staging == null) staging = PinnedHostBuffer.allocate(64L << 20);
        MemorySegment st = staging.segment();
        long n = src.byteSize();
        for (long from = 0; from < n; from += staging.bytes()) {
            long count = Math.min(staging.bytes(), n - from);
            MemorySegment.copy(src, from, st, 0, count);
            dst.slice(dstOffset + from, count).copyFrom(st.asSlice(0, count), stream);
            stream.synchronize();  // the staging buffer is reused
        }
    }

    /** Our GEMV for decode rows, unless -Dtwofour.cuda.gemv=false asks for cuBLAS everywhere (for comparisons). */
    private TransformerKernels gemvKernels() {
        return Boolean.parseBoolean(System.getProperty("twofour.cuda.gemv", "true")) ? tk : null;
    }

    private CudaLinear dense(DeviceBuffer w, int out, int in) {
        return own(new CublasLinear(cublas, gemvKernels(), w, true, dtype, dtype, out, in));
    }

    private void uploadWeights(ModelWeights w, CheckpointSparsity sp) {
        embed = own(upload(w.embedTokens()));
        finalNorm = own(upload(w.finalNorm()));
        lmHead = config.tieWordEmbeddings()
                ? own(new CublasLinear(cublas, gemvKernels(), embed, false, dtype, CudaDtype.F32, config.vocabSize(), config.hiddenSize()))
                : own(new CublasLinear(cublas, gemvKernels(), own(upload(w.lmHead())), false, dtype, CudaDtype.F32, config.vocabSize(), config.hiddenSize()));
        int h = config.hiddenSize(), im = config.intermediateSize(), qkvW = config.qDim() + 2 * config.kvDim();
        for (ModelWeights.Layer l : w.layers()) {
            DeviceBuffer bias = l.qBias() == null ? null : own(upload(l.qBias(), l.kBias(), l.vBias()));
            int li = l.index();
            layers.add(new Layer(own(upload(l.inputNorm())), own(upload(l.postAttentionNorm())),
                    linear(sp, li, CheckpointSparsity.Fused.QKV, l), bias, afterAttention(linear(sp, li, CheckpointSparsity.Fused.O, l)),
                    linear(sp, li, CheckpointSparsity.Fused.GATE_UP, l), linear(sp, li, CheckpointSparsity.Fused.DOWN, l)));
        }
        if (staging != null) { staging.close(); staging = null; }
    }

    /** {@code o}, the o projection, told that its input comes from the decode attention (a 2:4 layer picks its kernel by that). */
    private static CudaLinear afterAttention(CudaLinear o) {
        if (o instanceof Sparse24CudaLinear s) s.followsAttention();
        return o;
    }

    /** One fused linear layer of a checkpoint: its parts' rows concatenated, packed 2:4 when {@code sp} says so, else dense. */
    private CudaLinear linear(CheckpointSparsity sp, int layer, CheckpointSparsity.Fused f, ModelWeights.Layer l) {
        int out = f.outFeatures(config), in = f.inFeatures(config);
        if (!sp.packed(layer, f)) {
            TensorView[] parts = f.parts().stream().map(l::linear).toArray(TensorView[]::new);
            return dense(upload(parts), out, in);
        }
        // The packed layout is per row, so the fused weight's values and metadata are the parts' arrays one after another.
        DeviceBuffer values = DeviceBuffer.allocate(Sparse24CudaLinear.valuesBytes(out, in, dtype));
        DeviceBuffer meta = DeviceBuffer.allocate(Sparse24CudaLinear.metadataBytes(out, in));
        try {
            long vOff = 0, mOff = 0;
            for (WeightNames.Linear part : f.parts()) {
                Packed24 p = sp.packedPart(layer, part);
                if (p.k() != in) {
                    throw new IllegalStateException(part.weight(layer) + " has " + p.k() + " inputs, expected " + in);
                }
                uploadInto(values, vOff, new TensorView(part.weight(layer) + ".values", p.dtype(),
                        new long[] {p.n(), p.valuesPerRow()}, p.values()));
                uploadBytes(meta, mOff, p.metadata());
                vOff += (long) p.n() * p.valuesPerRow() * dtype.byteSize();
                mOff += p.metadata().byteSize();
            }
        } catch (RuntimeException e) {
            values.close();
            meta.close();
            throw e;
        }
        return sparseLinear(values, meta, out, in);
    }

    private void generateWeights(long seed) {
        Kernels kernels = tk.kernels();
        int h = config.hiddenSize(), im = config.intermediateSize(), qkvW = config.qDim() + 2 * config.kvDim();
        float scale = 0.02f * (float) Math.sqrt(3.0);  // uniform [-s, s] has the standard deviation of N(0, 0.02)
        long[] s = {seed};
        java.util.function.LongSupplier next = () -> s[0] = s[0] * 6364136223846793005L + 1442695040888963407L;
        embed = alloc((long) config.vocabSize() * h * dtype.byteSize());
        Fill.random(kernels, stream, embed, (long) config.vocabSize() * h, dtype, next.getAsLong(), scale);
        DeviceBuffer head = embed;
        if (!config.tieWordEmbeddings()) {
            head = alloc((long) config.vocabSize() * h * dtype.byteSize());
            Fill.random(kernels, stream, head, (long) config.vocabSize() * h, dtype, next.getAsLong(), scale);
        }
        lmHead = own(new CublasLinear(cublas, gemvKernels(), head, false, dtype, CudaDtype.F32, config.vocabSize(), h));
        Random r = new Random(seed);
        finalNorm = normWeight(r, h);
        for (int l = 0; l < config.numLayers(); l++) {
            DeviceBuffer bias = null;
            if (config.attentionBias()) {
                bias = alloc((long) qkvW * dtype.byteSize());
                Fill.random(kernels, stream, bias, qkvW, dtype, next.getAsLong(), scale);
            }
            layers.add(new Layer(normWeight(r, h), normWeight(r, h), randomLinear(next.getAsLong(), qkvW, h, scale), bias,
                    afterAttention(randomLinear(next.getAsLong(), h, config.qDim(), scale)), randomLinear(next.getAsLong(), 2 * im, h, scale),
                    randomLinear(next.getAsLong(), h, im, scale)));
        }
        stream.synchronize();
    }

    private DeviceBuffer unpackScratch;
    /** Per-M choice of the 2:4 layers: tuning data (see {@link #selectionFor}) or the built-in default. */
    private final Sparse24Selection selection;
    /** The cuSPARSELt plans of the tuned 2:4 layers, shared per shape; null until one needs them, or when the library failed. */
    private CusparseLtPlans cusparseLtPlans;
    private boolean cusparseLtFailed;

    /**
     * The 2:4 selection for this GPU and dtype: the file named by {@code -Dtwofour.cuda.selection=FILE} (a
     * {@code twofour bench gemm} selection.tsv), else {@link #tuningCacheFile} when it exists (written by
     * {@code twofour tune}), else the built-in default (our kernel for few rows, cuBLAS for many).
     */
    static Sparse24Selection selectionFor(String gpuName, CudaDtype dtype) {
        String prop = System.getProperty("twofour.cuda.selection");
        if (prop != null && !prop.isBlank()) {
            Path p = Path.of(prop);
            if (!Files.isRegularFile(p)) {
                throw new IllegalArgumentException("-Dtwofour.cuda.selection=" + prop + ": no such file; give the selection.tsv"
                        + " that twofour bench gemm wrote, or drop the property");
            }
            return Sparse24Selection.load(p);
        }
        if (CusparseLt.isInstalled()) {
            try {
                Path cached = tuningCacheFile(Path.of(System.getProperty("user.home")), gpuName,
                        CusparseLt.formatVersion(CusparseLt.libraryVersion()), dtype);
                if (Files.isRegularFile(cached)) return Sparse24Selection.load(cached);
            } catch (CudaException e) {
                // the library does not load: no tuning data applies
            }
        }
        return Sparse24Selection.builtIn();
    }

    /** ~/.cache/twofour/tuning/GPU-cusparselt-VERSION-DTYPE.tsv: see {@link Sparse24Selection#tuningCacheFile}. */
    static Path tuningCacheFile(Path home, String gpuName, String cusparseLtVersion, CudaDtype dtype) {
        return Sparse24Selection.tuningCacheFile(home, gpuName, cusparseLtVersion, dtype);
    }

    /** Estimated bytes of the cuSPARSELt compressed weights (9/16 of dense, plus slack) of the layers tuned for it. */
    static long cusparseLtBytes(ModelConfig c, CudaDtype dtype, Sparse24Selection selection) {
        int h = c.hiddenSize(), im = c.intermediateSize(), qkvW = c.qDim() + 2 * c.kvDim();
        int[][] shapes = {{qkvW, h}, {h, c.qDim()}, {2 * im, h}, {h, im}};
        long total = 0;
        for (int[] sh : shapes) {
            boolean tuned = selection.entries().stream().anyMatch(e -> e.n() == sh[0] && e.k() == sh[1]
                    && e.method() == Sparse24Selection.Method.CUSPARSELT && e.configId() >= 0);
            if (tuned) total += c.numLayers() * ((long) sh[0] * sh[1] * dtype.byteSize() * 9 / 16 + (1L << 20));
        }
        return total;
    }

    /** Row counts a 2:4 layer is prepared for: the decode buckets and the full prefill chunk. */
    private int[] preparedRowCounts() {
        TreeSet<Integer> rows = new TreeSet<>();
        for (int b : BUCKETS) if (b <= bucketFor(options.maxBatch())) rows.add(b);
        rows.add(rowsMax);
        return rows.stream().mapToInt(Integer::intValue).toArray();
    }

    /** How many 2:4 linear layers run cuSPARSELt for some row count (tests, diagnostics). */
    int cusparseLtLayerCount() {
        int n = 0;
        for (Layer l : layers) {
            for (CudaLinear lin : List.of(l.qkv(), l.o(), l.gateUp(), l.down())) {
                if (lin instanceof Sparse24CudaLinear s && s.usesCusparseLt()) n++;
            }
        }
        return n;
    }

    /** The model's cuSPARSELt plans (one handle, one plan per shape, M and configuration); null when the library fails. */
    private CusparseLtPlans cusparseLtPlans() {
        if (cusparseLtPlans == null && !cusparseLtFailed) {
            try {
                CusparseLt lt = own(CusparseLt.create());
                // owned after the handle, so closed before it
                cusparseLtPlans = own(new CusparseLtPlans(lt, tk.kernels(), cublas, stream, dtype, System.err));
            } catch (CudaException e) {
                cusparseLtFailed = true;
                System.err.println("twofour: cuSPARSELt is unavailable (" + e.getMessage() + "); the 2:4 layers use our kernel or cuBLAS");
            }
        }
        return cusparseLtPlans;
    }

    /** cuSPARSELt plans built so far (each (shape, M, configuration) once, shared by the layers; tests, diagnostics). */
    int cusparseLtPlanBuilds() { return cusparseLtPlans == null ? 0 : cusparseLtPlans.builds(); }

    /** The largest linear weight (elements): the 2:4 layers unpack into a scratch of this size for prefill. */
    static long maxDenseElements(ModelConfig c) {
        long qkv = (long) (c.qDim() + 2 * c.kvDim()) * c.hiddenSize();
        return Math.max(Math.max(qkv, 2L * c.intermediateSize() * c.hiddenSize()), (long) c.hiddenSize() * Math.max(c.qDim(), c.intermediateSize()));
    }

    private CudaLinear randomLinear(long seed, int out, int in, float scale) {
        Kernels kernels = tk.kernels();
        if (sparse) {
            DeviceBuffer values = DeviceBuffer.allocate(Sparse24CudaLinear.valuesBytes(out, in, dtype));
            DeviceBuffer meta = DeviceBuffer.allocate(Sparse24CudaLinear.metadataBytes(out, in));
            // kept values carry the spread of the dense weight's two largest of four: a bit larger
            Fill.sparse24(kernels, stream, values, meta, out, in, dtype, seed, scale * 1.5f);
            return sparseLinear(values, meta, out, in);
        }
        DeviceBuffer w = DeviceBuffer.allocate((long) out * in * dtype.byteSize());
        Fill.random(kernels, stream, w, (long) out * in, dtype, seed, scale);
        return dense(w, out, in);
    }

    /**
     * A 2:4 layer over packed {@code values} and {@code meta} (now owned by it), with a dense copy unpacked on the
     * GPU when the plan keeps them (else the shared unpack scratch), and tuned cuSPARSELt plans when the selection
     * has them: the same for synthetic and loaded weights.
     */
    private CudaLinear sparseLinear(DeviceBuffer values, DeviceBuffer meta, int out, int in) {
        Kernels kernels = tk.kernels();
        DeviceBuffer denseCopy = null;
        if (denseCopies) {
            denseCopy = DeviceBuffer.allocate((long) out * in * dtype.byteSize());
            Fill.unpack24(kernels, stream, values, meta, denseCopy, out, in);
        } else if (unpackScratch == null) {
            unpackScratch = alloc(maxDenseElements(config) * dtype.byteSize());
        }
        Sparse24CudaLinear lin = own(new Sparse24CudaLinear(sparseGemm, kernels, cublas, unpackScratch, values, meta,
                denseCopy, selection, dtype, out, in));
        enableCusparseLt(lin, values, meta, denseCopy, out, in);
        return lin;
    }

    /**
     * Gives {@code lin} its tuned cuSPARSELt plans when the selection asks for them, compressed from its dense
     * copy or from an unpack into the shared scratch (so the lasting extra memory is the compressed copy).
     */
    private void enableCusparseLt(Sparse24CudaLinear lin, DeviceBuffer values, DeviceBuffer meta, DeviceBuffer denseCopy,
                                  int out, int in) {
        int[] rows = preparedRowCounts();
        boolean wanted = false;
        for (int r : rows) {
            Sparse24Selection.Entry e = selection.entryFor(out, in, r);
            wanted |= e.method() == Sparse24Selection.Method.CUSPARSELT && e.configId() >= 0;
        }
        if (!wanted || cusparseLtPlans() == null) return;
        DeviceBuffer dense = denseCopy;
        if (dense == null) {
            if (unpackScratch == null) unpackScratch = alloc(maxDenseElements(config) * dtype.byteSize());
            Fill.unpack24(tk.kernels(), stream, values, meta, unpackScratch, out, in);
            dense = unpackScratch;
        }
        lin.enableCusparseLt(cusparseLtPlans, stream, dense, rows, rowsMax);
    }

    private DeviceBuffer normWeight(Random r, int n) {
        short[] v = new short[n];
        for (int i = 0; i < n; i++) {
            float f = 1f + (float) (r.nextGaussian() * 0.05);
            v[i] = dtype == CudaDtype.F16 ? Half.fromFloat(f) : Bf16.fromFloat(f);
        }
        DeviceBuffer b = alloc(2L * n);
        b.copyFrom(MemorySegment.ofArray(v));
        return b;
    }

    private void finishSetup() {
        // 2:4 GEMM workspaces for every row count a step can have, so graph capture never allocates.
        for (Layer l : layers) {
            for (CudaLinear lin : List.of(l.qkv(), l.o(), l.gateUp(), l.down())) {
                for (int b : BUCKETS) if (b <= bucketFor(options.maxBatch())) lin.prepare(b);
                lin.prepare(rowsMax);
            }
        }
        tk.fillI32(stream, stepCounter.address(), options.maxBatch(), 0);
        tk.fillI32(stream, counts.address(), (long) options.maxBatch() * config.vocabSize(), 0);
        stream.synchronize();
    }

    // ------------------------------------------------------------------------------------------ sequences

    public ModelConfig config() { return config; }

    public CudaDtype dtype() { return dtype; }

    public Options options() { return options; }

    /** Fused linear layers in all (qkv, o, gate_up, down per block). */
    public int linearLayerCount() { return layers.size() * CheckpointSparsity.Fused.values().length; }

    /** How many fused linear layers run 2:4 (packed values + metadata). */
    public int sparseLayerCount() {
        int n = 0;
        for (Layer l : layers) {
            for (CudaLinear lin : List.of(l.qkv(), l.o(), l.gateUp(), l.down())) if (lin instanceof Sparse24CudaLinear) n++;
        }
        return n;
    }

    /** What loading decided per linear layer, or null for a synthetic model. */
    public CheckpointSparsity sparsity() { return sparsity; }

    /** "2:4: 32 of 32 linear layers (packed on load)", "dense", "2:4 (synthetic)", ... for stats lines. */
    public String sparsitySummary() {
        if (sparsity != null) return sparsity.summary();
        return sparse ? "2:4: " + sparseLayerCount() + " of " + linearLayerCount() + " linear layers (synthetic)" : "dense (synthetic)";
    }

    /** Bytes of weights a decode step streams (linear layers + LM head). */
    public long weightBytesPerToken() {
        long b = lmHead.weightBytes();
        for (Layer l : layers) b += l.qkv().weightBytes() + l.o().weightBytes() + l.gateUp().weightBytes() + l.down().weightBytes();
        return b;
    }

    /** Takes a free KV slot for a new sequence and resets its sampler state. */
    public int newSequence() {
        checkOpen();
        for (int s = 0; s < slotUsed.length; s++) {
            if (!slotUsed[s]) {
                slotUsed[s] = true;
                seqLength[s] = 0;
                tk.fillI32(stream, stepCounter.address() + 4L * s, 1, 0);
                tk.fillI32(stream, counts.address() + 4L * s * config.vocabSize(), config.vocabSize(), 0);
                return s;
            }
        }
        throw new IllegalStateException("all " + slotUsed.length + " sequence slots are in use; free one or load the model with a larger maxBatch");
    }

    public void free(int slot) {
        if (slot >= 0 && slot < slotUsed.length) slotUsed[slot] = false;
    }

    public int length(int slot) { return seqLength[slot]; }

    // ------------------------------------------------------------------------------------------ forward

    private long ints(int section) { return stepInts.address() + 4L * section * sec; }

    private MemorySegment hInts() { return hostInts.segment(); }

    private void putInt(int section, int i, int v) { hInts().setAtIndex(ValueLayout.JAVA_INT, (long) section * sec + i, v); }

    /**
     * One forward pass over {@code rows} rows whose inputs are on the device, ending with fp32 logits for
     * {@code logitRows} rows (the gathered rows when {@code gather}). Only enqueues work.
     */
    private void forward(int rows, boolean decode, int splits, int numSeqs, int maxQLen, int logitRows, boolean gather) {
        long es = dtype.byteSize();
        int h = config.hiddenSize(), im = config.intermediateSize(), hd = config.headDim();
        int nh = config.numHeads(), nkv = config.numKvHeads(), qDim = config.qDim(), kvDim = config.kvDim();
        int w = qDim + 2 * kvDim;
        float eps = (float) config.rmsNormEps();
        tk.gatherRows(stream, dtype, x.address(), h, embed.address(), h, ints(TOK), rows, h, config.vocabSize());
        // The residual stream: `res`. A linear layer that fuses the add+RMSNorm before it (the streaming 2:4 kernel, up to
        // FUSED_NORM_ROWS rows) writes the updated residual to the other buffer while every block still reads `res`,
        // so the two buffers swap roles there; the unfused add+RMSNorm updates `res` in place.
        DeviceBuffer res = x, other = xAlt;
        boolean fusable = rows <= FUSED_NORM_ROWS;
        for (int li = 0; li < layers.size(); li++) {
            Layer l = layers.get(li);
            if (fusable && l.qkv().forwardAddRmsNorm(stream, res, li == 0 ? null : delta, l.ln1(), eps, li == 0 ? null : other, qkvOut, rows)) {
                if (li > 0) { DeviceBuffer t = res; res = other; other = t; }
            } else {
                tk.addRmsNorm(stream, dtype, res.address(), h, li == 0 ? 0L : delta.address(), h, l.ln1().address(),
                        normed.address(), h, rows, h, eps);
                l.qkv().forward(stream, normed, qkvOut, rows);
            }
            if (l.qkvBias() != null) tk.addBias(stream, dtype, qkvOut.address(), w, l.qkvBias().address(), rows, w);
            long q = qkvOut.address();
            if (decode) {
                decodeAttention(li, rows, splits);
            } else {
                tk.ropeAppend(stream, dtype, rows, q, w, nh, q + qDim * es, w, q + (qDim + kvDim) * es, w, nkv, true,
                        ints(POS), ints(CROW), kCache[li].address(), vCache[li].address(), invFreq.address(), hd);
                tk.attentionPrefill(stream, dtype, numSeqs, maxQLen, q, w, kCache[li].address(), vCache[li].address(),
                        ints(TABLE), 1, ints(SEQSTART), ints(CTXLEN), options.maxContext(), nh, nkv, hd, attnOut.address(), qDim);
            }
            l.o().forward(stream, attnOut, delta, rows);
            if (fusable && l.gateUp().forwardAddRmsNorm(stream, res, delta, l.ln2(), eps, other, gateUpOut, rows)) {
                DeviceBuffer t = res; res = other; other = t;
            } else {
                tk.addRmsNorm(stream, dtype, res.address(), h, delta.address(), h, l.ln2().address(), normed.address(), h, rows, h, eps);
                l.gateUp().forward(stream, normed, gateUpOut, rows);
            }
            if (!(l.down().fusesSwigluByDefault() && l.down().forwardSwiglu(stream, gateUpOut, delta, rows))) {
                tk.swiglu(stream, dtype, gateUpOut.address(), 2 * im, gateUpOut.address() + im * es, 2 * im, act.address(), im, rows, im);
                l.down().forward(stream, act, delta, rows);
            }
        }
        tk.addRmsNorm(stream, dtype, res.address(), h, delta.address(), h, finalNorm.address(), normed.address(), h, rows, h, eps);
        if (gather) {
            tk.gatherRows(stream, dtype, lastRows.address(), h, normed.address(), h, ints(GATHER), logitRows, h, rows);
            lmHead.forward(stream, lastRows, logits, logitRows);
        } else {
            lmHead.forward(stream, normed, logits, logitRows);
        }
    }

    /** Layer {@code li}'s RoPE, KV append and decode attention over qkvOut into attnOut: one launch (TransformerKernels). */
    private void decodeAttention(int li, int rows, int splits) {
        long es = dtype.byteSize(), q = qkvOut.address();
        int qDim = config.qDim(), kvDim = config.kvDim(), w = qDim + 2 * kvDim;
        tk.ropeAppendAttentionDecode(stream, dtype, rows, q, w, q + qDim * es, w, q + (qDim + kvDim) * es, w,
                ints(POS), ints(CROW), invFreq.address(), kCache[li].address(), vCache[li].address(), ints(TABLE), 1,
                ints(KVLEN), options.maxContext(), config.numHeads(), config.numKvHeads(), config.headDim(), splits,
                attnScratch.address(), attnCounters.address(), attnOut.address(), qDim);
    }

    private void uploadStepInputs() {
        stepInts.copyFrom(hInts(), stream);
        stepFloats.copyFrom(hostFloats.segment(), stream);
    }

    /**
     * Runs {@code tokens} of sequence {@code slot} through the model in chunks and returns fp32 logits:
     * of every token when {@code allRows} (needs {@link Options#allLogits}), else of the last one only.
     */
    public float[][] prefill(int slot, int[] tokens, boolean allRows) {
        checkSlot(slot);
        if (allRows && !options.allLogits()) throw new IllegalStateException("load the model with Options.allLogits to get every row's logits");
        if (tokens.length == 0) throw new IllegalArgumentException("prefill needs at least one token");
        if (seqLength[slot] + tokens.length > options.maxContext()) {
            throw new IllegalArgumentException("sequence " + slot + " would hold " + (seqLength[slot] + tokens.length)
                    + " tokens, more than maxContext " + options.maxContext());
        }
        int vocab = config.vocabSize();
        float[][] out = new float[allRows ? tokens.length : 1][];
        for (int start = 0; start < tokens.length; start += options.prefillChunk()) {
            int n = Math.min(options.prefillChunk(), tokens.length - start);
            int pos0 = seqLength[slot];
            stagePrefillChunk(slot, tokens, start, n, pos0);
            boolean last = start + n == tokens.length;
            forward(n, false, 1, 1, n, allRows ? n : 1, !allRows);
            seqLength[slot] = pos0 + n;
            if (allRows || last) {
                int rows = allRows ? n : 1;
                float[] flat = new float[rows * vocab];
                stream.synchronize();
                logits.slice(0, (long) rows * vocab * 4).copyTo(MemorySegment.ofArray(flat));
                for (int r = 0; r < rows; r++) out[allRows ? start + r : 0] = Arrays.copyOfRange(flat, r * vocab, (r + 1) * vocab);
            }
        }
        return out;
    }

    /**
     * Uploads the step inputs of one prefill chunk: tokens {@code start .. start + n - 1} of {@code tokens} for sequence
     * {@code slot}, at positions {@code pos0 ..} (the context then holds pos0 + n tokens; the last row's logits are gathered).
     */
    private void stagePrefillChunk(int slot, int[] tokens, int start, int n, int pos0) {
        for (int i = 0; i < n; i++) {
            putInt(TOK, i, tokens[start + i]);
            putInt(POS, i, pos0 + i);
            putInt(CROW, i, slot * options.maxContext() + pos0 + i);
        }
        putInt(TABLE, 0, slot);
        putInt(SEQSTART, 0, 0);
        putInt(SEQSTART, 1, n);
        putInt(CTXLEN, 0, pos0 + n);
        putInt(GATHER, 0, n - 1);
        uploadStepInputs();
    }

    /** Prefills {@code prompt} and samples the first new token on the GPU (the prompt counts for the repetition penalty). */
    public int prefillAndSample(int slot, int[] prompt, SamplingParams params) {
        checkSlot(slot);
        markPrompt(slot, prompt);
        prefill(slot, prompt, false);
        fillSamplingRow(0, slot, params);
        uploadStepInputs();
        tk.sample(stream, 1, logits.address(), config.vocabSize(), config.vocabSize(), stepFloats.address(),
                ints(IPAR), stepCounter.address(), counts.address(), outIds.address(), 0L);
        outIds.slice(0, 4).copyTo(hostIds.segment().asSlice(0, 4), stream);
        stream.synchronize();
        return checkId(hostIds.segment().getAtIndex(ValueLayout.JAVA_INT, 0));
    }

    private void markPrompt(int slot, int[] prompt) {
        for (int start = 0; start < prompt.length; start += rowsMax) {
            int n = Math.min(rowsMax, prompt.length - start);
            for (int i = 0; i < n; i++) putInt(TOK, i, prompt[start + i]);
            stepInts.copyFrom(hInts(), stream);
            tk.markPrompt(stream, counts.address(), config.vocabSize(), slot, ints(TOK), n);
            stream.synchronize();  // the staging ints are reused
        }
    }

    private void fillSamplingRow(int row, int slot, SamplingParams p) {
        MemorySegment f = hostFloats.segment();
        int fb = row * TransformerKernels.FPARAMS;
        f.setAtIndex(ValueLayout.JAVA_FLOAT, fb, p.temperature());
        f.setAtIndex(ValueLayout.JAVA_FLOAT, fb + 1, p.topP());
        f.setAtIndex(ValueLayout.JAVA_FLOAT, fb + 2, p.minP());
        f.setAtIndex(ValueLayout.JAVA_FLOAT, fb + 3, p.repetitionPenalty());
        f.setAtIndex(ValueLayout.JAVA_FLOAT, fb + 4, p.frequencyPenalty());
        f.setAtIndex(ValueLayout.JAVA_FLOAT, fb + 5, p.presencePenalty());
        long seed = p.seed() != null ? p.seed() : seeds.nextLong();
        long ib = (long) IPAR * sec + row * 4L;
        hInts().setAtIndex(ValueLayout.JAVA_INT, ib, p.topK());
        hInts().setAtIndex(ValueLayout.JAVA_INT, ib + 1, slot);
        hInts().setAtIndex(ValueLayout.JAVA_INT, ib + 2, (int) seed);
        hInts().setAtIndex(ValueLayout.JAVA_INT, ib + 3, (int) (seed >>> 32));
    }

    private void fillPaddingRow(int row) {
        MemorySegment f = hostFloats.segment();
        int fb = row * TransformerKernels.FPARAMS;
        float[] greedy = {0f, 1f, 0f, 1f, 0f, 0f};
        for (int i = 0; i < greedy.length; i++) f.setAtIndex(ValueLayout.JAVA_FLOAT, fb + i, greedy[i]);
        long ib = (long) IPAR * sec + row * 4L;
        for (int i = 0; i < 4; i++) hInts().setAtIndex(ValueLayout.JAVA_INT, ib + i, i == 1 ? -1 : 0);
        putInt(TOK, row, 0);
        putInt(POS, row, 0);
        putInt(CROW, row, -1);   // no cache write
        putInt(KVLEN, row, 0);   // attention over nothing: zeros
        putInt(TABLE, row, 0);
    }

    /**
     * One decode step: appends {@code tokens[i]} to sequence {@code slots[i]} and returns the next id of each,
     * sampled on the GPU with {@code params[i]}. One graph replay for the batch's bucket; the host waits only
     * for the ids.
     */
    public int[] decodeStep(int[] slots, int[] tokens, SamplingParams[] params) {
        checkOpen();
        int b = slots.length;
        if (b == 0 || tokens.length != b || params.length != b) throw new IllegalArgumentException("slots, tokens and params must have the same non-zero length");
        if (b > options.maxBatch()) throw new IllegalArgumentException("a step of " + b + " sequences exceeds maxBatch " + options.maxBatch());
        int bucket = bucketFor(b);
        for (int i = 0; i < b; i++) {
            int s = slots[i];
            checkSlot(s);
            if (seqLength[s] + 1 > options.maxContext()) throw new IllegalArgumentException("sequence " + s + " is full (" + options.maxContext() + " positions)");
        }
        if (options.cudaGraphs() && !graphs.containsKey(bucket)) {
            // Warm-up on padding rows only (no cache writes, no sampler state), then capture.
            for (int i = 0; i < bucket; i++) fillPaddingRow(i);
            uploadStepInputs();
            decodeLaunches(bucket);
            stream.synchronize();
            graphs.put(bucket, own(CudaGraph.capture(stream, () -> decodeLaunches(bucket))));
        }
        for (int i = 0; i < b; i++) {
            int s = slots[i];
            int pos = seqLength[s];
            putInt(TOK, i, tokens[i]);
            putInt(POS, i, pos);
            putInt(CROW, i, s * options.maxContext() + pos);
            putInt(KVLEN, i, pos + 1);
            putInt(TABLE, i, s);
            fillSamplingRow(i, s, params[i]);
        }
        for (int i = b; i < bucket; i++) fillPaddingRow(i);
        uploadStepInputs();
        if (options.cudaGraphs()) graphs.get(bucket).launch(stream);
        else decodeLaunches(bucket);
        outIds.slice(0, 4L * b).copyTo(hostIds.segment().asSlice(0, 4L * b), stream);
        stream.synchronize();
        int[] ids = new int[b];
        for (int i = 0; i < b; i++) {
            ids[i] = checkId(hostIds.segment().getAtIndex(ValueLayout.JAVA_INT, i));
            seqLength[slots[i]]++;
        }
        return ids;
    }

    private void decodeLaunches(int bucket) {
        int splits = tk.decodeSplits(bucket, config.numKvHeads(), options.maxContext());
        forward(bucket, true, splits, bucket, 1, bucket, false);
        tk.sample(stream, bucket, logits.address(), config.vocabSize(), config.vocabSize(), stepFloats.address(),
                ints(IPAR), stepCounter.address(), counts.address(), outIds.address(), 0L);
    }

    /** The fp32 logits of the first {@code rows} rows of the last decode step (greedy rows are left unmodified). */
    public float[][] lastDecodeLogits(int rows) {
        int vocab = config.vocabSize();
        float[] flat = new float[rows * vocab];
        stream.synchronize();
        logits.slice(0, (long) rows * vocab * 4).copyTo(MemorySegment.ofArray(flat));
        float[][] out = new float[rows][];
        for (int r = 0; r < rows; r++) out[r] = Arrays.copyOfRange(flat, r * vocab, (r + 1) * vocab);
        return out;
    }

    /**
     * Times each launch of a decode step of {@code slots} (one more token each, nothing appended for good:
     * the step's cache row is rewritten by the next real step) with CUDA events, {@code reps} times each,
     * on layer 0's weights; then the whole captured step. Lines of "name  µs  [GB/s]" for DecodeSpeed.
     */
    List<String> profileDecode(int[] slots, int reps) {
        int b = slots.length, bucket = bucketFor(b);
        for (int i = 0; i < bucket; i++) fillPaddingRow(i);
        for (int i = 0; i < b; i++) {
            int s = slots[i], pos = seqLength[s];
            putInt(TOK, i, 3);
            putInt(POS, i, pos);
            putInt(CROW, i, s * options.maxContext() + pos);
            putInt(KVLEN, i, pos + 1);
            putInt(TABLE, i, s);
        }
        uploadStepInputs();
        long es = dtype.byteSize();
        int h = config.hiddenSize(), im = config.intermediateSize(), hd = config.headDim();
        int nh = config.numHeads(), nkv = config.numKvHeads(), qDim = config.qDim(), kvDim = config.kvDim(), w = qDim + 2 * kvDim;
        float eps = (float) config.rmsNormEps();
        Layer l = layers.get(0);
        int splits = tk.decodeSplits(bucket, nkv, options.maxContext());
        long q = qkvOut.address();
        Map<String, Runnable> ops = new LinkedHashMap<>();
        Map<String, Long> bytes = new LinkedHashMap<>();
        java.util.Set<String> perLayer = new java.util.HashSet<>();
        ops.put("embedding gather", () -> tk.gatherRows(stream, dtype, x.address(), h, embed.address(), h, ints(TOK), bucket, h, config.vocabSize()));
        ops.put("add+rmsnorm", () -> tk.addRmsNorm(stream, dtype, x.address(), h, delta.address(), h, l.ln1().address(), normed.address(), h, bucket, h, eps));
        for (Object[] lin : new Object[][] {{"qkv", l.qkv(), normed, qkvOut}, {"o", l.o(), attnOut, delta},
                {"gate_up", l.gateUp(), normed, gateUpOut}, {"down", l.down(), act, delta}, {"lm_head", lmHead, normed, logits}}) {
            CudaLinear cl = (CudaLinear) lin[1];
            DeviceBuffer in = (DeviceBuffer) lin[2], out = (DeviceBuffer) lin[3];
            ops.put(lin[0] + " (default)", () -> cl.forward(stream, in, out, bucket));
            bytes.put(lin[0] + " (default)", cl.weightBytes());
            if (cl instanceof CublasLinear cb) {
                ops.put(lin[0] + " (cuBLAS)", () -> cb.forward(stream, in, out, bucket, false));
                bytes.put(lin[0] + " (cuBLAS)", cl.weightBytes());
                if (cb.hasGemv() && bucket <= 2) {
                    for (int r : new int[] {1, 2, 4}) {
                        ops.put(lin[0] + " (gemv, " + r + " rows/warp)", () -> cb.forwardGemv(stream, in, out, bucket, r));
                        bytes.put(lin[0] + " (gemv, " + r + " rows/warp)", cl.weightBytes());
                    }
                }
            }
        }
        if (l.down() instanceof CublasLinear cd && cd.hasGemv() && bucket <= 2) {
            ops.put("down fused with swiglu (gemv)", () -> cd.forwardSwiglu(stream, gateUpOut, delta, bucket));
            bytes.put("down fused with swiglu (gemv)", cd.weightBytes());
        }
        if (l.down() instanceof Sparse24CudaLinear sd && sd.runsOurs(bucket)) {
            ops.put("down fused with swiglu (2:4)", () -> sd.forwardSwiglu(stream, gateUpOut, delta, bucket));
            bytes.put("down fused with swiglu (2:4)", sd.weightBytes());
        }
        if (l.qkv() instanceof Sparse24CudaLinear sq && bucket <= FUSED_NORM_ROWS) {
            ops.put("qkv fused with add+rmsnorm (2:4)", () -> sq.forwardAddRmsNorm(stream, x, delta, l.ln1(), eps, xAlt, qkvOut, bucket));
            bytes.put("qkv fused with add+rmsnorm (2:4)", sq.weightBytes());
        }
        ops.put("rope+kv append", () -> tk.ropeAppend(stream, dtype, bucket, q, w, nh, q + qDim * es, w, q + (qDim + kvDim) * es, w, nkv, true,
                ints(POS), ints(CROW), kCache[0].address(), vCache[0].address(), invFreq.address(), hd));
        ops.put("attention decode+combine (legacy, " + splits + " splits)", () -> tk.attentionDecode(stream, dtype, bucket, q, w, kCache[0].address(),
                vCache[0].address(), ints(TABLE), 1, ints(KVLEN), options.maxContext(), nh, nkv, hd, splits, attnScratch.address(), attnOut.address(), qDim));
        ops.put("attention decode, 1 launch (" + splits + " splits)", () -> tk.attentionDecode(stream, dtype, bucket, q, w, kCache[0].address(),
                vCache[0].address(), ints(TABLE), 1, ints(KVLEN), options.maxContext(), nh, nkv, hd, splits, attnScratch.address(),
                attnCounters.address(), attnOut.address(), qDim));
        ops.put("rope+kv append+attention, 1 launch (" + splits + " splits)", () -> tk.ropeAttentionDecode(stream, dtype, bucket, q, w,
                q + qDim * es, w, q + (qDim + kvDim) * es, w, ints(POS), invFreq.address(), kCache[0].address(), vCache[0].address(),
                ints(TABLE), 1, ints(KVLEN), options.maxContext(), nh, nkv, hd, splits, attnScratch.address(), attnCounters.address(),
                attnOut.address(), qDim));
        ops.put("swiglu", () -> tk.swiglu(stream, dtype, gateUpOut.address(), 2 * im, gateUpOut.address() + im * es, 2 * im, act.address(), im, bucket, im));
        ops.put("sampler (greedy)", () -> tk.sample(stream, bucket, logits.address(), config.vocabSize(), config.vocabSize(), stepFloats.address(),
                ints(IPAR), stepCounter.address(), counts.address(), outIds.address(), 0L));
        CudaGraph g = graphs.get(bucket);
        if (g != null) ops.put("whole step (graph replay)", () -> g.launch(stream));
        // Where a step's time goes, kernels as they run inside a graph (with programmatic dependent launch, unlike the
        // stream launches above): the linear layers of every layer back to back, and the attention of every layer.
        int layerCount = layers.size();
        List<CudaGraph> chains = new ArrayList<>();
        Runnable gemms = () -> {
            for (Layer ly : layers) {
                ly.qkv().forward(stream, normed, qkvOut, bucket);
                ly.o().forward(stream, attnOut, delta, bucket);
                ly.gateUp().forward(stream, normed, gateUpOut, bucket);
                if (!(ly.down().fusesSwigluByDefault() && ly.down().forwardSwiglu(stream, gateUpOut, delta, bucket))) {
                    ly.down().forward(stream, act, delta, bucket);
                }
            }
        };
        Runnable attention = () -> {
            for (int li = 0; li < layerCount; li++) decodeAttention(li, bucket, splits);
        };
        for (Object[] chain : new Object[][] {{"linear layers of all layers, graph (/layer)", gemms}, {"attention of all layers, graph (/layer)", attention}}) {
            CudaGraph cg = CudaGraph.capture(stream, (Runnable) chain[1]);
            chains.add(cg);
            ops.put((String) chain[0], () -> cg.launch(stream));
            perLayer.add((String) chain[0]);
        }
        List<String> lines = new ArrayList<>();
        try {
            Map<String, Double> micros = timeEach(ops, reps);
            for (Map.Entry<String, Double> e : micros.entrySet()) {
                double us = e.getValue() / (perLayer.contains(e.getKey()) ? layerCount : 1);
                Long by = bytes.get(e.getKey());
                lines.add(String.format("  %-44s %9.2f us%s", e.getKey(), us, by == null ? "" : String.format("  %7.0f GB/s", by / us / 1e3)));
            }
        } finally {
            for (CudaGraph cg : chains) cg.close();
        }
        return lines;
    }

    /** Microseconds per run of each op: one warm-up run, then {@code reps} back to back between two CUDA events. */
    private Map<String, Double> timeEach(Map<String, Runnable> ops, int reps) {
        Map<String, Double> out = new LinkedHashMap<>();
        try (dev.twofour.cuda.CudaEvent start = dev.twofour.cuda.CudaEvent.create(); dev.twofour.cuda.CudaEvent end = dev.twofour.cuda.CudaEvent.create()) {
            for (Map.Entry<String, Runnable> e : ops.entrySet()) {
                e.getValue().run();
                start.record(stream);
                for (int i = 0; i < reps; i++) e.getValue().run();
                end.record(stream);
                end.synchronize();
                out.put(e.getKey(), CudaEvent_ms(start, end) * 1000.0 / reps);
            }
        }
        return out;
    }

    /**
     * Where a prefill of {@code n} tokens (one sequence, one chunk, context n) goes: each op of layer 0 timed alone
     * ({@code reps} back-to-back stream launches, after a warm-up) and the whole
     * forward pass. Leaves the slot it used free.
     */
    List<String> profilePrefill(int n, int reps) {
        if (n > options.prefillChunk() || n > options.maxContext()) {
            throw new IllegalArgumentException("profile prefill of " + n + " tokens needs prefillChunk and maxContext >= " + n);
        }
        int slot = newSequence();
        try {
            int[] tokens = new int[n];
            for (int i = 0; i < n; i++) tokens[i] = 3 + i % 1000;
            stagePrefillChunk(slot, tokens, 0, n, 0);
            long es = dtype.byteSize();
            int h = config.hiddenSize(), im = config.intermediateSize(), hd = config.headDim();
            int nh = config.numHeads(), nkv = config.numKvHeads(), qDim = config.qDim(), kvDim = config.kvDim(), w = qDim + 2 * kvDim;
            float eps = (float) config.rmsNormEps();
            Layer l = layers.get(0);
            long q = qkvOut.address();
            Map<String, Runnable> ops = new LinkedHashMap<>();
            ops.put("add+rmsnorm", () -> tk.addRmsNorm(stream, dtype, x.address(), h, delta.address(), h, l.ln1().address(), normed.address(), h, n, h, eps));
            ops.put("qkv", () -> l.qkv().forward(stream, normed, qkvOut, n));
            ops.put("rope+kv append", () -> tk.ropeAppend(stream, dtype, n, q, w, nh, q + qDim * es, w, q + (qDim + kvDim) * es, w, nkv, true,
                    ints(POS), ints(CROW), kCache[0].address(), vCache[0].address(), invFreq.address(), hd));
            ops.put("attention prefill", () -> tk.attentionPrefill(stream, dtype, 1, n, q, w, kCache[0].address(),
                    vCache[0].address(), ints(TABLE), 1, ints(SEQSTART), ints(CTXLEN), options.maxContext(), nh, nkv, hd, attnOut.address(), qDim));
            ops.put("o", () -> l.o().forward(stream, attnOut, delta, n));
            ops.put("gate_up", () -> l.gateUp().forward(stream, normed, gateUpOut, n));
            ops.put("swiglu", () -> tk.swiglu(stream, dtype, gateUpOut.address(), 2 * im, gateUpOut.address() + im * es, 2 * im, act.address(), im, n, im));
            ops.put("down", () -> l.down().forward(stream, act, delta, n));
            ops.put("whole forward (all layers, last row's logits)", () -> forward(n, false, 1, 1, n, 1, true));
            List<String> lines = new ArrayList<>();
            timeEach(ops, reps).forEach((name, us) -> lines.add(String.format("  %-48s %9.1f us", name, us)));
            return lines;
        } finally {
            free(slot);
        }
    }

    private static double CudaEvent_ms(dev.twofour.cuda.CudaEvent a, dev.twofour.cuda.CudaEvent b) {
        return dev.twofour.cuda.CudaEvent.elapsedMillis(a, b);
    }

    /** Waits for all queued work. */
    public void synchronize() { stream.synchronize(); }

    private int checkId(int id) {
        if (id < 0) throw new IllegalStateException("the sampler found no valid logit (all NaN): the forward pass produced NaN");
        return id;
    }

    private void checkSlot(int slot) {
        checkOpen();
        if (slot < 0 || slot >= slotUsed.length || !slotUsed[slot]) {
            throw new IllegalArgumentException("sequence slot " + slot + " is not in use (call newSequence first)");
        }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("CudaModel is closed");
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        try {
            stream.synchronize();
        } catch (RuntimeException ignored) {
            // freeing anyway
        }
        if (staging != null) staging.close();
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception ignored) {
                // keep freeing the rest
            }
        }
        owned.clear();
    }
}
