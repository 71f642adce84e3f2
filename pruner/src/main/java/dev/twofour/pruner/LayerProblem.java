package dev.twofour.pruner;

/**
 * One linear layer to prune: its weights W = [rows][cols] (row-major, HF layout: rows = output
 * features, cols = input features, groups of 4 along cols) and the Hessian of its inputs.
 */
public record LayerProblem(String name, float[] weight, int rows, int cols, Hessian hessian) {
    public LayerProblem {
        if (rows <= 0 || cols <= 0) throw new IllegalArgumentException(name + ": shape [" + rows + "][" + cols + "] must be positive");
        if (cols % 4 != 0) {
            throw new IllegalArgumentException(name + ": input size " + cols + " is not a multiple of 4, so it has no 2:4 groups");
        }
        if (weight.length != rows * cols) {
            throw new IllegalArgumentException(name + ": weight has " + weight.length + " values, shape [" + rows + "][" + cols + "] needs " + rows * cols);
        }
        if (hessian.size() != cols) {
            throw new IllegalArgumentException(name + ": Hessian is " + hessian.size() + "x" + hessian.size() + " but the layer has " + cols + " inputs");
        }
    }

    /** Local loss tr((W' − W) H (W' − W)ᵀ): the mean over calibration tokens of ‖(W' − W)x‖². */
    public double loss(float[] pruned) {
        float[] d = new float[weight.length];
        for (int i = 0; i < d.length; i++) d[i] = pruned[i] - weight[i];
        return Dense.quadratic(d, rows, cols, hessian.floatMatrix());
    }

    /** tr(W H Wᵀ): the mean squared output of the layer, the scale against which losses are read. */
    public double outputEnergy() {
        return Dense.quadratic(weight, rows, cols, hessian.floatMatrix());
    }
}
