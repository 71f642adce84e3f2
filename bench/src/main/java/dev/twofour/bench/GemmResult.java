package dev.twofour.bench;

/**
 * One timed GEMM: Y[m][n] = X[m][k] · Wᵀ by {@code method} ("dense" = cuBLAS GemmEx,
 * "cusparselt" = cuSPARSELt default plan, "cusparselt-tuned" = best configuration of a sweep,
 * "ours" = our 2:4 kernel). tflops counts the dense-equivalent 2·m·n·k; gbps the bytes the method
 * must read and write at least (weights as stored, X, Y); speedup = dense time / this time;
 * relError = ‖Y − Y_dense‖ / ‖Y_dense‖; note says how (plan, configuration, padding).
 */
public record GemmResult(String shape, int n, int k, int m, String dtype, String method,
                         double micros, double tflops, double gbps, double speedup, double relError, String note) {}
