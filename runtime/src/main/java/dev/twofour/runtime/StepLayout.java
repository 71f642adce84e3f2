package dev.twofour.runtime;

/**
 * Where the tokens of one forward step go: a batch of sequences, each contributing 1..n new tokens
 * (a prefill chunk and a decode token have the same shape). Built by {@link Transformer} from the KV cache;
 * a backend reads it (the CUDA backend uploads it once per step). Token {@code t} belongs to sequence
 * {@code seqOfToken[t]}, sits at position {@code positions[t]} and attends to positions {@code 0..positions[t]}
 * of its own sequence, whose KV lives in the cache blocks {@code blockTables[seq]} (position p is in block
 * {@code blockTables[seq][p / blockSize]}, slot {@code p % blockSize}).
 *
 * @param tokens        token ids, sequences one after the other
 * @param positions     absolute position of each token in its sequence
 * @param seqOfToken    index (into the batch) of the sequence of each token
 * @param seqStart      first token of each sequence in {@code tokens}; length numSequences + 1
 * @param contextLength tokens in each sequence's cache once this step's tokens are appended
 * @param blockTables   per sequence, its cache block ids, covering contextLength
 * @param blockSize     tokens per cache block
 */
public record StepLayout(int[] tokens, int[] positions, int[] seqOfToken, int[] seqStart, int[] contextLength,
                         int[][] blockTables, int blockSize) {
    public int numTokens() { return tokens.length; }

    public int numSequences() { return seqStart.length - 1; }

    /** Index (into {@code tokens}) of the last token of sequence {@code b}. */
    public int lastToken(int b) { return seqStart[b + 1] - 1; }
}
