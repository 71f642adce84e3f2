package dev.twofour.bench;

import dev.twofour.cuda.CudaContext;
import dev.twofour.runtime.SamplingParams;
import dev.twofour.runtime.cuda.CudaModel;

/** A {@link CudaModel} (graph-captured decode, sampling on the GPU), greedy. */
final class CudaBenchModel implements BenchModel {
    private final CudaModel model;
    private final String mode, note;
    private final long memoryUsed;
    private final SamplingParams greedy = SamplingParams.greedy(1 << 20).withSeed(1L);

    CudaBenchModel(CudaModel model, String mode, String note, CudaContext context, long freeBefore) {
        this.model = model;
        this.mode = mode;
        this.note = note;
        // Measured after everything is allocated: the plan's buffers, weights and workspaces.
        this.memoryUsed = Math.max(0, freeBefore - context.memoryInfo().free());
    }

    CudaModel model() { return model; }

    @Override public String mode() { return mode; }

    @Override public String weightsNote() { return note; }

    @Override public long weightBytesPerToken() { return model.weightBytesPerToken(); }

    @Override public long deviceMemoryUsed() { return memoryUsed; }

    @Override public int newSequence() { return model.newSequence(); }

    @Override public int prefillAndSample(int seq, int[] prompt) { return model.prefillAndSample(seq, prompt, greedy); }

    @Override public void prefill(int seq, int[] prompt) {
        model.prefill(seq, prompt, false);  // returns after the logits are copied back: the work is done
    }

    @Override public int[] decodeStep(int[] seqs, int[] tokens) {
        SamplingParams[] p = new SamplingParams[seqs.length];
        java.util.Arrays.fill(p, greedy);
        return model.decodeStep(seqs, tokens, p);
    }

    @Override public void free(int seq) { model.free(seq); }

    @Override public void close() { model.close(); }
}
