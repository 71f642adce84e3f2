package dev.twofour.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The README's headline tables from a folder of benchmark results (one sub-folder per run, as
 * scripts/device/bench-all.sh writes them: decode.json, prefill.json, gemm.json): decode tokens/s dense vs 2:4 per
 * model and batch, prefill speedups, the 70B memory plan and its 2:4 decode speed, and the GEMM speedup range.
 */
public final class ResultsSummary {
    private ResultsSummary() {}

    /** Markdown for the README, built from every report under {@code dir}. */
    public static String markdown(Path dir) {
        List<DecodeReport> decodes = new ArrayList<>();
        List<PrefillReport> prefills = new ArrayList<>();
        List<GemmReport> gemms = new ArrayList<>();
        try (Stream<Path> s = Files.walk(dir, 2)) {
            for (Path p : s.sorted().toList()) {
                switch (p.getFileName().toString()) {
                    case "decode.json" -> decodes.add(DecodeReport.readJson(p));
                    case "prefill.json" -> prefills.add(PrefillReport.readJson(p));
                    case "gemm.json" -> gemms.add(GemmReport.readJson(p));
                    default -> { }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading results under " + dir + ": " + e.getMessage(), e);
        }
        if (decodes.isEmpty() && prefills.isEmpty() && gemms.isEmpty()) {
            throw new IllegalArgumentException("no decode.json, prefill.json or gemm.json under " + dir + " (one folder per benchmark)");
        }
        StringBuilder sb = new StringBuilder();
        List<DecodeReport> both = decodes.stream().filter(d -> d.modes().contains("dense") && d.modes().contains("2:4")).toList();
        if (!both.isEmpty()) {
            DecodeReport first = both.getFirst();
            sb.append(String.format(Locale.ROOT, "**Decode, dense vs 2:4** (%s, synthetic weights, prompt %d, %d tokens per sequence, tokens/s in total):%n%n",
                    first.device(), first.promptLen(), first.gen()));
            sb.append("| model | batch | dense tok/s | 2:4 tok/s | speedup | dense ms/token | 2:4 ms/token |\n|---|---:|---:|---:|---:|---:|---:|\n");
            for (DecodeReport d : both) {
                for (DecodeResult s : d.results()) {
                    if (!s.mode().equals("2:4")) continue;
                    Optional<DecodeResult> dn = d.find("dense", s.batch());
                    if (dn.isEmpty()) continue;
                    sb.append(String.format(Locale.ROOT, "| %s %s | %d | %.1f | %.1f | **%.2fx** | %.2f | %.2f |%n", d.model(), d.dtype(), s.batch(),
                            dn.get().tokensPerSecondTotal(), s.tokensPerSecondTotal(), s.speedup(), dn.get().msPerStepMedian(), s.msPerStepMedian()));
                }
            }
            sb.append('\n');
        }
        List<PrefillReport> pboth = prefills.stream().filter(p -> p.modes().contains("dense") && p.modes().contains("2:4")).toList();
        if (!pboth.isEmpty()) {
            sb.append("**Prefill, dense vs 2:4** (one sequence, time until the last token's logits):\n\n");
            sb.append("| model | prompt tokens | dense ms | 2:4 ms | speedup | 2:4 tok/s |\n|---|---:|---:|---:|---:|---:|\n");
            for (PrefillReport p : pboth) {
                for (PrefillResult s : p.results()) {
                    if (!s.mode().equals("2:4")) continue;
                    Optional<PrefillResult> dn = p.find("dense", s.length());
                    if (dn.isEmpty()) continue;
                    sb.append(String.format(Locale.ROOT, "| %s %s | %d | %.1f | %.1f | **%.2fx** | %.0f |%n", p.model(), p.dtype(), s.length(),
                            dn.get().millisMedian(), s.millisMedian(), s.speedup(), s.tokensPerSecond()));
                }
            }
            sb.append('\n');
        }
        for (DecodeReport d : decodes) {
            MemoryTable m = d.memory();
            if (m == null || m.denseFits() || !m.hasGpu()) continue;
            Optional<DecodeResult> s = d.find("2:4", 1);
            sb.append(String.format(Locale.ROOT, "**%s on one GPU** (%s): dense weights %s + buffers = %s do not fit in the %s free; 2:4-packed "
                            + "weights %s (values + %s metadata), %s in all, fit,", d.model(), m.device(), ReportFiles.gib(m.denseWeights()),
                    ReportFiles.gib(m.denseTotal()), ReportFiles.gib(m.deviceFree()), ReportFiles.gib(m.sparseWeights()),
                    ReportFiles.gib(m.sparseMetadata()), ReportFiles.gib(m.sparseTotal())));
            s.ifPresent(r -> sb.append(String.format(Locale.ROOT, " and decode at batch 1 at **%.1f tok/s** (%.1f ms/token)", r.tokensPerSecondTotal(),
                    r.msPerStepMedian())));
            sb.append(".\n\n");
        }
        for (GemmReport g : gemms) {
            double lo = Double.MAX_VALUE, hi = 0;
            double smallLo = Double.MAX_VALUE, smallHi = 0;
            for (String shape : g.shapes()) {
                for (int m : g.ms(shape)) {
                    Optional<GemmResult> best = g.bestAfterSelection(shape, m);
                    if (best.isEmpty()) continue;
                    double x = best.get().speedup();
                    lo = Math.min(lo, x);
                    hi = Math.max(hi, x);
                    if (m <= 16) {
                        smallLo = Math.min(smallLo, x);
                        smallHi = Math.max(smallHi, x);
                    }
                }
            }
            if (hi == 0) continue;
            String model = g.results().isEmpty() ? "" : String.join(", ", g.shapes());
            sb.append(String.format(Locale.ROOT, "**2:4 GEMM after selection** (%s, %s; shapes %s): %.2fx-%.2fx over cuBLAS across all M", g.device(),
                    g.dtype(), model, lo, hi));
            if (smallHi > 0) sb.append(String.format(Locale.ROOT, ", %.2fx-%.2fx at M <= 16", smallLo, smallHi));
            sb.append(".\n\n");
        }
        return sb.toString();
    }
}
