package dev.twofour.runtime.cpu;

import dev.twofour.runtime.Tensor;

/** A CPU tensor: fp32 on the Java heap, row-major. */
final class CpuTensor implements Tensor {
    private final int rows, cols;
    private float[] data;

    CpuTensor(int rows, int cols) {
        if (rows <= 0 || cols <= 0) throw new IllegalArgumentException("tensor shape must be positive, got [" + rows + "][" + cols + "]");
        this.rows = rows;
        this.cols = cols;
        this.data = new float[Math.multiplyExact(rows, cols)];
    }

    @Override public int rows() { return rows; }

    @Override public int cols() { return cols; }

    float[] data() {
        float[] d = data;
        if (d == null) throw new IllegalStateException("tensor [" + rows + "][" + cols + "] is closed");
        return d;
    }

    @Override public void close() { data = null; }
}
