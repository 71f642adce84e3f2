package dev.twofour.kernels;

import dev.twofour.cuda.CudaDtype;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Which implementation a 2:4 linear layer uses for a batch of M tokens: our decode kernel
 * ({@link Sparse24Gemm}), cuSPARSELt, or dense cuBLAS on the unpacked weight — whichever is fastest,
 * so a 2:4 model is never slower than dense.
 *
 * <p>From tuning data ({@code selection.tsv} written by {@code twofour bench gemm}, or the tuning cache file
 * {@link #tuningCacheFile} written by {@code twofour tune}: lines
 * {@code N K M METHOD [CONFIG_ID SPLIT_K]}, the last two the cuSPARSELt configuration that won, -1 for
 * the library's default) when there is an entry for the layer's shape: the entry with the smallest
 * measured M >= the requested M (or the largest measured M beyond them). Otherwise the built-in
 * default: our kernel for M <= 8, dense above. It never picks cuSPARSELt without tuning data, because
 * cuSPARSELt 0.8 with its default configuration ran at 0.2-0.7x of cuBLAS on the H100 below M = 4096
 * (docs/results/gemm-h100-fp16); our kernel won at M = 1..8 on the Llama-2-7B shapes (1.14-1.60x;
 * one exception, 4096x4096 at M = 8: 0.98x).
 */
public final class Sparse24Selection {
    public enum Method { OURS, CUSPARSELT, DENSE }

    /**
     * One measurement: for weights N x K at M tokens, {@code method} was fastest; for CUSPARSELT, with
     * configuration {@code configId} and {@code splitK} (-1: the library's default).
     */
    public record Entry(int n, int k, int m, Method method, int configId, int splitK) {
        public Entry(int n, int k, int m, Method method) { this(n, k, m, method, -1, -1); }
    }

    /**
     * Built-in M buckets (inclusive upper bounds) for shapes without tuning data: our kernel up to
     * -Dtwofour.gemm.oursMaxM tokens (default 16: llama2-7b decoded 2734 against 2525 tok/s with cuBLAS at batch 16 on
     * the H100, kernels/NOTES.md), dense beyond.
     */
    private static final int[] DEFAULT_MAX_M = {Integer.getInteger("twofour.gemm.oursMaxM", 16), Integer.MAX_VALUE};
    private static final Method[] DEFAULT_METHOD = {Method.OURS, Method.DENSE};

    private final List<Entry> entries;

    private Sparse24Selection(List<Entry> entries) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingInt(Entry::n).thenComparingInt(Entry::k).thenComparingInt(Entry::m));
        this.entries = List.copyOf(sorted);
    }

    /** Only the built-in default. */
    public static Sparse24Selection builtIn() { return new Sparse24Selection(List.of()); }

    public static Sparse24Selection of(List<Entry> entries) { return new Sparse24Selection(entries); }

    /** Reads selection.tsv ({@code N K M METHOD} per line; '#' starts a comment). */
    public static Sparse24Selection load(Path tsv) {
        List<Entry> out = new ArrayList<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(tsv);
        } catch (IOException e) {
            throw new UncheckedIOException("reading 2:4 selection data " + tsv + ": " + e.getMessage(), e);
        }
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            String[] f = line.split("\\s+");
            try {
                if (f.length != 4 && f.length != 6) throw new IllegalArgumentException("expected 4 or 6 fields");
                out.add(new Entry(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Integer.parseInt(f[2]),
                        Method.valueOf(f[3].toUpperCase(Locale.ROOT)),
                        f.length == 6 ? Integer.parseInt(f[4]) : -1, f.length == 6 ? Integer.parseInt(f[5]) : -1));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(tsv + " line " + (i + 1) + ": '" + line + "' is not 'N K M ours|cusparselt|dense [CONFIG_ID SPLIT_K]' ("
                        + e.getMessage() + "); fix or delete the file and re-run twofour bench gemm", e);
            }
        }
        return new Sparse24Selection(out);
    }

    public List<Entry> entries() { return entries; }

    /** The method for weights N x K at M tokens. */
    public Method choose(int n, int k, int m) {
        return entryFor(n, k, m).method();
    }

    /** The entry that decides N x K at M tokens (a synthetic one, M = bucket bound, for the built-in default). */
    public Entry entryFor(int n, int k, int m) {
        Entry below = null;
        for (Entry e : entries) {
            if (e.n() != n || e.k() != k) continue;
            if (e.m() >= m) return e;
            below = e;
        }
        if (below != null) return below;
        for (int i = 0; i < DEFAULT_MAX_M.length; i++) if (m <= DEFAULT_MAX_M[i]) return new Entry(n, k, DEFAULT_MAX_M[i], DEFAULT_METHOD[i]);
        return new Entry(n, k, m, DEFAULT_METHOD[DEFAULT_METHOD.length - 1]);
    }

    /**
     * Where {@code twofour tune} stores, and the CUDA runtime looks for, the tuning data of one GPU model, cuSPARSELt
     * version and dtype: {@code HOME/.cache/twofour/tuning/GPU-cusparselt-VERSION-DTYPE.tsv}, the GPU name with
     * every run of other characters than letters, digits, '.', '_' and '-' made one '-'
     * (e.g. NVIDIA-H100-80GB-HBM3-cusparselt-0.8.1-fp16.tsv).
     */
    public static Path tuningCacheFile(Path home, String gpuName, String cusparseLtVersion, CudaDtype dtype) {
        String gpu = gpuName.strip().replaceAll("[^A-Za-z0-9._-]+", "-").replaceAll("^-+|-+$", "");
        String dt = dtype == CudaDtype.BF16 ? "bf16" : dtype == CudaDtype.F16 ? "fp16" : dtype.name().toLowerCase(Locale.ROOT);
        return home.resolve(".cache").resolve("twofour").resolve("tuning")
                .resolve(gpu + "-cusparselt-" + cusparseLtVersion + "-" + dt + ".tsv");
    }

    public String toTsv() {
        return toTsv(List.of("the fastest 2:4 linear-layer implementation measured by twofour bench gemm"));
    }

    /** The TSV with {@code headerLines} as '#' comments first (what made the data: GPU, versions, date, command). */
    public String toTsv(List<String> headerLines) {
        StringBuilder sb = new StringBuilder();
        for (String h : headerLines) {
            for (String line : h.split("\n")) sb.append("# ").append(line).append('\n');
        }
        sb.append("# N K M method [cuSPARSELt config-id split-k, -1 = default]\n");
        for (Entry e : entries) {
            sb.append(e.n()).append('\t').append(e.k()).append('\t').append(e.m()).append('\t')
                    .append(e.method().name().toLowerCase(Locale.ROOT));
            if (e.method() == Method.CUSPARSELT) sb.append('\t').append(e.configId()).append('\t').append(e.splitK());
            sb.append('\n');
        }
        return sb.toString();
    }
}
