package dev.twofour.cli;

import dev.twofour.cuda.BackendChoice;
import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.kernels.Kernels;
import dev.twofour.kernels.transformer.TransformerKernels;
import dev.twofour.model.DType;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.WeightNames;
import dev.twofour.model.tokenizer.StreamingDecoder;
import dev.twofour.model.tokenizer.Tokenizer;
import dev.twofour.runtime.Backend;
import dev.twofour.runtime.Backends;
import dev.twofour.runtime.Generator;
import dev.twofour.runtime.LinearWeights;
import dev.twofour.runtime.SamplingParams;
import dev.twofour.runtime.Transformer;
import dev.twofour.runtime.cuda.CudaGeneration;
import dev.twofour.runtime.cuda.CudaModel;
import dev.twofour.runtime.cuda.SparseMode;
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

/**
 * {@code twofour generate}: prompt in, generated text streamed to stdout, statistics to stderr. On a GPU it runs
 * CudaModel's fast path (graph-replayed decode, sampling on the GPU; 2:4 layers per --sparse); with --stop strings,
 * which the text layer handles, the op-by-op CUDA backend; on the CPU the Transformer.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate a continuation of a prompt. Only the generated text goes to stdout (streamed); "
                + "statistics (TTFT, tokens/s, backend, 2:4 layers) go to stderr.")
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
        if (preset != null) {
            if (runtime.model != null) throw new CommandLine.ParameterException(spec.commandLine(), "give --model or --preset, not both");
            if (runtime.dense) throw new CommandLine.ParameterException(spec.commandLine(), "--dense goes with --model; presets are dense unless --sparse");
            return generatePreset(params, out, err);
        }
        SparseMode mode = runtime.sparseMode();
        if (fastPathApplies(params)) return generateFast(params, mode, out, err);
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
                err.println(r.statsLine() + "; " + backend.description() + "; " + RuntimeOptions.sparsityLine(model));
                err.flush();
            }
        }
        return Main.EXIT_OK;
    }

    /**
     * CudaModel's fast path: on a usable GPU (not --backend cpu) for a model it supports, unless stop strings (the
     * text layer's job, done by the Generator) or log-probabilities are asked for.
     */
    private boolean fastPathApplies(SamplingParams params) throws IOException {
        if (runtime.backend.requested() == BackendChoice.CPU || !params.stop().isEmpty() || params.logprobs()) return false;
        if (!Cuda.isAvailable() || !Kernels.available()) return false;  // auto: the CPU (Backends says why); cuda: its error
        ModelConfig c = ModelConfig.load(runtime.modelDir());
        return TransformerKernels.supportsHeadDim(c.headDim()) && c.groupSize() <= TransformerKernels.MAX_GROUP;
    }

    /** A checkpoint on CudaModel's fast path, its 2:4 layers per {@code mode}. */
    private int generateFast(SamplingParams params, SparseMode mode, PrintWriter out, PrintWriter err) throws Exception {
        Path dir = runtime.modelDir();
        ModelConfig config = ModelConfig.load(dir);
        Tokenizer tokenizer = Tokenizer.load(dir);
        int[] ids = tokenizer.encode(prompt, true);
        int context = config.maxPositionEmbeddings();
        if (ids.length >= context) {
            throw new IllegalArgumentException("the prompt has " + ids.length + " tokens; the model's context is " + context
                    + ", which leaves no room to generate; shorten the prompt");
        }
        SamplingParams p = params.withMaxTokens(Math.min(params.maxTokens(), context - ids.length));
        if (p.stopTokenIds() == null) p = p.withStopTokenIds(tokenizer.eosIds());
        List<Integer> stops = p.stopTokenIds();
        CudaDtype dtype = config.dtype() == DType.BF16 ? CudaDtype.BF16 : CudaDtype.F16;
        CudaModel.Options options = new CudaModel.Options(1, ids.length + p.maxTokens(), 512, false, true);
        try (CudaContext ctx = CudaContext.primary(0);
             CudaModel model = CudaModel.load(dir, dtype, options, ctx, mode)) {
            StreamingDecoder text = tokenizer.newStreamingDecoder(true);
            CudaGeneration.Stats stats = CudaGeneration.generate(model, ids, p, id -> {
                if (stops.contains(id)) return;  // a stop id ends the sequence and is not text
                out.print(text.push(id));
                out.flush();
            });
            out.println(text.flush());
            out.flush();
            if (!noStats) {
                err.println(stats.line() + "; CUDA fast path on " + ctx.device().name() + ", " + (dtype == CudaDtype.BF16 ? "bf16" : "fp16")
                        + "; " + model.sparsitySummary());
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
        boolean sparse = runtime.sparse.mode() == SparseMode.ON;
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

        @CommandLine.Mixin SparseOption sparse;

        @Option(names = "--dense", description = "Run every linear layer dense, even those whose weights are 2:4 (= --sparse off).")
        boolean dense;

        @CommandLine.Spec(CommandLine.Spec.Target.MIXEE) CommandLine.Model.CommandSpec mixee;

        /** --sparse, with --dense as another way to say off. */
        SparseMode sparseMode() {
            if (dense && sparse.mode() == SparseMode.ON) {
                throw new CommandLine.ParameterException(mixee.commandLine(), "--dense and --sparse on contradict each other; give one");
            }
            return dense ? SparseMode.OFF : sparse.mode();
        }

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

        /**
         * The model on {@code b}: 2:4 weights run packed unless --sparse off; --sparse on fails (and closes the model)
         * when some linear weight is not 2:4.
         */
        Transformer load(Backend b) throws IOException {
            SparseMode mode = sparseMode();
            Path dir = modelDir();
            Transformer t = Transformer.load(dir, b, new Transformer.Options(mode == SparseMode.OFF));
            if (mode == SparseMode.ON) {
                try {
                    t.requireAllSparse24(dir);
                } catch (IllegalArgumentException e) {
                    t.close();
                    throw e;
                }
            }
            return t;
        }

        /** "2:4: 56 of 56 linear weights" or "dense". */
        static String sparsityLine(Transformer t) {
            int n = 0, total = t.numLayers() * WeightNames.Linear.values().length;
            for (int l = 0; l < t.numLayers(); l++) {
                for (WeightNames.Linear w : WeightNames.Linear.values()) if (t.linearLayout(l, w) == LinearWeights.Layout.SPARSE24) n++;
            }
            return n == 0 ? "dense" : "2:4: " + n + " of " + total + " linear weights";
        }
    }
}
