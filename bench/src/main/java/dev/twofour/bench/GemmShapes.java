package dev.twofour.bench;

import dev.twofour.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * The linear-layer shapes of a model preset, as N x K (N = output features, K = input features):
 * qkv (fused q, k, v: (heads + 2 kv heads) x headDim by hidden), o (hidden by heads x headDim),
 * gate (intermediate by hidden, one of the two unfused MLP inputs), gate_up (fused, 2 x intermediate
 * by hidden) and down (hidden by intermediate). Llama-2-7B: 12288x4096, 4096x4096, 11008x4096,
 * 22016x4096, 4096x11008.
 */
public final class GemmShapes {
    private GemmShapes() {}

    public record Shape(String name, int n, int k) {
        public Shape {
            if (n <= 0 || k <= 0 || k % 4 != 0) throw new IllegalArgumentException("shape " + name + " " + n + "x" + k + ": N and K must be > 0 and K a multiple of 4");
        }
        @Override public String toString() { return name + " " + n + "x" + k; }
    }

    public static List<Shape> preset(String name) {
        ModelConfig c = ModelConfig.preset(name);
        int q = c.numHeads() * c.headDim(), kv = c.numKvHeads() * c.headDim();
        return List.of(
                new Shape("qkv", q + 2 * kv, c.hiddenSize()),
                new Shape("o", c.hiddenSize(), q),
                new Shape("gate", c.intermediateSize(), c.hiddenSize()),
                new Shape("gate_up", 2 * c.intermediateSize(), c.hiddenSize()),
                new Shape("down", c.hiddenSize(), c.intermediateSize()));
    }

    /** "4096x4096,11008x4096" -> shapes named by their size. */
    public static List<Shape> parse(String list) {
        List<Shape> out = new ArrayList<>();
        for (String s : list.split(",")) {
            String t = s.trim().toLowerCase(java.util.Locale.ROOT);
            if (t.isEmpty()) continue;
            String[] p = t.split("x");
            if (p.length != 2) throw new IllegalArgumentException("shape '" + s + "' is not NxK (e.g. 4096x11008)");
            try {
                out.add(new Shape(t, Integer.parseInt(p[0]), Integer.parseInt(p[1])));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("shape '" + s + "' is not NxK with whole numbers (e.g. 4096x11008)");
            }
        }
        if (out.isEmpty()) throw new IllegalArgumentException("no shapes given");
        return out;
    }
}
