package dev.twofour.runtime;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The KV cache: a pool of fixed-size blocks ({@link #blockSize()} token slots for K and V of every layer)
 * shared by many sequences, each holding a list of blocks (a block table), as in vLLM's paged attention.
 *
 * <p>Why blocks rather than one max-length slot per sequence: a server runs many sequences of very
 * different lengths; blocks let short ones use little memory, a sequence grows one block at a time, and
 * freeing returns its blocks at once. Attention reads K/V through the block table, which is one extra
 * index per block on the CPU and one int array per step on the GPU.
 *
 * <p>Use: {@link #newSequence()} → the transformer appends tokens during forward steps (reserving blocks
 * first; {@link KvCacheFullException} when the pool is exhausted) → {@link #free}. Bookkeeping methods are
 * thread-safe; the storage itself is written only by forward steps, which the caller serialises.
 */
public final class KvCache implements AutoCloseable {
    /** Default tokens per block. */
    public static final int DEFAULT_BLOCK_SIZE = 16;

    /** Geometry of a cache. */
    public record Shape(int numLayers, int numKvHeads, int headDim, int blockSize, int numBlocks) {
        public Shape {
            if (numLayers <= 0 || numKvHeads <= 0 || headDim <= 0 || blockSize <= 0 || numBlocks <= 0) {
                throw new IllegalArgumentException("KV cache shape must be positive: " + numLayers + " layers, "
                        + numKvHeads + " kv heads, head dim " + headDim + ", block " + blockSize + ", " + numBlocks + " blocks");
            }
        }

        /** Floats (or elements) per token per layer for K (same for V). */
        public int kvWidth() { return numKvHeads * headDim; }
    }

    private static final class Seq {
        int length;
        int[] blocks = new int[4];
        int numBlocks;
    }

    private final Shape shape;
    private final KvStorage storage;
    private final int[] freeStack;
    private int freeCount;
    private final Map<Integer, Seq> sequences = new HashMap<>();
    private int nextId = 1;
    private boolean closed;

    /** Allocates the storage on {@code backend}. */
    public KvCache(Backend backend, Shape shape) {
        this.shape = shape;
        this.storage = backend.allocateKv(shape);
        this.freeStack = new int[shape.numBlocks()];
        // Lowest block ids are handed out first.
        for (int i = 0; i < shape.numBlocks(); i++) freeStack[i] = shape.numBlocks() - 1 - i;
        this.freeCount = shape.numBlocks();
    }

    public Shape shape() { return shape; }

    public int blockSize() { return shape.blockSize(); }

    public int numBlocks() { return shape.numBlocks(); }

    /** Total token slots. */
    public long capacityTokens() { return (long) shape.numBlocks() * shape.blockSize(); }

    public KvStorage storage() {
        checkOpen();
        return storage;
    }

    /** Starts an empty sequence and returns its id (no block is taken until tokens are appended). */
    public synchronized int newSequence() {
        checkOpen();
        int id = nextId++;
        sequences.put(id, new Seq());
        return id;
    }

    /** Returns the sequence's blocks to the pool; unknown or already freed ids are ignored. */
    public synchronized void free(int seq) {
        Seq s = sequences.remove(seq);
        if (s == null) return;
        for (int i = 0; i < s.numBlocks; i++) freeStack[freeCount++] = s.blocks[i];
    }

    public synchronized boolean contains(int seq) { return sequences.containsKey(seq); }

    /** Tokens stored for the sequence. */
    public synchronized int length(int seq) { return get(seq).length; }

    public synchronized int usedBlocks() { return shape.numBlocks() - freeCount; }

    public synchronized int freeBlocks() { return freeCount; }

    public synchronized int activeSequences() { return sequences.size(); }

    /** Blocks needed to grow {@code seq} by {@code newTokens} beyond what it holds. */
    public synchronized int blocksNeeded(int seq, int newTokens) {
        Seq s = get(seq);
        return Math.max(0, ceilDiv(s.length + newTokens, shape.blockSize()) - s.numBlocks);
    }

    /**
     * Makes sure {@code seq} has blocks for {@code newTokens} more tokens.
     * @throws KvCacheFullException when the pool has too few free blocks (nothing is taken then)
     */
    public synchronized void reserve(int seq, int newTokens) {
        Seq s = get(seq);
        int need = ceilDiv(s.length + newTokens, shape.blockSize()) - s.numBlocks;
        if (need <= 0) return;
        if (need > freeCount) {
            throw new KvCacheFullException("KV cache full: sequence " + seq + " needs " + need + " more blocks of "
                    + shape.blockSize() + " tokens but " + freeCount + " of " + shape.numBlocks()
                    + " are free; free finished sequences or make the cache larger");
        }
        if (s.blocks.length < s.numBlocks + need) s.blocks = Arrays.copyOf(s.blocks, Math.max(2 * s.blocks.length, s.numBlocks + need));
        for (int i = 0; i < need; i++) s.blocks[s.numBlocks++] = freeStack[--freeCount];
    }

    /** Records that {@code n} tokens were written after the current end (blocks must be reserved). */
    synchronized void advance(int seq, int n) {
        Seq s = get(seq);
        if (ceilDiv(s.length + n, shape.blockSize()) > s.numBlocks) {
            throw new IllegalStateException("sequence " + seq + " advanced past its reserved blocks");
        }
        s.length += n;
    }

    /** Forgets tokens after {@code newLength} (keeps the blocks); used to roll back a failed step. */
    public synchronized void truncate(int seq, int newLength) {
        Seq s = get(seq);
        if (newLength < 0 || newLength > s.length) {
            throw new IllegalArgumentException("cannot truncate sequence " + seq + " of length " + s.length + " to " + newLength);
        }
        s.length = newLength;
    }

    /** A copy of the sequence's block ids. */
    public synchronized int[] blockTable(int seq) {
        Seq s = get(seq);
        return Arrays.copyOf(s.blocks, s.numBlocks);
    }

    private Seq get(int seq) {
        checkOpen();
        Seq s = sequences.get(seq);
        if (s == null) throw new IllegalArgumentException("KV cache has no sequence " + seq + " (never created, or freed)");
        return s;
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("KV cache is closed");
    }

    private static int ceilDiv(int a, int b) { return (a + b - 1) / b; }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        sequences.clear();
        storage.close();
    }
}
