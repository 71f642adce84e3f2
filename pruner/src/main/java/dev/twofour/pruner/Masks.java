package dev.twofour.pruner;

/** 2:4 masks: keep two of every four consecutive values of a row. */
public final class Masks {
    private Masks() {}

    /**
     * Zeroes, in every group of four of {@code w}, the two entries with the smallest score
     * (ties: the lower index is kept). {@code score} has the layout of {@code w}.
     */
    public static void keepTopTwo(float[] w, float[] score) {
        if (w.length % 4 != 0 || score.length != w.length) {
            throw new IllegalArgumentException("keepTopTwo: " + w.length + " weights, " + score.length + " scores; need equal lengths, multiple of 4");
        }
        for (int o = 0; o < w.length; o += 4) {
            int first = -1, second = -1;
            for (int i = 0; i < 4; i++) {
                float s = score[o + i];
                if (first < 0 || s > score[o + first]) { second = first; first = i; }
                else if (second < 0 || s > score[o + second]) second = i;
            }
            for (int i = 0; i < 4; i++) if (i != first && i != second) w[o + i] = 0f;
        }
    }

    /** true where w is nonzero. */
    public static boolean[] support(float[] w) {
        boolean[] m = new boolean[w.length];
        for (int i = 0; i < w.length; i++) m[i] = w[i] != 0f;
        return m;
    }

    /** Whether every group of four has at most two nonzeros. */
    public static boolean isTwoFour(float[] w) {
        for (int o = 0; o + 3 < w.length; o += 4) {
            int nz = (w[o] != 0 ? 1 : 0) + (w[o + 1] != 0 ? 1 : 0) + (w[o + 2] != 0 ? 1 : 0) + (w[o + 3] != 0 ? 1 : 0);
            if (nz > 2) return false;
        }
        return true;
    }
}
