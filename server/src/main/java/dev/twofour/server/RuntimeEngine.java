package dev.twofour.server;

import dev.twofour.model.tokenizer.ChatMessage;
import dev.twofour.model.tokenizer.ChatTemplate;
import dev.twofour.model.tokenizer.StreamingDecoder;
import dev.twofour.model.tokenizer.Tokenizer;
import dev.twofour.runtime.SamplingParams;
import dev.twofour.runtime.batch.BatchModel;
import dev.twofour.runtime.batch.QueueFullException;
import dev.twofour.runtime.batch.Scheduler;
import dev.twofour.runtime.batch.SequenceRequest;
import dev.twofour.runtime.batch.TokenSink;

import dev.twofour.cuda.BackendChoice;
import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.model.DType;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.tokenizer.TokenizerException;
import dev.twofour.runtime.Transformer;
import dev.twofour.runtime.cpu.CpuBackend;
import dev.twofour.runtime.cuda.CudaModel;
import dev.twofour.runtime.cuda.SparseMode;
import dev.twofour.runtime.batch.CudaBatchModel;
import dev.twofour.runtime.batch.TransformerBatchModel;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The real engine: the runtime's continuous-batching {@link Scheduler} over a model, with the model's
 * tokenizer and chat template. Special tokens are left out of generated text; chat generations also
 * end at the template's end-of-turn token.
 */
