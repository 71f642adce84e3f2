package dev.twofour.kernels.ref;

/** Plain-Java twins of elementwise.cuh (fp32 math; callers round to the storage type). */
public final class ElementwiseRef {
    private ElementwiseRef() {}

    /** y[i] = a * x[i] + b * y[i], in place. */
    public static void axpby(float[] x, float[] y, float a, float b) {
        for (int i = 0; i < y.length; i++) y[i] = a * x[i] + b * y[i];
    }

    /** out[r][c] = silu(gate[r][c]) * up[r][c] with row strides. */
    public static void swiglu(float[] gate, int ldg, float[] up, int ldu, float[] out, int ldo, int rows, int cols) {
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                float g = gate[r * ldg + c];
                out[r * ldo + c] = (float) (g / (1.0 + Math.exp(-g))) * up[r * ldu + c];
            }
    }
}
