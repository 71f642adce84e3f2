package dev.twofour.model.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The BPE model of a tokenizer.json: turns one pre-tokenized word into ids by applying merges lowest rank first
 * (leftmost first among equal ranks), the way Hugging Face tokenizers does. Covers byte-level vocabularies
 * (GPT-2, Llama 3, Qwen) and SentencePiece-style ones with {@code <0xAB>} byte fallback and unk (Llama 2, Mistral).
 * Thread-safe: results are cached per word in a bounded concurrent map.
 */
final class Bpe {
    private static final int CACHE_MAX_ENTRIES = 100_000;
    private static final int CACHE_MAX_WORD_CHARS = 256;

    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    /** (leftId << 32 | rightId) -> (rank << 32 | mergedId). */
    private final Map<Long, Long> merges;
    private final Integer unkId;
    private final boolean fuseUnk;
    private final boolean byteFallback;
    private final boolean ignoreMerges;
    private final String continuingSubwordPrefix;
    private final String endOfWordSuffix;
    /** ids of the {@code <0x00>}..{@code <0xFF>} tokens when byte fallback is on. */
    private final int[] byteTokenIds = new int[256];
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    Bpe(Map<String, Integer> vocab, List<String[]> mergePairs, String unkToken, boolean fuseUnk, boolean byteFallback,
        boolean ignoreMerges, String continuingSubwordPrefix, String endOfWordSuffix, String where) {
        this.vocab = java.util.Collections.unmodifiableMap(vocab);
        int maxId = -1;
        for (int id : vocab.values()) maxId = Math.max(maxId, id);
        this.idToToken = new String[maxId + 1];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) idToToken[e.getValue()] = e.getKey();
        this.merges = new HashMap<>(mergePairs.size() * 2);
        for (int rank = 0; rank < mergePairs.size(); rank++) {
            String[] pair = mergePairs.get(rank);
            Integer a = vocab.get(pair[0]);
            Integer b = vocab.get(pair[1]);
            Integer merged = vocab.get(pair[0] + pair[1]);
            if (a == null || b == null || merged == null) {
                throw new TokenizerException(where + ": merge " + rank + " [" + pair[0] + ", " + pair[1]
                        + "] uses a token that is not in the vocabulary; the tokenizer.json is damaged");
            }
            // Later duplicates win, as in Hugging Face tokenizers.
            merges.put(((long) a << 32) | b, ((long) rank << 32) | merged);
        }
        if (unkToken != null && !vocab.containsKey(unkToken)) {
            throw new TokenizerException(where + ": unk_token '" + unkToken + "' is not in the vocabulary");
        }
        this.unkId = unkToken == null ? null : vocab.get(unkToken);
        this.fuseUnk = fuseUnk;
        this.byteFallback = byteFallback;
        this.ignoreMerges = ignoreMerges;
        this.continuingSubwordPrefix = continuingSubwordPrefix;
        this.endOfWordSuffix = endOfWordSuffix;
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.format("<0x%02X>", b));
            byteTokenIds[b] = id == null ? -1 : id;
        }
    }

    int maxId() {
        return idToToken.length - 1;
    }

    Integer id(String token) {
        return vocab.get(token);
    }

    String token(int id) {
        return id >= 0 && id < idToToken.length ? idToToken[id] : null;
    }

    /** Appends the ids of one word to out. */
    void tokenize(String word, IntList out) {
        if (word.isEmpty()) return;
        int[] cached = cache.get(word);
        if (cached == null) {
            cached = tokenizeUncached(word);
            if (word.length() <= CACHE_MAX_WORD_CHARS) {
                if (cache.size() >= CACHE_MAX_ENTRIES) cache.clear();
                cache.put(word, cached);
            }
        }
        out.addAll(cached);
    }

    private int[] tokenizeUncached(String word) {
        if (ignoreMerges) {
            Integer whole = vocab.get(word);
            if (whole != null) return new int[]{whole};
        }
        // Initial symbols: one per code point (with prefix/suffix rules), byte fallback or unk for unknown ones.
        IntList ids = new IntList();
        int unkPending = -1; // an unk waiting to be added, so consecutive ones can be fused
        int i = 0;
        while (i < word.length()) {
            int cp = word.codePointAt(i);
            int end = i + Character.charCount(cp);
            String s = word.substring(i, end);
            if (i > 0 && continuingSubwordPrefix != null) s = continuingSubwordPrefix + s;
            if (end == word.length() && endOfWordSuffix != null) s = s + endOfWordSuffix;
            Integer id = vocab.get(s);
            if (id != null) {
                if (unkPending >= 0) {
                    ids.add(unkPending);
                    unkPending = -1;
                }
                ids.add(id);
            } else if (byteFallback && allBytesKnown(s)) {
                // Hugging Face adds these without flushing a pending unk first; keep the same order.
                for (byte b : s.getBytes(StandardCharsets.UTF_8)) ids.add(byteTokenIds[b & 0xFF]);
            } else if (unkId != null) {
                if (unkPending >= 0 && !fuseUnk) ids.add(unkPending);
                unkPending = unkId;
            }
            // No unk token and no fallback: the character is dropped, as Hugging Face does.
            i = end;
        }
        if (unkPending >= 0) ids.add(unkPending);
        return mergeAll(ids.toArray());
    }

    private boolean allBytesKnown(String s) {
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            if (byteTokenIds[b & 0xFF] < 0) return false;
        }
        return true;
    }

    /** Applies merges in rank order; a heap of (rank, position) makes long SentencePiece "words" cheap. */
    private int[] mergeAll(int[] symbols) {
        int n = symbols.length;
        if (n < 2 || merges.isEmpty()) return symbols;
        int[] id = symbols.clone();
        int[] prev = new int[n];
        int[] next = new int[n];
        boolean[] alive = new boolean[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            alive[i] = true;
        }
        PriorityQueue<Long> queue = new PriorityQueue<>();
        for (int i = 0; i + 1 < n; i++) push(queue, id[i], id[i + 1], i);
        while (!queue.isEmpty()) {
            long top = queue.poll();
            int rank = (int) (top >>> 32);
            int pos = (int) top;
            if (!alive[pos] || next[pos] < 0) continue;
            int right = next[pos];
            Long merge = merges.get(((long) id[pos] << 32) | id[right]);
            if (merge == null || (int) (merge >>> 32) != rank) continue; // stale entry
            id[pos] = (int) (long) merge;
            alive[right] = false;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            if (prev[pos] >= 0) push(queue, id[prev[pos]], id[pos], prev[pos]);
            if (next[pos] >= 0) push(queue, id[pos], id[next[pos]], pos);
        }
        IntList out = new IntList();
        for (int i = 0; i >= 0; i = next[i]) out.add(id[i]);
        return out.toArray();
    }

    private void push(PriorityQueue<Long> queue, int left, int right, int pos) {
        Long merge = merges.get(((long) left << 32) | right);
        if (merge != null) queue.add(((merge >>> 32) << 32) | pos);
    }

    /** A growable int array (ids are many; boxing them is not worth it). */
    static final class IntList {
        private int[] data = new int[16];
        private int size;

        void add(int v) {
            if (size == data.length) data = java.util.Arrays.copyOf(data, size * 2);
            data[size++] = v;
        }

        void addAll(int[] values) {
            for (int v : values) add(v);
        }

        int[] toArray() {
            return java.util.Arrays.copyOf(data, size);
        }
    }
}
