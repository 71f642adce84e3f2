package dev.twofour.bench;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ResultsSummaryTest {
    @Test
    void headlineTablesFromAFolderOfResults(@TempDir Path dir) {
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        DecodeReportTest.sample().writeAll(dir.resolve("decode-llama2-7b-fp16"), quiet);
        new PrefillReport("H100", "cuda", "llama2-7b", "fp16", 2048, 3, "t", List.of(),
                List.of(new PrefillResult("dense", 2048, 70.0, 69.0, 29257, 1.0), new PrefillResult("2:4", 2048, 50.0, 49.0, 40960, 1.4)))
                .writeAll(dir.resolve("prefill-llama2-7b-fp16"), quiet);
        MemoryTable m = MemoryTable.of("llama2-70b", ModelConfig.preset("llama2-70b"), CudaDtype.F16, 1, 193, 128, "NVIDIA H100 80GB HBM3",
                85_000_000_000L, 84_500_000_000L);
        new DecodeReport("NVIDIA H100 80GB HBM3", "cuda", "llama2-70b", "fp16", 128, 64, 8, 3, "t", List.of("dense: not run: does not fit"),
                List.of(new DecodeResult("2:4", 1, 300, 27.5, 28.0, 36.4, 36.4, Double.NaN, 78_000_000_000L, 79_000_000_000L, 63)), m)
                .writeAll(dir.resolve("decode-llama2-70b-fp16"), quiet);
        GemmReportTest.sample().writeAll(dir.resolve("gemm-llama2-7b-fp16"), quiet);

        String md = ResultsSummary.markdown(dir);
        assertTrue(md.contains("| llama2-7b fp16 | 1 | 196.1 | 333.3 | **1.70x** | 5.10 | 3.00 |"), md);
        assertTrue(md.contains("| llama2-7b fp16 | 2048 | 70.0 | 50.0 | **1.40x** | 40960 |"), md);
        assertTrue(md.contains("**llama2-70b on one GPU** (NVIDIA H100 80GB HBM3): dense weights 128.48 GiB"), md);
        assertTrue(md.contains("decode at batch 1 at **36.4 tok/s**"), md);
        assertTrue(md.contains("**2:4 GEMM after selection**"), md);
    }

    @Test
    void anEmptyFolderIsAnError(@TempDir Path dir) {
        assertThrows(IllegalArgumentException.class, () -> ResultsSummary.markdown(dir));
    }
}
