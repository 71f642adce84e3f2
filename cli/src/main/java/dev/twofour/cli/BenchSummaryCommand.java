package dev.twofour.cli;

import dev.twofour.bench.ResultsSummary;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code twofour bench summary DIR}: the README's headline tables from saved results. The work is in dev.twofour.bench.ResultsSummary. */
@Command(name = "summary", mixinStandardHelpOptions = true,
        description = {"Headline tables (decode and prefill dense vs 2:4, the 70B memory plan, the GEMM speedup range) from a folder",
                "of saved results, one sub-folder per benchmark (decode.json, prefill.json, gemm.json). Runs nothing."})
final class BenchSummaryCommand implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR", description = "Folder of results (e.g. docs/results/h100).")
    Path dir;

    @Option(names = "--out", paramLabel = "FILE", description = "Also write the Markdown here.")
    Path out;

    @Override public Integer call() throws Exception {
        if (!Files.isDirectory(dir)) throw new CommandLine.ParameterException(spec.commandLine(), "no such folder: " + dir);
        String md = ResultsSummary.markdown(dir);
        System.out.print(md);
        if (out != null) {
            if (out.toAbsolutePath().getParent() != null) Files.createDirectories(out.toAbsolutePath().getParent());
            Files.writeString(out, md);
            System.err.println("wrote " + out);
        }
        return Main.EXIT_OK;
    }
}
