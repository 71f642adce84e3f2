package dev.twofour.pruner;

/**
 * H = X Xᵀ / T for the inputs X (K features × T tokens) of one linear layer: the matrix of the
 * local loss f(W') = tr((W' − W) H (W' − W)ᵀ), which is the mean over calibration tokens of
 * ‖(W' − W)x‖². Accumulated over any number of captured batches; fp32 products within
 * chunks of 256 tokens, fp64 across chunks.
 *
 * <p>This class keeps the sum on the host. A prune engine may keep it elsewhere (the CUDA engine's
 * {@link PruneEngine#newHessian} accumulates on the GPU): such a subclass overrides {@link #add},
 * {@link #tokens}, {@link #matrix}, {@link #floatMatrix} and {@link #close}. Closing frees that storage; for the host
 * Hessian it does nothing.
 */
public class Hessian implements AutoCloseable {
    private final int k;
    private final double[] sum; // null in subclasses that keep the sum elsewhere
    private long tokens;
    private double[] cachedMatrix;
    private float[] cachedFloat;

    public Hessian(int k) {
        this(k, true);
    }

    /** For subclasses: {@code hostStorage} false allocates no host sum (they override add/tokens/matrix). */
    protected Hessian(int k, boolean hostStorage) {
        if (k <= 0) throw new IllegalArgumentException("Hessian size must be positive, got " + k);
        this.k = k;
        this.sum = hostStorage ? new double[Math.multiplyExact(k, k)] : null;
    }

    /** Adds the inputs x = [rows][k] (row-major: one token per row, as a linear layer sees them). */
    public void add(float[] x, int rows) {
        if ((long) rows * k > x.length) {
            throw new IllegalArgumentException("Hessian.add: " + rows + " rows of " + k + " need "
                    + (long) rows * k + " floats, the array holds " + x.length);
        }
        Dense.addGram(x, rows, k, sum);
        tokens += rows;
        cachedMatrix = null;
        cachedFloat = null;
    }

    public final int size() { return k; }

    public long tokens() { return tokens; }

    /** H (fp64, row-major K×K, symmetric, normalized by the token count). Shared: do not modify. */
    public double[] matrix() {
        if (tokens == 0) throw new IllegalStateException("Hessian has no calibration tokens yet");
        if (cachedMatrix == null) {
            double[] m = sum.clone();
            Dense.symmetrize(m, k);
            double inv = 1.0 / tokens;
            for (int i = 0; i < m.length; i++) m[i] *= inv;
            cachedMatrix = m;
        }
        return cachedMatrix;
    }

    /** H in fp32, for the gradient products. Shared: do not modify. */
    public float[] floatMatrix() {
        if (cachedFloat == null) {
            double[] m = matrix();
            float[] f = new float[m.length];
            for (int i = 0; i < m.length; i++) f[i] = (float) m[i];
            cachedFloat = f;
        }
        return cachedFloat;
    }

    /** diag(H): the mean squared value of each input feature. */
    public double[] diagonal() {
        double[] m = matrix();
        double[] d = new double[k];
        for (int i = 0; i < k; i++) d[i] = m[i * k + i];
        return d;
    }

    /** Builds H directly from a matrix (tests, toy problems). */
    public static Hessian of(double[] h, int k) {
        if (h.length != k * k) throw new IllegalArgumentException("Hessian.of: expected " + k * k + " values, got " + h.length);
        Hessian hs = new Hessian(k);
        System.arraycopy(h, 0, hs.sum, 0, h.length);
        hs.tokens = 1;
        return hs;
    }

    /** Frees storage held outside the Java heap (nothing for this class). Closing twice is harmless. */
    @Override public void close() {}
}
