package dev.twofour.runtime;

import dev.twofour.runtime.cpu.CpuBackend;

import java.util.Locale;
import java.util.function.Consumer;

/** Chooses a {@link Backend} from a user's {@code --backend cpu|cuda|auto}. */
public final class Backends {
    private Backends() {}

    /**
     * Opens the named backend. {@code auto} picks CUDA when this build has a CUDA backend and a GPU, else the
     * CPU, and tells {@code notice} (one line) why.
     * @throws IllegalArgumentException for an unknown name, or "cuda" when it is not available
     */
    public static Backend open(String name, Consumer<String> notice) {
        String n = name == null ? "auto" : name.toLowerCase(Locale.ROOT);
        return switch (n) {
            case "cpu" -> new CpuBackend();
            case "cuda" -> throw new IllegalArgumentException("the CUDA backend is not available in this build; use --backend cpu");
            case "auto" -> {
                notice.accept("backend: cpu (the CUDA backend is not available in this build)");
                yield new CpuBackend();
            }
            default -> throw new IllegalArgumentException("unknown backend '" + name + "'; use cpu, cuda or auto");
        };
    }
}
