package dev.twofour.kernels;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaException;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.cuda.Dim3;
import dev.twofour.cuda.KernelArgs;

/**
 * Our 2:4 decode GEMM: {@code Y[m][n] = X[m][k] · Wᵀ} with W [n][k] in the packed 2:4 layout
 * (values [n][kp/2], metadata [n][kp/8]; docs/FORMAT.md), X and Y fp16 or bf16 with row strides,
 * fp32 accumulation. Built for decode (m = 1..16) where the GEMM is memory-bound; see
 * kernels/src/main/cuda/sparse24_gemm.cuh for the layout of the work and kernels/NOTES.md for timings.
 * For 16 < m <= 64 the wide kernel ({@link WidePlan}, kernels/src/main/cuda/sparse24_wide.cuh) reads every weight once
 * for all tokens with mma.sp on ldmatrix fragments.
 *
 * <p>Split-K partial sums go to workspaces this object owns: fp32 partials, and one arrival counter
 * per output tile in a buffer of its own (zeroed once; the kernel resets each counter after use, so
 * the buffer is all zeros between launches whatever plan ran before). They grow on demand; call
 * {@link #reserve} with the largest plan before capturing a CUDA graph, since allocation is not
 * allowed during capture. One instance per stream (two streams must not share a workspace).
 * Java twin: {@link dev.twofour.kernels.ref.Sparse24GemmRef}.
 */
public final class Sparse24Gemm implements AutoCloseable {
    static final int ROWS_PER_CTA = 128;
    static final int THREADS = 256;
    static final int SUPERBLOCK = 256;
    static final int SHARED_LIMIT = 48 * 1024;
    static final int STREAM_WARPS = 8;
    /** Shared memory of one ring stage of the streaming kernel: 8 warps x (8 x 32 x 16 B of values + 16 x 32 B of metadata). */
    static final int STREAM_STAGE_BYTES = streamStageBytes(16);

    /** Shared memory of one ring stage of {@code chunks} (16 or 8) 16-input chunks per warp. */
    static int streamStageBytes(int chunks) {
        return STREAM_WARPS * (chunks / 2 * 32 * 16 + 16 * chunks * 2);
    }

    /**
     * How one call is cut up: tokens per CTA (8, 16 or 32), CTAs along tokens, rows (128 each) and
     * K (splits of superblocksPerSplit x 256 inputs), the dynamic shared memory, the workspace, and the tensor-core
     * step ({@code sparseMma}: mma.sp, else permutes + dense mma.sync).
     */
    public record Plan(int m, int n, int k, int tokensPerTile, int tokenTiles, int rowGroups, int splits,
                       int superblocksPerSplit, int sharedBytes, boolean sparseMma) {
        /** This plan with the tensor-core step {@code mma.sp} ({@code sp}) or permutes + dense mma.sync. */
        public Plan withSparseMma(boolean sp) {
            return new Plan(m, n, k, tokensPerTile, tokenTiles, rowGroups, splits, superblocksPerSplit, sharedBytes, sp);
        }

        public long workspaceFloats() { return splits > 1 ? (long) splits * m * n : 0; }
        public int counters() { return splits > 1 ? tokenTiles * rowGroups : 0; }
        public long workspaceBytes() { return workspaceFloats() * 4 + counters() * 4L; }
        /** Thread blocks launched. */
        public long ctas() { return (long) tokenTiles * rowGroups * splits; }
        /** Bytes the kernel must read at least: values, metadata and activations. */
        public long minBytesRead(CudaDtype dtype) {
            long kp = (k + 15) & ~15L;
            return (long) n * kp / 2 * dtype.byteSize() + (long) n * kp / 8 + (long) m * k * dtype.byteSize();
        }
    }

    /**
     * How the streaming kernel (sparse24_stream.cuh) runs one call: tokens per tile (8 or 16), the ring's stages and
     * the 16-input chunks per warp in one stage (16, or 8 for half-size stages; see {@link #streamRingCompiled} for the
     * compiled variants), persistent CTAs (at most one per SM, each taking 16-row tiles round-robin), the 16-input
     * chunks of K each of the 8 warps of a CTA takes (a multiple of 8), the dynamic shared memory, and the tensor-core
     * step: permutes + dense mma.sync, or {@code mma.sp} ({@code sparseMma}).
     */
    public record StreamPlan(int m, int n, int k, int tokensPerTile, int stages, int chunksPerStage, int ctas, int chunksPerWarp,
                             int sharedBytes, boolean sparseMma) {
        /** Bytes the kernel must read at least: values, metadata and activations. */
        public long minBytesRead(CudaDtype dtype) {
            return (long) n * k / 2 * dtype.byteSize() + (long) n * k / 8 + (long) m * k * dtype.byteSize();
        }

        /** This plan with the tensor-core step mma.sp ({@code sp}) or permutes + mma.sync; null where that ring is not compiled. */
        public StreamPlan withSparseMma(boolean sp) {
            if (!streamRingCompiled(tokensPerTile, stages, chunksPerStage, sp)) return null;
            return new StreamPlan(m, n, k, tokensPerTile, stages, chunksPerStage, ctas, chunksPerWarp, sharedBytes, sp);
        }

        /**
         * This plan with another ring ({@code tile} tokens per tile, {@code s} stages of {@code chunks} chunks per warp)
         * and its shared memory, or null where that variant is not compiled (with this plan's tensor-core step), does
         * not cover m, or needs more shared memory than {@code sharedOptin}.
         */
        public StreamPlan withRing(int tile, int s, int chunks, int sharedOptin) {
            if (m > tile || !streamRingCompiled(tile, s, chunks, sparseMma)) return null;
            int shared = streamSharedBytes(m, k, tile, s, chunks);
            if (shared > sharedOptin) return null;
            return new StreamPlan(m, n, k, tile, s, chunks, ctas, chunksPerWarp, shared, sparseMma);
        }

        /**
         * This plan with a shallower ring of {@code s} full stages (2 or 3; compiled for 8 tokens with mma.sp only), or
         * this plan when {@code s} is its own depth or the variant does not exist.
         */
        public StreamPlan withStages(int s) {
            if (s == stages || chunksPerStage != 16) return this;
            StreamPlan p = withRing(tokensPerTile, s, 16, Integer.MAX_VALUE);
            return p == null ? this : p;
        }

        /**
         * This plan asking for at least half of a block's shared memory ({@code sharedOptin / 2 + 1} bytes), so that two of
         * its CTAs never share an SM (the grid assumes one per SM; a shallow ring would otherwise let the scheduler put
         * two on one SM and none on another), while the rest of the SM stays free for the next kernel's CTAs.
         */
        public StreamPlan oneCtaPerSm(int sharedOptin) {
            int floor = sharedOptin / 2 + 1;
            return sharedBytes >= floor ? this
                    : new StreamPlan(m, n, k, tokensPerTile, stages, chunksPerStage, ctas, chunksPerWarp, floor, sparseMma);
        }

        /** The kernel's name for this plan and element type suffix ("f16", "bf16"). */
        String kernelName(String dtypeSuffix) {
            String ring = chunksPerStage == 8 ? "_c8_s" + stages : tokensPerTile == 8 && stages != 4 ? "_s" + stages : "";
            return "twofour_sparse24_stream_" + (sparseMma ? "sp_" : "") + dtypeSuffix + "_mt" + tokensPerTile + ring;
        }

        /** 16-row tiles per CTA, on average. */
        public double tilesPerCta() { return (double) ((n + 15) / 16) / ctas; }
    }

