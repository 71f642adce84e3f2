package dev.twofour.runtime.cuda;

import dev.twofour.model.Checkpoint;
import dev.twofour.model.ConvertedModel;
import dev.twofour.model.ConvertedModelCache;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.Packed24;
import dev.twofour.model.Sparse24;
import dev.twofour.model.TensorView;
import dev.twofour.model.WeightNames;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Which linear layers of a checkpoint {@link CudaModel#load} runs 2:4, and where their packed form comes from.
 * CudaModel fuses q|k|v and gate|up into one weight each, so the unit of decision is a fused layer ({@link Fused}):
 * it runs 2:4 only when every part is 2:4 (one packed weight of concatenated rows; the packed layout is per row).
 *
 * <p>Sources, in order: a valid converted-model cache ({@code twofour convert}, docs/FORMAT.md section 3) gives the
 * decisions and the packed values + metadata directly (memory-mapped, no dense pass); otherwise each weight is
 * checked on load (stopping at its first group with more than 2 nonzeros, so a dense model costs almost nothing)
 * and packed with {@link Sparse24#pack} when it is 2:4.
 */
public final class CheckpointSparsity {
    /** The linear layers of one block as CudaModel holds them. */
    public enum Fused {
        QKV("qkv", WeightNames.Linear.Q, WeightNames.Linear.K, WeightNames.Linear.V),
        O("o", WeightNames.Linear.O),
        GATE_UP("gate_up", WeightNames.Linear.GATE, WeightNames.Linear.UP),
        DOWN("down", WeightNames.Linear.DOWN);

        private final String label;
        private final List<WeightNames.Linear> parts;

        Fused(String label, WeightNames.Linear... parts) {
            this.label = label;
            this.parts = List.of(parts);
        }

        /** "qkv", "o", "gate_up" or "down". */
        public String label() { return label; }

        /** The checkpoint weights whose rows are concatenated, in order. */
        public List<WeightNames.Linear> parts() { return parts; }

        /** Output features of the fused weight. */
        public int outFeatures(ModelConfig c) {
            int n = 0;
            for (WeightNames.Linear p : parts) n += p.outFeatures(c);
            return n;
        }

        /** Input features (the same for every part). */
        public int inFeatures(ModelConfig c) { return parts.getFirst().inFeatures(c); }
    }

    /**
     * The decision for one fused layer.
     * @param reason empty when packed; else why it stays dense (the first part that is not 2:4, and why)
     */
    public record Decision(int layer, Fused fused, boolean packed, String reason) {
        /** "layer 3 qkv: 2:4" or "layer 3 qkv: dense (model.layers.3.self_attn.k_proj.weight: not 2:4: ...)". */
        public String describe() {
            return "layer " + layer + " " + fused.label() + (packed ? ": 2:4" : ": dense (" + reason + ")");
        }
    }

    private final ModelConfig config;
    private final Checkpoint checkpoint;
    private final ConvertedModel converted;
    private final SparseMode mode;
    private final List<Decision> decisions;

    private CheckpointSparsity(ModelConfig config, Checkpoint checkpoint, ConvertedModel converted, SparseMode mode,
                               List<Decision> decisions) {
        this.config = config;
        this.checkpoint = checkpoint;
        this.converted = converted;
        this.mode = mode;
        this.decisions = List.copyOf(decisions);
    }

    /**
     * Decides every fused linear layer of {@code checkpoint}.
     * @param converted a valid converted-model cache of this checkpoint (its decisions are trusted), or null
     * @throws IllegalArgumentException in mode {@link SparseMode#ON} when some layer is not 2:4 (says which and why)
     */
    public static CheckpointSparsity decide(ModelConfig config, Checkpoint checkpoint, ConvertedModel converted, SparseMode mode) {
        List<Decision> out = new ArrayList<>();
        for (int l = 0; l < config.numLayers(); l++) {
            for (Fused f : Fused.values()) {
                String reason = "";
                if (mode == SparseMode.OFF) {
                    reason = "sparse mode off";
                } else {
                    for (WeightNames.Linear p : f.parts()) {
                        String why = whyNot24(p.weight(l), checkpoint, converted);
                        if (why != null) {
                            reason = p.weight(l) + ": " + why;
                            break;
                        }
                    }
                }
                out.add(new Decision(l, f, reason.isEmpty(), reason));
            }
        }
        CheckpointSparsity s = new CheckpointSparsity(config, checkpoint, converted, mode, out);
        if (mode == SparseMode.ON && s.packedCount() < s.total()) {
            Decision first = s.denseDecisions().getFirst();
            throw new IllegalArgumentException("sparse mode on, but " + (s.total() - s.packedCount()) + " of " + s.total()
                    + " linear layers of " + checkpoint.dir() + " are not 2:4; the first: " + first.describe()
                    + ". Prune the model to 2:4 (twofour prune), or use sparse mode auto (2:4 for the layers that are) or off");
        }
        return s;
    }

    /** Null when {@code weight} is 2:4 (and packable), else why not. */
    private static String whyNot24(String weight, Checkpoint checkpoint, ConvertedModel converted) {
        if (converted != null) {
            ConvertedModelCache.Decision d = converted.decision(weight);
            if (d != null) return d.packed() ? null : (d.reason().isEmpty() ? "not packed by convert" : d.reason());
        }
        if (!checkpoint.contains(weight)) return "not in the checkpoint";
        return whyNot24(checkpoint.tensor(weight));
    }

    private static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * Null when {@code w} is a 2:4 F16/BF16/F32 weight whose K is a multiple of 4; else why not, naming the first
     * group with more than 2 nonzeros (zero = every bit but the sign bit clear, as {@link Sparse24} counts). Stops at
     * the first violation, so checking a dense weight reads only its first groups.
     */
    static String whyNot24(TensorView w) {
        if (w.rank() != 2) return "not a 2-D weight " + Arrays.toString(w.shape());
        if (!w.dtype().isComputeType()) return "dtype " + w.dtype() + " (2:4 needs F32, F16 or BF16)";
        long n = w.dim(0), k = w.dim(1);
        if (k == 0 || k % 4 != 0) return "K=" + k + " is not a multiple of 4";
        if (n > Integer.MAX_VALUE || k > Integer.MAX_VALUE - 15) return "too large to pack";
        MemorySegment d = w.data();
        long groups = n * (k / 4);
        boolean wide = w.dtype().byteSize() == 4;
        for (long g = 0; g < groups; g++) {
            int nz;
            if (wide) {
                // per 32-bit lane x (sign cleared): x + 0x7fffffff sets bit 31 exactly when x != 0, no carry between lanes
                long a = d.get(LONG_LE, 16 * g) & 0x7FFFFFFF7FFFFFFFL, b = d.get(LONG_LE, 16 * g + 8) & 0x7FFFFFFF7FFFFFFFL;
                nz = Long.bitCount((a + 0x7FFFFFFF7FFFFFFFL) & 0x8000000080000000L)
                        + Long.bitCount((b + 0x7FFFFFFF7FFFFFFFL) & 0x8000000080000000L);
            } else {
                long a = d.get(LONG_LE, 8 * g) & 0x7FFF7FFF7FFF7FFFL;  // the same per 16-bit lane
                nz = Long.bitCount((a + 0x7FFF7FFF7FFF7FFFL) & 0x8000800080008000L);
            }
            if (nz > 2) {
                long row = g / (k / 4), group = g % (k / 4);
                return "not 2:4: row " + row + ", group " + group + " (inputs " + 4 * group + ".." + (4 * group + 3) + ") has "
                        + nz + " nonzeros";
            }
        }
        return null;
    }

    public Decision decision(int layer, Fused f) { return decisions.get(layer * Fused.values().length + f.ordinal()); }

    public boolean packed(int layer, Fused f) { return decision(layer, f).packed(); }

    /** Fused linear layers in all (4 per block). */
    public int total() { return decisions.size(); }

    public int packedCount() {
        int n = 0;
        for (Decision d : decisions) if (d.packed()) n++;
        return n;
    }

    public boolean anyPacked() { return packedCount() > 0; }

    public List<Decision> denseDecisions() {
        return decisions.stream().filter(d -> !d.packed()).toList();
    }

    /** True when the packed data comes from a converted-model cache file. */
    public boolean fromConvertedCache() { return converted != null; }

    /** [layer][Fused.ordinal()]: packed or not (for the memory plan). */
    boolean[][] packedMatrix() {
        boolean[][] m = new boolean[config.numLayers()][Fused.values().length];
        for (Decision d : decisions) m[d.layer()][d.fused().ordinal()] = d.packed();
        return m;
    }

    /**
     * The packed form of one part of a packed layer: zero-copy from the converted cache when there is one (valid
     * while it is open), else packed now from the checkpoint.
     */
    public Packed24 packedPart(int layer, WeightNames.Linear which) {
        String name = which.weight(layer);
        if (converted != null && converted.isPacked(name)) return converted.packed(name);
        return Sparse24.pack(checkpoint.tensor(name));
    }

    /** "2:4: 32 of 32 linear layers (packed on load)", "dense: no linear layer is 2:4", ... */
    public String summary() {
        int p = packedCount();
        if (mode == SparseMode.OFF) return "dense (sparse mode off)";
        if (p == 0) return "dense: no linear layer is 2:4";
        return "2:4: " + p + " of " + total() + " linear layers ("
                + (converted != null ? "from the converted cache " + converted.file() : "packed on load") + ")";
    }

    /**
     * One line naming the layers that stay dense while others run 2:4 (at most {@code max}, then a count), or null
     * when all or none are 2:4.
     */
    public String denseNote(int max) {
        List<Decision> dense = denseDecisions();
        if (dense.isEmpty() || dense.size() == total()) return null;
        StringBuilder sb = new StringBuilder(dense.size() + " of " + total() + " linear layers are not 2:4 and stay dense: ");
        for (int i = 0; i < Math.min(max, dense.size()); i++) {
            if (i > 0) sb.append("; ");
            Decision d = dense.get(i);
            sb.append("layer ").append(d.layer()).append(' ').append(d.fused().label()).append(" (").append(d.reason()).append(')');
        }
        if (dense.size() > max) sb.append("; and ").append(dense.size() - max).append(" more");
        return sb.toString();
    }
}
