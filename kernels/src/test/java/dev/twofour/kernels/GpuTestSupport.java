package dev.twofour.kernels;

import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The set-up the kernels' GPU tests share. */
public final class GpuTestSupport {
    private GpuTestSupport() {}

    /** Our kernels on GPU 0's primary context; skips the calling tests (an assumption) without a GPU or without the fatbin. */
    public static Kernels kernelsOrSkip() {
        assumeTrue(Cuda.isAvailable() && Cuda.deviceCount() > 0, "no GPU: " + Cuda.unavailableReason());
        assumeTrue(Kernels.available(), Kernels.unavailableReason());
        return Kernels.load(CudaContext.primary(0));
    }
}
