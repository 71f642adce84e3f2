package dev.twofour.model;

import java.io.IOException;
import java.nio.file.Path;

/** A config.json we cannot run: unknown architecture, unsupported option, missing or bad field. */
public final class ModelConfigException extends IOException {
    private final Path file;

    public ModelConfigException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    public ModelConfigException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** The config file at fault. */
    public Path file() { return file; }
}
