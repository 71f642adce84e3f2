package dev.twofour.cli;

import dev.twofour.model.tokenizer.Tokenizer;
import dev.twofour.runtime.Backend;
import dev.twofour.runtime.Perplexity;
import dev.twofour.runtime.Transformer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code twofour eval ...}: model evaluations. */
@Command(name = "eval", mixinStandardHelpOptions = true, description = "Evaluate a model.",
        subcommands = {EvalCommand.Ppl.class})
final class EvalCommand implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing evaluation (try 'twofour eval ppl --help')");
    }

    /** {@code twofour eval ppl --text FILE [--ctx N]}. */
    @Command(name = "ppl", mixinStandardHelpOptions = true,
            description = {"Perplexity on a text file: documents separated by blank lines, each <bos> text <eos>, "
                    + "non-overlapping windows of --ctx predicted tokens (the protocol of shared/DATA.md). "
                    + "Progress goes to stderr; the last line on stdout is 'ppl <value>'."})
    static final class Ppl implements Callable<Integer> {
        @CommandLine.Mixin GenerateCommand.RuntimeOptions runtime;

        @Option(names = "--text", paramLabel = "FILE", required = true, description = "UTF-8 text file.")
        Path text;

        @Option(names = "--ctx", paramLabel = "N", defaultValue = "256", description = "Tokens predicted per window. Default: ${DEFAULT-VALUE}.")
        int ctx;

        @Option(names = "--windows-per-step", paramLabel = "W", defaultValue = "4", description = "Windows per forward step. Default: ${DEFAULT-VALUE}.")
        int windowsPerStep;

        @CommandLine.Spec CommandLine.Model.CommandSpec spec;

        @Override public Integer call() throws Exception {
            if (ctx < 1) throw new CommandLine.ParameterException(spec.commandLine(), "--ctx must be >= 1, got " + ctx);
            if (windowsPerStep < 1) throw new CommandLine.ParameterException(spec.commandLine(), "--windows-per-step must be >= 1");
            if (!Files.isRegularFile(text)) throw new NoSuchFileException(text.toString(), null, "no such text file (--text)");
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            String content = Files.readString(text);
            try (Backend backend = runtime.openBackend(); Transformer model = runtime.load(backend)) {
                Tokenizer tokenizer = Tokenizer.load(runtime.modelDir());
                int[] ids = Perplexity.tokenize(tokenizer, content);
                err.printf(Locale.ROOT, "eval ppl: %s, %d tokens, ctx %d; %s; %s%n", text, ids.length, ctx, backend.description(),
                        GenerateCommand.RuntimeOptions.sparsityLine(model));
                err.flush();
                long start = System.nanoTime();
                long[] lastPrint = {start};
                Perplexity.Result r = Perplexity.evaluate(model, ids, ctx, windowsPerStep, (done, total, tokens) -> {
                    long now = System.nanoTime();
                    if (now - lastPrint[0] > 2_000_000_000L || done == total) {
                        lastPrint[0] = now;
                        double s = (now - start) / 1e9;
                        err.printf(Locale.ROOT, "  %d/%d windows, %d tokens, %.0f tok/s%n", done, total, tokens, tokens / s);
                        err.flush();
                    }
                });
                err.printf(Locale.ROOT, "%d predicted tokens in %.1f s%n", r.predictedTokens(), r.seconds());
                err.flush();
                out.printf(Locale.ROOT, "ppl %.4f%n", r.perplexity());
                out.flush();
            }
            return Main.EXIT_OK;
        }
    }
}
