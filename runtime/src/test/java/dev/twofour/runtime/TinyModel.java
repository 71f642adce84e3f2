package dev.twofour.runtime;

import dev.twofour.runtime.cpu.CpuBackend;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The embedded tiny model and its goldens, shared by the tests of this module (loaded once). */
final class TinyModel {
    private TinyModel() {}

    static Path repo() {
        String r = System.getProperty("twofour.repo");
        Path p = r != null ? Path.of(r) : Path.of("..").toAbsolutePath().normalize();
        if (!Files.isDirectory(p.resolve("models/tiny-llama-8m"))) p = Path.of("").toAbsolutePath().getParent();
        return p;
    }

    static Path modelDir() { return repo().resolve("models/tiny-llama-8m"); }

    static Path goldens() { return repo().resolve("runtime/src/test/resources/goldens/tiny-llama-8m"); }

    static final CpuBackend BACKEND = new CpuBackend();
    private static Transformer model;

    static synchronized Transformer model() {
        if (model == null) {
            try {
                model = Transformer.load(modelDir(), BACKEND, Transformer.Options.defaults());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return model;
    }
}