    /**
     * Whether the streaming kernel is compiled for this ring: full stages (16 chunks per warp) as 8 tokens x 4 stages
     * and 16 x 2 with either tensor-core step, 8 x 2 and 8 x 3 with mma.sp; half-size stages (8 chunks, mma.sp only)
     * as 16 tokens x 4 stages, 8 x 8 and 8 x 4.
     */
    static boolean streamRingCompiled(int tokensPerTile, int stages, int chunksPerStage, boolean sparseMma) {
        if (chunksPerStage == 16) {
            return tokensPerTile == 8 && (stages == 4 || (sparseMma && (stages == 2 || stages == 3)))
                    || tokensPerTile == 16 && stages == 2;
        }
        return chunksPerStage == 8 && sparseMma
                && (tokensPerTile == 16 && stages == 4 || tokensPerTile == 8 && (stages == 8 || stages == 4));
    }

    /** Shared memory of the streaming kernel: the ring, the reduction buffers, 16 selectors, X and a zero row. */
    static int streamSharedBytes(int m, int k, int tokensPerTile, int stages, int chunksPerStage) {
        return stages * streamStageBytes(chunksPerStage) + 2 * STREAM_WARPS * (tokensPerTile / 8) * 128 * 4 + 128
                + m * (k + 8) * 2 + 128;
    }

    /**
     * The streaming kernel's plan for this shape with permutes + mma.sync ({@link #streamPlan(int, int, int, int, int, boolean)}).
     */
    public static StreamPlan streamPlan(int m, int n, int k, int multiprocessors, int sharedOptin) {
        return streamPlan(m, n, k, multiprocessors, sharedOptin, false);
    }

    /**
     * The streaming kernel's plan for this shape with the tensor-core step {@code sparseMma}, or null where it does not
     * apply: it needs K a multiple of 128 (metadata rows on 16-byte boundaries for cp.async; every Llama shape), m <= 16,
     * and X for all of K ({@code m x (k + 8)} halves, plus one zero row of 64) in one block's shared memory beside the
     * ring ({@code sharedOptin} bytes). The first ring that is compiled and fits, in this order: at one token 8 tokens
     * x 4 full stages (fastest alone), at more first 8 x 4 half stages (mma.sp only), whose smaller footprint lets the
     * next kernel's blocks start beside it (batch-8 decode 1916 against 1784 tok/s with full stages, kernels/NOTES.md);
     * then 16 x 4 half stages, and 16 x 2 full stages last.
     */
    public static StreamPlan streamPlan(int m, int n, int k, int multiprocessors, int sharedOptin, boolean sparseMma) {
        checkShape(m, n, k);
        if (k % 128 != 0 || m > 16) return null;
        int rowTiles = (n + 15) / 16;
        int ctas = Math.min(Math.max(1, multiprocessors), rowTiles);
        int chunks = k / 16;
        int perWarp = ((chunks + STREAM_WARPS - 1) / STREAM_WARPS + 7) / 8 * 8;
        for (int[] ring : m == 1 ? STREAM_RINGS_ONE_TOKEN : STREAM_RINGS) {   // {tokens per tile, stages, chunks per stage}
            if (m > ring[0] || !streamRingCompiled(ring[0], ring[1], ring[2], sparseMma)) continue;
            int need = streamSharedBytes(m, k, ring[0], ring[1], ring[2]);
            if (need <= sharedOptin) return new StreamPlan(m, n, k, ring[0], ring[1], ring[2], ctas, perWarp, need, sparseMma);
        }
        return null;
    }

    private static final int[][] STREAM_RINGS_ONE_TOKEN = {{8, 4, 16}, {8, 4, 8}, {16, 4, 8}, {16, 2, 16}};
    private static final int[][] STREAM_RINGS = {{8, 4, 8}, {8, 4, 16}, {16, 4, 8}, {16, 2, 16}};

    /**
     * Whether a model should run the streaming kernel rather than the classic one for this plan (which exists, so X fits),
     * as measured on the H100 (llama2-7b, kernels/NOTES.md, sessions 3-4). At one token always (its weights stream
     * before the PDL wait: decode 296 against 270 tok/s). At more, since X is staged by cp.async (session 4), wherever it
     * applies (decode at batch 2 / 4 / 8 / 16 with the o projection at 1-2 tokens only: 567 / 1054 / 1916 / 2734 against
     * 545 / 1038 / 1885 / 2623 tok/s all classic). The o projection ({@code afterAttention}) up to 8 tokens only (batch 4
     * / 8: 1070 / 1950 against 1046 / 1906 tok/s with o classic beyond 2): at 16 tokens its 221 KiB ring and X leave no
     * room beside its blocks, launched early, for the decode attention's (not measured in a model, so classic).
     */
    public static boolean streamBeatsClassic(StreamPlan p, boolean afterAttention) {
        return !afterAttention || p.m() <= 8;
    }

    /** The plan the launcher picks: fewest waves x work per CTA on {@code multiprocessors} SMs. */
    public static Plan plan(int m, int n, int k, int multiprocessors) {
        return plan(m, n, k, multiprocessors, m <= 8 ? 8 : 16, 0);
    }

