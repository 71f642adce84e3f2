package dev.twofour.server;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;

/**
 * A deterministic stand-in for the model, for protocol tests: byte-level tokens (id = byte + 2,
 * 0 = BOS, 1 = EOS), output words drawn from a seeded generator, a step thread with a bounded
 * batch and queue like the real scheduler, and a configurable delay per step.
 *
 * A prompt containing "<eos:N>" ends with EOS after N tokens.
 */
final class FakeEngine implements CompletionEngine {
    static final String[] WORDS = {"alpha ", "beta ", "gamma ", "naïve ", "😀 ", "delta\n", "épsilon ", "zeta "};
    static final int BLOCK = 16;

    private final int maxBatch;
    private final int maxQueue;
    private final long stepMillis;
    private final int context;
    private final ArrayDeque<Seq> waiting = new ArrayDeque<>();
    private final List<Seq> running = new ArrayList<>();
    private final Thread stepper;
    private volatile boolean closed;

    private final class Seq implements Generation {
        final int promptLength;
        final GenerationParams params;
        final GenerationListener listener;
        final byte[] script;
        final int eosAfter;
        int emitted;
        volatile boolean cancelled;

        Seq(int[] prompt, GenerationParams params, GenerationListener listener) {
            this.promptLength = prompt.length;
            this.params = params;
            this.listener = listener;
            this.script = expectedText(prompt, params.seed(), params.temperature()).getBytes(StandardCharsets.UTF_8);
            String p = decode(prompt);
            int i = p.indexOf("<eos:");
            this.eosAfter = i < 0 ? -1 : Integer.parseInt(p.substring(i + 5, p.indexOf('>', i)));
        }

        @Override public void cancel() {
            cancelled = true;
            synchronized (FakeEngine.this) {
                FakeEngine.this.notifyAll();
            }
        }
    }

    FakeEngine(int maxBatch, int maxQueue, long stepMillis, int context) {
        this.maxBatch = maxBatch;
        this.maxQueue = maxQueue;
        this.stepMillis = stepMillis;
        this.context = context;
        this.stepper = Thread.ofPlatform().name("fake-engine").daemon().start(this::loop);
    }

    /** The text a request produces: depends on the prompt, and on the seed unless greedy. Long enough for any test. */
    static String expectedText(int[] prompt, long seed, float temperature) {
        long h = 17;
        for (int t : prompt) h = h * 31 + t;
        Random r = new Random(temperature == 0f ? h : h ^ seed * 0x9E3779B97F4A7C15L);
        StringBuilder sb = new StringBuilder();
        while (sb.length() < 20000) sb.append(WORDS[r.nextInt(WORDS.length)]);
        return sb.toString();
    }

    /** The first {@code maxTokens} byte-tokens of {@link #expectedText}, as text. */
    static String expectedText(String prompt, long seed, float temperature, int maxTokens) {
        byte[] all = expectedText(encode(prompt), seed, temperature).getBytes(StandardCharsets.UTF_8);
        return new String(all, 0, maxTokens, StandardCharsets.UTF_8);
    }

