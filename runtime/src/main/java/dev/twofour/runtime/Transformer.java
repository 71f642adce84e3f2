package dev.twofour.runtime;

import dev.twofour.model.Checkpoint;
import dev.twofour.model.DType;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.ModelWeights;
import dev.twofour.model.Packed24;
import dev.twofour.model.Sparse24;
import dev.twofour.model.TensorView;
import dev.twofour.model.WeightNames;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A Llama-family decoder (Llama 2/3, Mistral, Qwen2 with q/k/v biases) on a {@link Backend}: the one forward
 * pass used by generation, perplexity and the pruner.
 *
 * <h2>Serving API</h2>
 * {@link #load} maps the checkpoint and builds each linear layer as dense or 2:4-packed: a weight that is 2:4
 * (checked with {@link Sparse24#check}) is packed and runs through the 2:4 kernel unless
 * {@link Options#forceDense}. {@link #newKvCache} makes a paged KV cache; {@link #forward} runs one step for a
 * batch of sequences, each contributing 1..n new tokens (a prefill chunk or a decode token), and returns the
 * logits of each sequence's last token, or of every token. A Transformer is used by one thread at a time.
 *
 * <h2>Per-block API (for the pruner)</h2>
 * <ul>
 *   <li>{@link #embed}: token ids → hidden states {@code [T][hidden]} of one sequence.</li>
 *   <li>{@link #runBlock}: runs decoder block {@code i} on {@code [T][hidden]} (causal attention over the T
 *       tokens at positions 0..T-1, no KV cache needed) and returns its output; optionally hands the inputs
 *       of the block's linear layers to a {@link LinearInputListener}: q/k/v share
 *       {@link LinearInput#ATTENTION_INPUT}, o gets {@link LinearInput#ATTENTION_OUTPUT}, gate/up share
 *       {@link LinearInput#MLP_INPUT}, down gets {@link LinearInput#MLP_HIDDEN}.</li>
 *   <li>{@link #linearWeights} reads a layer's current weights as floats; {@link #replaceLinear} writes pruned
 *       weights back in place (stored in the model dtype, packed when 2:4 unless forceDense).</li>
 *   <li>{@link #logitsFromHidden}: final norm + LM head on hidden states (to evaluate a partly pruned model).</li>
 * </ul>
 */
public final class Transformer implements AutoCloseable {

    /**
     * @param forceDense keep every linear layer dense even when its weights are 2:4
     */
    public record Options(boolean forceDense) {
        public static Options defaults() { return new Options(false); }
    }

    /** One sequence's part of a step: its KV-cache id and its new tokens (appended after what it holds). */
    public record SequenceInput(int sequence, int[] tokens) {
        public SequenceInput {
            if (tokens.length == 0) throw new IllegalArgumentException("sequence " + sequence + ": a step needs at least one new token");
        }
    }

    /** Which activation a linear layer reads (layers that share an input share one). */
    public enum LinearInput {
        ATTENTION_INPUT, ATTENTION_OUTPUT, MLP_INPUT, MLP_HIDDEN;

        public static LinearInput of(WeightNames.Linear which) {
            return switch (which) {
                case Q, K, V -> ATTENTION_INPUT;
                case O -> ATTENTION_OUTPUT;
                case GATE, UP -> MLP_INPUT;
                case DOWN -> MLP_HIDDEN;
            };
        }
    }

    /** Receives the inputs of a block's linear layers during {@link #runBlock}. */
    @FunctionalInterface
    public interface LinearInputListener {
        /** {@code input} is {@code [T][width]} row-major, a fresh array the listener may keep. */
        void onInput(int layer, LinearInput which, float[] input, int tokens, int width);
    }

    private final class Layer {
        final Tensor inputNorm, postNorm, qBias, kBias, vBias;
        final LinearWeights[] linears = new LinearWeights[WeightNames.Linear.values().length];
        /** Where each linear's weights came from: the mapped checkpoint tensor, or the replacement. */
        final TensorView[] sources = new TensorView[WeightNames.Linear.values().length];

        Layer(Tensor inputNorm, Tensor postNorm, Tensor qBias, Tensor kBias, Tensor vBias) {
            this.inputNorm = inputNorm;
            this.postNorm = postNorm;
            this.qBias = qBias;
            this.kBias = kBias;
            this.vBias = vBias;
        }

        LinearWeights get(WeightNames.Linear w) { return linears[w.ordinal()]; }
    }

    private final ModelConfig config;
    private final Backend backend;
    private final Options options;
    private final Checkpoint checkpoint;     // null for models built in memory
    private final LinearWeights embedding, lmHead;
    private final Tensor finalNorm;
    private final List<Layer> layers = new ArrayList<>();
    private final Rope rope;
    private final float eps;
    private final List<AutoCloseable> owned = new ArrayList<>();

    // Scratch activations, grown to the largest step seen.
    private int capacity;
    private Tensor h, xn, q, k, v, att, o, gate, up, down;
    private int logitsCapacity;
    private Tensor last, logits;
    private boolean closed;

    private Transformer(ModelConfig config, Backend backend, Options options, ModelWeights weights, Checkpoint checkpoint) {
        this.config = config;
        this.backend = backend;
        this.options = options;
        this.checkpoint = checkpoint;
        this.rope = Rope.of(config);
        this.eps = (float) config.rmsNormEps();
        this.embedding = own(dense(weights.embedTokens()));
        this.lmHead = config.tieWordEmbeddings() ? embedding : own(dense(weights.lmHead()));
        this.finalNorm = own(backend.upload(weights.finalNorm()));
        for (ModelWeights.Layer lw : weights.layers()) {
            Layer l = new Layer(own(backend.upload(lw.inputNorm())), own(backend.upload(lw.postAttentionNorm())),
                    lw.qBias() == null ? null : own(backend.upload(lw.qBias())),
                    lw.kBias() == null ? null : own(backend.upload(lw.kBias())),
                    lw.vBias() == null ? null : own(backend.upload(lw.vBias())));
            for (WeightNames.Linear w : WeightNames.Linear.values()) {
                l.linears[w.ordinal()] = linearFor(lw.linear(w));
                l.sources[w.ordinal()] = lw.linear(w);
            }
            layers.add(l);
        }
    }

    private <T extends AutoCloseable> T own(T t) {
        owned.add(t);
        return t;
    }

    /**
     * Loads a Hugging Face model directory (config.json + safetensors) onto {@code backend}. The checkpoint
     * stays memory-mapped until {@link #close}.
     */
    public static Transformer load(Path modelDir, Backend backend, Options options) throws IOException {
        ModelConfig config = ModelConfig.load(modelDir);
        Checkpoint ckpt = Checkpoint.open(modelDir);
        try {
            ModelWeights weights = ModelWeights.bind(config, ckpt);
            return new Transformer(config, backend, options, weights, ckpt);
        } catch (RuntimeException | IOException e) {
            ckpt.close();
            throw e;
        }
    }

    /** Builds a model from weights already bound (the caller keeps their checkpoint open while this lives). */
    public static Transformer of(ModelWeights weights, Backend backend, Options options) {
        return new Transformer(weights.config(), backend, options, weights, null);
    }

    private LinearWeights dense(TensorView w) {
        return backend.denseLinear(w.name(), w.dtype(), w.data(), (int) w.dim(0), (int) w.dim(1));
    }

    private LinearWeights linearFor(TensorView w) {
        if (!options.forceDense() && w.dim(1) % 4 == 0 && Sparse24.check(w).is24()) {
            Packed24 p = Sparse24.pack(w);
            return backend.sparse24Linear(w.name(), p.dtype(), p.values(), p.metadata(), p.n(), p.k());
        }
        return dense(w);
    }

    public ModelConfig config() { return config; }

    public Backend backend() { return backend; }

    public int numLayers() { return config.numLayers(); }

    public int vocabSize() { return config.vocabSize(); }

    public int hiddenSize() { return config.hiddenSize(); }

    /** The layout chosen for a linear layer (dense or 2:4 packed). */
    public LinearWeights.Layout linearLayout(int layer, WeightNames.Linear which) {
        return layers.get(layer).get(which).layout();
    }

    /** HF names of the linear weights that run dense (not the 2:4 layout), in layer order. */
    public List<String> denseLinearWeights() {
        List<String> dense = new ArrayList<>();
        for (int l = 0; l < numLayers(); l++) {
            for (WeightNames.Linear w : WeightNames.Linear.values()) {
                if (linearLayout(l, w) != LinearWeights.Layout.SPARSE24) dense.add(w.weight(l));
            }
        }
        return dense;
    }

    /**
     * Fails, naming {@code dir} and the first weight, unless every linear weight runs 2:4 (what {@code --sparse on}
     * promises).
     */
    public void requireAllSparse24(Path dir) {
        List<String> dense = denseLinearWeights();
        if (dense.isEmpty()) return;
        int total = numLayers() * WeightNames.Linear.values().length;
        throw new IllegalArgumentException("--sparse on, but " + dense.size() + " of " + total + " linear weights of " + dir
                + " are not 2:4 (the first: " + dense.getFirst() + "); prune the model to 2:4 (twofour prune), "
                + "or use --sparse auto (2:4 for the weights that are) or off");
    }

    /** Weight bytes a decode step streams through the linear layers and LM head. */
    public long linearWeightBytes() {
        long sum = lmHead.weightBytes();
        for (Layer l : layers) for (LinearWeights w : l.linears) sum += w.weightBytes();
        return sum;
    }

    /** A paged KV cache with room for {@code maxTokens} tokens in total (over all sequences). */
    public KvCache newKvCache(int maxTokens) {
        int bs = KvCache.DEFAULT_BLOCK_SIZE;
        return new KvCache(backend, new KvCache.Shape(config.numLayers(), config.numKvHeads(), config.headDim(), bs,
                Math.max(1, (maxTokens + bs - 1) / bs)));
    }

    // ---------------------------------------------------------------- forward

    private void ensureCapacity(int tokens) {
        if (tokens <= capacity) return;
        closeScratch();
        int c = Math.max(tokens, 16);
        int hid = config.hiddenSize(), inter = config.intermediateSize();
        h = backend.allocate(c, hid);
        xn = backend.allocate(c, hid);
        q = backend.allocate(c, config.qDim());
        k = backend.allocate(c, config.kvDim());
        v = backend.allocate(c, config.kvDim());
        att = backend.allocate(c, config.qDim());
        o = backend.allocate(c, hid);
        gate = backend.allocate(c, inter);
        up = backend.allocate(c, inter);
        down = backend.allocate(c, hid);
        capacity = c;
    }

    private Tensor logitsTensor(int rows) {
        if (rows > logitsCapacity) {
            if (logits != null) logits.close();
            if (last != null) last.close();
            logitsCapacity = Math.max(rows, 8);
            logits = backend.allocate(logitsCapacity, config.vocabSize());
            last = backend.allocate(logitsCapacity, config.hiddenSize());
        }
        return logits;
    }

    /**
     * Runs one step: appends each sequence's new tokens to its KV cache and returns logits, row-major
     * {@code [rows][vocab]}: one row per sequence (its last new token) unless {@code allLogits}, then one row
     * per new token, sequences in input order.
     * @throws KvCacheFullException when the cache cannot hold the new tokens (nothing is appended then)
     * @throws IllegalArgumentException for unknown sequences, bad token ids, or positions past the model's context
     */
    public float[] forward(KvCache cache, List<SequenceInput> batch, boolean allLogits) {
        checkOpen();
        if (batch.isEmpty()) throw new IllegalArgumentException("forward needs at least one sequence");
        int b = batch.size(), total = 0;
        for (SequenceInput s : batch) total += s.tokens().length;
        int[] tokens = new int[total], positions = new int[total], seqOf = new int[total];
        int[] seqStart = new int[b + 1], ctx = new int[b], starts = new int[b];
        int[][] tables = new int[b][];
        int t = 0;
        for (int i = 0; i < b; i++) {
            SequenceInput s = batch.get(i);
            int start = cache.length(s.sequence());
            int end = start + s.tokens().length;
            if (end > config.maxPositionEmbeddings()) {
                throw new IllegalArgumentException("sequence " + s.sequence() + " would reach " + end
                        + " tokens, past the model's context of " + config.maxPositionEmbeddings() + " (max_position_embeddings)");
            }
            starts[i] = start;
            seqStart[i] = t;
            for (int j = 0; j < s.tokens().length; j++, t++) {
                int id = s.tokens()[j];
                if (id < 0 || id >= config.vocabSize()) {
                    throw new IllegalArgumentException("token id " + id + " of sequence " + s.sequence() + " is outside the vocabulary [0, " + config.vocabSize() + ")");
                }
                tokens[t] = id;
                positions[t] = start + j;
                seqOf[t] = i;
            }
            ctx[i] = end;
        }
        seqStart[b] = total;
        // Reserve every sequence's blocks first so a full cache leaves nothing half-appended.
        int need = 0;
        for (SequenceInput s : batch) need += cache.blocksNeeded(s.sequence(), s.tokens().length);
        if (need > cache.freeBlocks()) {
            throw new KvCacheFullException("KV cache full: this step needs " + need + " more blocks of " + cache.blockSize()
                    + " tokens but " + cache.freeBlocks() + " of " + cache.numBlocks() + " are free; free finished sequences or make the cache larger");
        }
        for (SequenceInput s : batch) cache.reserve(s.sequence(), s.tokens().length);
        for (int i = 0; i < b; i++) tables[i] = cache.blockTable(batch.get(i).sequence());
        StepLayout step = new StepLayout(tokens, positions, seqOf, seqStart, ctx, tables, cache.blockSize());

        ensureCapacity(total);
        backend.embedding(embedding, step, h);
        for (int l = 0; l < layers.size(); l++) {
            if (l == 0) backend.rmsNorm(h, layers.get(0).inputNorm, eps, xn, total);
            else backend.addRmsNorm(h, down, layers.get(l).inputNorm, eps, xn, total);
            block(l, cache, l, step, total, null);
        }
        backend.addRmsNorm(h, down, finalNorm, eps, xn, total);
        for (int i = 0; i < b; i++) cache.advance(batch.get(i).sequence(), batch.get(i).tokens().length);

        int rows = allLogits ? total : b;
        Tensor out = logitsTensor(rows);
        if (allLogits) {
            backend.linear(lmHead, xn, out, total);
        } else {
            int[] lastRows = new int[b];
            for (int i = 0; i < b; i++) lastRows[i] = step.lastToken(i);
            backend.gatherRows(xn, lastRows, last);
            backend.linear(lmHead, last, out, b);
        }
        float[] result = new float[rows * config.vocabSize()];
        backend.copyToHost(out, rows, result);
        return result;
    }

    /**
     * One decoder block after its input norm ({@code xn = norm(h)}): attention and MLP; leaves the MLP output in
     * {@code down} for the caller to add to {@code h} (fused with the next norm in {@link #forward}).
     */
    private void block(int layer, KvCache cache, int kvLayer, StepLayout step, int n, LinearInputListener capture) {
        Layer l = layers.get(layer);
        capture(capture, layer, LinearInput.ATTENTION_INPUT, xn, n);
        backend.linear(l.get(WeightNames.Linear.Q), xn, q, n);
        backend.linear(l.get(WeightNames.Linear.K), xn, k, n);
        backend.linear(l.get(WeightNames.Linear.V), xn, v, n);
        if (l.qBias != null) {
            backend.addBias(q, l.qBias, n);
            backend.addBias(k, l.kBias, n);
            backend.addBias(v, l.vBias, n);
        }
        backend.rope(q, config.numHeads(), rope, step);
        backend.rope(k, config.numKvHeads(), rope, step);
        backend.kvAppend(cache, kvLayer, k, v, step);
        backend.attention(q, cache, kvLayer, config.numHeads(), step, att);
        capture(capture, layer, LinearInput.ATTENTION_OUTPUT, att, n);
        backend.linear(l.get(WeightNames.Linear.O), att, o, n);
        backend.addRmsNorm(h, o, l.postNorm, eps, xn, n);
        capture(capture, layer, LinearInput.MLP_INPUT, xn, n);
        backend.linear(l.get(WeightNames.Linear.GATE), xn, gate, n);
        backend.linear(l.get(WeightNames.Linear.UP), xn, up, n);
        backend.swiglu(gate, up, gate, n);
        capture(capture, layer, LinearInput.MLP_HIDDEN, gate, n);
        backend.linear(l.get(WeightNames.Linear.DOWN), gate, down, n);
    }

    private void capture(LinearInputListener listener, int layer, LinearInput which, Tensor t, int n) {
        if (listener == null) return;
        float[] copy = new float[n * t.cols()];
        backend.copyToHost(t, n, copy);
        listener.onInput(layer, which, copy, n, t.cols());
    }

    // ---------------------------------------------------------------- per-block API

    /** Hidden states {@code [T][hidden]} of the embedding of one token sequence. */
    public float[] embed(int[] tokens) {
        checkOpen();
        int n = tokens.length;
        ensureCapacity(n);
        backend.embedding(embedding, singleSequence(n, tokens), h);
        float[] out = new float[n * config.hiddenSize()];
        backend.copyToHost(h, n, out);
        return out;
    }

    private static StepLayout singleSequence(int n, int[] tokens) {
        int[] pos = new int[n], seq = new int[n];
        for (int i = 0; i < n; i++) pos[i] = i;
        int bs = KvCache.DEFAULT_BLOCK_SIZE;
        int[] table = new int[(n + bs - 1) / bs];
        for (int i = 0; i < table.length; i++) table[i] = i;
        return new StepLayout(tokens == null ? new int[n] : tokens, pos, seq, new int[]{0, n}, new int[]{n}, new int[][]{table}, bs);
    }

    /**
     * Runs decoder block {@code layer} on the hidden states {@code [T][hidden]} of one sequence at positions
     * 0..T-1 (causal) and returns the block's output {@code [T][hidden]}. {@code capture} (nullable) receives
     * the inputs of the block's linear layers.
     */
    public float[] runBlock(int layer, float[] hidden, int tokens, LinearInputListener capture) {
        checkOpen();
        java.util.Objects.checkIndex(layer, layers.size());
        int hid = config.hiddenSize();
        if (hidden.length < tokens * hid) throw new IllegalArgumentException("runBlock: hidden has " + hidden.length + " floats, need " + tokens + " × " + hid);
        ensureCapacity(tokens);
        StepLayout step = singleSequence(tokens, null);
        try (KvCache scratch = new KvCache(backend, new KvCache.Shape(1, config.numKvHeads(), config.headDim(),
                step.blockSize(), step.blockTables()[0].length))) {
            backend.copyFromHost(hidden, tokens, h);
            backend.rmsNorm(h, layers.get(layer).inputNorm, eps, xn, tokens);
            block(layer, scratch, 0, step, tokens, capture);
            backend.add(h, down, tokens);
        }
        float[] out = new float[tokens * hid];
        backend.copyToHost(h, tokens, out);
        return out;
    }

    /** Final norm and LM head on hidden states {@code [T][hidden]}: logits {@code [T][vocab]}. */
    public float[] logitsFromHidden(float[] hidden, int tokens) {
        checkOpen();
        ensureCapacity(tokens);
        backend.copyFromHost(hidden, tokens, h);
        backend.rmsNorm(h, finalNorm, eps, xn, tokens);
        Tensor out = logitsTensor(tokens);
        backend.linear(lmHead, xn, out, tokens);
        float[] result = new float[tokens * config.vocabSize()];
        backend.copyToHost(out, tokens, result);
        return result;
    }

    /** The current weights of a linear layer as floats {@code [out][in]} (as stored: rounded to the model dtype). */
    public float[] linearWeights(int layer, WeightNames.Linear which) {
        checkOpen();
        return layers.get(layer).sources[which.ordinal()].toFloatArray();
    }

    /**
     * Replaces a linear layer's weights ({@code [out][in]} floats, row-major), stored in the model's dtype and
     * packed when they are 2:4 (unless forceDense). The old weights' backend storage is freed.
     */
    public void replaceLinear(int layer, WeightNames.Linear which, float[] weights) {
        checkOpen();
        Layer l = layers.get(layer);
        LinearWeights old = l.get(which);
        int n = old.outFeatures(), kk = old.inFeatures();
        if (weights.length != n * kk) {
            throw new IllegalArgumentException("replaceLinear " + which.weight(layer) + ": got " + weights.length + " values, expected " + n + " × " + kk);
        }
        DType dt = old.dtype();
        TensorView view = TensorView.ofFloats(which.weight(layer), dt, new long[]{n, kk}, weights);
        l.linears[which.ordinal()] = linearFor(view);
        l.sources[which.ordinal()] = view;
        old.close();
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("the model is closed");
    }

    private void closeScratch() {
        for (Tensor t : new Tensor[]{h, xn, q, k, v, att, o, gate, up, down}) if (t != null) t.close();
        capacity = 0;
    }

    /** Frees backend storage and unmaps the checkpoint; the backend itself stays open. Closing twice is harmless. */
    @Override public void close() {
        if (closed) return;
        closed = true;
        closeScratch();
        if (logits != null) logits.close();
        if (last != null) last.close();
        for (Layer l : layers) for (LinearWeights w : l.linears) w.close();
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception ignored) {
                // closing backend storage does not fail in practice; keep closing the rest
            }
        }
        if (checkpoint != null) checkpoint.close();
    }
}
