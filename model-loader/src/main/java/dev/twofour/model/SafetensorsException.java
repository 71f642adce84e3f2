package dev.twofour.model;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A safetensors file (or a sharded checkpoint's index) that cannot be read: the message names
 * the file, the tensor where there is one, the problem, and what to do.
 */
public final class SafetensorsException extends IOException {
    private final Path file;
    private final String tensor;

    public SafetensorsException(Path file, String tensor, String problem) {
        this(file, tensor, problem, null);
    }

    public SafetensorsException(Path file, String tensor, String problem, Throwable cause) {
        super(format(file, tensor, problem), cause);
        this.file = file;
        this.tensor = tensor;
    }

    private static String format(Path file, String tensor, String problem) {
        StringBuilder sb = new StringBuilder();
        sb.append(file);
        if (tensor != null) sb.append(": tensor '").append(tensor).append('\'');
        sb.append(": ").append(problem);
        return sb.toString();
    }

    /** The file at fault. */
    public Path file() { return file; }

    /** The tensor at fault, or null when the problem is not about one tensor. */
    public String tensor() { return tensor; }
}
