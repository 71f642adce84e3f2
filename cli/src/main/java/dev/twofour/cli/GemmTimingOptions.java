package dev.twofour.cli;

import picocli.CommandLine.Option;

/** How `bench gemm` and `tune` time one GEMM: warm-up, graph size, replays and the weight rotation. */
final class GemmTimingOptions {
    @Option(names = "--warmup", defaultValue = "10", description = "Warm-up launches. Default: ${DEFAULT-VALUE}.") int warmup;
    @Option(names = "--iters", defaultValue = "20", description = "Launches per timed graph. Default: ${DEFAULT-VALUE}.") int iters;
    @Option(names = "--reps", defaultValue = "15", description = "Timed graph replays (the median is reported). Default: ${DEFAULT-VALUE}.") int reps;

    @Option(names = "--rotate-mb", defaultValue = "200", paramLabel = "MB",
            description = "Weight copies to rotate among, in MB per method (more than the L2). Default: ${DEFAULT-VALUE}.")
    long rotateMb;

    /** Null when the values are usable, else what is wrong (a usage error). */
    String problem() {
        return warmup < 0 || iters < 1 || reps < 1 ? "--warmup >= 0, --iters >= 1 and --reps >= 1 are required" : null;
    }

    long rotateBytes() { return rotateMb << 20; }
}