public final class RuntimeEngine implements CompletionEngine {
    /** End-of-turn markers of common chat templates; whichever the tokenizer has also end chat replies. */
    private static final List<String> END_OF_TURN_TOKENS = List.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "</s>", "<|eom_id|>");

    private final String modelId;
    private final BatchModel model;
    private final Tokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private final String chatTemplateProblem;
    private final Scheduler scheduler;
    private final int[] eosIds;
    private final int[] chatStopIds;
    private final Supplier<long[]> gpuMemory;
    private final AutoCloseable resources;

    /**
     * @param chatTemplate null when the model has none; then {@code chatTemplateProblem} says why (chat requests get it as a 400)
     * @param gpuMemory    null on the CPU; else returns {used, total} bytes of the device
     * @param resources    closed after the scheduler (the model, the backend); may be null
     */
    public RuntimeEngine(String modelId, BatchModel model, Tokenizer tokenizer, ChatTemplate chatTemplate,
                         String chatTemplateProblem, Scheduler.Config config, Supplier<long[]> gpuMemory,
                         AutoCloseable resources) {
        this.modelId = modelId;
        this.model = model;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.chatTemplateProblem = chatTemplateProblem;
        this.gpuMemory = gpuMemory;
        this.resources = resources;
        this.eosIds = tokenizer.eosIds().stream().mapToInt(Integer::intValue).toArray();
        Set<Integer> chatStops = new LinkedHashSet<>(tokenizer.eosIds());
        for (String t : END_OF_TURN_TOKENS) {
            int id = tokenizer.id(t);
            if (id >= 0) chatStops.add(id);
        }
        this.chatStopIds = chatStops.stream().mapToInt(Integer::intValue).toArray();
        this.scheduler = new Scheduler(model, config);
    }

    /** Prompt tokens per prefill chunk on the CPU: small enough to keep decode steps of other sequences short. */
    static final int CPU_PREFILL_CHUNK = 128;
    /** Default context on CUDA when the model allows more: each sequence's slot holds this many positions. */
    static final int CUDA_DEFAULT_CONTEXT = 4096;

    /**
     * Loads the model described by {@code s} on the chosen backend and starts its scheduler.
     * Progress and the backend choice go to {@code log}.
     *
     * @param defaultTokenizerDir the tokenizer a preset uses when none is given (the embedded model's)
     */
    public static RuntimeEngine open(EngineSettings s, Path defaultTokenizerDir, PrintStream log) throws IOException {
        BackendChoice choice = BackendChoice.parse(s.backend());
        if (s.preset() != null && choice != BackendChoice.CPU) choice = BackendChoice.CUDA; // presets exist on the GPU only
        if (s.preset() != null && choice == BackendChoice.CPU) {
            throw new IllegalArgumentException("--preset " + s.preset() + " makes synthetic weights on the GPU and needs the CUDA"
                    + " backend; use --backend cuda (or auto) on a machine with a GPU, or --model DIR for the CPU");
        }
        if (s.preset() != null && !Cuda.isAvailable()) {
            throw new IllegalArgumentException("--preset " + s.preset() + " makes synthetic weights on the GPU and needs the CUDA"
                    + " backend, which is not usable here (" + Cuda.unavailableReason() + "); serve a model folder with --model DIR instead");
        }
        BackendChoice resolved = choice.resolve(log);
        return resolved == BackendChoice.CUDA ? openCuda(s, defaultTokenizerDir, log) : openCpu(s, log);
    }

    private static RuntimeEngine openCpu(EngineSettings s, PrintStream log) throws IOException {
        Path dir = s.modelDir();
        requireModelDir(dir);
        Tokenizer tokenizer = Tokenizer.load(dir);
        CpuBackend backend = new CpuBackend();
        Transformer transformer = null;
        TransformerBatchModel batch = null;
        try {
            transformer = Transformer.load(dir, backend, new Transformer.Options(s.sparse() == SparseMode.OFF));
            if (s.sparse() == SparseMode.ON) transformer.requireAllSparse24(dir);
            int context = s.maxContext() == 0 ? transformer.config().maxPositionEmbeddings()
                    : Math.min(s.maxContext(), transformer.config().maxPositionEmbeddings());
            int kvTokens = s.kvTokens() > 0 ? s.kvTokens() : (int) Math.min(1 << 24, Math.max(context, 256L * s.maxBatch()));
            batch = new TransformerBatchModel(transformer, kvTokens, context, CPU_PREFILL_CHUNK);
            log.println("twofour serve: " + backend.description() + "; KV cache " + batch.totalBlocks() + " blocks of "
                    + batch.blockSize() + " tokens");
            Transformer t = transformer;
            TransformerBatchModel b = batch;
            AutoCloseable resources = () -> {
                b.close();
                t.close();
                backend.close();
            };
            ChatTemplateOrWhy chat = chatTemplate(dir);
            return new RuntimeEngine(modelName(s), batch, tokenizer, chat.template, chat.why,
                    new Scheduler.Config(s.maxBatch(), s.maxQueue(), s.maxBatch() + 2 * CPU_PREFILL_CHUNK), null, resources);
        } catch (IOException | RuntimeException e) {
            if (batch != null) batch.close();
            if (transformer != null) transformer.close();
            backend.close();
            throw e;
        }
    }

    private static RuntimeEngine openCuda(EngineSettings s, Path defaultTokenizerDir, PrintStream log) throws IOException {
        CudaContext context = CudaContext.primary(0);
        context.setCurrent();
        ModelConfig config = s.preset() != null ? ModelConfig.preset(s.preset()) : ModelConfig.load(requireModelDir(s.modelDir()));
        Path tokenizerDir = s.preset() != null ? (s.tokenizerDir() != null ? s.tokenizerDir() : defaultTokenizerDir) : s.modelDir();
        Tokenizer tokenizer = Tokenizer.load(requireModelDir(tokenizerDir));
        int context0 = Math.min(config.maxPositionEmbeddings(), s.maxContext() > 0 ? s.maxContext() : CUDA_DEFAULT_CONTEXT);
        if (s.maxBatch() > 64) throw new IllegalArgumentException("--max-batch is at most 64 on the CUDA backend, got " + s.maxBatch());
        CudaModel.Options options = new CudaModel.Options(s.maxBatch(), context0, 512, false, true);
        CudaDtype dtype = config.dtype() == DType.BF16 ? CudaDtype.BF16 : CudaDtype.F16;
        CudaModel model = s.preset() != null
                ? CudaModel.synthetic(config, dtype, s.sparse24(), 1234, options, context)
                : CudaModel.load(s.modelDir(), dtype, options, context, s.sparse());
        CudaBatchModel batch = new CudaBatchModel(model, context);
        log.println("twofour serve: CUDA on " + context.device().name() + (s.preset() != null ? ", synthetic " + s.preset()
                + (s.sparse24() ? " (2:4)" : " (dense)") + " weights, tokenizer " + tokenizerDir : ", " + model.sparsitySummary())
                + "; " + s.maxBatch() + " KV slots of " + context0 + " tokens");
        ChatTemplateOrWhy chat = s.preset() != null ? new ChatTemplateOrWhy(null, "synthetic weights have no chat template")
                : chatTemplate(s.modelDir());
        return new RuntimeEngine(modelName(s), batch, tokenizer, chat.template, chat.why,
                new Scheduler.Config(s.maxBatch(), s.maxQueue(), Integer.MAX_VALUE), batch::memoryUsage, model);
    }

    private record ChatTemplateOrWhy(ChatTemplate template, String why) {}

    private static ChatTemplateOrWhy chatTemplate(Path dir) {
        try {
            return new ChatTemplateOrWhy(ChatTemplate.load(dir), null);
        } catch (TokenizerException e) {
            return new ChatTemplateOrWhy(null, e.getMessage());
        } catch (LinkageError e) {
            // The Jinja engine needs the java.desktop module (java.beans); a minimal jlinked runtime lacks it.
            // Completions still work; chat requests get a 400 that says why.
            return new ChatTemplateOrWhy(null, "the chat template engine cannot start on this Java runtime ("
                    + e + "); use a full JDK 25 (with the java.desktop module)");
        }
    }

    private static Path requireModelDir(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("model folder " + dir + " does not exist; give --model DIR with config.json,"
                    + " *.safetensors and tokenizer.json");
        }
        return dir;
    }

    private static String modelName(EngineSettings s) {
        if (s.modelName() != null && !s.modelName().isBlank()) return s.modelName();
        if (s.preset() != null) return s.preset() + (s.sparse24() ? "-2of4" : "");
        Path name = s.modelDir().toAbsolutePath().normalize().getFileName();
        return name == null ? "model" : name.toString();
    }

    @Override public String modelId() { return modelId; }

    @Override public int contextLength() { return model.maxContext(); }

    @Override public int vocabSize() { return model.vocabSize(); }

    @Override public int[] encodePrompt(String text) {
        return tokenizer.encode(text, true);
    }

    @Override public int[] encodeChat(List<ChatTurn> messages) {
        if (chatTemplate == null) {
            throw new IllegalArgumentException("the model '" + modelId + "' has no chat template (" + chatTemplateProblem
                    + "); use /v1/completions with a prompt you format yourself");
        }
        List<ChatMessage> msgs = new ArrayList<>(messages.size());
        for (ChatTurn m : messages) msgs.add(new ChatMessage(m.role(), m.content()));
        String text;
        try {
            text = chatTemplate.render(msgs, true);
        } catch (RuntimeException e) {
            // e.g. the template's raise_exception("roles must alternate ...")
            throw new IllegalArgumentException("the chat template rejected the messages: " + e.getMessage(), e);
        }
        // The template writes the special tokens (BOS, headers) itself, as Hugging Face's apply_chat_template does.
        return tokenizer.encode(text, false, true);
    }

    @Override public TextDecoder newDecoder() {
        StreamingDecoder d = tokenizer.newStreamingDecoder(true);
        return new TextDecoder() {
            @Override public String push(int tokenId) {
                // A model whose vocabulary is larger than its tokenizer's (synthetic presets served with another
                // tokenizer): show such ids as <id> rather than failing.
                if (tokenId >= tokenizer.vocabSize()) return d.flush() + "<" + tokenId + ">";
                return d.push(tokenId);
            }

            @Override public String flush() { return d.flush(); }
        };
    }

    @Override public String tokenText(int tokenId) {
        if (tokenId >= tokenizer.vocabSize()) return "<" + tokenId + ">";
        return tokenizer.decode(new int[]{tokenId}, false);
    }

    @Override public Generation submit(int[] promptIds, GenerationParams params, GenerationListener listener)
            throws EngineBusyException {
        return submit(promptIds, params, listener, params.chat() ? chatStopIds : eosIds);
    }

    private Generation submit(int[] promptIds, GenerationParams p, GenerationListener listener, int[] stopIds)
            throws EngineBusyException {
        SamplingParams sp = new SamplingParams(p.temperature(), p.topK(), p.topP(), p.minP(), p.repetitionPenalty(),
                p.frequencyPenalty(), p.presencePenalty(), p.seed(), p.maxTokens(), List.of(), null, false);
        SequenceRequest req = new SequenceRequest(promptIds, p.maxTokens(), p.ignoreEos() ? new int[0] : stopIds,
                p.topLogprobs(), sp);
        try {
            Scheduler.Handle h = scheduler.submit(req, new TokenSink() {
                @Override public void onToken(int token, Logprobs lp) {
                    listener.onToken(token, lp == null ? null : new TokenLogprobs(lp.logprob(), lp.topIds(), lp.topLogprobs()));
                }

                @Override public void onFinish(FinishReason reason) {
                    listener.onFinish(switch (reason) {
                        case STOP -> CompletionEngine.FinishReason.STOP;
                        case LENGTH -> CompletionEngine.FinishReason.LENGTH;
                        case CANCELLED -> CompletionEngine.FinishReason.ABORTED;
                    });
                }

                @Override public void onError(Throwable error) {
                    listener.onError(error.getClass().getSimpleName() + ": " + error.getMessage());
                }
            });
            return h::cancel;
        } catch (QueueFullException e) {
            throw new EngineBusyException("the server is at capacity: " + e.getMessage() + "; retry shortly", 1);
        }
    }

    @Override public EngineStats stats() {
        Scheduler.Stats s = scheduler.stats();
        long used = -1, total = -1;
        if (gpuMemory != null) {
            long[] m = gpuMemory.get();
            used = m[0];
            total = m[1];
        }
        return new EngineStats(s.waiting(), s.running(), s.kvBlocksUsed(), s.kvBlocksTotal(), used, total);
    }

    @Override public void close() {
        scheduler.close();
        if (resources != null) {
            try {
                resources.close();
            } catch (Exception e) {
                System.err.println("twofour serve: closing the model: " + e.getMessage());
            }
        }
    }
}
