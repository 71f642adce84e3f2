package dev.twofour.runtime.cpu;

import dev.twofour.model.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.twofour.runtime.cpu.Vec.F;
import static dev.twofour.runtime.cpu.Vec.L;

/**
 * A dense linear layer on the CPU: {@code W [n][k]} in fp16, bf16 or fp32, read in place (for a
 * checkpoint, straight from the memory-mapped file) and widened to fp32 in registers.
 */
public final class DenseLinear extends CpuLinear {
    private final MemorySegment data;
    private final int elemBytes;

    DenseLinear(String name, DType dtype, MemorySegment data, int n, int k) {
        super(name, dtype, n, k);
        this.elemBytes = dtype.byteSize();
        checkBytes(name, "weight", data, (long) n * k * elemBytes);
        this.data = data;
    }

    @Override public Layout layout() { return Layout.DENSE; }

    @Override public long weightBytes() { return data.byteSize(); }

    /** The weight bytes (row-major {@code [n][k]}). */
    MemorySegment data() { return data; }

    @Override void decodeRow(int row, float[] dst) {
        Vec.widen(kind, data, (long) row * k, k, dst, 0);
    }

    @Override void forwardSmall(float[] x, int M, float[] y, int r0, int r1) {
        if (kind == Vec.KIND_F32) smallF32(x, M, y, r0, r1);
        else small16(x, M, y, r0, r1, Vec.Widen16.of(kind));
    }

    // The two loops below are the same except for the weight load: one loop with a branch per load makes C2
    // box the vectors (see Vec.widen16).

    private void small16(float[] x, int M, float[] y, int r0, int r1, Vec.Widen16 c) {
        int kv = k - k % L;
        for (int r = r0; r < r1; r++) {
            long base = (long) r * k * 2;
            for (int m = 0; m < M; m += 2) {
                boolean two = m + 1 < M;
                int x0 = m * k, x1 = two ? x0 + k : x0;
                FloatVector a0 = FloatVector.zero(F), a1 = a0;
                for (int kk = 0; kk < kv; kk += L) {
                    FloatVector w = Vec.load16(data, base + (long) kk * 2, c);
                    a0 = w.fma(FloatVector.fromArray(F, x, x0 + kk), a0);
                    if (two) a1 = w.fma(FloatVector.fromArray(F, x, x1 + kk), a1);
                }
                finish(x, y, r, m, two, x0, x1, kv, a0.reduceLanes(VectorOperators.ADD), a1.reduceLanes(VectorOperators.ADD));
            }
        }
    }

    private void smallF32(float[] x, int M, float[] y, int r0, int r1) {
        int kv = k - k % L;
        for (int r = r0; r < r1; r++) {
            long base = (long) r * k * 4;
            for (int m = 0; m < M; m += 2) {
                boolean two = m + 1 < M;
                int x0 = m * k, x1 = two ? x0 + k : x0;
                FloatVector a0 = FloatVector.zero(F), a1 = a0;
                for (int kk = 0; kk < kv; kk += L) {
                    FloatVector w = Vec.load32(data, base + (long) kk * 4);
                    a0 = w.fma(FloatVector.fromArray(F, x, x0 + kk), a0);
                    if (two) a1 = w.fma(FloatVector.fromArray(F, x, x1 + kk), a1);
                }
                finish(x, y, r, m, two, x0, x1, kv, a0.reduceLanes(VectorOperators.ADD), a1.reduceLanes(VectorOperators.ADD));
            }
        }
    }

    /** Adds the scalar tail past the last whole vector, stores y. */
    private void finish(float[] x, float[] y, int r, int m, boolean two, int x0, int x1, int kv, float s0, float s1) {
        for (int kk = kv; kk < k; kk++) {
            float w = Vec.get(kind, data, (long) r * k + kk);
            s0 += w * x[x0 + kk];
            s1 += w * x[x1 + kk];
        }
        y[m * n + r] = s0;
        if (two) y[(m + 1) * n + r] = s1;
    }
}
