package dev.twofour.runtime.batch;

import dev.twofour.runtime.KvCacheFullException;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

/**
 * Continuous batching over a {@link BatchModel}: one thread runs forward steps back to back; each step
 * carries one token for every sequence that is decoding plus prefill chunks of newly admitted prompts, so
 * a new request joins the running batch at the next step instead of waiting for the batch to drain, and a
 * long prompt never stalls the decoding ones for more than one chunk.
 *
 * <p>Why these choices:
 * <ul>
 * <li>Decode tokens go first in a step and prefill chunks fill the rest of the token budget: running
 *     sequences keep their per-token latency while prompts are being read.</li>
 * <li>A prompt is always cut at multiples of {@code prefillChunk} from its start, whatever else is in the
 *     step, so a sequence's computation, and with its own {@link dev.twofour.runtime.Sampler} its output,
 *     is the same alone or in a batch.</li>
 * <li>KV blocks are reserved step by step, not for the worst case up front, so many short requests fit.
 *     When the pool runs dry the most recently admitted sequence is preempted: its blocks are freed and it
 *     goes back to the head of the queue to be recomputed from its prompt and the tokens it already had.</li>
 * <li>Cancelling frees the sequence's blocks at the next step boundary (at most one step away).</li>
 * </ul>
 * Thread-safe: {@link #submit}, {@link Handle#cancel} and {@link #stats} may be called from any thread.
 */
public final class Scheduler implements AutoCloseable {

    /**
     * @param maxBatch      sequences in the running batch at most
     * @param maxQueue      requests waiting for a slot at most; past it {@link #submit} throws {@link QueueFullException}
     * @param maxStepTokens tokens per step at most (decode tokens + prefill chunks of {@link BatchModel#prefillChunk});
     *                      at least one chunk always runs
     */
    public record Config(int maxBatch, int maxQueue, int maxStepTokens) {
        public Config {
            if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be >= 1, got " + maxBatch);
            if (maxQueue < 0) throw new IllegalArgumentException("maxQueue must be >= 0, got " + maxQueue);
            if (maxStepTokens < 1) throw new IllegalArgumentException("maxStepTokens must be >= 1, got " + maxStepTokens);
        }
    }

    /** A snapshot of the scheduler's state. */
    public record Stats(int waiting, int running, int kvBlocksUsed, int kvBlocksTotal, long steps,
                        long generatedTokens, long preemptions) {}

    /** A submitted sequence. */
    public interface Handle {
        /** Ends the sequence and frees its KV blocks at the next step boundary; the sink then gets CANCELLED. Idempotent. */
        void cancel();
    }

    private final class Seq implements Handle {
        final SequenceRequest req;
        final TokenSink sink;
        final SequenceSampling sampling;
        int[] tokens;       // prompt then generated tokens
        int length;         // valid entries of tokens
        int cached;         // tokens whose K/V is in the cache
        int generated;
        int kvId = -1;
        long admitOrder;
        volatile boolean cancelled;

        Seq(SequenceRequest req, TokenSink sink) {
            this.req = req;
            this.sink = sink;
            this.sampling = new SequenceSampling(req.params(), req.prompt(), req.topLogprobs());
            this.tokens = Arrays.copyOf(req.prompt(), req.prompt().length + Math.min(req.maxNewTokens(), 256));
            this.length = req.prompt().length;
        }

        @Override public void cancel() {
            cancelled = true;
            synchronized (Scheduler.this) {
                Scheduler.this.notifyAll();
            }
        }

        void append(int token) {
            if (length == tokens.length) tokens = Arrays.copyOf(tokens, Math.max(16, tokens.length * 2));
            tokens[length++] = token;
        }
    }

    private final BatchModel model;
    private final BatchModel kv; // the same object: its cache-pool half
    private final Config config;
    private final int prefillChunk;
    private final ArrayDeque<Seq> waiting = new ArrayDeque<>();
    private final List<Seq> running = new ArrayList<>();
    private final Thread loop;
    private volatile boolean closed;
    private long admitCounter;
    private long steps;
    private long generatedTokens;
    private long preemptions;

    public Scheduler(BatchModel model, Config config) {
        this.model = model;
        this.kv = model;
        this.config = config;
        this.prefillChunk = model.prefillChunk();
        if (prefillChunk < 1) throw new IllegalArgumentException("the model's prefill chunk must be >= 1, got " + prefillChunk);
        if ((long) kv.totalBlocks() * kv.blockSize() < model.maxContext()) {
            throw new IllegalArgumentException("the KV cache holds " + (long) kv.totalBlocks() * kv.blockSize() + " tokens, less than one full context ("
                    + model.maxContext() + "); give it at least " + ((model.maxContext() + kv.blockSize() - 1) / kv.blockSize()) + " blocks");
        }
        this.loop = Thread.ofPlatform().name("twofour-scheduler").daemon(true).start(this::run);
    }

