package dev.twofour.cli;

import dev.twofour.cuda.BackendChoice;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * The {@code --backend cpu|cuda|auto} option, for commands to mix in:
 * {@code @CommandLine.Mixin BackendOption backend;} then {@code backend.resolve()} gives CPU or
 * CUDA (auto falls back to CPU with one line on stderr saying why; cuda without a usable GPU fails).
 */
public final class BackendOption {
    @Option(names = "--backend", paramLabel = "cpu|cuda|auto", defaultValue = "auto",
            converter = Converter.class,
            description = "Where to run: cpu, cuda, or auto (CUDA when a usable GPU and libraries are found, "
                    + "else CPU). Default: ${DEFAULT-VALUE}.")
    BackendChoice requested = BackendChoice.AUTO;

    /** What the user asked for (AUTO unless given). */
    public BackendChoice requested() { return requested; }

    /** CPU or CUDA; throws CudaException (exit 1) when cuda was asked for and is not usable. */
    public BackendChoice resolve() { return requested.resolve(System.err); }

    static final class Converter implements CommandLine.ITypeConverter<BackendChoice> {
        @Override public BackendChoice convert(String value) {
            try {
                return BackendChoice.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
