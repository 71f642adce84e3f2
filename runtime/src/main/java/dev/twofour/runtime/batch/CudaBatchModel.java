package dev.twofour.runtime.batch;

import dev.twofour.cuda.CudaContext;
import dev.twofour.runtime.cuda.CudaModel;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@link BatchModel} of the GPU fast path, {@link CudaModel}: one KV slot of the whole context per
 * sequence (so a "block" here is a slot and the pool never runs dry mid-sequence), a whole prompt per
 * prefill call (CudaModel chunks it itself), and every decode token of the step in one
 * {@link CudaModel#decodeStep} (one CUDA graph replay, sampling on the device with each sequence's own
 * seeded random stream). Logprobs, when asked, come from the step's logits copied back to the host.
 * Makes the context current on the calling (scheduler) thread before each step. Owns neither the model
 * nor the context.
 */
public final class CudaBatchModel implements BatchModel {
    private final CudaModel model;
    private final CudaContext context;
    private final int maxBatch;
    private int usedSlots;

    public CudaBatchModel(CudaModel model, CudaContext context) {
        this.model = model;
        this.context = context;
        this.maxBatch = model.options().maxBatch();
    }

    @Override public int vocabSize() { return model.config().vocabSize(); }
    @Override public int maxContext() { return model.options().maxContext(); }
    /** Whole prompts: the model cuts them into its own chunks. */
    @Override public int prefillChunk() { return model.options().maxContext(); }
    @Override public int blockSize() { return model.options().maxContext(); }
    @Override public int totalBlocks() { return maxBatch; }
    @Override public synchronized int usedBlocks() { return usedSlots; }
    @Override public boolean canAdmit(int firstChunk, int running) { return freeBlocks() > 0; }

    @Override public int newSequence() {
        context.setCurrent();
        int slot = model.newSequence();
        synchronized (this) {
            usedSlots++;
        }
        return slot;
    }

    /** A slot holds the whole context: nothing to reserve. */
    @Override public void reserve(int seq, int newTokens) {}

    @Override public void free(int seq) {
        model.free(seq);
        synchronized (this) {
            usedSlots--;
        }
    }

    @Override public StepOutput step(int[] seqIds, int[][] tokens, SequenceSampling[] sampling) {
        context.setCurrent();
        int n = seqIds.length;
        int[] next = new int[n];
        TokenSink.Logprobs[] logprobs = new TokenSink.Logprobs[n];
        List<Integer> decode = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            next[i] = -1;
            int slot = seqIds[i];
            int[] t = tokens[i];
            if (model.length(slot) == 0 && sampling[i] != null) {
                // A new sequence: its whole prompt, then its first token sampled on the device.
                next[i] = model.prefillAndSample(slot, t, sampling[i].params());
                if (sampling[i].topLogprobs() >= 0) {
                    logprobs[i] = Scheduler.logprobs(model.lastDecodeLogits(1)[0], next[i], sampling[i].topLogprobs());
                }
            } else if (sampling[i] == null) {
                model.prefill(slot, t, false);
            } else {
                if (t.length > 1) model.prefill(slot, java.util.Arrays.copyOf(t, t.length - 1), false);
                decode.add(i);
            }
        }
        if (!decode.isEmpty()) {
            int b = decode.size();
            int[] slots = new int[b], last = new int[b];
            dev.twofour.runtime.SamplingParams[] params = new dev.twofour.runtime.SamplingParams[b];
            boolean anyLogprobs = false;
            for (int j = 0; j < b; j++) {
                int i = decode.get(j);
                slots[j] = seqIds[i];
                last[j] = tokens[i][tokens[i].length - 1];
                params[j] = sampling[i].params();
                anyLogprobs |= sampling[i].topLogprobs() >= 0;
            }
            int[] ids = model.decodeStep(slots, last, params);
            float[][] rows = anyLogprobs ? model.lastDecodeLogits(b) : null;
            for (int j = 0; j < b; j++) {
                int i = decode.get(j);
                next[i] = ids[j];
                if (rows != null && sampling[i].topLogprobs() >= 0) {
                    logprobs[i] = Scheduler.logprobs(rows[j], ids[j], sampling[i].topLogprobs());
                }
            }
        }
        return new StepOutput(next, logprobs);
    }

    /** {used, total} bytes of the device's memory (for /metrics). */
    public long[] memoryUsage() {
        context.setCurrent();
        CudaContext.MemoryInfo m = context.memoryInfo();
        return new long[]{m.total() - m.free(), m.total()};
    }
}
