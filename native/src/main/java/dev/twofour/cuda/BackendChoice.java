package dev.twofour.cuda;

import java.io.PrintStream;
import java.util.Locale;

/** What {@code --backend} asks for. {@link #resolve} turns AUTO into CPU or CUDA. */
public enum BackendChoice {
    CPU, CUDA, AUTO;

    /** "cpu", "cuda" or "auto" (any case). */
    public static BackendChoice parse(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "cpu" -> CPU;
            case "cuda", "gpu" -> CUDA;
            case "auto" -> AUTO;
            default -> throw new IllegalArgumentException("unknown backend '" + s + "': use cpu, cuda or auto");
        };
    }

    /**
     * CPU or CUDA. AUTO becomes CUDA when {@link Cuda#isAvailable()}, else CPU, and then one line
     * saying why goes to {@code err}. CUDA when CUDA is not usable throws CudaException with the reason.
     */
    public BackendChoice resolve(PrintStream err) {
        return switch (this) {
            case CPU -> CPU;
            case CUDA -> {
                Cuda.requireAvailable();
                yield CUDA;
            }
            case AUTO -> {
                if (Cuda.isAvailable()) yield CUDA;
                if (err != null) err.println("twofour: no GPU: using the CPU backend (" + Cuda.unavailableReason() + ")");
                yield CPU;
            }
        };
    }
}
