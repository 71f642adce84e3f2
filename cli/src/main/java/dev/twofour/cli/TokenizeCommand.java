package dev.twofour.cli;

import dev.twofour.model.tokenizer.Tokenizer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.StringJoiner;
import java.util.concurrent.Callable;

/**
 * {@code twofour tokenize --model DIR [--json] [--bos] TEXT}: the token ids of TEXT, space-separated (with --json,
 * one line holding a JSON array). Special-token text in TEXT stays plain text unless --parse-special.
 */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = {"Print the token ids of TEXT with the model's tokenizer (tokenizer.json): space-separated, "
                + "or one JSON array with --json. No BOS unless --bos."})
final class TokenizeCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "DIR",
            description = "Hugging Face model directory with tokenizer.json. Default: the embedded models/tiny-llama-8m.")
    Path model;

    @Option(names = "--json", description = "Print one line: a JSON array of the ids.")
    boolean json;

    @Option(names = "--bos", description = "Add what the tokenizer adds to a sequence (the BOS token for Llama models).")
    boolean bos;

    @Option(names = "--parse-special",
            description = "Turn special-token text such as <|eot_id|> into the special token (default: keep it as text).")
    boolean parseSpecial;

    @Parameters(index = "0", paramLabel = "TEXT", description = "The text to tokenize (quote it).")
    String text;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public Integer call() {
        Path dir = model != null ? model : ConvertCommand.defaultModel();
        if (!Files.isDirectory(dir)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--model " + dir
                    + ": no such directory (give a Hugging Face model folder with tokenizer.json)");
        }
        Tokenizer tokenizer = Tokenizer.load(dir);
        int[] ids = tokenizer.encode(text, bos, parseSpecial);
        PrintWriter out = spec.commandLine().getOut();
        StringJoiner line = json ? new StringJoiner(",", "[", "]") : new StringJoiner(" ");
        for (int id : ids) line.add(Integer.toString(id));
        out.println(line);
        out.flush();
        return Main.EXIT_OK;
    }
}
