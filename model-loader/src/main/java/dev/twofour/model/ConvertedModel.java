package dev.twofour.model;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An open converted-model cache file (see {@link ConvertedModelCache}): the 2:4 decision for every
 * linear weight of the model and, for those that are 2:4, the packed values and metadata,
 * memory-mapped (zero-copy). Weights not packed stay dense in the checkpoint.
 */
public final class ConvertedModel implements AutoCloseable {
    private final SafetensorsFile file;
    private final boolean reused;
    private final Map<String, ConvertedModelCache.Decision> decisions;

    ConvertedModel(SafetensorsFile file, boolean reused, List<ConvertedModelCache.Decision> decisions) {
        this.file = file;
        this.reused = reused;
        Map<String, ConvertedModelCache.Decision> m = new LinkedHashMap<>();
        for (ConvertedModelCache.Decision d : decisions) m.put(d.weight(), d);
        this.decisions = Collections.unmodifiableMap(m);
    }

    /** The cache file. */
    public Path file() { return file.path(); }

    /** True when an existing, valid cache was used; false when it was just written. */
    public boolean reused() { return reused; }

    /** One decision per linear weight considered, in model order. */
    public List<ConvertedModelCache.Decision> decisions() { return List.copyOf(decisions.values()); }

    public ConvertedModelCache.Decision decision(String weight) { return decisions.get(weight); }

    /** Weights stored packed, in model order. */
    public Set<String> packedWeights() {
        Set<String> s = new LinkedHashSet<>();
        for (ConvertedModelCache.Decision d : decisions.values()) if (d.packed()) s.add(d.weight());
        return s;
    }

    public boolean isPacked(String weight) {
        ConvertedModelCache.Decision d = decisions.get(weight);
        return d != null && d.packed();
    }

    /**
     * The packed form of {@code weight} (zero-copy views into the cache file; valid until close), or
     * null when the weight is kept dense or was not considered.
     */
    public Packed24 packed(String weight) {
        ConvertedModelCache.Decision d = decisions.get(weight);
        if (d == null || !d.packed()) return null;
        TensorView values = file.tensor(weight + ConvertedModelCache.VALUES_SUFFIX);
        TensorView meta = file.tensor(weight + ConvertedModelCache.METADATA_SUFFIX);
        return new Packed24(values.dtype(), (int) d.shape()[0], (int) d.shape()[1], (int) values.dim(1) * 2,
                values.data(), meta.data());
    }

    /** Unmaps the file; closing twice is harmless. */
    @Override public void close() { file.close(); }
}
