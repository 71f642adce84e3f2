package dev.twofour.runtime.cuda;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.kernels.Sparse24Selection;
import dev.twofour.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Where the CUDA model finds its 2:4 tuning data, and what the compressed cuSPARSELt copies cost in the plan (CPU only). */
class CudaModelSelectionTest {
    @Test
    void tuningCacheFileNamesGpuVersionAndDtype() {
        Path home = Path.of("/home/u");
        assertEquals(home.resolve(".cache/twofour/tuning/NVIDIA-H100-80GB-HBM3-cusparselt-0.8.1-fp16.tsv"),
                CudaModel.tuningCacheFile(home, " NVIDIA H100 80GB HBM3", "0.8.1", CudaDtype.F16));
        assertEquals(home.resolve(".cache/twofour/tuning/NVIDIA-A100-SXM4-40GB-cusparselt-0.7.0-bf16.tsv"),
                CudaModel.tuningCacheFile(home, "NVIDIA A100/SXM4 (40GB)", "0.7.0", CudaDtype.BF16));
    }

    @Test
    void selectionPropertyLoadsTheFileOrSaysWhatIsWrong(@TempDir Path dir) throws Exception {
        Path tsv = dir.resolve("selection.tsv");
        Files.writeString(tsv, "# tuned\n12288\t4096\t32\tcusparselt\t3\t1\n4096\t4096\t32\tdense\n");
        try {
            System.setProperty("twofour.cuda.selection", tsv.toString());
            Sparse24Selection s = CudaModel.selectionFor("NVIDIA H100", CudaDtype.F16);
            assertEquals(new Sparse24Selection.Entry(12288, 4096, 32, Sparse24Selection.Method.CUSPARSELT, 3, 1), s.entryFor(12288, 4096, 20));
            assertEquals(Sparse24Selection.Method.DENSE, s.choose(4096, 4096, 32));
            System.setProperty("twofour.cuda.selection", dir.resolve("missing.tsv").toString());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CudaModel.selectionFor("NVIDIA H100", CudaDtype.F16));
            assertTrue(e.getMessage().contains("missing.tsv") && e.getMessage().contains("no such file"), e.getMessage());
        } finally {
            System.clearProperty("twofour.cuda.selection");
        }
    }

    @Test
    void compressedCopiesCountOnlyTunedShapes() {
        ModelConfig c = new ModelConfig(ModelConfig.LLAMA, 512, 1376, 3, 8, 2, 64, 3000, 1e-5, 10000, null,
                512, false, dev.twofour.model.DType.F16, false, List.of(1), List.of(2));
        assertEquals(0, CudaModel.cusparseLtBytes(c, CudaDtype.F16, Sparse24Selection.builtIn()));
        // only qkv (768 x 512) is tuned for cuSPARSELt; o on dense does not count
        Sparse24Selection s = Sparse24Selection.of(List.of(
                new Sparse24Selection.Entry(768, 512, 16, Sparse24Selection.Method.CUSPARSELT, 0, 1),
                new Sparse24Selection.Entry(512, 512, 16, Sparse24Selection.Method.DENSE)));
        assertEquals(3 * (768L * 512 * 2 * 9 / 16 + (1L << 20)), CudaModel.cusparseLtBytes(c, CudaDtype.F16, s));
    }
}
