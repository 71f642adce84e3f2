package dev.twofour.bench;

import dev.twofour.model.WeightNames;
import dev.twofour.runtime.Transformer;

/**
 * Makes a model 2:4 for speed measurements only: in every group of 4 consecutive inputs of each output row,
 * the 2 weights of largest magnitude stay (the lower index wins a tie) and the others become zero. The
 * runtime then packs each layer and runs it through its 2:4 kernel.
 */
final class Magnitude24 {
    private Magnitude24() {}

    static void pruneInPlace(Transformer t) {
        for (int l = 0; l < t.numLayers(); l++) {
            for (WeightNames.Linear w : WeightNames.Linear.values()) {
                float[] weights = t.linearWeights(l, w);
                prune(weights);
                t.replaceLinear(l, w, weights);
            }
        }
    }

    /** Keeps the two largest |w| of every group of 4 (the array length must be a multiple of 4). */
    static void prune(float[] w) {
        if (w.length % 4 != 0) throw new IllegalArgumentException("2:4 needs a multiple of 4 weights per row, got " + w.length);
        for (int g = 0; g < w.length; g += 4) {
            int a = -1, b = -1;  // indices of the largest and second largest
            for (int i = g; i < g + 4; i++) {
                float m = Math.abs(w[i]);
                if (a < 0 || m > Math.abs(w[a])) { b = a; a = i; }
                else if (b < 0 || m > Math.abs(w[b])) b = i;
            }
            for (int i = g; i < g + 4; i++) if (i != a && i != b) w[i] = 0f;
        }
    }
}
