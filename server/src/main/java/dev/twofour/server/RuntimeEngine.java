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
            @Override public String push(int tokenId) { return d.push(tokenId); }
            @Override public String flush() { return d.flush(); }
        };
    }

    @Override public String tokenText(int tokenId) {
        if (tokenId >= tokenizer.vocabSize()) return "";
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
