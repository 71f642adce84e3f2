package dev.twofour.bench;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.model.CheckpointCopy;
import dev.twofour.model.SafetensorsWriter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** Which checkpoint a GPU run of a model directory loads, dense and 2:4 (decided without a GPU). */
class BenchTargetCudaTest {
    @TempDir static Path tmp;
    static Path tiny, pruned;

    @BeforeAll static void models() throws Exception {
        tiny = Repo.root().resolve("models/tiny-llama-8m");
        pruned = tmp.resolve("tiny-2of4");
        CheckpointCopy.copyMagnitudePruned(tiny, pruned, SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES);
    }

    static BenchTarget gpu(Path model, Path sparseModel) {
        return new BenchTarget(model, sparseModel, null, true, CudaDtype.F16, 0);
    }

    @Test void denseRunsLoadTheModelAnd24RunsItsPrunedCheckpoint() {
        assertEquals(tiny, gpu(tiny, pruned).cudaCheckpoint(false));
        assertEquals(pruned, gpu(tiny, pruned).cudaCheckpoint(true), "--sparse-model DIR: its weights, packed");
        assertEquals(pruned, gpu(pruned, null).cudaCheckpoint(true), "a 2:4 model is its own 2:4 checkpoint");
        assertEquals(pruned, gpu(pruned, null).cudaCheckpoint(false), "and its dense run loads the same weights dense");
        assertNull(gpu(tiny, null).cudaCheckpoint(true), "a dense model's 2:4 run: synthetic 2:4 weights of its shape");
    }

    @Test void autoRunsAPrunedModelAs24() {
        assertEquals(List.of(true), gpu(pruned, null).modes("auto"));
        assertEquals(List.of(false), gpu(tiny, null).modes("auto"));
    }
}
