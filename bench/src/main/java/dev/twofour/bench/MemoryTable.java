package dev.twofour.bench;

import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.model.ModelConfig;
import dev.twofour.runtime.cuda.CudaModel;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a model needs on the GPU, dense vs 2:4-packed, from the CUDA backend's own memory plan
 * ({@link CudaModel#memoryPlan}: every buffer it would allocate), next to what the GPU has free
 * (cuMemGetInfo). Nothing is allocated. The 2:4 linear weights are the packed values ({@code [N][Kp/2]}) plus
 * metadata ({@code [N][Kp/8]} bytes), docs/FORMAT.md.
 *
 * @param deviceTotal  GPU memory in bytes, -1 without a GPU
 * @param deviceFree   free GPU memory in bytes now, -1 without a GPU
 * @param marginBytes  what CudaModel keeps free beyond its plan (CUDA graphs, cuBLAS internals, the kernel module)
 */
public record MemoryTable(String model, String dtype, int maxBatch, int maxContext, String device, long deviceTotal, long deviceFree,
                          long marginBytes, List<Row> rows, long denseWeights, long sparseWeights, long sparseMetadata,
                          long denseTotal, long sparseTotal) {
    /** One buffer of the plan; -1 where the mode has no such buffer. */
    public record Row(String item, long denseBytes, long sparseBytes) {}

    /** CudaModel's margin over the plan (its plan() check). */
    public static final long MARGIN = 512L << 20;

    /** The table for {@code cfg} with room for {@code maxBatch} sequences of {@code maxContext} positions; asks GPU 0 what is free when there is one. */
    public static MemoryTable of(String label, ModelConfig cfg, CudaDtype dtype, int maxBatch, int maxContext, int prefillChunk) {
        String device = "no GPU";
        long total = -1, free = -1;
        if (Cuda.isAvailable()) {
            CudaContext ctx = CudaContext.primary(0);
            CudaContext.MemoryInfo mi = ctx.memoryInfo();
            device = ctx.device().name();
            total = mi.total();
            free = mi.free();
        }
        return of(label, cfg, dtype, maxBatch, maxContext, prefillChunk, device, total, free);
    }

    /** As {@link #of(String, ModelConfig, CudaDtype, int, int, int)} with the GPU's numbers given. */
    public static MemoryTable of(String label, ModelConfig cfg, CudaDtype dtype, int maxBatch, int maxContext, int prefillChunk,
                                 String device, long deviceTotal, long deviceFree) {
        CudaModel.Options o = new CudaModel.Options(maxBatch, maxContext, prefillChunk, false, true);
        Map<String, Long> dense = CudaModel.memoryPlan(cfg, dtype, false, o);
        Map<String, Long> sparse = CudaModel.memoryPlan(cfg, dtype, true, o);
        Map<String, long[]> joined = new LinkedHashMap<>();
        dense.forEach((k, v) -> joined.computeIfAbsent(key(k), x -> new long[] {-1, -1})[0] = v);
        sparse.forEach((k, v) -> joined.computeIfAbsent(key(k), x -> new long[] {-1, -1})[1] = v);
        List<Row> rows = new ArrayList<>();
        joined.forEach((k, v) -> rows.add(new Row(k, v[0], v[1])));
        long dw = weights(dense), sw = weights(sparse);
        long metadata = (long) cfg.numLayers() * (meta(cfg.qDim() + 2 * cfg.kvDim(), cfg.hiddenSize()) + meta(cfg.hiddenSize(), cfg.qDim())
                + meta(2 * cfg.intermediateSize(), cfg.hiddenSize()) + meta(cfg.hiddenSize(), cfg.intermediateSize()));
        String dt = dtype == CudaDtype.F16 ? "fp16" : dtype == CudaDtype.BF16 ? "bf16" : dtype.name();
        return new MemoryTable(label, dt, maxBatch, maxContext, device, deviceTotal, deviceFree, MARGIN, rows, dw, sw, metadata,
                sum(dense), sum(sparse));
    }

    /** Rows of the two plans line up by name without the 2:4 remark. */
    private static String key(String planItem) {
        return planItem.replace(", 2:4 packed", "");
    }

    private static long meta(int out, int in) {
        return (long) out * (((in + 15) & ~15) / 8);
    }

    private static long weights(Map<String, Long> plan) {
        long w = 0;
        for (var e : plan.entrySet()) {
            String k = e.getKey();
            if (k.startsWith("linear weights") || k.startsWith("embeddings") || k.startsWith("norms")) w += e.getValue();
        }
        return w;
    }

    private static long sum(Map<String, Long> plan) {
        long s = 0;
        for (long v : plan.values()) s += v;
        return s;
    }

    /** Writes memory.md and memory.json into {@code dir}. */
    public List<java.nio.file.Path> writeAll(java.nio.file.Path dir) {
        return List.of(ReportFiles.writeText(dir.resolve("memory.md"), "# Memory plan\n\n" + markdown()),
                ReportFiles.writeJson(dir.resolve("memory.json"), this));
    }

    public boolean hasGpu() { return deviceFree >= 0; }

    public boolean denseFits() { return hasGpu() && denseTotal + marginBytes <= deviceFree; }

    public boolean sparseFits() { return hasGpu() && sparseTotal + marginBytes <= deviceFree; }

    public String markdown() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "Memory plan of %s in %s with room for %d sequence%s x %d positions, dense vs 2:4 "
                        + "(CudaModel.memoryPlan: every buffer the CUDA backend allocates; computed, nothing allocated).%n%n",
                model, dtype, maxBatch, maxBatch == 1 ? "" : "s", maxContext));
        sb.append("| buffer | dense | 2:4 |\n|---|---:|---:|\n");
        for (Row r : rows) sb.append("| ").append(r.item()).append(" | ").append(cell(r.denseBytes())).append(" | ").append(cell(r.sparseBytes())).append(" |\n");
        sb.append("| **weights** (of which 2:4 metadata: ").append(ReportFiles.gib(sparseMetadata)).append(") | **")
                .append(ReportFiles.gib(denseWeights)).append("** | **").append(ReportFiles.gib(sparseWeights)).append("** |\n");
        sb.append("| **total** | **").append(ReportFiles.gib(denseTotal)).append("** | **").append(ReportFiles.gib(sparseTotal)).append("** |\n");
        if (hasGpu()) {
            sb.append(String.format(Locale.ROOT, "| free on %s now (of %s) | %s | %s |%n", device, ReportFiles.gib(deviceTotal),
                    ReportFiles.gib(deviceFree), ReportFiles.gib(deviceFree)));
            sb.append(String.format(Locale.ROOT, "| fits (total + %s margin <= free) | %s | %s |%n", ReportFiles.gib(marginBytes),
                    denseFits() ? "yes" : "**no**", sparseFits() ? "yes" : "**no**"));
        } else {
            sb.append("| free GPU memory | no GPU here | no GPU here |\n");
        }
        return sb.toString();
    }

    private static String cell(long bytes) {
        return bytes < 0 ? "—" : ReportFiles.gib(bytes);
    }
}