    static int[] encode(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length + 1];
        ids[0] = 0;
        for (int i = 0; i < b.length; i++) ids[i + 1] = (b[i] & 0xff) + 2;
        return ids;
    }

    static String decode(int[] ids) {
        byte[] b = new byte[ids.length];
        int n = 0;
        for (int id : ids) if (id >= 2) b[n++] = (byte) (id - 2);
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    @Override public String modelId() { return "fake-model"; }
    @Override public int contextLength() { return context; }
    @Override public int vocabSize() { return 258; }
    @Override public int[] encodePrompt(String text) { return encode(text); }

    @Override public int[] encodeChat(List<ChatTurn> messages) {
        StringBuilder sb = new StringBuilder();
        for (ChatTurn m : messages) sb.append('[').append(m.role()).append("] ").append(m.content()).append('\n');
        sb.append("[assistant] ");
        return encode(sb.toString());
    }

    @Override public TextDecoder newDecoder() {
        return new TextDecoder() {
            final java.io.ByteArrayOutputStream pending = new java.io.ByteArrayOutputStream();

            @Override public String push(int id) {
                if (id < 2) return "";
                pending.write(id - 2);
                byte[] b = pending.toByteArray();
                int complete = completeUtf8Prefix(b);
                String s = new String(b, 0, complete, StandardCharsets.UTF_8);
                pending.reset();
                pending.write(b, complete, b.length - complete);
                return s;
            }

            @Override public String flush() {
                String s = pending.toString(StandardCharsets.UTF_8);
                pending.reset();
                return s;
            }
        };
    }

    static int completeUtf8Prefix(byte[] b) {
        int i = b.length;
        // walk back over continuation bytes to the last lead byte; keep it only if its sequence is complete
        int j = i - 1;
        while (j >= 0 && (b[j] & 0xC0) == 0x80) j--;
        if (j < 0) return i;
        int lead = b[j] & 0xff;
        int need = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        return i - j >= need ? i : j;
    }

    @Override public String tokenText(int tokenId) {
        if (tokenId == 0) return "<bos>";
        if (tokenId == 1) return "<eos>";
        return new String(new byte[]{(byte) (tokenId - 2)}, StandardCharsets.ISO_8859_1);
    }

    @Override public synchronized Generation submit(int[] promptIds, GenerationParams params, GenerationListener listener)
            throws EngineBusyException {
        if (closed) throw new IllegalStateException("engine closed");
        if (running.size() >= maxBatch && waiting.size() >= maxQueue) {
            throw new EngineBusyException("the queue is full (" + maxQueue + " waiting)", 1);
        }
        Seq s = new Seq(promptIds, params, listener);
        waiting.add(s);
        notifyAll();
        return s;
    }

    @Override public synchronized EngineStats stats() {
        long blocks = 0;
        for (Seq s : running) blocks += (s.promptLength + s.emitted + BLOCK - 1) / BLOCK;
        return new EngineStats(waiting.size(), running.size(), blocks, 1024, -1, -1);
    }

    private void loop() {
        while (!closed) {
            List<Seq> batch;
            synchronized (this) {
                waiting.removeIf(s -> {
                    if (s.cancelled) s.listener.onFinish(FinishReason.ABORTED);
                    return s.cancelled;
                });
                while (running.size() < maxBatch && !waiting.isEmpty()) running.add(waiting.poll());
                for (Iterator<Seq> it = running.iterator(); it.hasNext(); ) {
                    Seq s = it.next();
                    if (s.cancelled) {
                        it.remove();
                        s.listener.onFinish(FinishReason.ABORTED);
                    }
                }
                if (running.isEmpty()) {
                    try {
                        wait(50);
                    } catch (InterruptedException e) {
                        return;
                    }
                    continue;
                }
                batch = List.copyOf(running);
            }
            if (stepMillis > 0) {
                try {
                    Thread.sleep(stepMillis);
                } catch (InterruptedException e) {
                    return;
                }
            }
            synchronized (this) {
                for (Seq s : batch) {
                    if (s.cancelled) continue;
                    if (s.eosAfter >= 0 && s.emitted == s.eosAfter && !s.params.ignoreEos()) {
                        running.remove(s);
                        s.listener.onFinish(FinishReason.STOP);
                        continue;
                    }
                    int id = (s.script[s.emitted] & 0xff) + 2;
                    s.emitted++;
                    TokenLogprobs lp = null;
                    if (s.params.topLogprobs() >= 0) {
                        int k = s.params.topLogprobs();
                        int[] top = new int[k];
                        float[] tl = new float[k];
                        for (int i = 0; i < k; i++) {
                            top[i] = 'a' + i + 2;
                            tl[i] = -0.5f - i;
                        }
                        lp = new TokenLogprobs(-0.25f, top, tl);
                    }
                    s.listener.onToken(id, lp);
                    if (s.emitted >= s.params.maxTokens() || s.promptLength + s.emitted >= context) {
                        running.remove(s);
                        s.listener.onFinish(FinishReason.LENGTH);
                    }
                }
            }
        }
    }

    @Override public void close() {
        closed = true;
        stepper.interrupt();
    }
}