    /**
     * A plan with a chosen token tile (8, 16 or 32) and, when {@code forcedSplits > 0}, about that many
     * K splits (for benchmarks); {@code forcedSplits == 0} picks them by the cost model.
     */
    public static Plan plan(int m, int n, int k, int multiprocessors, int tokensPerTile, int forcedSplits) {
        checkShape(m, n, k);
        if (tokensPerTile != 8 && tokensPerTile != 16 && tokensPerTile != 32) {
            throw new IllegalArgumentException("tokensPerTile must be 8, 16 or 32, got " + tokensPerTile);
        }
        int kp = (k + 15) & ~15;
        int nsb = (kp + SUPERBLOCK - 1) / SUPERBLOCK;
        int tokenTiles = (m + tokensPerTile - 1) / tokensPerTile;
        int rowGroups = (n + ROWS_PER_CTA - 1) / ROWS_PER_CTA;
        // X's slice for the CTA lives in shared memory: [tokens][slice + 8] halves, plus a 128-byte table.
        int maxSb = ((SHARED_LIMIT - 128) / (tokensPerTile * 2) - 8) / SUPERBLOCK;
        int ctasPerSm = tokensPerTile == 32 ? 1 : 2;
        long slots = (long) Math.max(1, multiprocessors) * ctasPerSm;
        long base = (long) tokenTiles * rowGroups;
        int bestSb;
        if (forcedSplits > 0) {
            bestSb = Math.min(maxSb, Math.max(1, (nsb + forcedSplits - 1) / forcedSplits));
        } else if (base >= multiprocessors) {
            // Enough tiles to cover the SMs: as few splits as shared memory allows (measured best on
            // 22016x4096: 2 splits of 11 superblocks beat 3, 4, 8, 16; kernels/NOTES.md).
            bestSb = Math.min(maxSb, nsb);
        } else {
            // Few tiles: split K into as many parts as fit in ONE wave of CTAs (two per SM). Measured on the H100 at
            // m = 1 (kernels/NOTES.md): 4096x4096 8 splits of 2 (256 CTAs) 10.7 us; 12288x4096 2 splits (192 CTAs)
            // 25.7 us against 3 (288 CTAs: a second wave of 24) 29.6 us; 4096x11008 8 splits 22.2 us against 9 24.3 us.
            long wantSplits = Math.max(1, slots / base);
            bestSb = (int) Math.min(maxSb, Math.max(1, (nsb + wantSplits - 1) / wantSplits));
        }
        int splits = (nsb + bestSb - 1) / bestSb;
        int shared = 128 + tokensPerTile * (bestSb * SUPERBLOCK + 8) * 2;
        return new Plan(m, n, k, tokensPerTile, tokenTiles, rowGroups, splits, bestSb, shared, false);
    }

    /** Inputs per stage of the wide kernel (sparse24_wide.cuh): one 64-input window of every row of the CTA. */
    static final int WIDE_WINDOW = 64;
    /** Largest m the wide kernel takes (its largest token tile). */
    public static final int WIDE_MAX_M = 64;
    /** Most splits the wide kernel reduces in a thread-block cluster (its _cl2, _cl3, _cl4 kernels). */
    static final int WIDE_MAX_CLUSTER = 4;
    /**
     * The wide kernel's compiled CTA shapes: {rows per CTA, rows per warp, ring stages, smallest token tile}: 3 warps x 32
     * rows with 7 stages (12288 rows: 128 CTAs), 4 x 32 with 6, 8 x 32 with 4, and for 64-token tiles 4 x 64 with 4 (_r64:
     * half the shared-memory reads of X).
     */
    static final int[][] WIDE_VARIANTS = {{96, 32, 7, 32}, {128, 32, 6, 32}, {256, 32, 4, 32}, {256, 64, 4, 64}};

    /**
     * How the wide kernel (sparse24_wide.cuh, 16 < m <= 64) runs one call: tokens per tile (32 or 64, at least m), rows
     * per CTA (96, 128 or 256) and the ring's stages, CTAs along rows ({@code rowGroups}) and along K ({@code splits} of
     * {@code windowsPerSplit} 64-input windows), the dynamic shared memory, and how split-K partial sums meet:
     * {@code clusterReduce} (2 to 4 splits, sm_90+): the splits of a row group form a thread-block cluster and reduce in
     * distributed shared memory; else fp32 partials in the workspace, summed by the last CTA to arrive.
     */
    public record WidePlan(int m, int n, int k, int tokensPerTile, int rowsPerCta, int rowsPerWarp, int stages, int rowGroups,
                           int splits, int windowsPerSplit, int sharedBytes, boolean clusterReduce) {
        /** fp32 partials: one [tokensPerTile][rowsPerCta] block per (row group, split) when K is split without a cluster. */
        public long workspaceFloats() { return splits > 1 && !clusterReduce ? (long) rowGroups * splits * tokensPerTile * rowsPerCta : 0; }
        /** Arrival counters: one per row group when K is split without a cluster. */
        public int counters() { return splits > 1 && !clusterReduce ? rowGroups : 0; }
        /**
         * This plan with the splits reduced in a cluster ({@code cluster}, compiled for 2 to 4 splits: null otherwise) or
         * through the workspace.
         */
        public WidePlan withClusterReduce(boolean cluster) {
            if (cluster && (splits < 2 || splits > WIDE_MAX_CLUSTER)) return null;
            return new WidePlan(m, n, k, tokensPerTile, rowsPerCta, rowsPerWarp, stages, rowGroups, splits, windowsPerSplit, sharedBytes, cluster);
        }

        /** This plan with warps of {@code rows} rows (32 or 64) where that CTA shape is compiled (same rows per CTA), else null. */
        public WidePlan withRowsPerWarp(int rows) {
            for (int[] v : WIDE_VARIANTS) {
                if (v[0] == rowsPerCta && v[1] == rows && tokensPerTile >= v[3]) {
                    return new WidePlan(m, n, k, tokensPerTile, rowsPerCta, rows, v[2], rowGroups, splits, windowsPerSplit,
                            wideSharedBytes(tokensPerTile, rowsPerCta, v[2]), clusterReduce);
                }
            }
            return null;
        }

        public long workspaceBytes() { return workspaceFloats() * 4 + counters() * 4L; }
        /** Thread blocks launched. */
        public long ctas() { return (long) rowGroups * splits; }
        /** Threads per block: one warp per {@code rowsPerWarp} rows. */
        public int threads() { return rowsPerCta / rowsPerWarp * 32; }
        /** Bytes the kernel must read at least: values, metadata and activations. */
        public long minBytesRead(CudaDtype dtype) {
            return (long) n * k / 2 * dtype.byteSize() + (long) n * k / 8 + (long) m * k * dtype.byteSize();
        }
        /** The kernel's name for this plan and element type suffix ("f16", "bf16"). */
        String kernelName(String dtypeSuffix) {
            return "twofour_sparse24_wide_" + dtypeSuffix + "_mt" + tokensPerTile + "_bn" + rowsPerCta + (rowsPerWarp == 64 ? "_r64" : "")
                    + (clusterReduce ? "_cl" + splits : "");
        }
    }

