package dev.twofour.server;

import dev.twofour.runtime.cuda.SparseMode;

import java.nio.file.Path;

/**
 * What model {@link RuntimeEngine#open} serves and how.
 *
 * @param modelDir     a Hugging Face model folder (config.json, safetensors, tokenizer.json); null with a preset
 * @param preset       a synthetic-weights preset (llama2-7b, ...; CUDA only); null with a folder
 * @param sparse       which linear layers run the 2:4 kernels: for a model folder AUTO (those whose weights are 2:4),
 *                     ON (all; an error names the first that is not) or OFF (dense); for a preset ON = 2:4-packed
 *                     synthetic weights, otherwise dense
 * @param tokenizerDir tokenizer for a preset (its ids are what the client sees); null: {@code defaultTokenizerDir}
 * @param backend      "cpu", "cuda" or "auto"
 * @param maxBatch     sequences decoded together at most
 * @param maxQueue     requests waiting at most (past it: 429)
 * @param maxContext   tokens per sequence at most; 0 = the model's (on CUDA: at most 4096 by default)
 * @param kvTokens     CPU: KV-cache tokens over all sequences; 0 = max(context, maxBatch x 256)
 * @param modelName    the id clients use in "model"; null = the folder's name or the preset's
 */
public record EngineSettings(Path modelDir, String preset, SparseMode sparse, Path tokenizerDir, String backend,
                             int maxBatch, int maxQueue, int maxContext, int kvTokens, String modelName) {
    public EngineSettings {
        if ((modelDir == null) == (preset == null)) throw new IllegalArgumentException("give either a model folder or a preset");
        if (maxBatch < 1) throw new IllegalArgumentException("--max-batch must be >= 1, got " + maxBatch);
        if (maxQueue < 0) throw new IllegalArgumentException("--max-queue must be >= 0, got " + maxQueue);
        if (maxContext < 0) throw new IllegalArgumentException("--max-context must be >= 0 (0 = the model's), got " + maxContext);
        if (kvTokens < 0) throw new IllegalArgumentException("--kv-tokens must be >= 0 (0 = automatic), got " + kvTokens);
        if (backend == null) backend = "auto";
        if (sparse == null) sparse = SparseMode.AUTO;
    }

    /** For a preset: 2:4-packed synthetic weights. */
    public boolean sparse24() { return preset != null && sparse == SparseMode.ON; }

    /** The CPU engine on a model folder with small defaults (tests). */
    public static EngineSettings cpu(Path modelDir, int maxBatch, int maxQueue) {
        return new EngineSettings(modelDir, null, SparseMode.AUTO, null, "cpu", maxBatch, maxQueue, 0, 0, null);
    }
}