    public Config config() {
        return config;
    }

    /**
     * Queues a sequence; it joins the running batch at the next step with a free slot.
     *
     * @throws QueueFullException       when {@code maxQueue} requests are already waiting
     * @throws IllegalArgumentException when prompt + maxNewTokens cannot fit in the model's context
     * @throws IllegalStateException    after {@link #close}
     */
    public synchronized Handle submit(SequenceRequest request, TokenSink sink) throws QueueFullException {
        if (closed) throw new IllegalStateException("the scheduler is closed");
        int need = request.prompt().length + 1;
        if (need > model.maxContext()) {
            throw new IllegalArgumentException("the prompt has " + request.prompt().length + " tokens; the context holds "
                    + model.maxContext() + " (prompt + at least one generated token)");
        }
        for (int t : request.prompt()) {
            if (t < 0 || t >= model.vocabSize()) {
                throw new IllegalArgumentException("token id " + t + " is outside the vocabulary (0.." + (model.vocabSize() - 1) + ")");
            }
        }
        // The batch is full and the queue too: refuse rather than let latency grow without bound.
        if (waiting.size() >= config.maxQueue() + Math.max(0, config.maxBatch() - running.size())) {
            throw new QueueFullException(waiting.size() + " requests are waiting and " + running.size()
                    + " running (max-queue " + config.maxQueue() + ", max-batch " + config.maxBatch() + ")");
        }
        Seq s = new Seq(request, sink);
        waiting.addLast(s);
        notifyAll();
        return s;
    }

    public synchronized Stats stats() {
        return new Stats(waiting.size(), running.size(), kv.usedBlocks(), kv.totalBlocks(), steps, generatedTokens, preemptions);
    }

