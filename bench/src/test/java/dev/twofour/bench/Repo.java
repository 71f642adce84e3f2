package dev.twofour.bench;

import java.nio.file.Path;

/** The repository root (system property twofour.repo, set by the build). */
final class Repo {
    private Repo() {}

    static Path root() {
        return Path.of(System.getProperty("twofour.repo", "..")).toAbsolutePath().normalize();
    }

    static Path tinyModel() { return root().resolve("models/tiny-llama-8m"); }
}
