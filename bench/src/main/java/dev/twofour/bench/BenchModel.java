package dev.twofour.bench;

/**
 * A model under benchmark, dense or 2:4, on the CPU ({@link Transformer}-based) or the GPU ({@code CudaModel}):
 * the few calls the decode and prefill benchmarks time. Greedy sampling everywhere (the GPU samples on the
 * device, as it serves). One caller at a time.
 */
public interface BenchModel extends AutoCloseable {
    /** "dense" or "2:4". */
    String mode();

    /** How the weights were made, for the report (e.g. "synthetic, generated on the GPU"). */
    String weightsNote();

    /** Bytes of weights one decode step streams (linear layers and LM head; values + metadata for 2:4). */
    long weightBytesPerToken();

    /** GPU memory in use once the model is loaded (everything on the device), or -1 on the CPU. */
    long deviceMemoryUsed();

    /** A new empty sequence. */
    int newSequence();

    /** Runs {@code prompt} through the model and returns the greedy next token (the first generated token). */
    int prefillAndSample(int seq, int[] prompt);

    /** Runs {@code prompt} through the model and waits for the result; no sampling (prefill timing). */
    void prefill(int seq, int[] prompt);

    /** One decode step for {@code seqs}: appends {@code tokens} and returns the greedy next token of each. */
    int[] decodeStep(int[] seqs, int[] tokens);

    void free(int seq);

    @Override void close();
}
