package dev.twofour.pruner;

import dev.twofour.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Calibration sequences from a text file: documents (separated by a blank line) are tokenized
 * as they are and concatenated as BOS + ids + EOS (the protocol of our perplexity evaluation),
 * then {@code samples} windows of {@code seqLen} tokens are cut at seeded random offsets.
 * Same file, tokenizer and seed: same sequences.
 */
public final class Calibration {
    private Calibration() {}

    /** The default sequence length: min(2048, the model's context). */
    public static int defaultSeqLen(int maxPositionEmbeddings) {
        return Math.min(2048, maxPositionEmbeddings);
    }

    /**
     * {@code samples} windows of {@code seqLen} tokens. Documents are visited in a seeded random
     * order and tokenized until the stream holds 4× the tokens needed (or the file ends), so a
     * large calibration file costs only what is used; windows start at seeded random offsets
     * of that stream.
     */
    public static int[][] sample(Path textFile, Tokenizer tokenizer, int samples, int seqLen, long seed) throws IOException {
        if (samples < 1) throw new IllegalArgumentException("--samples must be ≥ 1, got " + samples);
        if (seqLen < 2) throw new IllegalArgumentException("--seqlen must be ≥ 2, got " + seqLen);
        if (!Files.isRegularFile(textFile)) {
            throw new IOException("calibration file " + textFile + " does not exist or is not a file; pass a plain-text file with --calib");
        }
        String text = Files.readString(textFile, StandardCharsets.UTF_8);
        SplittableRandom rnd = new SplittableRandom(seed);
        long wanted = Math.max(4L * samples * seqLen, 2L * seqLen);
        int[] stream = tokenizeDocuments(text, tokenizer, rnd, wanted);
        if (stream.length < seqLen) {
            throw new IllegalArgumentException("calibration file " + textFile + " has only " + stream.length
                    + " tokens, fewer than one sequence of --seqlen " + seqLen + "; use a longer file or a smaller --seqlen");
        }
        int[][] out = new int[samples][];
        for (int s = 0; s < samples; s++) {
            int start = rnd.nextInt(stream.length - seqLen + 1);
            out[s] = java.util.Arrays.copyOfRange(stream, start, start + seqLen);
        }
        return out;
    }

    /** BOS + ids + EOS of documents in a seeded random order, until {@code wanted} tokens or the end. */
    static int[] tokenizeDocuments(String text, Tokenizer tokenizer, SplittableRandom rnd, long wanted) {
        int bos = tokenizer.bosId();
        List<Integer> eosIds = tokenizer.eosIds();
        int eos = eosIds.isEmpty() ? -1 : eosIds.getFirst();
        List<String> docs = new ArrayList<>();
        for (String doc : text.split("\n\n", -1)) if (!doc.isBlank()) docs.add(doc);
        for (int i = docs.size() - 1; i > 0; i--) java.util.Collections.swap(docs, i, rnd.nextInt(i + 1));
        List<int[]> parts = new ArrayList<>();
        long total = 0;
        for (String doc : docs) {
            if (total >= wanted) break;
            int[] ids = tokenizer.encode(doc, false);
            parts.add(ids);
            total += ids.length + (bos >= 0 ? 1 : 0) + (eos >= 0 ? 1 : 0);
        }
        int[] all = new int[Math.toIntExact(total)];
        int p = 0;
        for (int[] ids : parts) {
            if (bos >= 0) all[p++] = bos;
            System.arraycopy(ids, 0, all, p, ids.length);
            p += ids.length;
            if (eos >= 0) all[p++] = eos;
        }
        return all;
    }
}