    /** Shared memory of the wide kernel: per stage, the rows' values (64 B) and metadata (8 B) and the tile's X (128 B a token). */
    static int wideSharedBytes(int tokensPerTile, int rowsPerCta, int stages) {
        return stages * (rowsPerCta * 72 + tokensPerTile * 128);
    }

    /** The wide kernel's plan for this shape on a GPU with {@code multiprocessors} SMs and {@code sharedOptin} bytes of shared memory per block, rows per CTA and splits picked by the cost model. */
    public static WidePlan widePlan(int m, int n, int k, int multiprocessors, int sharedOptin) {
        return widePlan(m, n, k, multiprocessors, sharedOptin, 0, 0, false);
    }

    /** {@link #widePlan(int, int, int, int, int, int, int, boolean)} without cluster reduction (any GPU). */
    public static WidePlan widePlan(int m, int n, int k, int multiprocessors, int sharedOptin, int rowsPerCta, int forcedSplits) {
        return widePlan(m, n, k, multiprocessors, sharedOptin, rowsPerCta, forcedSplits, false);
    }

    /**
     * The wide kernel's plan, or null where it does not apply: m > 64, k not a multiple of 64, or its shared memory above
     * {@code sharedOptin}. {@code rowsPerCta} 96, 128 or 256 forces that CTA shape (0: the cost model picks), {@code forcedSplits
     * > 0} about that many K splits (for benchmarks; 0: the cost model picks).
     *
     * <p>The cost model (an estimate, to be checked against `bench gemm`'s variants.log): the weights stream at 3.0 TB/s
     * over all SMs but at most ~30 GB/s into one SM (so 3 TB/s needs 100 of the H100's 132 SMs), and an SM's shared memory
     * moves ~180 GB/s (80% of 128 B/clock: copies in, fragments out); the busiest SM's total counts; K is split only as far
     * as one wave of CTAs holds. Each split-K row group then pays ~1 us (fence, counter, L2 round trip) plus its last CTA's
     * read of {@code splits x m x rows x 4} bytes of partials at ~100 GB/s, which is why small row groups with few splits
     * beat large ones with many (4096x4096 at m = 64: 96 rows x 3 splits, 129 CTAs). With {@code clusters} (an sm_90+ GPU)
     * 2 to 4 splits reduce in a thread-block cluster instead: ~0.5 us plus each CTA's read of {@code m x rows x 4} bytes of
     * distributed shared memory at ~200 GB/s (4096x4096: 128 rows x 4 splits).
     * Checked on the H100 (kernels/NOTES.md, session 5): its premises do not hold. The kernel is bound by its per-stage
     * work, not by HBM; one split, the model's pick for qkv and gate, measured slowest of the CTA shapes timed then (qkv at
     * m = 17, 128 rows: 56.9 us, against 29.7 us for 128 rows x 2 splits in a cluster, the fastest; 96-row CTAs came later
     * and were not timed on a GPU). `bench gemm` reports the fastest variant
     * it times, so its "ours" at m > 16 is not what this plan runs. The built-in selection never runs the wide kernel;
     * neither did the H100 tuning data, where tuned cuSPARSELt wins every m > 16.
     */
    public static WidePlan widePlan(int m, int n, int k, int multiprocessors, int sharedOptin, int rowsPerCta, int forcedSplits,
                                    boolean clusters) {
        checkShape(m, n, k);
        if (m > WIDE_MAX_M || k % WIDE_WINDOW != 0) return null;
        if (rowsPerCta != 0 && rowsPerCta != 96 && rowsPerCta != 128 && rowsPerCta != 256) {
            throw new IllegalArgumentException("rowsPerCta must be 0 (auto), 96, 128 or 256, got " + rowsPerCta);
        }
        int tile = m <= 32 ? 32 : 64;
        int sms = Math.max(1, multiprocessors);
        int windows = k / WIDE_WINDOW;
        WidePlan best = null;
        double bestCost = Double.POSITIVE_INFINITY;
        for (int[] v : WIDE_VARIANTS) {
            int rows = v[0], rowsPerWarp = v[1], stages = v[2];
            if (rowsPerCta != 0 && rows != rowsPerCta || tile < v[3]) continue;
            int shared = wideSharedBytes(tile, rows, stages);
            if (shared > sharedOptin) continue;
            int perSm = Math.max(1, Math.min(2, (sharedOptin + 1024) / (shared + 1024)));
            long slots = (long) sms * perSm;
            int rowGroups = (n + rows - 1) / rows;
            int lo = 1, hi = windows;
            if (forcedSplits > 0) lo = hi = Math.min(forcedSplits, windows);
            for (int want = lo; want <= hi; want++) {
                int wps = (windows + want - 1) / want;
                int splits = (windows + wps - 1) / wps;
                long ctas = (long) rowGroups * splits;
                if (forcedSplits == 0 && splits > 1 && ctas > slots) break;  // one wave (more splits only add CTAs)
                boolean cluster = clusters && splits >= 2 && splits <= WIDE_MAX_CLUSTER;
                double cost = wideCostMicros(m, rows, rowsPerWarp, rowGroups, splits, wps, sms, cluster);
                if (cost < bestCost) {
                    bestCost = cost;
                    best = new WidePlan(m, n, k, tile, rows, rowsPerWarp, stages, rowGroups, splits, wps, shared, cluster);
                }
            }
        }
        return best;
    }

