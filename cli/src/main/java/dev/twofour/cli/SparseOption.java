package dev.twofour.cli;

import dev.twofour.runtime.cuda.SparseMode;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * The {@code --sparse[=auto|on|off]} option, for commands to mix in: whether a model's 2:4 linear layers run
 * through the 2:4 kernels. auto (the default): every layer whose weights are 2:4 (a pruned or converted checkpoint)
 * runs 2:4, the others dense; on: every layer must be 2:4 (an error names the first one that is not);
 * off: everything dense. A bare {@code --sparse} means on (so {@code --preset NAME --sparse} keeps meaning 2:4
 * synthetic weights; presets are dense unless on).
 */
public final class SparseOption {
    @Option(names = "--sparse", arity = "0..1", fallbackValue = "on", defaultValue = "auto", paramLabel = "auto|on|off",
            converter = Converter.class,
            description = "Run 2:4 linear layers through the 2:4 kernels: auto (every layer whose weights are 2:4, e.g. from "
                    + "twofour prune or convert; the others dense), on (every layer must be 2:4), off (all dense). "
                    + "A bare --sparse means on; with --preset: 2:4 synthetic weights. Default: ${DEFAULT-VALUE}.")
    SparseMode mode = SparseMode.AUTO;

    /** What the user asked for (AUTO unless given). */
    public SparseMode mode() { return mode; }

    static final class Converter implements CommandLine.ITypeConverter<SparseMode> {
        @Override public SparseMode convert(String value) {
            try {
                return SparseMode.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
