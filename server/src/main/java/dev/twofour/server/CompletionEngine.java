package dev.twofour.server;

import java.util.List;

/**
 * What the HTTP layer needs from a model: tokenization, a chat template, and token generation
 * as a stream of events. The real implementation is {@link RuntimeEngine} (the runtime's
 * continuous-batching scheduler); tests also use a deterministic fake.
 * Implementations are thread-safe: every HTTP request calls them from its own virtual thread.
 */
public interface CompletionEngine extends AutoCloseable {

    /** The model id reported by /v1/models and required in the "model" field of requests. */
    String modelId();

    /** Maximum number of tokens (prompt + generated) a sequence may hold. */
    int contextLength();

    /** Number of token ids; prompts given as ids must stay below it. */
    int vocabSize();

    /** Token ids of a plain-text prompt, with the BOS token when the model wants one. */
    int[] encodePrompt(String text);

    /** Token ids of a conversation rendered by the model's chat template, ending with the assistant's turn opening. */
    int[] encodeChat(List<ChatTurn> messages);

    /** A fresh incremental detokenizer (never emits half a UTF-8 character). */
    TextDecoder newDecoder();

    /** The text of one token, for logprobs output. */
    String tokenText(int tokenId);

    /**
     * Queues a generation. Events arrive on {@code listener} from an engine thread, in order:
     * zero or more {@link GenerationListener#onToken}, then exactly one of {@code onFinish} / {@code onError}.
     *
     * @throws EngineBusyException when the waiting queue is full (the caller answers 429)
     */
    Generation submit(int[] promptIds, GenerationParams params, GenerationListener listener) throws EngineBusyException;

    /** A snapshot for /metrics. */
    EngineStats stats();

    @Override void close();

    /** One message of a chat request. */
    record ChatTurn(String role, String content) {}

    /** Incremental detokenizer. */
    interface TextDecoder {
        /** Text that became complete with this token (possibly empty). */
        String push(int tokenId);
        /** Whatever is still buffered (an incomplete UTF-8 tail is replaced). */
        String flush();
    }

    /** A queued or running generation. */
    interface Generation {
        /** Stops the generation and frees its sequence and cache at the next step; then {@code onFinish(ABORTED)}. Idempotent. */
        void cancel();
    }

    /** Receives the events of one generation; called from an engine thread, must not block. */
    interface GenerationListener {
        void onToken(int tokenId, TokenLogprobs logprobs);
        void onFinish(FinishReason reason);
        void onError(String message);
    }

    /** Why a generation ended. */
    enum FinishReason {
        /** An end-of-sequence token was sampled (the token itself is not reported). */
        STOP,
        /** max_tokens reached, or the context is full. */
        LENGTH,
        /** cancelled: the client went away, a stop string matched, or the server is shutting down. */
        ABORTED
    }

    /**
     * Log-probabilities (natural log, over the model's raw distribution) of the chosen token and,
     * when asked, of the most likely tokens at that position (best first).
     */
    record TokenLogprobs(float logprob, int[] topIds, float[] topLogprobs) {}

    /** Sizes of the engine's state, for /metrics. GPU memory values are -1 on the CPU. */
    record EngineStats(int queueDepth, int runningSequences, long kvBlocksUsed, long kvBlocksTotal,
                       long gpuMemoryUsedBytes, long gpuMemoryTotalBytes) {}
}