    /** The wide kernel's estimated time in microseconds (see {@link #widePlan(int, int, int, int, int, int, int)}). */
    static double wideCostMicros(int m, int rows, int rowsPerWarp, int rowGroups, int splits, int windowsPerSplit, int sms,
                                 boolean cluster) {
        final double hbmBytesPerMicro = 3.0e6, smBytesPerMicro = 30e3, fixupBytesPerMicro = 100e3, fixupMicros = 1.0;
        final double clusterBytesPerMicro = 200e3, clusterMicros = 0.5, sharedBytesPerMicro = 180e3;
        // The SMs work through their CTAs (slots at a time, sharing the SM): what counts is the busiest SM's total.
        long ctas = (long) rowGroups * splits;
        long busiest = (ctas + sms - 1) / sms;
        double perCta = (double) rows * windowsPerSplit * 72;
        // Shared memory per stage: the copies in (weights, X of the real tokens), A fragments out (64 B per row) and B
        // fragments out (per warp, 2 blocks x token octets x 512 B): ~70% of its 128 B/clock at M = 64 and 32-row warps.
        double sharedPerStage = rows * 72.0 + m * 128.0 + rows * 64.0 + (double) rows / rowsPerWarp * 2 * ((m + 7) / 8) * 512;
        double sharedMicros = busiest * windowsPerSplit * sharedPerStage / sharedBytesPerMicro;
        // + 1% of the shared-memory time: of two plans bound by the same HBM time, the one with more headroom wins.
        double stream = Math.max(Math.max(ctas * perCta / hbmBytesPerMicro, busiest * perCta / smBytesPerMicro), sharedMicros)
                + 0.01 * sharedMicros;
        double tail = splits == 1 ? 0
                : cluster ? clusterMicros + (double) m * rows * 4 / clusterBytesPerMicro
                : fixupMicros + (double) splits * m * rows * 4 / fixupBytesPerMicro;
        return stream + tail;
    }

    private final Kernels kernels;
    private final boolean streamByDefault;
    /**
     * The streaming kernel's tensor-core step: mma.sp (default) or, with -Dtwofour.gemm.mma=dense, permutes + dense
     * mma.sync. Measured on the H100 at one token: mma.sp 0-10% faster per layer (o 8.49 against 9.40 us) and decode
     * 298.3 against 296.0 tok/s (kernels/NOTES.md).
     */
    private final boolean sparseMma = !"dense".equals(System.getProperty("twofour.gemm.mma", "sp"));
    /**
     * The classic kernel's tensor-core step, -Dtwofour.gemm.classicMma=auto|sp|dense. auto (default): mma.sp for tiles of
     * 8 tokens, permutes + mma.sync for 16 and 32. Measured on the H100 (kernels/NOTES.md, session 3): with mma.sp at
     * 8-token tiles decode ran +1.7% / +3.3% / +3.2% at batch 2 / 4 / 8 (o at 4 rows 12.00 -> 10.84 us); at 16 rows
     * it was mixed (qkv 38.3 -> 39.3 us, gate_up 51.8 -> 50.9).
     */
    private final String classicMma = System.getProperty("twofour.gemm.classicMma", "auto");
    /** Ring stages of the streaming kernel at 8 tokens (4, or 2 or 3 with mma.sp): -Dtwofour.gemm.streamStages. */
    private final int streamStages = Integer.getInteger("twofour.gemm.streamStages", 4);
    /**
     * -Dtwofour.gemm.streamRing=TxSxC: the streaming kernel's ring where that variant is compiled and fits (T tokens per
     * tile, S stages of C chunks, e.g. 8x4x8), else the default (for measuring).
     */
    private final int[] streamRing = parseRing(System.getProperty("twofour.gemm.streamRing"));

