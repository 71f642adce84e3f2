package dev.twofour.runtime.cpu;

import dev.twofour.model.DType;
import dev.twofour.runtime.LinearWeights;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static dev.twofour.runtime.cpu.Vec.F;
import static dev.twofour.runtime.cpu.Vec.L;

/**
 * Shared machinery of the CPU linear layers. Few rows (decode, up to {@link #SMALL_M} tokens) go to the
 * layout's own streaming kernel ({@link #forwardSmall}), which reads each weight once per call and is
 * bound by weight bytes. Many rows (prefill, perplexity) go to a blocked GEMM: {@link #NB} weight rows are
 * widened to fp32 and transposed into a per-thread scratch block once, then multiplied against every input
 * row with broadcast-FMA (no horizontal reductions); the decode cost is amortised over all rows.
 */
abstract sealed class CpuLinear implements LinearWeights permits DenseLinear, Sparse24Linear {
    /** Up to this many rows use the streaming kernel. */
    static final int SMALL_M = 8;
    /** Output columns per GEMM block: two vectors. */
    static final int NB = 2 * L;

    final String name;
    final DType dtype;
    final int kind;
    final int n, k;
    private volatile boolean closed;

    CpuLinear(String name, DType dtype, int n, int k) {
        if (n <= 0 || k <= 0) throw new IllegalArgumentException(name + ": linear shape must be positive, got [" + n + "][" + k + "]");
        this.name = name;
        this.dtype = dtype;
        this.kind = Vec.kind(dtype);
        this.n = n;
        this.k = k;
    }

    @Override public DType dtype() { return dtype; }
    @Override public int outFeatures() { return n; }
    @Override public int inFeatures() { return k; }
    private java.lang.foreign.Arena arena;

    /** Makes this layer free {@code arena} (holding a copy of its weights) on close. */
    @SuppressWarnings("unchecked")
    <T extends CpuLinear> T owning(java.lang.foreign.Arena arena) {
        this.arena = arena;
        return (T) this;
    }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        if (arena != null) arena.close();
    }

    void checkOpen() {
        if (closed) throw new IllegalStateException("linear weights '" + name + "' are closed");
    }

    /** Writes row {@code row} of W as {@code k} fp32 values into {@code dst}. */
    abstract void decodeRow(int row, float[] dst);

    /** {@code y[m][row] = W[row] · x[m]} for rows {@code [r0, r1)}, all {@code m < M} ({@code M <= SMALL_M}). */
    abstract void forwardSmall(float[] x, int M, float[] y, int r0, int r1);

    /** {@code y[M][n] = x[M][k] Wᵀ}. */
    final void forward(float[] x, int M, float[] y, Parallel par) {
        checkOpen();
        if (M <= SMALL_M) {
            par.forRange(n, 4, (r0, r1) -> forwardSmall(x, M, y, r0, r1));
        } else {
            int blocks = (n + NB - 1) / NB;
            par.forRange(blocks, 1, (b0, b1) -> gemmBlocks(x, M, y, b0, b1));
        }
    }

    private static final ThreadLocal<float[][]> SCRATCH = new ThreadLocal<>();

    private float[][] scratch() {
        float[][] s = SCRATCH.get();
        if (s == null || s[0].length < k * NB || s[1].length < k) {
            int cap = Math.max(k, s == null ? 0 : s[1].length);
            s = new float[][]{new float[cap * NB], new float[cap], new float[4 * NB]};
            SCRATCH.set(s);
        }
        return s;
    }

    private void gemmBlocks(float[] x, int M, float[] y, int b0, int b1) {
        float[][] s = scratch();
        float[] wt = s[0], row = s[1], tmp = s[2];
        for (int b = b0; b < b1; b++) {
            int n0 = b * NB, nb = Math.min(NB, n - n0);
            for (int r = 0; r < NB; r++) {
                if (r < nb) {
                    decodeRow(n0 + r, row);
                    for (int kk = 0; kk < k; kk++) wt[kk * NB + r] = row[kk];
                } else {
                    for (int kk = 0; kk < k; kk++) wt[kk * NB + r] = 0f;
                }
            }
            int m = 0;
            for (; m + 4 <= M; m += 4) tile4(x, m, wt, y, n0, nb, tmp);
            for (; m < M; m++) tile1(x, m, wt, y, n0, nb, tmp);
        }
    }

    // Vectors are never passed to or returned from helper methods here: if C2 does not inline the call it
    // boxes them, which costs more than the arithmetic.

    private void tile4(float[] x, int m, float[] wt, float[] y, int n0, int nb, float[] tmp) {
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        int k = this.k, n = this.n;
        int x0 = m * k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        for (int kk = 0; kk < k; kk++) {
            FloatVector w0 = FloatVector.fromArray(F, wt, kk * NB);
            FloatVector w1 = FloatVector.fromArray(F, wt, kk * NB + L);
            FloatVector v = FloatVector.broadcast(F, x[x0 + kk]);
            a00 = w0.fma(v, a00);
            a01 = w1.fma(v, a01);
            v = FloatVector.broadcast(F, x[x1 + kk]);
            a10 = w0.fma(v, a10);
            a11 = w1.fma(v, a11);
            v = FloatVector.broadcast(F, x[x2 + kk]);
            a20 = w0.fma(v, a20);
            a21 = w1.fma(v, a21);
            v = FloatVector.broadcast(F, x[x3 + kk]);
            a30 = w0.fma(v, a30);
            a31 = w1.fma(v, a31);
        }
        if (nb == NB) {
            int off = m * n + n0;
            a00.intoArray(y, off);
            a01.intoArray(y, off + L);
            a10.intoArray(y, off + n);
            a11.intoArray(y, off + n + L);
            a20.intoArray(y, off + 2 * n);
            a21.intoArray(y, off + 2 * n + L);
            a30.intoArray(y, off + 3 * n);
            a31.intoArray(y, off + 3 * n + L);
        } else {
            a00.intoArray(tmp, 0);
            a01.intoArray(tmp, L);
            a10.intoArray(tmp, NB);
            a11.intoArray(tmp, NB + L);
            a20.intoArray(tmp, 2 * NB);
            a21.intoArray(tmp, 2 * NB + L);
            a30.intoArray(tmp, 3 * NB);
            a31.intoArray(tmp, 3 * NB + L);
            for (int i = 0; i < 4; i++) System.arraycopy(tmp, i * NB, y, (m + i) * n + n0, nb);
        }
    }

    private void tile1(float[] x, int m, float[] wt, float[] y, int n0, int nb, float[] tmp) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int k = this.k;
        int x0 = m * k;
        for (int kk = 0; kk < k; kk++) {
            FloatVector v = FloatVector.broadcast(F, x[x0 + kk]);
            a0 = FloatVector.fromArray(F, wt, kk * NB).fma(v, a0);
            a1 = FloatVector.fromArray(F, wt, kk * NB + L).fma(v, a1);
        }
        a0.intoArray(tmp, 0);
        a1.intoArray(tmp, L);
        System.arraycopy(tmp, 0, y, m * n + n0, nb);
    }

    @Override public String toString() {
        return getClass().getSimpleName() + "(" + name + " " + dtype + " [" + n + "][" + k + "])";
    }

    static void checkBytes(String name, String what, MemorySegment seg, long expected) {
        if (seg.byteSize() != expected) {
            throw new IllegalArgumentException(name + ": " + what + " has " + seg.byteSize() + " bytes, expected " + expected);
        }
    }
}
