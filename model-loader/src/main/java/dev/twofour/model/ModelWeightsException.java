package dev.twofour.model;

import java.io.IOException;
import java.util.List;

/**
 * A checkpoint whose tensors do not match its config: every missing, unexpected or mis-shaped
 * tensor is listed together, so that one run shows the whole problem.
 */
public final class ModelWeightsException extends IOException {
    private final List<String> missing;
    private final List<String> unexpected;
    private final List<String> mismatched;

    public ModelWeightsException(String message, List<String> missing, List<String> unexpected, List<String> mismatched) {
        super(message);
        this.missing = List.copyOf(missing);
        this.unexpected = List.copyOf(unexpected);
        this.mismatched = List.copyOf(mismatched);
    }

    public List<String> missing() { return missing; }
    public List<String> unexpected() { return unexpected; }
    /** "name: expected [..] F16, found [..] F32" lines. */
    public List<String> mismatched() { return mismatched; }
}
