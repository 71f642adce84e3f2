package dev.twofour.runtime;

import dev.twofour.model.tokenizer.StreamingDecoder;
import dev.twofour.model.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Prompt → streamed tokens and text for one request at a time: chunked prefill ({@link #DEFAULT_PREFILL_CHUNK}
 * tokens per step), then one decode step per token, sampling with a per-request {@link Sampler}.
 *
 * <p>Streaming: the listener gets one {@link Event} per generated token with the text it completes (possibly
 * empty: a token may end in the middle of a UTF-8 character, or its text may be held back while it could be
 * the start of a stop string). Text held back when generation ends on a stop id is sent in a last event with
 * {@code tokenId == -1}. Stop ids and stop strings are never emitted. Special tokens are not rendered as text.
 */
public final class Generator {
    public static final int DEFAULT_PREFILL_CHUNK = 256;

    /** Why generation ended (OpenAI's finish_reason). */
    public enum FinishReason {
        STOP, LENGTH;

        public String openAiName() { return this == STOP ? "stop" : "length"; }
    }

    /**
     * One streamed piece: {@code tokenId} (-1 for a final text-only flush), the text it adds, and its
     * log-probability (NaN unless requested).
     */
    public record Event(int tokenId, String text, float logprob) {}

    @FunctionalInterface
    public interface Listener {
        void onEvent(Event event);
    }

    /**
     * @param text            all emitted text
     * @param tokens          generated token ids (stop id excluded)
     * @param logprobs        per generated token (NaN unless requested)
     * @param promptTokens    prompt length in tokens
     * @param ttftMillis      time to first token: prefill and first sampling
     * @param decodeTokensPerSecond tokens after the first, per second of decode time (0 if fewer than 2)
     * @param prefillTokensPerSecond prompt tokens per second of prefill
     */
    public record Result(String text, int[] tokens, float[] logprobs, FinishReason finishReason, int promptTokens,
                         double ttftMillis, double decodeTokensPerSecond, double prefillTokensPerSecond, double totalMillis) {
        /** One line for logs / stderr. */
        public String statsLine() {
            return String.format(java.util.Locale.ROOT,
                    "%d prompt tokens, %d generated (%s); TTFT %.1f ms; prefill %.1f tok/s; decode %.1f tok/s; total %.1f ms",
                    promptTokens, tokens.length, finishReason.openAiName(), ttftMillis, prefillTokensPerSecond,
                    decodeTokensPerSecond, totalMillis);
        }
    }

    private final Transformer model;
    private final Tokenizer tokenizer;
    private final int prefillChunk;

    public Generator(Transformer model, Tokenizer tokenizer) {
        this(model, tokenizer, DEFAULT_PREFILL_CHUNK);
    }

    public Generator(Transformer model, Tokenizer tokenizer, int prefillChunk) {
        if (prefillChunk < 1) throw new IllegalArgumentException("prefill chunk must be >= 1, got " + prefillChunk);
        this.model = model;
        this.tokenizer = tokenizer;
        this.prefillChunk = prefillChunk;
    }

    public Transformer model() { return model; }

    public Tokenizer tokenizer() { return tokenizer; }

    /** Encodes {@code prompt} with BOS (as Hugging Face does with add_special_tokens) and generates. */
    public Result generate(String prompt, SamplingParams params, Listener listener) {
        return generate(tokenizer.encode(prompt, true), params, listener);
    }

    /** Generates from prompt token ids (used as given: add BOS yourself). {@code listener} may be null. */
    public Result generate(int[] promptIds, SamplingParams params, Listener listener) {
        long t0 = System.nanoTime();
        if (promptIds.length == 0) throw new IllegalArgumentException("the prompt is empty (no tokens)");
        int context = model.config().maxPositionEmbeddings();
        if (promptIds.length >= context) {
            throw new IllegalArgumentException("the prompt has " + promptIds.length + " tokens; the model's context is "
                    + context + ", which leaves no room to generate; shorten the prompt");
        }
        int maxNew = Math.min(params.maxTokens(), context - promptIds.length);
        Set<Integer> stopIds = new HashSet<>(params.stopTokenIds() != null ? params.stopTokenIds() : tokenizer.eosIds());
        Sampler sampler = new Sampler(params, model.vocabSize(), promptIds);
        StreamingDecoder decoder = tokenizer.newStreamingDecoder(true);
        List<String> stops = params.stop();
        int maxStopLen = 0;
        for (String s : stops) maxStopLen = Math.max(maxStopLen, s.length());

        StringBuilder emitted = new StringBuilder();
        StringBuilder pending = new StringBuilder();
        List<Integer> tokens = new ArrayList<>();
        List<Float> logprobs = new ArrayList<>();
        FinishReason finish = FinishReason.LENGTH;
        boolean stringStop = false;
        double ttft = 0, prefillMs = 0;
        long firstTokenAt = 0, lastTokenAt;

        try (KvCache cache = model.newKvCache(promptIds.length + maxNew)) {
            int seq = cache.newSequence();
            float[] logits = null;
            for (int from = 0; from < promptIds.length; from += prefillChunk) {
                int[] chunk = java.util.Arrays.copyOfRange(promptIds, from, Math.min(promptIds.length, from + prefillChunk));
                logits = model.forward(cache, List.of(new Transformer.SequenceInput(seq, chunk)), false);
            }
            prefillMs = (System.nanoTime() - t0) / 1e6;
            for (int i = 0; i < maxNew; i++) {
                int token = sampler.sample(logits, 0);
                if (i == 0) {
                    firstTokenAt = System.nanoTime();
                    ttft = (firstTokenAt - t0) / 1e6;
                }
                if (stopIds.contains(token)) {
                    finish = FinishReason.STOP;
                    break;
                }
                tokens.add(token);
                logprobs.add(sampler.lastLogprob());
                boolean lastOne = i == maxNew - 1;
                pending.append(decoder.push(token));
                if (lastOne) pending.append(decoder.flush());
                String out;
                int stopAt = earliestStop(pending, stops);
                if (stopAt >= 0) {
                    out = pending.substring(0, stopAt);
                    pending.setLength(0);
                    finish = FinishReason.STOP;
                    stringStop = true;
                } else {
                    int keep = lastOne ? 0 : heldBack(pending, stops, maxStopLen);
                    out = pending.substring(0, pending.length() - keep);
                    pending.delete(0, pending.length() - keep);
                }
                emitted.append(out);
                if (listener != null) listener.onEvent(new Event(token, out, sampler.lastLogprob()));
                if (finish == FinishReason.STOP) break;
                if (!lastOne) logits = model.forward(cache, List.of(new Transformer.SequenceInput(seq, new int[]{token})), false);
            }
            if (finish == FinishReason.STOP && !stringStop) {
                // Ended on a stop id: what the decoder and the stop-string hold-back still keep is real text,
                // up to any stop string it completes.
                pending.append(decoder.flush());
                int stopAt = earliestStop(pending, stops);
                String rest = stopAt >= 0 ? pending.substring(0, stopAt) : pending.toString();
                if (!rest.isEmpty()) {
                    emitted.append(rest);
                    if (listener != null) listener.onEvent(new Event(-1, rest, Float.NaN));
                }
            }
        }
        lastTokenAt = System.nanoTime();
        double totalMs = (lastTokenAt - t0) / 1e6;
        int n = tokens.size();
        double decodeSeconds = firstTokenAt == 0 ? 0 : (lastTokenAt - firstTokenAt) / 1e9;
        double decodeTps = n > 1 && decodeSeconds > 0 ? (n - 1) / decodeSeconds : 0;
        double prefillTps = prefillMs > 0 ? promptIds.length / (prefillMs / 1e3) : 0;
        int[] ids = new int[n];
        float[] lps = new float[n];
        for (int i = 0; i < n; i++) {
            ids[i] = tokens.get(i);
            lps[i] = logprobs.get(i);
        }
        return new Result(emitted.toString(), ids, lps, finish, promptIds.length, ttft, decodeTps, prefillTps, totalMs);
    }

    /** Index of the earliest stop string in {@code text}, or -1. */
    static int earliestStop(CharSequence text, List<String> stops) {
        int best = -1;
        String s = text.toString();
        for (String stop : stops) {
            int i = s.indexOf(stop);
            if (i >= 0 && (best < 0 || i < best)) best = i;
        }
        return best;
    }

    /** Length of the longest suffix of {@code text} that is a proper prefix of some stop string. */
    static int heldBack(CharSequence text, List<String> stops, int maxStopLen) {
        int len = text.length();
        for (int k = Math.min(len, maxStopLen - 1); k > 0; k--) {
            String suffix = text.subSequence(len - k, len).toString();
            for (String stop : stops) if (stop.startsWith(suffix)) return k;
        }
        return 0;
    }
}
