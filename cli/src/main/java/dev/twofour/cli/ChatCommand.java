package dev.twofour.cli;

import dev.twofour.model.tokenizer.ChatMessage;
import dev.twofour.model.tokenizer.ChatTemplate;
import dev.twofour.model.tokenizer.Tokenizer;
import dev.twofour.runtime.Backend;
import dev.twofour.runtime.Generator;
import dev.twofour.runtime.SamplingParams;
import dev.twofour.runtime.Transformer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code twofour chat}: an interactive conversation. Each stdin line is a user message; the reply streams to
 * stdout. The whole history goes through the model's chat template every turn. '/exit' or end of input ends.
 */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = "Chat with the model: each line you type is a user message; the reply streams back. "
                + "Uses the model's chat template and keeps the history. '/exit' or end of input (Ctrl-D) ends.")
final class ChatCommand implements Callable<Integer> {
    @CommandLine.Mixin GenerateCommand.RuntimeOptions runtime;
    @CommandLine.Mixin GenerateCommand.SamplingOptions sampling;

    @Option(names = "--system", paramLabel = "TEXT", description = "A system message to start the conversation with.")
    String system;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public Integer call() throws Exception {
        SamplingParams base;
        try {
            base = sampling.toParams();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        boolean interactive = System.console() != null;
        try (Backend backend = runtime.openBackend(); Transformer model = runtime.load(backend)) {
            Tokenizer tokenizer = Tokenizer.load(runtime.modelDir());
            ChatTemplate template = ChatTemplate.load(runtime.modelDir());
            // End of turn: the model's eos ids plus the chat end-of-turn token where the vocabulary has one.
            Set<Integer> stopIds = new LinkedHashSet<>(tokenizer.eosIds());
            for (String t : new String[]{"<|eot_id|>", "<|im_end|>", "<|end|>"}) {
                int id = tokenizer.id(t);
                if (id >= 0) stopIds.add(id);
            }
            SamplingParams params = base.withStopTokenIds(List.copyOf(stopIds));
            Generator gen = new Generator(model, tokenizer);
            List<ChatMessage> history = new ArrayList<>();
            if (system != null) history.add(ChatMessage.system(system));
            int context = model.config().maxPositionEmbeddings();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            while (true) {
                if (interactive) {
                    err.print("> ");
                    err.flush();
                }
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit")) break;
                if (line.isBlank()) continue;
                history.add(ChatMessage.user(line));
                int[] ids = encode(template, tokenizer, history);
                // Too long for the context: forget the oldest turns (a system message stays).
                while (ids.length + Math.min(params.maxTokens(), 64) > context && history.size() > 1 + (system != null ? 1 : 0)) {
                    history.remove(system != null ? 1 : 0);
                    ids = encode(template, tokenizer, history);
                }
                if (ids.length >= context) {
                    err.println("twofour: this message alone is " + ids.length + " tokens, over the model's context of " + context + "; send a shorter one");
                    history.removeLast();
                    continue;
                }
                Generator.Result r = gen.generate(ids, params, e -> {
                    out.print(e.text());
                    out.flush();
                });
                out.println();
                out.flush();
                history.add(ChatMessage.assistant(r.text()));
            }
        }
        return Main.EXIT_OK;
    }

    private static int[] encode(ChatTemplate template, Tokenizer tokenizer, List<ChatMessage> history) {
        // The template writes the special tokens (BOS, headers) as text: parse them, add no BOS of our own.
        return tokenizer.encode(template.render(history, true), false, true);
    }
}
