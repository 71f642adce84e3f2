package dev.twofour.pruner;

/** The usual one-shot 2:4 baselines: magnitude, Wanda and SparseGPT. Each returns new weights. */
public final class Baselines {
    private Baselines() {}

    /** Keep the two largest |w| of every group. */
    public static float[] magnitude(LayerProblem p) {
        float[] w = p.weight().clone();
        float[] score = new float[w.length];
        for (int i = 0; i < w.length; i++) score[i] = Math.abs(w[i]);
        Masks.keepTopTwo(w, score);
        return w;
    }

    /**
     * Wanda (Sun et al. 2023): score |W_ij|·‖X_j‖₂, keep two of four per group along the input.
     * ‖X_j‖₂ = sqrt(T·H_jj); the constant T does not change the ranking.
     */
    public static float[] wanda(LayerProblem p) {
        float[] w = p.weight().clone();
        double[] diag = p.hessian().diagonal();
        int k = p.cols();
        float[] score = new float[w.length];
        for (int r = 0; r < p.rows(); r++) {
            for (int j = 0; j < k; j++) score[r * k + j] = (float) (Math.abs(w[r * k + j]) * Math.sqrt(diag[j]));
        }
        Masks.keepTopTwo(w, score);
        return w;
    }

    /**
     * SparseGPT (Frantar and Alistarh 2023) for 2:4: columns are processed left to right in
     * blocks of {@code blockSize}; the 2:4 mask of each group of four columns is chosen when
     * the sweep reaches the group, from the already-updated weights, by the OBS saliency
     * w²/[H⁻¹]_jj² (with [H⁻¹] the upper Cholesky factor of H⁻¹); the error of each pruned
     * column is spread over the columns to its right through that factor (OBS update), lazily
     * for the columns beyond the block. H is dampened by {@code dampening}·mean(diag H);
     * inputs that never fire (H_jj = 0) get H_jj = 1 and their weights are zeroed.
     */
    public static float[] sparseGpt(LayerProblem p, int blockSize, double dampening) {
        int n = p.rows(), k = p.cols();
        if (blockSize <= 0 || blockSize % 4 != 0) throw new IllegalArgumentException("SparseGPT block size must be a positive multiple of 4, got " + blockSize);
        boolean[] dead = new boolean[k];
        double[] u = Cholesky.upperFactorOfInverse(dampenedHessian(p.hessian(), dampening, dead), k);
        double[] w = new double[n * k];
        for (int i = 0; i < w.length; i++) w[i] = dead[i % k] ? 0 : p.weight()[i];

        double[] err = new double[n * blockSize];
        boolean[] pruned = new boolean[n * 4];
        for (int b0 = 0; b0 < k; b0 += blockSize) {
            int b1 = Math.min(k, b0 + blockSize), bw = b1 - b0;
            for (int j = b0; j < b1; j++) {
                if ((j - b0) % 4 == 0) chooseGroupMask(w, u, n, k, j, pruned);
                double d = u[j * k + j];
                for (int r = 0; r < n; r++) {
                    double wj = w[r * k + j];
                    double q = pruned[r * 4 + (j - b0) % 4] ? 0 : wj;
                    double e = (wj - q) / d;
                    err[r * blockSize + (j - b0)] = e;
                    if (e != 0) {
                        int row = r * k, urow = j * k;
                        for (int c = j + 1; c < b1; c++) w[row + c] -= e * u[urow + c];
                    }
                    w[r * k + j] = q;
                }
            }
            // Lazy update of everything right of the block: W[:, b1:] -= Err · U[b0:b1, b1:].
            final int fb0 = b0, fb1 = b1, fbw = bw;
            java.util.stream.IntStream.range(0, n).parallel().forEach(r -> {
                int row = r * k;
                for (int i = 0; i < fbw; i++) {
                    double e = err[r * blockSize + i];
                    if (e == 0) continue;
                    int urow = (fb0 + i) * k;
                    for (int c = fb1; c < k; c++) w[row + c] -= e * u[urow + c];
                }
            });
        }
        float[] out = new float[n * k];
        for (int i = 0; i < out.length; i++) out[i] = (float) w[i];
        return out;
    }

    /**
     * SparseGPT's H: inputs that never fire (H_jj = 0) get H_jj = 1 and are flagged in {@code dead}
     * (their weights must be zeroed), then {@code dampening}·mean(diag H) is added to the diagonal.
     */
    static double[] dampenedHessian(Hessian hessian, double dampening, boolean[] dead) {
        int k = hessian.size();
        double[] h = hessian.matrix().clone();
        double meanDiag = 0;
        for (int j = 0; j < k; j++) {
            if (h[j * k + j] == 0) {
                h[j * k + j] = 1;
                dead[j] = true;
            }
            meanDiag += h[j * k + j];
        }
        meanDiag /= k;
        for (int j = 0; j < k; j++) h[j * k + j] += dampening * meanDiag;
        return h;
    }

    /** Marks, per row, the two entries of columns j..j+3 with the lowest w²/U_jj² as pruned. */
    private static void chooseGroupMask(double[] w, double[] u, int n, int k, int j, boolean[] pruned) {
        double[] score = new double[4];
        for (int r = 0; r < n; r++) {
            for (int i = 0; i < 4; i++) {
                double d = u[(j + i) * k + j + i];
                double v = w[r * k + j + i];
                score[i] = v * v / (d * d);
            }
            // Keep the two largest (ties: lower index kept).
            int first = -1, second = -1;
            for (int i = 0; i < 4; i++) {
                if (first < 0 || score[i] > score[first]) { second = first; first = i; }
                else if (second < 0 || score[i] > score[second]) second = i;
            }
            for (int i = 0; i < 4; i++) pruned[r * 4 + i] = i != first && i != second;
        }
    }
}
