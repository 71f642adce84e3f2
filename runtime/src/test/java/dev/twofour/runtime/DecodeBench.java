package dev.twofour.runtime;

import dev.twofour.model.Sparse24;
import dev.twofour.model.WeightNames;
import dev.twofour.model.tokenizer.Tokenizer;
import dev.twofour.runtime.cpu.CpuBackend;

import java.nio.file.Path;
import java.util.List;

/**
 * Not a test: greedy decode tokens/s of a model on the CPU backend, dense vs 2:4-packed, on the same
 * magnitude-pruned weights (and the original dense model for reference). Run:
 * {@code java --add-modules jdk.incubator.vector -cp ... dev.twofour.runtime.DecodeBench [modelDir] [tokens] [threads]}
 */
public final class DecodeBench {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "models/tiny-llama-8m");
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : Runtime.getRuntime().availableProcessors();
        Tokenizer tok = Tokenizer.load(dir);
        try (CpuBackend backend = new CpuBackend(threads)) {
            System.out.println(backend.description());
            for (String variant : List.of("original dense", "2:4 pruned, dense kernel", "2:4 pruned, packed 2:4 kernel")) {
                boolean pruned = !variant.startsWith("original");
                boolean dense = variant.contains("dense kernel") || !pruned;
                try (Transformer m = Transformer.load(dir, backend, new Transformer.Options(dense))) {
                    if (pruned) {
                        for (int l = 0; l < m.numLayers(); l++) {
                            for (WeightNames.Linear w : WeightNames.Linear.values()) {
                                float[] v = m.linearWeights(l, w);
                                int n = w.outFeatures(m.config()), k = w.inFeatures(m.config());
                                Sparse24.pruneMagnitude(v, n, k);
                                m.replaceLinear(l, w, v);
                            }
                        }
                    }
                    Generator g = new Generator(m, tok);
                    SamplingParams p = SamplingParams.greedy(tokens).withStopTokenIds(List.of());
                    for (int warm = 0; warm < 3; warm++) g.generate("In the beginning God created", p, null);
                    Generator.Result best = null;
                    for (int rep = 0; rep < 3; rep++) {
                        Generator.Result r = g.generate("In the beginning God created", p, null);
                        if (best == null || r.decodeTokensPerSecond() > best.decodeTokensPerSecond()) best = r;
                    }
                    System.out.printf("%-32s layout %-8s linear bytes %6.2f MB  decode %7.1f tok/s  (%s)%n", variant,
                            m.linearLayout(0, WeightNames.Linear.Q), m.linearWeightBytes() / 1e6, best.decodeTokensPerSecond(), best.statsLine());
                }
            }
        }
    }
}
