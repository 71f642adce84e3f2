package dev.twofour.bench;

/**
 * One measurement of {@code twofour tune}: a checked, timed GEMM and, for cuSPARSELt ("cusparselt" = the library's
 * default plan, "cusparselt-tuned" = the best of the sweep and search), the configuration id and split-K it ran
 * (-1 for the other methods).
 */
public record TuneResult(GemmResult result, int configId, int splitK) {
    boolean isCusparseLt() { return result.method().startsWith("cusparselt"); }

    /** "ID:SPLITK", the key under which a configuration is skipped or marked crashed. */
    String configKey() { return configId + ":" + splitK; }
}
