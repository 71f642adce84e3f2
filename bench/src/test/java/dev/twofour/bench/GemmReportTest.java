package dev.twofour.bench;

import dev.twofour.kernels.Sparse24Selection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GemmReportTest {
    static GemmReport sample() {
        return new GemmReport("NVIDIA H100", "fp16", 3000, "cuBLAS 130002, cuSPARSELt 0.8.1", "2026-11-21T20:00:00Z", List.of(
                new GemmResult("o", 4096, 4096, 1, "fp16", "dense", 12.0, 2.8, 2800, 1.0, 0, "cublasGemmEx"),
                new GemmResult("o", 4096, 4096, 1, "fp16", "ours", 7.0, 4.8, 2700, 12.0 / 7, 1e-4, "tile 8"),
                new GemmResult("o", 4096, 4096, 1, "fp16", "cusparselt", 20.0, 1.7, 900, 0.6, 1e-4, "default"),
                new GemmResult("o", 4096, 4096, 512, "fp16", "dense", 30.0, 500, 900, 1.0, 0, "cublasGemmEx"),
                new GemmResult("o", 4096, 4096, 512, "fp16", "ours", 25.0, 600, 900, 1.2, 0.5, "tile 16"),   // wrong: never selected
                new GemmResult("o", 4096, 4096, 512, "fp16", "cusparselt-tuned", 22.0, 700, 900, 30.0 / 22, 1e-4, "config 3, split-K 1")));
    }

    @Test
    void writesEveryFileAndReadsJsonBack(@TempDir Path dir) throws Exception {
        GemmReport r = sample();
        List<Path> files = r.writeAll(dir, new PrintStream(new ByteArrayOutputStream()));
        assertTrue(files.size() >= 4, files.toString());
        assertEquals(r, GemmReport.readJson(dir.resolve("gemm.json")));
        String md = Files.readString(dir.resolve("gemm.md"));
        assertTrue(md.contains("| 1 | 12.0 |"), md);
        assertTrue(md.contains("ours (1.71x)"), md);
        assertTrue(md.contains("WRONG"), "a result off by 50% must be flagged");
        Sparse24Selection sel = Sparse24Selection.load(dir.resolve("selection.tsv"));
        assertEquals(Sparse24Selection.Method.OURS, sel.choose(4096, 4096, 1));
        assertEquals(Sparse24Selection.Method.CUSPARSELT, sel.choose(4096, 4096, 300), "the wrong fast result is not selected");
        assertEquals(3, sel.entryFor(4096, 4096, 300).configId(), "the tuned configuration travels with the choice");
        assertEquals(7, Files.readAllLines(dir.resolve("gemm.csv")).size());
        if (ModuleLayer.boot().findModule("java.desktop").isPresent()) assertTrue(Files.size(dir.resolve("gemm.png")) > 1000);
    }

    @Test
    void presetShapesAreTheLlamaLinearLayers() {
        List<GemmShapes.Shape> s = GemmShapes.preset("llama2-7b");
        assertEquals(List.of(new GemmShapes.Shape("qkv", 12288, 4096), new GemmShapes.Shape("o", 4096, 4096),
                new GemmShapes.Shape("gate", 11008, 4096), new GemmShapes.Shape("gate_up", 22016, 4096),
                new GemmShapes.Shape("down", 4096, 11008)), s);
        assertEquals(10240, GemmShapes.preset("llama2-70b").getFirst().n(), "GQA: 64 q heads + 2 x 8 kv heads of 128");
        assertEquals(List.of(new GemmShapes.Shape("77x176", 77, 176)), GemmShapes.parse("77x176"));
        assertThrows(IllegalArgumentException.class, () -> GemmShapes.parse("4096by4096"));
        assertThrows(IllegalArgumentException.class, () -> GemmShapes.parse("16x6"));
    }
}