    /** Cancels everything still queued or running (sinks get CANCELLED) and stops the step thread. Idempotent. */
    @Override public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
            notifyAll();
        }
        try {
            loop.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- the step loop

    private record Entry(Seq seq, int from, int count, boolean wantLogits) {}

    private void run() {
        try {
            while (true) {
                List<Entry> step;
                synchronized (this) {
                    if (closed) break;
                    dropCancelled();
                    admit();
                    if (running.isEmpty()) {
                        waitQuietly();
                        continue;
                    }
                    step = planStep();
                }
                if (!step.isEmpty()) runStep(step);
            }
        } finally {
            synchronized (this) {
                for (Seq s : running) finish(s, TokenSink.FinishReason.CANCELLED);
                running.clear();
                for (Seq s : waiting) finish(s, TokenSink.FinishReason.CANCELLED);
                waiting.clear();
            }
        }
    }

    /** Ends cancelled sequences, queued or running, and frees their blocks. Holds the lock. */
    private void dropCancelled() {
        for (Iterator<Seq> it = waiting.iterator(); it.hasNext(); ) {
            Seq s = it.next();
            if (s.cancelled) {
                it.remove();
                finish(s, TokenSink.FinishReason.CANCELLED);
            }
        }
        for (Iterator<Seq> it = running.iterator(); it.hasNext(); ) {
            Seq s = it.next();
            if (s.cancelled) {
                it.remove();
                finish(s, TokenSink.FinishReason.CANCELLED);
            }
        }
    }

    /** Moves waiting sequences into the batch while there are slots and blocks for their first chunk. */
    private void admit() {
        while (running.size() < config.maxBatch() && !waiting.isEmpty()) {
            Seq s = waiting.peekFirst();
            int firstChunk = Math.min(prefillChunk, s.length - s.cached);
            if (!model.canAdmit(firstChunk, running.size())) break;
            waiting.pollFirst();
            s.kvId = kv.newSequence();
            s.admitOrder = admitCounter++;
            running.add(s);
        }
    }

    /** Chooses this step's tokens and reserves their cache blocks, preempting when the pool is dry. Holds the lock. */
    private List<Entry> planStep() {
        List<Entry> entries = new ArrayList<>();
        int budget = config.maxStepTokens();
        // decode tokens first
        for (Seq s : List.copyOf(running)) {
            if (s.length - s.cached == 1 && running.contains(s) && reserve(s, 1)) {
                entries.add(new Entry(s, s.cached, 1, true));
                budget--;
            }
        }
        // then prefill chunks, oldest first; chunk boundaries are fixed multiples of prefillChunk
        boolean anyPrefill = false;
        for (Seq s : List.copyOf(running)) {
            int remaining = s.length - s.cached;
            if (remaining <= 1 || !running.contains(s)) continue;
            int alignedEnd = Math.min(s.length, (s.cached / prefillChunk + 1) * prefillChunk);
            int count = alignedEnd - s.cached;
            if (count > budget && anyPrefill) continue;
            if (!reserve(s, count)) continue;
            entries.add(new Entry(s, s.cached, count, alignedEnd == s.length));
            budget -= count;
            anyPrefill = true;
        }
        // a preemption may have removed a sequence after its entry was made
        entries.removeIf(e -> !running.contains(e.seq()));
        return entries;
    }

    /** Reserves blocks for {@code count} more tokens of {@code s}, preempting newer sequences if needed. */
    private boolean reserve(Seq s, int count) {
        while (true) {
            try {
                kv.reserve(s.kvId, count);
                return true;
            } catch (KvCacheFullException full) {
                Seq victim = null;
                for (Seq r : running) if (victim == null || r.admitOrder > victim.admitOrder) victim = r;
                preempt(victim);
                if (victim == s) return false;
            }
        }
    }

    /** Frees the sequence's blocks and puts it back at the head of the queue, to be recomputed. */
    private void preempt(Seq s) {
        running.remove(s);
        kv.free(s.kvId);
        s.kvId = -1;
        s.cached = 0;
        waiting.addFirst(s);
        preemptions++;
    }

    private void runStep(List<Entry> step) {
        int n = step.size();
        int[] seqIds = new int[n];
        int[][] tokens = new int[n][];
        SequenceSampling[] sampling = new SequenceSampling[n];
        for (int i = 0; i < n; i++) {
            Entry e = step.get(i);
            seqIds[i] = e.seq().kvId;
            tokens[i] = Arrays.copyOfRange(e.seq().tokens, e.from(), e.from() + e.count());
            sampling[i] = e.wantLogits() ? e.seq().sampling : null;
        }
        BatchModel.StepOutput out;
        try {
            out = model.step(seqIds, tokens, sampling);
        } catch (RuntimeException | Error err) {
            // The step's sequences cannot be trusted any more: end them, keep serving the others.
            synchronized (this) {
                for (Entry e : step) {
                    running.remove(e.seq());
                    if (e.seq().kvId >= 0) kv.free(e.seq().kvId);
                    e.seq().kvId = -1;
                    e.seq().sink.onError(err);
                }
                steps++;
            }
            return;
        }
        synchronized (this) {
            steps++;
            for (int i = 0; i < n; i++) {
                Entry e = step.get(i);
                Seq s = e.seq();
                s.cached = e.from() + e.count();
                if (!e.wantLogits() || !running.contains(s)) continue;
                if (s.cancelled) {
                    running.remove(s);
                    finish(s, TokenSink.FinishReason.CANCELLED);
                    continue;
                }
                emit(s, out.tokens()[i], out.logprobs()[i]);
            }
        }
    }

    private void emit(Seq s, int token, TokenSink.Logprobs logprobs) {
        for (int stop : s.req.stopTokenIds()) {
            if (token == stop) {
                running.remove(s);
                finish(s, TokenSink.FinishReason.STOP);
                return;
            }
        }
        s.append(token);
        s.generated++;
        generatedTokens++;
        s.sink.onToken(token, s.req.topLogprobs() < 0 ? null : logprobs);
        if (s.generated >= s.req.maxNewTokens() || s.length >= model.maxContext()) {
            running.remove(s);
            finish(s, TokenSink.FinishReason.LENGTH);
        }
    }

    private void finish(Seq s, TokenSink.FinishReason reason) {
        if (s.kvId >= 0) {
            kv.free(s.kvId);
            s.kvId = -1;
        }
        try {
            s.sink.onFinish(reason);
        } catch (RuntimeException ignored) {
            // a faulty sink must not take the scheduler down
        }
    }

    /** log-softmax of the raw logits at {@code token}, and the k best. */
    static TokenSink.Logprobs logprobs(float[] logits, int token, int k) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double sum = 0;
        for (float v : logits) sum += Math.exp(v - max);
        float logZ = (float) (max + Math.log(sum));
        int[] top = new int[Math.min(k, logits.length)];
        float[] topLp = new float[top.length];
        if (top.length > 0) {
            // partial selection: keep the k best in descending order (k is small)
            Arrays.fill(top, -1);
            for (int i = 0; i < logits.length; i++) {
                float v = logits[i];
                int pos = top.length;
                while (pos > 0 && (top[pos - 1] < 0 || v > logits[top[pos - 1]])) pos--;
                if (pos < top.length) {
                    System.arraycopy(top, pos, top, pos + 1, top.length - pos - 1);
                    top[pos] = i;
                }
            }
            for (int i = 0; i < top.length; i++) topLp[i] = logits[top[i]] - logZ;
        }
        return new TokenSink.Logprobs(logits[token] - logZ, top, topLp);
    }

    private void waitQuietly() {
        try {
            wait(100);
        } catch (InterruptedException e) {
            closed = true;
        }
    }
}
