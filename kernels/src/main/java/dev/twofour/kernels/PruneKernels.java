package dev.twofour.kernels;

import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.cuda.Dim3;
import dev.twofour.cuda.KernelArgs;

/**
 * Launchers of the GPU pruning engine's kernels (prune.cuh). All matrices are fp32, row-major
 * [rows][cols], groups of 4 consecutive values along a row. Java twins live in the pruner module:
 * GroupProx (the prox), Masks.keepTopTwo / Baselines (masks), CpuPruneEngine.refine (the CG step),
 * Baselines.sparseGpt (the SparseGPT sweep); the pruner's GPU tests compare them.
 */
public final class PruneKernels {
    private PruneKernels() {}

    private static final int BLOCK = 256;
    /** Threads per block of the SparseGPT sweep (one thread per row; few rows, so small blocks). */
    private static final int SPARSEGPT_THREADS = 64;
    /** The largest SparseGPT column block {@link #sparseGptBlock} takes (TWOFOUR_SPARSEGPT_MAX_BLOCK). */
    public static final int SPARSEGPT_MAX_BLOCK = 128;

    /** How {@link #keepTopTwo} scores the entries of a group. */
    public enum Score {
        /** |w|. */
        MAGNITUDE(0),
        /** |w| · colScale[column] (Wanda: colScale = ‖X_j‖, fp64). */
        COLUMN_SCALED(1),
        /** The prox mask: |w| for nonzeros, −1/(1 + |w₀|) for zeros (emptied groups fall back to |W₀|). */
        PROX(2);

        final int code;
        Score(int code) { this.code = code; }
    }

