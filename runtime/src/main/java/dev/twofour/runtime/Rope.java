package dev.twofour.runtime;

import dev.twofour.model.ModelConfig;

/**
 * Rotary position embedding of one model, Hugging Face "rotate_half" order: pair i rotates elements
 * {@code (i, i + headDim/2)} of every head by angle {@code position × invFreq[i]}. The inverse frequencies
 * include the config's scaling (default, "linear", "llama3"). Angles and their cos/sin are computed in fp32
 * arithmetic as transformers does ({@code position * invFreq} rounded to float, then cos/sin).
 */
public record Rope(int headDim, float[] invFreq) {
    public Rope {
        if (headDim % 2 != 0 || invFreq.length != headDim / 2) {
            throw new IllegalArgumentException("RoPE needs headDim/2 frequencies for an even headDim, got headDim "
                    + headDim + " and " + invFreq.length + " frequencies");
        }
        invFreq = invFreq.clone();
    }

    public static Rope of(ModelConfig config) {
        double[] inv = config.ropeInverseFrequencies();
        float[] f = new float[inv.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) inv[i];
        return new Rope(config.headDim(), f);
    }

    /** The fp32 angle of pair {@code i} at {@code position}. */
    public float angle(int position, int i) {
        return (float) position * invFreq[i];
    }
}
