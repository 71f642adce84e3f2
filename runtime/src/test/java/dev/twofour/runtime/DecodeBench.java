package dev.twofour.runtime;

import dev.twofour.model.Sparse24;
import dev.twofour.model.WeightNames;
import dev.twofour.model.tokenizer.Tokenizer;
import dev.twofour.runtime.cpu.CpuBackend;

import java.nio.file.Path;
import java.util.List;

/**
 * Not a test: greedy decode tokens/s on the CPU backend of the original dense model, and of a magnitude-pruned
 * 2:4 copy run through the dense kernel and through the packed 2:4 kernel (same weights). The variants take turns
 * for several rounds and the best round of each is reported, because the machine is shared and noisy. Run:
 * {@code java --add-modules jdk.incubator.vector -cp <runtime classes, test classes, deps> dev.twofour.runtime.DecodeBench
 * [modelDir] [tokens] [rounds] [threads]}
 */
public final class DecodeBench {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "models/tiny-llama-8m");
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : Runtime.getRuntime().availableProcessors();
        Tokenizer tok = Tokenizer.load(dir);
        String[] names = {"original dense", "2:4 pruned, dense kernel", "2:4 pruned, packed 2:4 kernel"};
        try (CpuBackend backend = new CpuBackend(threads)) {
            System.out.println(backend.description());
            Transformer[] models = new Transformer[3];
            for (int v = 0; v < 3; v++) {
                models[v] = Transformer.load(dir, backend, new Transformer.Options(v < 2));
                if (v > 0) {
                    Transformer m = models[v];
                    for (int l = 0; l < m.numLayers(); l++) {
                        for (WeightNames.Linear w : WeightNames.Linear.values()) {
                            float[] x = m.linearWeights(l, w);
                            Sparse24.pruneMagnitude(x, w.outFeatures(m.config()), w.inFeatures(m.config()));
                            m.replaceLinear(l, w, x);
                        }
                    }
                }
            }
            SamplingParams p = SamplingParams.greedy(tokens).withStopTokenIds(List.of());
            Generator.Result[] best = new Generator.Result[3];
            for (int round = 0; round < rounds + 2; round++) {
                for (int v = 0; v < 3; v++) {
                    Generator.Result r = new Generator(models[v], tok).generate("In the beginning God created", p, null);
                    if (round >= 2 && (best[v] == null || r.decodeTokensPerSecond() > best[v].decodeTokensPerSecond())) best[v] = r;
                }
            }
            for (int v = 0; v < 3; v++) {
                System.out.printf("%-30s %-8s linear+head bytes %6.2f MB  decode %6.1f tok/s (best of %d)%n", names[v],
                        models[v].linearLayout(0, WeightNames.Linear.Q), models[v].linearWeightBytes() / 1e6,
                        best[v].decodeTokensPerSecond(), rounds);
                models[v].close();
            }
        }
    }
}
