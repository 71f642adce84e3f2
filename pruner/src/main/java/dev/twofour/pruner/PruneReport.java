package dev.twofour.pruner;

import java.util.List;

/**
 * prune-report.json: what was done and how well each layer kept its outputs. Losses are the
 * local loss tr((W' − W)H(W' − W)ᵀ) = mean over calibration tokens of ‖(W' − W)x‖²;
 * {@code relative*} divide by tr(W H Wᵀ), the mean squared output of the layer.
 */
public record PruneReport(String model, String method, boolean refine, String engine, int samples, int seqLen, long seed,
                          long calibrationTokens, double proxTau0, double proxGrowth, int proxMaxIterations,
                          int refineIterations, int sparseGptBlock, double sparseGptDamp,
                          double seconds, double meanRelativeLoss, double meanRelativeLossMagnitude,
                          List<Layer> layers) {
    public record Layer(String name, int rows, int cols, double lossMagnitude, double lossBefore, double lossAfter,
                        double relativeLoss, double outputEnergy, double seconds, int proxIterations) {}
}
