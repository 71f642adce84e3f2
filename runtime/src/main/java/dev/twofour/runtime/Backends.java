package dev.twofour.runtime;

import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.kernels.Kernels;
import dev.twofour.runtime.cpu.CpuBackend;
import dev.twofour.runtime.cuda.CudaBackend;

import java.util.Locale;
import java.util.function.Consumer;

/** Chooses a {@link Backend} from a user's {@code --backend cpu|cuda|auto}. */
public final class Backends {
    private Backends() {}

    /**
     * Opens the named backend. {@code cuda} is the op-by-op {@link CudaBackend} on GPU 0 (fp16 activations);
     * {@code auto} picks it when a GPU, the CUDA libraries and the CUDA kernels are all there, else the CPU, and
     * tells {@code notice} (one line) why.
     * @throws IllegalArgumentException for an unknown name, or "cuda" when it is not usable here (the message says why)
     */
    public static Backend open(String name, Consumer<String> notice) {
        String n = name == null ? "auto" : name.toLowerCase(Locale.ROOT);
        return switch (n) {
            case "cpu" -> new CpuBackend();
            case "cuda" -> {
                String why = cudaUnavailableReason();
                if (why != null) throw new IllegalArgumentException("the CUDA backend cannot run here: " + why + "; use --backend cpu");
                yield openCuda();
            }
            case "auto" -> {
                String why = cudaUnavailableReason();
                if (why == null) yield openCuda();
                notice.accept("backend: cpu (" + why + ")");
                yield new CpuBackend();
            }
            default -> throw new IllegalArgumentException("unknown backend '" + name + "'; use cpu, cuda or auto");
        };
    }

    private static Backend openCuda() {
        return new CudaBackend(CudaContext.primary(0), CudaDtype.F16);
    }

    /** Null when the CUDA backend can run; otherwise one line saying what is missing. */
    static String cudaUnavailableReason() {
        if (!Cuda.isAvailable()) return "no GPU: " + Cuda.unavailableReason();
        if (!Kernels.available()) return Kernels.unavailableReason();
        return null;
    }
}