    /**
     * In place on {@code w} ([groups][4] floats): the prox of t·R on every group with more than two
     * nonzeros; adds the number of groups left with more than two nonzeros to the int at
     * {@code denseCount} (the caller zeroes it). {@code tolerance}: the dense candidate's relative
     * coordinate-descent tolerance (GroupProx's constructor argument).
     */
    public static void prox(Kernels kernels, CudaStream stream, DeviceBuffer w, long groups, double t, double tolerance,
                            DeviceBuffer denseCount) {
        requireGroups(groups);
        Launch.requireBytes(w, groups * 16, "prox weights");
        Launch.requireBytes(denseCount, 4, "prox dense-group counter");
        kernels.function("twofour_prune_prox").launch(Dim3.of(kernels.gridFor(groups, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(w).i64(groups).f64(t).f64(tolerance).ptr(denseCount));
    }

    /**
     * Zeroes, in every group of {@code w} ([rows][cols]), the two entries with the lowest score (ties:
     * the lower index is kept). {@code w0} is read for {@link Score#PROX} only, {@code colScale}
     * ([cols] doubles) for {@link Score#COLUMN_SCALED} only; pass null otherwise.
     */
    public static void keepTopTwo(Kernels kernels, CudaStream stream, DeviceBuffer w, DeviceBuffer w0, DeviceBuffer colScale,
                                  int rows, int cols, Score score) {
        requireShape(rows, cols);
        long n = (long) rows * cols;
        Launch.requireBytes(w, n * 4, "keepTopTwo weights");
        if (score == Score.PROX) Launch.requireBytes(w0, n * 4, "keepTopTwo original weights");
        if (score == Score.COLUMN_SCALED) Launch.requireBytes(colScale, (long) cols * 8, "keepTopTwo column scales");
        long groups = n / 4;
        kernels.function("twofour_prune_keep_top_two").launch(Dim3.of(kernels.gridFor(groups, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(w).ptr(score == Score.PROX ? w0.address() : 0L)
                        .ptr(score == Score.COLUMN_SCALED ? colScale.address() : 0L).i64(groups).i32(cols).i32(score.code));
    }

    /** keep[i] = 1 where v ≠ 0, widened to two per group by the largest |w₀| (bytes, one per weight). */
    public static void support(Kernels kernels, CudaStream stream, DeviceBuffer v, DeviceBuffer w0, DeviceBuffer keep, long count) {
        requireGroups(count / 4);
        if (count % 4 != 0) throw new IllegalArgumentException("support needs whole groups of 4, got " + count + " values");
        Launch.requireBytes(v, count * 4, "support weights");
        Launch.requireBytes(w0, count * 4, "support original weights");
        Launch.requireBytes(keep, count, "support mask");
        long groups = count / 4;
        kernels.function("twofour_prune_support").launch(Dim3.of(kernels.gridFor(groups, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(v).ptr(w0).ptr(keep).i64(groups));
    }

    /** out = a − b over {@code count} floats (out may be a or b). */
    public static void sub(Kernels kernels, CudaStream stream, DeviceBuffer a, DeviceBuffer b, DeviceBuffer out, long count) {
        requireCount(count);
        Launch.requireBytes(a, count * 4, "sub a");
        Launch.requireBytes(b, count * 4, "sub b");
        Launch.requireBytes(out, count * 4, "sub out");
        kernels.function("twofour_prune_sub").launch(Dim3.of(kernels.gridFor(count, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(a).ptr(b).ptr(out).i64(count));
    }

    /** out = s · a over {@code count} floats (out may be a). */
    public static void scale(Kernels kernels, CudaStream stream, DeviceBuffer a, DeviceBuffer out, long count, float s) {
        requireCount(count);
        Launch.requireBytes(a, count * 4, "scale input");
        Launch.requireBytes(out, count * 4, "scale output");
        kernels.function("twofour_prune_scale").launch(Dim3.of(kernels.gridFor(count, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(a).ptr(out).i64(count).f32(s));
    }

    /** x[i] = 0 where keep[i] == 0 ({@code count} floats, one mask byte each). */
    public static void mask(Kernels kernels, CudaStream stream, DeviceBuffer x, DeviceBuffer keep, long count) {
        requireCount(count);
        Launch.requireBytes(x, count * 4, "mask values");
        Launch.requireBytes(keep, count, "mask");
        kernels.function("twofour_prune_mask").launch(Dim3.of(kernels.gridFor(count, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(x).ptr(keep).i64(count));
    }

    /** dst[r][c] = src[r][c] for a rows × cols block; strides (elements) lds, ldd ≥ cols; fp32. */
    public static void copy2d(Kernels kernels, CudaStream stream, long src, long lds, long dst, long ldd, int rows, int cols) {
        if (rows <= 0 || cols <= 0 || lds < cols || ldd < cols) {
            throw new IllegalArgumentException("copy2d: need rows, cols > 0 and strides >= cols, got " + rows + "x" + cols + " lds=" + lds + " ldd=" + ldd);
        }
        if (src == 0 || dst == 0) throw new IllegalArgumentException("copy2d: null device address");
        kernels.function("twofour_prune_copy_2d").launch(Dim3.of(kernels.gridFor((long) rows * cols, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(src).i64(lds).ptr(dst).i64(ldd).i32(rows).i32(cols));
    }

    /** out[i][j] = in[k−1−i][k−1−j] for k×k fp32 matrices (J·A·J; in and out must differ). */
    public static void reverse(Kernels kernels, CudaStream stream, DeviceBuffer in, DeviceBuffer out, int k) {
        if (k <= 0) throw new IllegalArgumentException("reverse needs k > 0, got " + k);
        Launch.requireBytes(in, (long) k * k * 4, "reverse input");
        Launch.requireBytes(out, (long) k * k * 4, "reverse output");
        if (in.address() == out.address()) throw new IllegalArgumentException("reverse cannot run in place");
        kernels.function("twofour_prune_reverse").launch(Dim3.of(kernels.gridFor((long) k * k, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(in).ptr(out).i32(k));
    }

    /** out[j] = sqrt(H[j][j]) as doubles, for the k×k fp32 matrix h. */
    public static void diagSqrt(Kernels kernels, CudaStream stream, DeviceBuffer h, int k, DeviceBuffer out) {
        if (k <= 0) throw new IllegalArgumentException("diagSqrt needs k > 0, got " + k);
        Launch.requireBytes(h, (long) k * k * 4, "diagSqrt matrix");
        Launch.requireBytes(out, (long) k * 8, "diagSqrt output");
        kernels.function("twofour_prune_diag_sqrt").launch(Dim3.of(kernels.gridFor(k, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(h).i32(k).ptr(out));
    }

    /** out[r] = Σ_i a[r][i]·b[r][i] in fp64 ({@code rows} doubles). */
    public static void rowDot(Kernels kernels, CudaStream stream, DeviceBuffer a, DeviceBuffer b, DeviceBuffer out, int rows, int cols) {
        requireShape(rows, cols);
        Launch.requireBytes(a, (long) rows * cols * 4, "rowDot a");
        Launch.requireBytes(b, (long) rows * cols * 4, "rowDot b");
        Launch.requireBytes(out, (long) rows * 8, "rowDot output");
        kernels.function("twofour_prune_row_dot").launch(Dim3.of(kernels.gridFor((long) rows * BLOCK, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(a).ptr(b).ptr(out).i32(rows).i32(cols));
    }

    /**
     * One step of the per-row masked conjugate gradient after {@code hd = dir·H} (see prune.cuh):
     * updates v, res, dir and the per-row squared residuals {@code rr} (fp64; 0 = row finished).
     */
    public static void cgStep(Kernels kernels, CudaStream stream, DeviceBuffer v, DeviceBuffer res, DeviceBuffer dir, DeviceBuffer hd,
                              DeviceBuffer keep, DeviceBuffer rr, int rows, int cols) {
        requireShape(rows, cols);
        long n = (long) rows * cols;
        Launch.requireBytes(v, n * 4, "cgStep v");
        Launch.requireBytes(res, n * 4, "cgStep residual");
        Launch.requireBytes(dir, n * 4, "cgStep direction");
        Launch.requireBytes(hd, n * 4, "cgStep dir·H");
        Launch.requireBytes(keep, n, "cgStep mask");
        Launch.requireBytes(rr, (long) rows * 8, "cgStep squared residuals");
        kernels.function("twofour_prune_cg_step").launch(Dim3.of(kernels.gridFor((long) rows * BLOCK, BLOCK)), Dim3.of(BLOCK), 0, stream,
                new KernelArgs().ptr(v).ptr(res).ptr(dir).ptr(hd).ptr(keep).ptr(rr).i32(rows).i32(cols));
    }

    /**
     * SparseGPT's sweep over columns [b0, b0 + bw) of w ([n][k]) with u the upper Cholesky factor of
     * the dampened H⁻¹ ([k][k]); writes the scaled pruning errors to err ([n][bw]). The caller then
     * updates the columns right of the block: W[:, b0+bw:] −= err · U[b0:b0+bw, b0+bw:].
     */
    public static void sparseGptBlock(Kernels kernels, CudaStream stream, DeviceBuffer w, DeviceBuffer u, DeviceBuffer err,
                                      int n, int k, int b0, int bw) {
        requireShape(n, k);
        if (bw <= 0 || bw % 4 != 0 || bw > SPARSEGPT_MAX_BLOCK || b0 < 0 || b0 % 4 != 0 || b0 + bw > k) {
            throw new IllegalArgumentException("SparseGPT block [" + b0 + ", " + (b0 + bw) + ") of " + k + " columns: need b0 and bw "
                    + "multiples of 4, 0 < bw <= " + SPARSEGPT_MAX_BLOCK + ", inside the matrix");
        }
        Launch.requireBytes(w, (long) n * k * 4, "SparseGPT weights");
        Launch.requireBytes(u, (long) k * k * 4, "SparseGPT factor");
        Launch.requireBytes(err, (long) n * bw * 4, "SparseGPT errors");
        int grid = (n + SPARSEGPT_THREADS - 1) / SPARSEGPT_THREADS;
        kernels.function("twofour_prune_sparsegpt_block").launch(Dim3.of(grid), Dim3.of(SPARSEGPT_THREADS), 0, stream,
                new KernelArgs().ptr(w).ptr(u).ptr(err).i32(n).i32(k).i32(b0).i32(bw));
    }

    private static void requireShape(int rows, int cols) {
        if (rows <= 0 || cols <= 0 || cols % 4 != 0) {
            throw new IllegalArgumentException("a pruning matrix needs rows > 0 and cols > 0 a multiple of 4, got " + rows + "x" + cols);
        }
    }

    private static void requireGroups(long groups) {
        if (groups <= 0) throw new IllegalArgumentException("need at least one group of 4, got " + groups);
    }

    private static void requireCount(long count) {
        if (count <= 0) throw new IllegalArgumentException("count must be > 0, got " + count);
    }
}
