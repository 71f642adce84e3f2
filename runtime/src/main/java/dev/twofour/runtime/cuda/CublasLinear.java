package dev.twofour.runtime.cuda;

import dev.twofour.cuda.Cublas;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;

/** Dense {@code W [out][in]} through cuBLAS GemmEx with fp32 accumulation; output in {@code outType}. */
final class CublasLinear implements CudaLinear {
    private final Cublas cublas;
    private final DeviceBuffer weight;
    private final boolean ownsWeight;
    private final CudaDtype dtype, outType;
    private final int out, in;

    CublasLinear(Cublas cublas, DeviceBuffer weight, boolean ownsWeight, CudaDtype dtype, CudaDtype outType, int out, int in) {
        this.cublas = cublas;
        this.weight = weight;
        this.ownsWeight = ownsWeight;
        this.dtype = dtype;
        this.outType = outType;
        this.out = out;
        this.in = in;
    }

    @Override public int outFeatures() { return out; }

    @Override public int inFeatures() { return in; }

    @Override public long weightBytes() { return (long) out * in * dtype.byteSize(); }

    @Override public void forward(CudaStream stream, DeviceBuffer x, DeviceBuffer y, int rows) {
        cublas.linear(x.address(), weight.address(), y.address(), rows, out, in, dtype, outType);
    }

    @Override public void close() {
        if (ownsWeight) weight.close();
    }
}
