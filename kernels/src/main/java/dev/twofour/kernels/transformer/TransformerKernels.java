package dev.twofour.kernels.transformer;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaFunction;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.Dim3;
import dev.twofour.cuda.KernelArgs;
import dev.twofour.kernels.Kernels;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Typed launchers of the transformer kernels (kernels/src/main/cuda/transformer/*.cuh). Arguments are
 * device addresses ({@code long}) because the CUDA backend works on views inside a few large buffers
 * (column slices of a fused q|k|v output, rows of an activation arena); strides are in elements.
 * Every method only enqueues work on {@code stream}; nothing synchronises. Java twins of every kernel:
 * {@link dev.twofour.kernels.transformer.ref.TransformerRef}.
 */
public final class TransformerKernels {
    /** Threads of one attention block (the kernels are compiled for it). */
    static final int ATT_THREADS = 128;
    /** Query heads per KV head the decode kernel supports. */
    public static final int MAX_GROUP = 8;
    /** Threads of the sampler (one block per row). */
    static final int SAMPLE_THREADS = 1024;

    private final Kernels kernels;
    private final Map<String, CudaFunction> functions = new ConcurrentHashMap<>();

    public TransformerKernels(Kernels kernels) {
        this.kernels = kernels;
    }

    public Kernels kernels() { return kernels; }

    private CudaFunction fn(String name) {
        return functions.computeIfAbsent(name, kernels::function);
    }

    private static String sfx(CudaDtype dtype) {
        return switch (dtype) {
            case F16 -> "f16";
            case BF16 -> "bf16";
            case F32 -> throw new IllegalArgumentException("the transformer kernels run fp16 or bf16 activations, not fp32");
        };
    }

    /** True when the attention kernels are compiled for this head size (64 and 128). */
    public static boolean supportsHeadDim(int headDim) {
        return headDim == 64 || headDim == 128;
    }

    private static void checkHeadDim(int headDim) {
        if (!supportsHeadDim(headDim)) {
            throw new IllegalArgumentException("attention kernels are built for head_dim 64 and 128, the model has "
                    + headDim + "; add an instantiation in tf_attention.cuh");
        }
    }

    private int rowBlock(int cols) {
        return cols >= 2048 ? 512 : cols >= 512 ? 256 : 128;
    }

    private int gridFor(long n, int block) {
        long blocks = Math.max(1, (n + block - 1) / block);
        return (int) Math.min(blocks, (long) kernels.multiprocessors() * 16);
    }

    /** {@code out[r] = src[idx[r]]} for {@code rows} rows of {@code cols}; an index outside [0, numSrcRows) gives NaN. */
    public void gatherRows(CudaStream stream, CudaDtype dtype, long out, int outStride, long src, int srcStride,
                           long idx, int rows, int cols, int numSrcRows) {
        if (rows <= 0) return;
        // one 16-byte chunk per thread where the row allows (a second pass was a second memory round trip)
        int block = Math.max(128, Math.min(1024, (cols / 8 + 31) / 32 * 32));
        kernels.launchDependent(fn("tf_gather_rows_" + sfx(dtype)), Dim3.of(rows), Dim3.of(block), 0, stream,
                new KernelArgs().ptr(out).i32(outStride).ptr(src).i32(srcStride).ptr(idx).i32(cols).i32(numSrcRows));
    }

    /**
     * Per row: {@code x += delta} (when {@code delta != 0}), {@code y = rmsnorm(x) * w}. {@code y} may equal {@code x}.
     * {@code weight} is read before the previous kernel in the stream has finished (programmatic dependent launch):
     * it must be a weight, not something a kernel of the stream writes.
     */
    public void addRmsNorm(CudaStream stream, CudaDtype dtype, long x, int xStride, long delta, int deltaStride,
                           long weight, long y, int yStride, int rows, int cols, float eps) {
        if (rows <= 0) return;
        kernels.launchDependent(fn("tf_add_rmsnorm_" + sfx(dtype)), Dim3.of(rows), Dim3.of(rowBlock(cols)), 0, stream,
                new KernelArgs().ptr(x).i32(xStride).ptr(delta).i32(deltaStride).ptr(weight).ptr(y).i32(yStride)
                        .i32(cols).f32(eps));
    }

    /**
     * RoPE in place on {@code numHeads} heads of q (when {@code q != 0}) and, when {@code k != 0}, on k (if
     * {@code rotateK}) followed by the KV-cache append of k and v at {@code slots[r]} (skipped when
     * {@code kCache == 0} or a slot is negative). {@code positions}, {@code slots}: int32 [rows];
     * {@code invFreq}: fp32 [headDim/2]. Cache layout: [slot][numKvHeads*headDim].
     */
    public void ropeAppend(CudaStream stream, CudaDtype dtype, int rows, long q, int qStride, int numHeads,
                           long k, int kStride, long v, int vStride, int numKvHeads, boolean rotateK,
                           long positions, long slots, long kCache, long vCache, long invFreq, int headDim) {
        if (rows <= 0) return;
        if (headDim % 2 != 0) throw new IllegalArgumentException("RoPE needs an even head_dim, got " + headDim);
        // Threads (pair j, head lane): one angle per thread, applied to heads lane, lane + lanes, ... The y blocks split
        // the heads: one per head lane for few rows (decode: every thread one q and one k pair), fewer once the rows
        // alone give ~32 blocks per SM (prefill: each thread's angle serves several heads; at 8 blocks per SM, one block
        // per row, a thread's 32 dependent load-rotate-store steps made 2048 rows take 69 us).
        int half = headDim / 2;
        if (half > 1024) throw new IllegalArgumentException("RoPE supports head_dim up to 2048, got " + headDim);
        int lanes = Math.max(1, 128 / half), block = half * lanes;
        int heads = Math.max(q != 0 ? numHeads : 0, k != 0 ? numKvHeads : 0);
        int maxGy = Math.max(1, (heads + lanes - 1) / lanes);
        int gy = Math.max(1, Math.min(maxGy, (32 * kernels.multiprocessors() + rows - 1) / rows));
        kernels.launchDependent(fn("tf_rope_append_" + sfx(dtype)), Dim3.of(rows, gy), Dim3.of(block), 0, stream,
                new KernelArgs().ptr(q).i32(qStride).i32(numHeads).ptr(k).i32(kStride).ptr(v).i32(vStride)
                        .i32(numKvHeads).i32(rotateK ? 1 : 0).ptr(positions).ptr(slots).ptr(kCache).ptr(vCache)
                        .ptr(invFreq).i32(headDim));
    }

    /** {@code y[r][c] += bias[c]}. */
    public void addBias(CudaStream stream, CudaDtype dtype, long y, int yStride, long bias, int rows, int cols) {
        if (rows <= 0) return;
        long n = (long) rows * cols;
        kernels.launchDependent(fn("tf_add_bias_" + sfx(dtype)), Dim3.of(gridFor(n, 256)), Dim3.of(256), 0, stream,
                new KernelArgs().ptr(y).i32(yStride).ptr(bias).i32(rows).i32(cols));
    }

    /** {@code out = silu(gate) * up} elementwise ({@code out} may equal {@code gate}). */
    public void swiglu(CudaStream stream, CudaDtype dtype, long gate, int gateStride, long up, int upStride,
                       long out, int outStride, int rows, int cols) {
        if (rows <= 0) return;
        if (cols % 8 == 0 && gateStride % 8 == 0 && upStride % 8 == 0 && outStride % 8 == 0 && ((gate | up | out) & 15) == 0
                && rows <= 65535) {  // 16-byte loads, one chunk per thread
            kernels.launchDependent(fn("tf_swiglu8_" + sfx(dtype)), Dim3.of((cols / 8 + 255) / 256, rows), Dim3.of(256), 0, stream,
                    new KernelArgs().ptr(gate).i32(gateStride).ptr(up).i32(upStride).ptr(out).i32(outStride).i32(cols));
            return;
        }
        long n = (long) rows * cols;
        kernels.launchDependent(fn("tf_swiglu_" + sfx(dtype)), Dim3.of(gridFor(n, 256)), Dim3.of(256), 0, stream,
                new KernelArgs().ptr(gate).i32(gateStride).ptr(up).i32(upStride).ptr(out).i32(outStride)
                        .i32(rows).i32(cols));
    }

    /** Scratch floats the decode attention needs for {@code rows} sequences with {@code numSplits}. */
    public static long decodeScratchFloats(int rows, int numHeads, int headDim, int numSplits) {
        return (long) rows * numHeads * numSplits * (headDim + 2);
    }

    /**
     * Fewest positions per split (-Dtwofour.attn.minSplitPositions, default 64, at least 16): with the one-launch
     * kernel's 32-position tiles (head_dim 128) 32 gives more, shorter splits at short contexts (an A/B knob).
     */
    private static final int MIN_SPLIT_POSITIONS = Math.max(16, Integer.getInteger("twofour.attn.minSplitPositions", 64));

    /**
     * A split count for decode attention: enough (kvHead, sequence, split) blocks to fill the GPU about twice and
     * at least one split per 256 positions of {@code maxLen}, at most what a {@code maxLen} context can use with
     * 64-position splits ({@code -Dtwofour.attn.minSplitPositions}), at most 64.
     */
    public int decodeSplits(int rows, int numKvHeads, int maxLen) {
        int target = 2 * kernels.multiprocessors();
        int splits = Math.max(1, (target + rows * numKvHeads - 1) / (rows * numKvHeads));
        // and at most ~256 positions per split at the longest context: a block walks its positions serially
        // (measured: batch 32 with one split spent 96 us per layer in attention at context 256)
        splits = Math.max(splits, (maxLen + 255) / 256);
        splits = Math.min(splits, Math.max(1, (maxLen + MIN_SPLIT_POSITIONS - 1) / MIN_SPLIT_POSITIONS));
        return Math.min(splits, 64);
    }

    /**
     * Decode attention (one query token per row): row r's query at {@code q + r*qStride} (numHeads × headDim),
     * its keys are positions 0..kvLens[r]-1 of its sequence in the paged cache ({@code blockTables}: int32
     * [rows][maxBlocks]). Output {@code out + r*outStride} (numHeads × headDim). {@code scratch}: fp32
     * {@link #decodeScratchFloats} floats. A row with kvLens 0 gives zeros. Two launches: splits, combine (the legacy
     * variant; the overload with arrival counters does it in one).
     */
    public void attentionDecode(CudaStream stream, CudaDtype dtype, int rows, long q, int qStride, long kCache,
                                long vCache, long blockTables, int maxBlocks, long kvLens, int blockSize,
                                int numHeads, int numKvHeads, int headDim, int numSplits, long scratch,
                                long out, int outStride) {
        if (rows <= 0) return;
        checkHeadDim(headDim);
        checkGroups(numHeads, numKvHeads);
        if (numHeads / numKvHeads > MAX_GROUP) {
            throw new IllegalArgumentException("decode attention supports up to " + MAX_GROUP
                    + " query heads per KV head, the model has " + numHeads / numKvHeads);
        }
        float scaleLog2 = (float) (1.0 / Math.sqrt(headDim) / Math.log(2.0));
        long partO = scratch;
        long partML = scratch + (long) rows * numHeads * numSplits * headDim * 4L;
        String s = sfx(dtype) + "_hd" + headDim;
        kernels.launchDependent(fn("tf_attn_decode_" + s), Dim3.of(numKvHeads, rows, numSplits), Dim3.of(ATT_THREADS), 0, stream,
                new KernelArgs().ptr(q).i32(qStride).ptr(kCache).ptr(vCache).ptr(blockTables).i32(maxBlocks)
                        .ptr(kvLens).i32(blockSize).i32(numHeads).i32(numKvHeads).f32(scaleLog2).i32(numSplits)
                        .ptr(partO).ptr(partML));
        kernels.launchDependent(fn("tf_attn_combine_" + s), Dim3.of(numHeads, rows), Dim3.of(headDim), 0, stream,
                new KernelArgs().ptr(partO).ptr(partML).i32(numSplits).i32(numHeads).ptr(out).i32(outStride));
    }

    /** Decode attention variants, chosen with {@code -Dtwofour.attn.decode=fused|single|legacy} (A/B measurements). */
    public enum DecodeAttention {
        /** RoPE, KV append and attention with the split merge in one launch (default). */
        FUSED,
        /** RoPE + KV append launch, then attention with the split merge in one launch. */
        SINGLE,
        /** RoPE + KV append launch, attention splits launch, combine launch (the first version). */
        LEGACY;

        static DecodeAttention fromProperty() {
            String v = System.getProperty("twofour.attn.decode", "fused");
            try {
                return valueOf(v.trim().toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("-Dtwofour.attn.decode=" + v + " is not a decode attention variant; use fused, single or legacy");
            }
        }
    }

    private final DecodeAttention decodeAttention = DecodeAttention.fromProperty();

    /** The decode attention variant {@link #ropeAppendAttentionDecode} runs. */
    public DecodeAttention decodeAttention() { return decodeAttention; }

    /**
     * Int32 arrival counters the one-launch decode attention needs for {@code rows} sequences: one per (row, KV
     * head). Zero them once after allocating (outside graph capture); every launch leaves them zero again.
     */
    public static long decodeCounterInts(int rows, int numKvHeads) {
        return (long) rows * numKvHeads;
    }

    private static int groupVariant(int group) {
        return group <= 1 ? 1 : group <= 2 ? 2 : group <= 4 ? 4 : 8;
    }

    /**
     * Decode attention in one launch: as {@link #attentionDecode(CudaStream, CudaDtype, int, long, int, long, long, long,
     * int, long, int, int, int, int, int, long, long, int) attentionDecode}, with the splits merged by the last block
     * to finish. {@code counters}: int32 {@link #decodeCounterInts} elements, zero before the first launch.
     */
    public void attentionDecode(CudaStream stream, CudaDtype dtype, int rows, long q, int qStride, long kCache,
                                long vCache, long blockTables, int maxBlocks, long kvLens, int blockSize,
                                int numHeads, int numKvHeads, int headDim, int numSplits, long scratch, long counters,
                                long out, int outStride) {
        launchDecode1(stream, dtype, rows, q, qStride, 0L, 0, 0L, 0, 0L, 0L, kCache, vCache, blockTables, maxBlocks,
                kvLens, blockSize, numHeads, numKvHeads, headDim, numSplits, scratch, counters, out, outStride);
    }

    /**
     * RoPE, KV-cache append and decode attention in one launch. Row r's unrotated q heads are at
     * {@code q + r*qStride}, the new token's unrotated k and its v at {@code k + r*kStride}, {@code v + r*vStride}
     * (numKvHeads heads each); the token is position {@code kvLens[r]-1} of its sequence: k (rotated) and v are
     * written to that position's cache slot (from the block table), and q (rotated) attends to positions
     * 0..kvLens[r]-1. {@code positions}: int32 [rows], the RoPE positions; {@code invFreq}: fp32 [headDim/2].
     * Same results as {@link #ropeAppend} then {@link #attentionDecode}; q and k in place are left unrotated.
     */
    public void ropeAttentionDecode(CudaStream stream, CudaDtype dtype, int rows, long q, int qStride, long k, int kStride,
                                    long v, int vStride, long positions, long invFreq, long kCache, long vCache,
                                    long blockTables, int maxBlocks, long kvLens, int blockSize, int numHeads,
                                    int numKvHeads, int headDim, int numSplits, long scratch, long counters, long out,
                                    int outStride) {
        if (k == 0 || v == 0 || positions == 0 || invFreq == 0) {
            throw new IllegalArgumentException("ropeAttentionDecode needs k, v, positions and invFreq (got a null address)");
        }
        launchDecode1(stream, dtype, rows, q, qStride, k, kStride, v, vStride, positions, invFreq, kCache, vCache,
                blockTables, maxBlocks, kvLens, blockSize, numHeads, numKvHeads, headDim, numSplits, scratch, counters,
                out, outStride);
    }

    private void launchDecode1(CudaStream stream, CudaDtype dtype, int rows, long q, int qStride, long k, int kStride,
                               long v, int vStride, long positions, long invFreq, long kCache, long vCache,
                               long blockTables, int maxBlocks, long kvLens, int blockSize, int numHeads,
                               int numKvHeads, int headDim, int numSplits, long scratch, long counters, long out,
                               int outStride) {
        if (rows <= 0) return;
        checkHeadDim(headDim);
        checkGroups(numHeads, numKvHeads);
        int group = numHeads / numKvHeads;
        if (group > MAX_GROUP) {
            throw new IllegalArgumentException("decode attention supports up to " + MAX_GROUP
                    + " query heads per KV head, the model has " + group);
        }
        if (counters == 0) {
            throw new IllegalArgumentException("the one-launch decode attention needs its arrival counters (decodeCounterInts, zeroed once)");
        }
        if (numSplits < 1) throw new IllegalArgumentException("numSplits must be >= 1, got " + numSplits);
        float scaleLog2 = (float) (1.0 / Math.sqrt(headDim) / Math.log(2.0));
        long partO = scratch;
        long partML = scratch + (long) rows * numHeads * numSplits * headDim * 4L;
        kernels.launchDependent(fn("tf_attn_decode1_" + sfx(dtype) + "_hd" + headDim + "_g" + groupVariant(group)),
                Dim3.of(numKvHeads, rows, numSplits), Dim3.of(ATT_THREADS), 0, stream,
                new KernelArgs().ptr(q).i32(qStride).ptr(k).i32(kStride).ptr(v).i32(vStride).ptr(positions).ptr(invFreq)
                        .ptr(kCache).ptr(vCache).ptr(blockTables).i32(maxBlocks).ptr(kvLens).i32(blockSize)
                        .i32(numHeads).i32(numKvHeads).f32(scaleLog2).i32(numSplits).ptr(partO).ptr(partML)
                        .ptr(counters).ptr(out).i32(outStride));
    }

    /**
     * The attention part of a decode layer, as {@link #decodeAttention()} says: {@link #ropeAttentionDecode} (one
     * launch), or {@link #ropeAppend} followed by the one-launch or the legacy two-launch {@link #attentionDecode}.
     * Arguments as those methods'; {@code slots} (int32 [rows], the cache slot of each new token, the slot of
     * position kvLens[r]-1) is what {@link #ropeAppend} writes to; {@code counters} may be 0 only for LEGACY.
     */
    public void ropeAppendAttentionDecode(CudaStream stream, CudaDtype dtype, int rows, long q, int qStride, long k,
                                          int kStride, long v, int vStride, long positions, long slots, long invFreq,
                                          long kCache, long vCache, long blockTables, int maxBlocks, long kvLens,
                                          int blockSize, int numHeads, int numKvHeads, int headDim, int numSplits,
                                          long scratch, long counters, long out, int outStride) {
        switch (decodeAttention) {
            case FUSED -> ropeAttentionDecode(stream, dtype, rows, q, qStride, k, kStride, v, vStride, positions, invFreq,
                    kCache, vCache, blockTables, maxBlocks, kvLens, blockSize, numHeads, numKvHeads, headDim, numSplits,
                    scratch, counters, out, outStride);
            case SINGLE -> {
                ropeAppend(stream, dtype, rows, q, qStride, numHeads, k, kStride, v, vStride, numKvHeads, true, positions,
                        slots, kCache, vCache, invFreq, headDim);
                attentionDecode(stream, dtype, rows, q, qStride, kCache, vCache, blockTables, maxBlocks, kvLens, blockSize,
                        numHeads, numKvHeads, headDim, numSplits, scratch, counters, out, outStride);
            }
            case LEGACY -> {
                ropeAppend(stream, dtype, rows, q, qStride, numHeads, k, kStride, v, vStride, numKvHeads, true, positions,
                        slots, kCache, vCache, invFreq, headDim);
                attentionDecode(stream, dtype, rows, q, qStride, kCache, vCache, blockTables, maxBlocks, kvLens, blockSize,
                        numHeads, numKvHeads, headDim, numSplits, scratch, out, outStride);
            }
        }
    }

    /** Dynamic shared memory of the prefill kernel: K and V, 2 tiles each of 64 positions x (headDim + 8) halves. */
    static int prefillSharedBytes(int headDim) {
        return 2 * 2 * 64 * (headDim + 8) * 2;
    }

    /**
     * Causal prefill / chunked-prefill attention on tensor cores: sequence s has query rows
     * {@code seqStart[s] .. seqStart[s+1]-1} (int32 [numSeqs+1]) at the last positions of a context of
     * {@code ctxLens[s]} tokens, all already in the cache. {@code maxQLen}: the longest sequence's row count.
     */
    public void attentionPrefill(CudaStream stream, CudaDtype dtype, int numSeqs, int maxQLen, long q, int qStride,
                                 long kCache, long vCache, long blockTables, int maxBlocks, long seqStart,
                                 long ctxLens, int blockSize, int numHeads, int numKvHeads, int headDim,
                                 long out, int outStride) {
        if (numSeqs <= 0 || maxQLen <= 0) return;
        checkHeadDim(headDim);
        checkGroups(numHeads, numKvHeads);
        float scaleLog2 = (float) (1.0 / Math.sqrt(headDim) / Math.log(2.0));
        kernels.launchDependent(fn("tf_attn_prefill_" + sfx(dtype) + "_hd" + headDim), Dim3.of((maxQLen + 63) / 64, numHeads, numSeqs),
                Dim3.of(ATT_THREADS), prefillSharedBytes(headDim), stream,
                new KernelArgs().ptr(q).i32(qStride).ptr(kCache).ptr(vCache).ptr(blockTables).i32(maxBlocks)
                        .ptr(seqStart).ptr(ctxLens).i32(blockSize).i32(numHeads).i32(numKvHeads).f32(scaleLog2)
                        .ptr(out).i32(outStride));
    }

    private static void checkGroups(int numHeads, int numKvHeads) {
        if (numKvHeads <= 0 || numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("num_heads " + numHeads + " must be a multiple of num_kv_heads " + numKvHeads);
        }
    }

    /** True when {@link #gemv} takes this shape: 1..8 rows, K and the x row stride multiples of 8, 16-byte aligned. */
    public static boolean gemvSupports(int rows, int k, int ldx, long x, long w) {
        return rows >= 1 && rows <= 8 && k % 8 == 0 && ldx % 8 == 0 && ((x | w) & 15) == 0;
    }

    /**
     * Dense {@code y[r] = W x[r]} for 1..8 rows (decode), W [n][k] in {@code dtype}, fp32 accumulation; y in
     * {@code dtype} or fp32 ({@code outF32}). Memory-bound weight streaming; see tf_gemv.cuh.
     */
    public void gemv(CudaStream stream, CudaDtype dtype, int rows, long x, int ldx, long w, long y, int ldy, int n, int k,
                     boolean outF32) {
        gemv(stream, dtype, rows, x, ldx, w, y, ldy, n, k, outF32, 2);
    }

    /** {@link #gemv} with {@code rowsPerWarp} output rows per warp (2; 1 or 4 also exist for 1 and 2 rows). */
    public void gemv(CudaStream stream, CudaDtype dtype, int rows, long x, int ldx, long w, long y, int ldy, int n, int k,
                     boolean outF32, int rowsPerWarp) {
        if (!gemvSupports(rows, k, ldx, x, w)) {
            throw new IllegalArgumentException("gemv takes 1..8 rows, k and ldx multiples of 8 and 16-byte aligned x and W; got rows "
                    + rows + " k " + k + " ldx " + ldx);
        }
        int m = rows == 1 ? 1 : rows == 2 ? 2 : rows <= 4 ? 4 : 8;
        int r = m <= 2 && (rowsPerWarp == 1 || rowsPerWarp == 4) ? rowsPerWarp : 2;
        int warps = (n + r - 1) / r;
        kernels.launchDependent(fn("tf_gemv_" + sfx(dtype) + "_m" + m + (r == 2 ? "" : "_r" + r)), Dim3.of((warps + 7) / 8), Dim3.of(256), 0, stream,
                new KernelArgs().ptr(x).i32(ldx).ptr(w).ptr(y).i32(ldy).i32(rows).i32(n).i32(k).i32(outF32 ? 1 : 0).i32(kernels.gemvPrologue()));
    }

    /**
     * The down projection fused with SwiGLU for 1 or 2 rows: {@code y[r] = W · (silu(gate[r]) * up[r])} where
     * {@code gateUp} is {@code [rows][2k]} (gate then up, row stride {@code ldGateUp}); rounds like {@link #swiglu}.
     */
    public void gemvSwiglu(CudaStream stream, CudaDtype dtype, int rows, long gateUp, int ldGateUp, long w, long y, int ldy,
                           int n, int k) {
        if (rows < 1 || rows > 2 || !gemvSupports(1, k, ldGateUp, gateUp, w)) {
            throw new IllegalArgumentException("gemvSwiglu takes 1 or 2 rows, k and ldGateUp multiples of 8, aligned pointers; got rows "
                    + rows + " k " + k + " ldGateUp " + ldGateUp);
        }
        kernels.launchDependent(fn("tf_gemv_swiglu_" + sfx(dtype) + "_m" + rows), Dim3.of(((n + 1) / 2 + 7) / 8), Dim3.of(256), 0, stream,
                new KernelArgs().ptr(gateUp).i32(ldGateUp).ptr(w).ptr(y).i32(ldy).i32(rows).i32(n).i32(k).i32(0).i32(kernels.gemvPrologue()));
    }

    /** Floats per row of {@code fparams}: temperature, topP, minP, repetition, frequency, presence. */
    public static final int FPARAMS = 6;
    /** Ints per row of {@code iparams}: topK, slot, seed low 32 bits, seed high 32 bits. */
    public static final int IPARAMS = 4;

    /**
     * Samples one id per row from fp32 {@code logits} ([rows][ld], modified in place: penalties and temperature
     * are applied there). {@code stepCounter} int32 [slots] (the Philox counter of each slot, incremented);
     * {@code counts} int32 [slots][vocab] or 0; {@code outIds} int32 [rows]; {@code nextTokens} int32 [rows] or 0.
     */
    public void sample(CudaStream stream, int rows, long logits, int vocab, long ldLogits, long fparams, long iparams,
                       long stepCounter, long counts, long outIds, long nextTokens) {
        if (rows <= 0) return;
        kernels.launchDependent(fn("tf_sample"), Dim3.of(rows), Dim3.of(SAMPLE_THREADS), 0, stream,
                new KernelArgs().ptr(logits).i32(vocab).i64(ldLogits).ptr(fparams).ptr(iparams).ptr(stepCounter)
                        .ptr(counts).ptr(outIds).ptr(nextTokens));
    }

    /** Marks {@code ids} (int32 [n]) as prompt tokens in {@code counts[slot]} (for the repetition penalty). */
    public void markPrompt(CudaStream stream, long counts, int vocab, int slot, long ids, int n) {
        if (n <= 0) return;
        kernels.launchDependent(fn("tf_mark_prompt"), Dim3.of(gridFor(n, 256)), Dim3.of(256), 0, stream,
                new KernelArgs().ptr(counts).i32(vocab).i32(slot).ptr(ids).i32(n));
    }

    /** {@code dst[i] = value} for {@code n} int32 elements. */
    public void fillI32(CudaStream stream, long dst, long n, int value) {
        if (n <= 0) return;
        kernels.launchDependent(fn("tf_fill_i32"), Dim3.of(gridFor(n, 256)), Dim3.of(256), 0, stream,
                new KernelArgs().ptr(dst).i64(n).i32(value));
    }
}
