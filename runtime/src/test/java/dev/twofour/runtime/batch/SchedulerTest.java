package dev.twofour.runtime.batch;

import dev.twofour.runtime.Sampler;
import dev.twofour.runtime.SamplingParams;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class SchedulerTest {
    private Scheduler scheduler;

    @AfterEach void close() {
        if (scheduler != null) scheduler.close();
    }

    /** Collects one sequence's events. */
    static final class Collector implements TokenSink {
        final List<Integer> tokens = new ArrayList<>();
        final List<Logprobs> logprobs = new ArrayList<>();
        final CompletableFuture<FinishReason> done = new CompletableFuture<>();
        volatile Throwable error;

        @Override public synchronized void onToken(int token, Logprobs lp) {
            tokens.add(token);
            logprobs.add(lp);
        }

        @Override public void onFinish(FinishReason reason) { done.complete(reason); }

        @Override public void onError(Throwable e) {
            error = e;
            done.completeExceptionally(e);
        }

        synchronized int count() { return tokens.size(); }

        FinishReason await() throws Exception { return done.get(20, TimeUnit.SECONDS); }
    }

    static SamplingParams params(float temperature, long seed) {
        return SamplingParams.defaults().withTemperature(temperature).withSeed(seed).withTopK(temperature > 0 ? 20 : 0);
    }

    static SequenceRequest request(int[] prompt, int max, SamplingParams p, int[] stops) {
        return new SequenceRequest(prompt, max, stops, -1, p);
    }

    /** What the sequence gives when computed alone, token by token, without the scheduler. */
    static List<Integer> reference(int[] prompt, int max, SamplingParams p, int[] stops, int maxContext) {
        Sampler sampler = new Sampler(p, FakeBatchModel.VOCAB, prompt);
        List<Integer> h = new ArrayList<>();
        for (int t : prompt) h.add(t);
        List<Integer> out = new ArrayList<>();
        while (out.size() < max && h.size() < maxContext) {
            int t = sampler.sample(FakeBatchModel.logitsAfter(h), 0);
            for (int s : stops) if (s == t) return out;
            out.add(t);
            h.add(t);
        }
        return out;
    }

    static int[] prompt(Random r, int length) {
        int[] p = new int[length];
        for (int i = 0; i < length; i++) p[i] = r.nextInt(FakeBatchModel.VOCAB);
        return p;
    }

    @Test void oneSequenceMatchesTheTokenByTokenReference() throws Exception {
        FakeBatchModel model = new FakeBatchModel(200, 16, 16, 64, 0);
        scheduler = new Scheduler(model, new Scheduler.Config(4, 4, 40));
        int[] p = prompt(new Random(1), 37); // 37: three prefill chunks of 16, 16, 5
        Collector c = new Collector();
        scheduler.submit(request(p, 25, params(0f, 0), null), c);
        assertEquals(TokenSink.FinishReason.LENGTH, c.await());
        assertEquals(reference(p, 25, params(0f, 0), new int[0], 200), c.tokens);
        waitFor(() -> model.usedBlocks() == 0);
        assertEquals(0, scheduler.stats().running());
    }

    @Test void thirtyTwoSeededSequencesGiveTheSameTokensInABatchAsAlone() throws Exception {
        FakeBatchModel model = new FakeBatchModel(300, 16, 16, 2048, 0);
        scheduler = new Scheduler(model, new Scheduler.Config(32, 64, 80));
        Random r = new Random(7);
        int n = 32;
        int[][] prompts = new int[n][];
        List<Collector> cs = new ArrayList<>();
        for (int i = 0; i < n; i++) prompts[i] = prompt(r, 1 + r.nextInt(61));
        for (int i = 0; i < n; i++) {
            Collector c = new Collector();
            cs.add(c);
            scheduler.submit(request(prompts[i], 20 + i, params(0.9f, 1000 + i), null), c);
        }
        for (int i = 0; i < n; i++) {
            assertEquals(TokenSink.FinishReason.LENGTH, cs.get(i).await());
            assertEquals(reference(prompts[i], 20 + i, params(0.9f, 1000 + i), new int[0], 300), cs.get(i).tokens, "sequence " + i);
        }
        int maxBatch = model.stepTokenCounts.stream().mapToInt(a -> a.length).max().orElse(0);
        assertTrue(maxBatch > 16, "the sequences ran batched, max " + maxBatch + " per step");
        for (int[] step : model.stepTokenCounts) {
            int total = 0;
            for (int t : step) total += t;
            assertTrue(total <= 80 || step.length == 1, "step over the token budget: " + total);
            for (int t : step) assertTrue(t <= 16, "prefill chunk over 16 tokens: " + t);
        }
        waitFor(() -> model.usedBlocks() == 0);
    }

    @Test void aNewRequestJoinsTheRunningBatchAtTheNextStep() throws Exception {
        FakeBatchModel model = new FakeBatchModel(500, 16, 16, 256, 2);
        scheduler = new Scheduler(model, new Scheduler.Config(8, 8, 64));
        Collector a = new Collector();
        scheduler.submit(request(new int[]{1, 2, 3}, 300, params(0f, 0), null), a);
        waitFor(() -> a.count() >= 5);
        Collector b = new Collector();
        int[] pb = prompt(new Random(3), 40);
        scheduler.submit(request(pb, 5, params(0f, 0), null), b);
        assertEquals(TokenSink.FinishReason.LENGTH, b.await());
        assertFalse(a.done.isDone(), "b finished while a was still generating: they shared steps");
        assertEquals(reference(pb, 5, params(0f, 0), new int[0], 500), b.tokens);
        // some step carried a's decode token together with a chunk of b's prompt
        boolean mixed = model.stepTokenCounts.stream().anyMatch(s -> s.length == 2 && (s[0] > 1 || s[1] > 1));
        assertTrue(mixed, "prefill was interleaved with decode");
        scheduler.stats();
    }

    @Test void cancelFreesTheSequenceAndItsBlocks() throws Exception {
        FakeBatchModel model = new FakeBatchModel(5000, 16, 16, 1024, 1);
        scheduler = new Scheduler(model, new Scheduler.Config(4, 4, 64));
        Collector a = new Collector();
        Scheduler.Handle h = scheduler.submit(request(prompt(new Random(5), 50), 4000, params(0.5f, 9), null), a);
        Collector b = new Collector();
        scheduler.submit(request(new int[]{4}, 4000, params(0f, 0), null), b);
        waitFor(() -> a.count() >= 3 && b.count() >= 3);
        int usedBoth = model.usedBlocks();
        h.cancel();
        assertEquals(TokenSink.FinishReason.CANCELLED, a.await());
        waitFor(() -> scheduler.stats().running() == 1);
        assertTrue(model.usedBlocks() < usedBoth, "a's blocks went back to the pool");
        assertFalse(b.done.isDone());
        h.cancel(); // idempotent
        scheduler.close();
        assertEquals(TokenSink.FinishReason.CANCELLED, b.await());
        assertEquals(0, model.usedBlocks());
        assertThrows(IllegalStateException.class, () -> scheduler.submit(request(new int[]{1}, 1, params(0f, 0), null), new Collector()));
    }

    @Test void theQueueIsBounded() throws Exception {
        FakeBatchModel model = new FakeBatchModel(5000, 16, 16, 1024, 2);
        scheduler = new Scheduler(model, new Scheduler.Config(1, 2, 64));
        List<Scheduler.Handle> hs = new ArrayList<>();
        Collector first = new Collector();
        hs.add(scheduler.submit(request(new int[]{1}, 4000, params(0f, 0), null), first));
        waitFor(() -> scheduler.stats().running() == 1);
        hs.add(scheduler.submit(request(new int[]{2}, 10, params(0f, 0), null), new Collector()));
        hs.add(scheduler.submit(request(new int[]{3}, 10, params(0f, 0), null), new Collector()));
        assertEquals(2, scheduler.stats().waiting());
        assertThrows(QueueFullException.class, () -> scheduler.submit(request(new int[]{4}, 10, params(0f, 0), null), new Collector()));
        hs.getFirst().cancel();
        assertEquals(TokenSink.FinishReason.CANCELLED, first.await());
    }

    @Test void stopTokensEndWithStopAndAreNotReported() throws Exception {
        FakeBatchModel model = new FakeBatchModel(200, 16, 16, 64, 0);
        scheduler = new Scheduler(model, new Scheduler.Config(4, 4, 40));
        int[] p = prompt(new Random(11), 9);
        List<Integer> free = reference(p, 30, params(0f, 0), new int[0], 200);
        int stop = free.get(6);
        List<Integer> expected = reference(p, 30, params(0f, 0), new int[]{stop}, 200);
        assertTrue(expected.size() <= 6 && !expected.contains(stop));
        Collector c = new Collector();
        scheduler.submit(request(p, 30, params(0f, 0), new int[]{stop}), c);
        assertEquals(TokenSink.FinishReason.STOP, c.await());
        assertEquals(expected, c.tokens);
    }

    @Test void generationEndsWhenTheContextIsFull() throws Exception {
        FakeBatchModel model = new FakeBatchModel(40, 16, 8, 16, 0);
        scheduler = new Scheduler(model, new Scheduler.Config(2, 2, 40));
        Collector c = new Collector();
        scheduler.submit(request(prompt(new Random(2), 30), 100, params(0f, 0), null), c);
        assertEquals(TokenSink.FinishReason.LENGTH, c.await());
        assertEquals(10, c.tokens.size());
        assertThrows(IllegalArgumentException.class,
                () -> scheduler.submit(request(prompt(new Random(2), 40), 1, params(0f, 0), null), new Collector()));
    }

    @Test void aDryPoolPreemptsAndRecomputesWithoutChangingOutputs() throws Exception {
        // 10 blocks of 4 = 40 slots; three sequences that grow to 30 tokens each cannot all fit.
        FakeBatchModel model = new FakeBatchModel(32, 8, 4, 10, 0);
        scheduler = new Scheduler(model, new Scheduler.Config(3, 3, 24));
        Random r = new Random(13);
        List<Collector> cs = new ArrayList<>();
        List<int[]> ps = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            int[] p = prompt(r, 6 + i);
            ps.add(p);
            Collector c = new Collector();
            cs.add(c);
            scheduler.submit(request(p, 22, params(0.8f, 50 + i), null), c);
        }
        for (int i = 0; i < 3; i++) {
            assertEquals(TokenSink.FinishReason.LENGTH, cs.get(i).await());
            assertEquals(reference(ps.get(i), 22, params(0.8f, 50 + i), new int[0], 32), cs.get(i).tokens, "sequence " + i);
        }
        assertTrue(scheduler.stats().preemptions() > 0, "the pool was too small for all three: some were preempted");
        waitFor(() -> model.usedBlocks() == 0);
    }

    @Test void logprobsAreLogSoftmaxOfTheRawLogits() throws Exception {
        FakeBatchModel model = new FakeBatchModel(200, 16, 16, 64, 0);
        scheduler = new Scheduler(model, new Scheduler.Config(4, 4, 40));
        int[] p = {3, 1, 4, 1, 5};
        Collector c = new Collector();
        scheduler.submit(new SequenceRequest(p, 3, null, 4, params(0f, 0)), c);
        c.await();
        List<Integer> h = new ArrayList<>();
        for (int t : p) h.add(t);
        float[] l = FakeBatchModel.logitsAfter(h);
        TokenSink.Logprobs lp = c.logprobs.getFirst();
        assertEquals(Sampler.logSoftmaxAt(l, 0, l.length, c.tokens.getFirst()), lp.logprob(), 1e-5);
        assertEquals(4, lp.topIds().length);
        assertEquals(c.tokens.getFirst().intValue(), lp.topIds()[0], "greedy picks the most likely token");
        for (int i = 1; i < 4; i++) assertTrue(lp.topLogprobs()[i] <= lp.topLogprobs()[i - 1]);
        double total = 0;
        for (int i = 0; i < l.length; i++) total += Math.exp(Sampler.logSoftmaxAt(l, 0, l.length, i));
        assertEquals(1.0, total, 1e-4);
    }

    @Test void aFailingStepEndsItsSequencesWithAnErrorAndTheSchedulerGoesOn() throws Exception {
        FakeBatchModel model = new FakeBatchModel(200, 16, 16, 64, 0);
        scheduler = new Scheduler(model, new Scheduler.Config(4, 4, 40));
        model.failNextStep = new IllegalStateException("simulated device failure");
        Collector c = new Collector();
        scheduler.submit(request(new int[]{1, 2}, 5, params(0f, 0), null), c);
        assertThrows(Exception.class, c::await);
        assertEquals("simulated device failure", c.error.getMessage());
        waitFor(() -> model.usedBlocks() == 0);
        Collector d = new Collector();
        scheduler.submit(request(new int[]{1, 2}, 5, params(0f, 0), null), d);
        assertEquals(TokenSink.FinishReason.LENGTH, d.await());
    }

    static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) fail("condition not met within 10 s");
            Thread.sleep(2);
        }
    }
}
