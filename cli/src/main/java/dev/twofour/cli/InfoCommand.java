package dev.twofour.cli;

import dev.twofour.cuda.CudaLibraries;
import dev.twofour.cuda.CudaReport;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code twofour info}: JVM, GPU and CUDA libraries, or why the CPU backend is used. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Show the JVM, the GPU and the CUDA libraries found (or why the CPU backend is used).")
final class InfoCommand implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--searched", description = "Also list every folder searched for the CUDA libraries.")
    boolean showSearched;

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.println("java: " + System.getProperty("java.vm.name") + " " + Runtime.version()
                + " (" + System.getProperty("java.home") + ")");

        CudaReport report = CudaReport.collect();
        if (report.available()) {
            for (CudaReport.Gpu g : report.gpus()) {
                out.printf(Locale.ROOT, "GPU %d: %s, compute capability %s, %.1f GiB, %d SMs, %s%n", g.ordinal(), g.name(),
                        g.computeCapability(), g.totalMemoryBytes() / (double) (1L << 30), g.multiprocessors(), g.uuid());
            }
            out.println("driver: CUDA " + report.driverVersion());
            out.println("backend: cuda (with --backend auto)");
        } else {
            out.println("no GPU: using the CPU backend (" + report.unavailableReason() + ")");
        }

        out.println("CUDA libraries:");
        for (CudaReport.Library lib : report.libraries()) {
            if (!lib.found()) {
                out.printf(Locale.ROOT, "  %-11s not found (%s)%n", lib.name(), lib.problem());
                continue;
            }
            String version = lib.version() != null ? lib.version() : "file " + lib.fileVersion();
            out.printf(Locale.ROOT, "  %-11s %-14s %s  [%s]%n", lib.name(), version, lib.path(), lib.source());
            if (lib.problem() != null) out.printf(Locale.ROOT, "  %-11s problem: %s%n", "", lib.problem());
        }
        boolean missing = report.libraries().stream().anyMatch(l -> !l.found());
        if (missing && !showSearched) {
            out.println("searched: " + String.join(", ", report.searched().stream().map(CudaLibraries.SearchedFolder::folder).toList())
                    + " (set TWOFOUR_CUDA_LIB_DIRS to add folders)");
        }
        if (showSearched) {
            out.println("searched:");
            for (CudaLibraries.SearchedFolder f : report.searched()) {
                out.println("  " + f.folder() + "  [" + f.source() + "]");
            }
        }
        out.flush();
        return Main.EXIT_OK;
    }
}