    private static int[] parseRing(String s) {
        if (s == null || s.isBlank()) return null;
        String[] p = s.trim().split("x");
        if (p.length != 3) throw new IllegalArgumentException("twofour.gemm.streamRing must be TOKENSxSTAGESxCHUNKS, e.g. 8x4x8; got " + s);
        return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2])};
    }
    /**
     * How the streaming kernel stages plain X: cp.async, all in flight at once (default), or with
     * -Dtwofour.gemm.streamX=loads, 4 loads in flight per thread as the fused ops do (for measuring; kernels/NOTES.md).
     */
    private final boolean streamXLoads = "loads".equals(System.getProperty("twofour.gemm.streamX", "async"));
    /**
     * With -Dtwofour.gemm.streamMaxM=N > 0, layers run the streaming kernel wherever it applies up to N tokens, and
     * with -Dtwofour.gemm.streamMaxMAfterAttention=N the o projection (for measuring; else streamBeatsClassic decides).
     */
    private final int streamMaxM = Integer.getInteger("twofour.gemm.streamMaxM", 0);
    private final int streamMaxMAfterAttention = Integer.getInteger("twofour.gemm.streamMaxMAfterAttention", 0);
    /**
     * Whether {@link #run(CudaStream, CudaDtype, DeviceBuffer, long, DeviceBuffer, DeviceBuffer, DeviceBuffer, long, int, int, int)}
     * takes the wide kernel for 16 < m <= 64 where it applies (default; -Dtwofour.gemm.wide=false: the classic kernel, as before).
     */
    private final boolean wideByDefault = Boolean.parseBoolean(System.getProperty("twofour.gemm.wide", "true"));
    /** -Dtwofour.gemm.wideCluster=false: the wide kernel's split-K partials always go through the workspace (see {@link #wideClusters()}). */
    private final boolean wideCluster = Boolean.parseBoolean(System.getProperty("twofour.gemm.wideCluster", "true"));
    private Boolean clusterCapable;  // the GPU is sm_90+ (asked once)
    private volatile boolean clusterFailed;  // a cluster launch was refused: see run
    private DeviceBuffer partials;
    private DeviceBuffer counters;
    private boolean closed;

    /** Uses the streaming kernel wherever it applies unless {@code -Dtwofour.gemm.stream=false}. */
    public Sparse24Gemm(Kernels kernels) {
        this(kernels, Boolean.parseBoolean(System.getProperty("twofour.gemm.stream", "true")));
    }

    /** {@code streamByDefault}: whether {@link #run(CudaStream, CudaDtype, DeviceBuffer, long, DeviceBuffer, DeviceBuffer, DeviceBuffer, long, int, int, int)} and {@link #runSwiglu} use the streaming kernel where it applies. */
    public Sparse24Gemm(Kernels kernels, boolean streamByDefault) {
        this.kernels = kernels;
        this.streamByDefault = streamByDefault;
    }

    /** The classic kernel's plan for this shape on this GPU (what {@link #run} uses where the streaming kernel does not apply). */
    public Plan plan(int m, int n, int k) {
        Plan p = plan(m, n, k, kernels.multiprocessors());
        return p.withSparseMma(switch (classicMma) {
            case "sp" -> true;
            case "dense" -> false;
            default -> p.tokensPerTile() == 8;
        });
    }

    /** The streaming kernel's plan for this shape on this GPU, or null where it does not apply. */
    public StreamPlan streamPlan(int m, int n, int k) {
        StreamPlan p = streamPlan(m, n, k, kernels.multiprocessors(), kernels.sharedPerBlockOptin(), sparseMma);
        if (p == null) return null;
        if (streamRing != null) {
            StreamPlan r = p.withRing(streamRing[0], streamRing[1], streamRing[2], kernels.sharedPerBlockOptin());
            if (r != null) p = r;
        }
        return p.withStages(streamStages).oneCtaPerSm(kernels.sharedPerBlockOptin());
    }

    /**
     * The streaming plan {@link #run} uses for this shape, or null when it runs the classic kernel: where the streaming
     * kernel applies and {@link #streamBeatsClassic} (unless this object was made without streaming).
     * {@code afterAttention}: the layer's input is the decode attention's output (the o projection).
     */
    public StreamPlan defaultStreamPlan(int m, int n, int k, boolean afterAttention) {
        if (!streamByDefault) return null;
        StreamPlan p = streamPlan(m, n, k);
        if (p == null) return null;
        int forced = afterAttention ? streamMaxMAfterAttention : streamMaxM;
        if (forced > 0) return m <= forced ? p : null;
        return streamBeatsClassic(p, afterAttention) ? p : null;
    }

    /**
     * The streaming plan {@link #runSwiglu} uses, or null when it runs the classic kernel. The streaming kernel stages
     * gate|up with loads (4 in flight per thread, not cp.async: SwiGLU is computed on the way), so beyond one token its
     * X takes several L2 round trips (6 at 4 tokens of 11008): one token only.
     */
    public StreamPlan swigluStreamPlan(int m, int n, int k) {
        return m == 1 ? defaultStreamPlan(m, n, k, false) : null;
    }

    /**
     * The wide kernel's plan for this shape on this GPU, or null where it does not apply (see
     * {@link #widePlan(int, int, int, int, int, int, int, boolean)}); with cluster reduction where {@link #wideClusters()}.
     */
    public WidePlan widePlan(int m, int n, int k) {
        return widePlan(m, n, k, kernels.multiprocessors(), kernels.sharedPerBlockOptin(), 0, 0, wideClusters());
    }

    /**
     * Whether this GPU runs the wide kernel's cluster-reduced variants (sm_90+) and they are not switched off with
     * -Dtwofour.gemm.wideCluster=false (then split K always goes through the workspace).
     */
    public boolean wideClusters() {
        if (!wideCluster || clusterFailed) return false;
        if (clusterCapable == null) clusterCapable = kernels.context().device().computeCapability().major() >= 9;
        return clusterCapable;
    }

    /**
     * The wide plan {@link #run(CudaStream, CudaDtype, DeviceBuffer, long, DeviceBuffer, DeviceBuffer, DeviceBuffer, long, int, int, int)}
     * uses for this shape, or null when it runs the streaming or classic kernel: for 16 < m <= 64 where the wide kernel applies
     * (unless -Dtwofour.gemm.wide=false). At m <= 16 the choice stays the streaming / classic one.
     */
    public WidePlan defaultWidePlan(int m, int n, int k) {
        if (!wideByDefault || m <= 16) return null;
        return widePlan(m, n, k);
    }

    /** Makes sure the workspaces fit {@code plan} (allocates; synchronizes the context when one grows). */
    public void reserve(WidePlan plan) {
        reserveWorkspace(plan.workspaceFloats() * 4, plan.counters() * 4L);
    }

    /**
     * Makes sure the workspaces fit {@code plan} and, for its shape, the wide plan the plan-less {@link #run} takes at
     * 16 < m <= 64 (so a caller that reserves the classic plan before capturing a CUDA graph stays safe); allocates and
     * synchronizes the context when one grows.
     */
    public void reserve(Plan plan) {
        reserveWorkspace(plan.workspaceFloats() * 4, plan.counters() * 4L);
        WidePlan wide = defaultWidePlan(plan.m(), plan.n(), plan.k());
        if (wide != null) reserve(wide);
    }

    private void reserveWorkspace(long floats, long ctrs) {
        ensureOpen();
        if (floats > 0 && (partials == null || partials.bytes() < floats)) {
            kernels.context().synchronize();  // the old buffer may still be in use
            if (partials != null) partials.close();
            partials = null;
            partials = DeviceBuffer.allocate(Math.max(floats, 1L << 20));
        }
        if (ctrs > 0 && (counters == null || counters.bytes() < ctrs)) {
            kernels.context().synchronize();
            if (counters != null) counters.close();
            counters = null;
            counters = DeviceBuffer.allocate(Math.max(ctrs, 64L << 10));
            counters.memset((byte) 0);
        }
    }

    /**
     * Y = X · Wᵀ with the default kernel and plan: for 16 < m <= 64 the wide kernel where it applies ({@link #defaultWidePlan}),
     * else the streaming kernel where it applies, else the classic one. Strides are in elements.
     */
    public void run(CudaStream stream, CudaDtype dtype, DeviceBuffer x, long ldx, DeviceBuffer values, DeviceBuffer metadata,
                    DeviceBuffer y, long ldy, int m, int n, int k) {
        run(stream, dtype, x, ldx, values, metadata, y, ldy, m, n, k, false);
    }

    /** The same for a layer that follows attention ({@code afterAttention}) or not: see {@link #defaultStreamPlan(int, int, int, boolean)}. */
    public void run(CudaStream stream, CudaDtype dtype, DeviceBuffer x, long ldx, DeviceBuffer values, DeviceBuffer metadata,
                    DeviceBuffer y, long ldy, int m, int n, int k, boolean afterAttention) {
        WidePlan wide = defaultWidePlan(m, n, k);
        if (wide != null && wideAligned(values, metadata)) {
            try {
                run(stream, dtype, x, ldx, values, metadata, y, ldy, wide);
            } catch (CudaException e) {
                if (!wide.clusterReduce()) throw e;
                // A GPU or driver that refuses the cluster launch: split K through the workspace from now on (logged once).
                clusterFailed = true;
                System.getLogger(Sparse24Gemm.class.getName()).log(System.Logger.Level.WARNING,
                        "the wide 2:4 GEMM's cluster launch failed (" + e.getMessage() + "); its split-K partials go through the"
                                + " workspace from now on (-Dtwofour.gemm.wideCluster=false does so from the start)");
                run(stream, dtype, x, ldx, values, metadata, y, ldy, defaultWidePlan(m, n, k));
            }
            return;
        }
        runChosen(stream, dtype, x, ldx, values, metadata, y, ldy, m, n, k, defaultStreamPlan(m, n, k, afterAttention), false);
    }

    /** Y = X · Wᵀ with the given plan (its m, n, k are the shape). */
    public void run(CudaStream stream, CudaDtype dtype, DeviceBuffer x, long ldx, DeviceBuffer values, DeviceBuffer metadata,
                    DeviceBuffer y, long ldy, Plan p) {
        run(stream, dtype, x, ldx, values, metadata, y, ldy, p, false);
    }

    /**
     * The down projection fused with SwiGLU: {@code Y = swiglu(gateUp) · Wᵀ}, where {@code gateUp} is
     * {@code [m][2k]} (gate then up, row stride {@code ldx >= 2k}) and swiglu rounds like TransformerKernels.swiglu.
     * SwiGLU is computed while the kernel stages X, once per CTA; the plan is {@link #plan(int, int, int)}'s.
     */
    public void runSwiglu(CudaStream stream, CudaDtype dtype, DeviceBuffer gateUp, long ldx, DeviceBuffer values,
                          DeviceBuffer metadata, DeviceBuffer y, long ldy, int m, int n, int k) {
        if (ldx < 2L * k) throw new IllegalArgumentException("gate|up row stride " + ldx + " must be >= 2k = " + 2L * k);
        runChosen(stream, dtype, gateUp, ldx, values, metadata, y, ldy, m, n, k, swigluStreamPlan(m, n, k), true);
    }

    /** The streaming kernel with {@code streamPlan}, or the classic one with {@link #plan(int, int, int)} when it is null. */
    private void runChosen(CudaStream stream, CudaDtype dtype, DeviceBuffer x, long ldx, DeviceBuffer values, DeviceBuffer metadata,
                           DeviceBuffer y, long ldy, int m, int n, int k, StreamPlan streamPlan, boolean swiglu) {
        if (streamPlan != null) run(stream, dtype, x, ldx, values, metadata, y, ldy, streamPlan, swiglu);
        else run(stream, dtype, x, ldx, values, metadata, y, ldy, plan(m, n, k), swiglu);
    }

    /**
     * Y = X · Wᵀ (or, with {@code swiglu}, Y = swiglu(X) · Wᵀ for X = gate|up [m][2k]) with the streaming kernel and
     * the given plan (its m, n, k are the shape). Needs no workspace.
     */
    public void run(CudaStream stream, CudaDtype dtype, DeviceBuffer x, long ldx, DeviceBuffer values, DeviceBuffer metadata,
                    DeviceBuffer y, long ldy, StreamPlan p, boolean swiglu) {
        checkOperands(dtype, x, ldx, values, metadata, y, ldy, p.m(), p.n(), p.k(), swiglu);
        launchStream(stream, dtype, x, ldx, values, metadata, y, ldy, p, swiglu ? 1 : 0, 0L, 0, 0L, 0L, 0, 0f);
    }

    /**
     * The residual add and RMSNorm before a linear layer, fused into the streaming kernel's staging of X:
     * {@code v = T(residual + delta)} (no add when {@code delta} is null), {@code Y = (w * T(v * rsqrt(mean(v²) + eps))) · Wᵀ},
     * rounded like TransformerKernels.addRmsNorm (the sum of squares in another, fixed order). v is written to
     * {@code residualOut} (skipped when null), which must not overlap {@code residual}: the GPU's blocks read the
     * residual while one of them writes v. The shape is {@code p}'s; a null {@code p} (the streaming kernel does not apply,
     * or the caller's choice of kernel, e.g. {@link #defaultStreamPlan}, is the classic one) returns false, doing nothing.
     * Strides are in elements.
     */
    public boolean runAddRmsNorm(CudaStream stream, CudaDtype dtype, DeviceBuffer residual, long ldx, DeviceBuffer delta, long ldd,
                                 DeviceBuffer normWeight, float eps, DeviceBuffer residualOut, long ldr,
                                 DeviceBuffer values, DeviceBuffer metadata, DeviceBuffer y, long ldy, StreamPlan p) {
        if (p == null) return false;
        int m = p.m(), n = p.n(), k = p.k();
        checkOperands(dtype, residual, ldx, values, metadata, y, ldy, m, n, k, false);
        long es = dtype.byteSize();
        if (delta != null) {
            if (ldd < k) throw new IllegalArgumentException("delta row stride " + ldd + " must be >= k = " + k);
            Launch.requireBytes(delta, ((m - 1) * ldd + k) * es, "residual delta [" + m + "][" + k + "]");
        }
        Launch.requireBytes(normWeight, k * es, "RMSNorm weight [" + k + "]");
        if (residualOut != null) {
            if (ldr < k) throw new IllegalArgumentException("residual output row stride " + ldr + " must be >= k = " + k);
            Launch.requireBytes(residualOut, ((m - 1) * ldr + k) * es, "residual output [" + m + "][" + k + "]");
            long a0 = residual.address(), a1 = a0 + ((m - 1) * ldx + k) * es;
            long b0 = residualOut.address(), b1 = b0 + ((m - 1) * ldr + k) * es;
            if (a0 < b1 && b0 < a1) throw new IllegalArgumentException("the residual output overlaps the residual input: the fused add+RMSNorm needs a second buffer");
        }
        launchStream(stream, dtype, residual, ldx, values, metadata, y, ldy, p, 2, delta == null ? 0L : delta.address(), ldd,
                normWeight.address(), residualOut == null ? 0L : residualOut.address(), ldr, eps);
        return true;
    }

    /**
     * Y = X · Wᵀ with the wide kernel and the given plan (its m, n, k are the shape; strides in elements). The values must
     * start on a 16-byte and the metadata on an 8-byte boundary (cp.async; every buffer DeviceBuffer allocates does). X may
     * have any alignment and stride (16-byte aligned rows are copied asynchronously, others with plain loads).
     */
    public void run(CudaStream stream, CudaDtype dtype, DeviceBuffer x, long ldx, DeviceBuffer values, DeviceBuffer metadata,
                    DeviceBuffer y, long ldy, WidePlan p) {
        ensureOpen();
        Launch.requireHalf(dtype, "the 2:4 GEMM");
        int m = p.m(), n = p.n(), k = p.k();
        checkOperands(dtype, x, ldx, values, metadata, y, ldy, m, n, k, false);
        if (!wideAligned(values, metadata)) {
            throw new IllegalArgumentException("the wide 2:4 GEMM needs values on a 16-byte and metadata on an 8-byte boundary, got 0x"
                    + Long.toHexString(values.address()) + " and 0x" + Long.toHexString(metadata.address())
                    + ": pass whole DeviceBuffers or use the plan-less run");
        }
        reserve(p);
        long ws = 0, ctrs = 0;
        if (p.workspaceFloats() > 0) {
            ws = partials.address();
            ctrs = counters.address();
        }
        kernels.launchDependent(kernels.function(p.kernelName(Launch.suffix(dtype))),
                Dim3.of(p.rowGroups(), p.splits()), Dim3.of(p.threads()), p.sharedBytes(), stream,
                new KernelArgs().ptr(x).i64(ldx).ptr(values).ptr(metadata).ptr(y).i64(ldy)
                        .i32(m).i32(n).i32(k).i32(p.windowsPerSplit()).ptr(ws).ptr(ctrs).i32(kernels.gemmPrologue()));
    }

    private static boolean wideAligned(DeviceBuffer values, DeviceBuffer metadata) {
        return values.address() % 16 == 0 && metadata.address() % 8 == 0;
    }

    private void launchStream(CudaStream stream, CudaDtype dtype, DeviceBuffer x, long ldx, DeviceBuffer values, DeviceBuffer metadata,
                              DeviceBuffer y, long ldy, StreamPlan p, int op, long delta, long ldd, long normWeight,
                              long residualOut, long ldr, float eps) {
        ensureOpen();
        Launch.requireHalf(dtype, "the 2:4 GEMM");
        String sfx = Launch.suffix(dtype);
        kernels.launchDependent(kernels.function(p.kernelName(sfx)),
                Dim3.of(p.ctas()), Dim3.of(THREADS), p.sharedBytes(), stream,
                new KernelArgs().ptr(x).i64(ldx).ptr(values).ptr(metadata).ptr(y).i64(ldy)
                        .i32(p.m()).i32(p.n()).i32(p.k()).i32(p.chunksPerWarp()).i32(kernels.gemmPrologue() | (streamXLoads ? 2 : 0)).i32(op)
                        .ptr(delta).i64(ldd).ptr(normWeight).ptr(residualOut).i64(ldr).f32(eps));
    }

    private void run(CudaStream stream, CudaDtype dtype, DeviceBuffer x, long ldx, DeviceBuffer values, DeviceBuffer metadata,
                     DeviceBuffer y, long ldy, Plan p, boolean swiglu) {
        ensureOpen();
        Launch.requireHalf(dtype, "the 2:4 GEMM");
        int m = p.m(), n = p.n(), k = p.k();
        checkOperands(dtype, x, ldx, values, metadata, y, ldy, m, n, k, swiglu);
        reserve(p);
        long ws = 0, ctrs = 0;
        if (p.workspaceFloats() > 0) {
            ws = partials.address();
            ctrs = counters.address();
        }
        String sfx = Launch.suffix(dtype);
        kernels.launchDependent(kernels.function("twofour_sparse24_gemm_" + (p.sparseMma() ? "sp_" : "") + sfx + "_mt" + p.tokensPerTile()),
                Dim3.of(p.tokenTiles(), p.rowGroups(), p.splits()), Dim3.of(THREADS), p.sharedBytes(), stream,
                new KernelArgs().ptr(x).i64(ldx).ptr(values).ptr(metadata).ptr(y).i64(ldy)
                        .i32(m).i32(n).i32(k).i32(p.superblocksPerSplit()).ptr(ws).ptr(ctrs).i32(kernels.gemmPrologue())
                        .i32(swiglu ? 1 : 0));
    }

    private static void checkOperands(CudaDtype dtype, DeviceBuffer x, long ldx, DeviceBuffer values, DeviceBuffer metadata,
                                      DeviceBuffer y, long ldy, int m, int n, int k, boolean swiglu) {
        long kp = (k + 15) & ~15L;
        if (ldx < k) throw new IllegalArgumentException("ldx (" + ldx + ") must be >= k (" + k + ")");
        if (ldy < n) throw new IllegalArgumentException("ldy (" + ldy + ") must be >= n (" + n + ")");
        long es = dtype.byteSize();
        Launch.requireBytes(x, ((m - 1) * ldx + (swiglu ? 2L * k : k)) * es, "2:4 GEMM input X [" + m + "][" + (swiglu ? 2L * k : k) + "]");
        Launch.requireBytes(y, ((m - 1) * ldy + n) * es, "2:4 GEMM output Y [" + m + "][" + n + "]");
        Launch.requireBytes(values, n * kp / 2 * es, "2:4 values [" + n + "][" + kp / 2 + "]");
        Launch.requireBytes(metadata, n * kp / 8, "2:4 metadata [" + n + "][" + kp / 8 + "]");
    }

    private static void checkShape(int m, int n, int k) {
        if (m <= 0 || n <= 0 || k <= 0 || k % 4 != 0) {
            throw new IllegalArgumentException("2:4 GEMM needs m, n, k > 0 and k a multiple of 4, got m=" + m + " n=" + n + " k=" + k);
        }
        if ((n + ROWS_PER_CTA - 1) / ROWS_PER_CTA > 65535) throw new IllegalArgumentException("n=" + n + " is too large (at most 65535*128 rows)");
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("Sparse24Gemm is closed");
    }

    /** Frees the workspace. Closing twice is harmless. */
    @Override public void close() {
        if (closed) return;
        closed = true;
        if (partials != null) partials.close();
        if (counters != null) counters.close();
        partials = null;
        counters = null;
    }
}
