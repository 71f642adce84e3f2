package dev.twofour.cli;

import dev.twofour.cuda.BackendChoice;
import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.tokenizer.StreamingDecoder;
import dev.twofour.model.tokenizer.Tokenizer;
import dev.twofour.runtime.Backend;
import dev.twofour.runtime.Backends;
import dev.twofour.runtime.Generator;
import dev.twofour.runtime.SamplingParams;
import dev.twofour.runtime.Transformer;
import dev.twofour.runtime.cuda.CudaGeneration;
import dev.twofour.runtime.cuda.CudaModel;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code twofour generate}: prompt in, generated text streamed to stdout, statistics to stderr. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate a continuation of a prompt. Only the generated text goes to stdout (streamed); "
                + "statistics (TTFT, tokens/s) go to stderr.")
final class GenerateCommand implements Callable<Integer> {
    @CommandLine.Mixin RuntimeOptions runtime;
    @CommandLine.Mixin SamplingOptions sampling;

    @Option(names = "--prompt", paramLabel = "TEXT", required = true, description = "The prompt (BOS is added).")
    String prompt;

    @Option(names = "--no-stats", description = "Do not print the statistics line on stderr.")
    boolean noStats;

    @Option(names = "--preset", paramLabel = "NAME",
            description = "Instead of --model: a synthetic model of this shape (llama2-7b, llama2-13b, llama2-70b, llama3-8b, "
                    + "mistral-7b) with seeded random weights generated on the GPU, for speed; the text is meaningless. "
                    + "Needs the CUDA backend; prompts use the embedded model's tokenizer.")
    String preset;

    @Option(names = "--sparse", description = "With --preset: 2:4-packed synthetic weights (default: dense).")
    boolean sparse;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public Integer call() throws Exception {
        SamplingParams params;
        try {
            params = sampling.toParams();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (sparse && preset == null) throw new CommandLine.ParameterException(spec.commandLine(), "--sparse goes with --preset");
        if (preset != null) {
            if (runtime.model != null) throw new CommandLine.ParameterException(spec.commandLine(), "give --model or --preset, not both");
            return generatePreset(params, out, err);
        }
        try (Backend backend = runtime.openBackend(); Transformer model = runtime.load(backend)) {
            Tokenizer tokenizer = Tokenizer.load(runtime.modelDir());
            Generator gen = new Generator(model, tokenizer);
            Generator.Result r = gen.generate(prompt, params, e -> {
                out.print(e.text());
                out.flush();
            });
            out.println();
            out.flush();
            if (!noStats) {
                err.println(r.statsLine() + "; " + backend.description());
                err.flush();
            }
        }
        return Main.EXIT_OK;
    }

    /** --preset: CudaModel's fast path (graph-replayed decode, GPU sampling) on synthetic weights. */
    private int generatePreset(SamplingParams params, PrintWriter out, PrintWriter err) throws Exception {
        ModelConfig config;
        try {
            config = ModelConfig.preset(preset);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        if (runtime.backend.requested() == BackendChoice.CPU) {
            throw new IllegalArgumentException("--preset needs the CUDA backend (its weights are generated on the GPU); "
                    + "use --model DIR for the CPU");
        }
        if (!Cuda.isAvailable()) {
            throw new IllegalArgumentException("--preset needs the CUDA backend, and there is no usable GPU here ("
                    + Cuda.unavailableReason() + "); use --model DIR");
        }
        Tokenizer tokenizer = Tokenizer.load(runtime.modelDir());
        int[] ids = tokenizer.encode(prompt, true);
        // random weights have no meaningful end-of-sequence id: only --max-tokens ends them
        SamplingParams p = params.stopTokenIds() == null ? params.withStopTokenIds(List.of()) : params;
        CudaModel.Options options = new CudaModel.Options(1, ids.length + p.maxTokens(), 512, false, true);
        try (CudaContext ctx = CudaContext.primary(0);
             CudaModel model = CudaModel.synthetic(config, CudaDtype.F16, sparse, 1234, options, ctx)) {
            StreamingDecoder text = tokenizer.newStreamingDecoder();
            CudaGeneration.Stats stats = CudaGeneration.generate(model, ids, p, id -> {
                // random weights pick ids past the embedded tokenizer's vocabulary too
                out.print(id < tokenizer.vocabSize() ? text.push(id) : text.flush() + "<" + id + ">");
                out.flush();
            });
            out.println(text.flush());
            out.flush();
            if (!noStats) {
                err.println(stats.line() + "; " + preset + (sparse ? " 2:4" : " dense") + " fp16 (synthetic) on "
                        + ctx.device().name());
                err.flush();
            }
        }
        return Main.EXIT_OK;
    }

    static final class SamplingOptions {
        @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "256", description = "At most N new tokens. Default: ${DEFAULT-VALUE}.")
        int maxTokens;

        @Option(names = "--temperature", paramLabel = "T", defaultValue = "0", description = "0 = greedy (default); higher = more random.")
        float temperature;

        @Option(names = "--top-k", paramLabel = "K", defaultValue = "0", description = "Sample among the K most likely tokens (0 = off).")
        int topK;

        @Option(names = "--top-p", paramLabel = "P", defaultValue = "1", description = "Nucleus sampling: the smallest set reaching probability P (1 = off).")
        float topP;

        @Option(names = "--min-p", paramLabel = "P", defaultValue = "0", description = "Drop tokens below P x the top token's probability (0 = off).")
        float minP;

        @Option(names = "--repetition-penalty", paramLabel = "R", defaultValue = "1", description = "Penalise tokens of the prompt and output (1 = off, >1 = fewer repeats).")
        float repetitionPenalty;

        @Option(names = "--frequency-penalty", paramLabel = "F", defaultValue = "0", description = "OpenAI frequency penalty in [-2, 2] (0 = off).")
        float frequencyPenalty;

        @Option(names = "--presence-penalty", paramLabel = "F", defaultValue = "0", description = "OpenAI presence penalty in [-2, 2] (0 = off).")
        float presencePenalty;

        @Option(names = "--seed", paramLabel = "S", description = "Random seed: the same seed gives the same output.")
        Long seed;

        @Option(names = "--stop", paramLabel = "STR", description = "Stop when the output contains STR (not printed); repeatable.")
        List<String> stop = new ArrayList<>();

        /** @throws IllegalArgumentException with the flag's problem (a usage error for the caller). */
        SamplingParams toParams() {
            return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty,
                    seed, maxTokens, stop, null, false);
        }
    }

    static final class RuntimeOptions {
        @Option(names = "--model", paramLabel = "DIR",
                description = "Hugging Face model directory (config.json, safetensors, tokenizer). Default: the embedded models/tiny-llama-8m.")
        Path model;

        @CommandLine.Mixin BackendOption backend;

        @Option(names = "--dense", description = "Run every linear layer dense, even those whose weights are 2:4.")
        boolean dense;

        Path modelDir() {
            Path dir = model != null ? model : ConvertCommand.defaultModel();
            if (!Files.isDirectory(dir)) {
                throw new IllegalArgumentException("model directory " + dir + " does not exist; pass --model DIR"
                        + (model == null ? " (the embedded model is looked up under the twofour.home system property)" : ""));
            }
            return dir;
        }

        Backend openBackend() {
            String name = switch (backend.requested()) {
                case CPU -> "cpu";
                case CUDA -> "cuda";
                case AUTO -> "auto";
            };
            return Backends.open(name, System.err::println);
        }

        Transformer load(Backend b) throws IOException {
            return Transformer.load(modelDir(), b, new Transformer.Options(dense));
        }
    }
}
