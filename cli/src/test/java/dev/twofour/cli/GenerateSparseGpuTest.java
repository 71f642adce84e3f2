package dev.twofour.cli;

import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;
import dev.twofour.kernels.Kernels;
import dev.twofour.model.CheckpointCopy;
import dev.twofour.model.SafetensorsWriter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code twofour generate --backend cuda} on a pruned checkpoint: CudaModel's fast path with every linear layer 2:4
 * (--sparse on) writes the same greedy text as with every layer dense (--sparse off), and says which ran. GPU machine.
 */
@Tag("gpu")
class GenerateSparseGpuTest {
    @TempDir static Path tmp;
    static Path pruned;
    /** Held for the whole run: generate retains and releases the primary context; this keeps it alive between calls. */
    static CudaContext held;

    @BeforeAll static void setUp() throws Exception {
        assumeTrue(Cuda.isAvailable() && Cuda.deviceCount() > 0, "no GPU: " + Cuda.unavailableReason());
        assumeTrue(Kernels.available(), Kernels.unavailableReason());
        held = CudaContext.primary(0);
        Path repo = Path.of(System.getProperty("twofour.repo", "..")).toAbsolutePath().normalize();
        System.setProperty("twofour.home", repo.toString());
        pruned = tmp.resolve("tiny-2of4");
        CheckpointCopy.copyMagnitudePruned(repo.resolve("models/tiny-llama-8m"), pruned, SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES);
    }

    static RuntimeCommandsTest.Run generate(String sparse) {
        return RuntimeCommandsTest.run("generate", "--model", pruned.toString(), "--backend", "cuda", "--sparse", sparse,
                "--prompt", "Once upon a time, there was a little", "--max-tokens", "32");
    }

    @Test void prunedModelGeneratesThroughThe24FastPath() {
        RuntimeCommandsTest.Run on = generate("on"), off = generate("off"), auto = generate("auto");
        assertEquals(0, on.code(), on.err());
        assertEquals(0, off.code(), off.err());
        assertTrue(on.err().contains("CUDA fast path") && on.err().contains("2:4: 32 of 32 linear layers (packed on load)"), on.err());
        assertTrue(off.err().contains("CUDA fast path") && off.err().contains("dense (sparse mode off)"), off.err());
        assertTrue(auto.err().contains("2:4: 32 of 32 linear layers"), "auto on a 2:4 checkpoint is 2:4: " + auto.err());
        assertTrue(on.out().strip().length() > 20, "some text: " + on.out());
        assertEquals(off.out(), on.out(), "greedy text, 2:4 vs dense layers of the same weights");
        assertEquals(on.out(), auto.out());
        System.out.println("GenerateSparseGpuTest: " + on.out().strip() + "\n  2:4:   " + on.err().strip() + "\n  dense: " + off.err().strip());
    }

    @Test void stopStringsTakeTheOpByOpBackendWhichAlsoRuns24() {
        RuntimeCommandsTest.Run r = RuntimeCommandsTest.run("generate", "--model", pruned.toString(), "--backend", "cuda",
                "--prompt", "Once upon a time", "--max-tokens", "16", "--stop", "zzzz");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("2:4: 56 of 56 linear weights"), r.err());
    }
}
