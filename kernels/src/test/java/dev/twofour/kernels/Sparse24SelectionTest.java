package dev.twofour.kernels;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.twofour.kernels.Sparse24Selection.Method.CUSPARSELT;
import static dev.twofour.kernels.Sparse24Selection.Method.DENSE;
import static dev.twofour.kernels.Sparse24Selection.Method.OURS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Sparse24SelectionTest {
    @Test
    void tuningDataWinsOverTheDefaultAndBucketsRoundUp(@TempDir Path dir) throws Exception {
        Sparse24Selection s = Sparse24Selection.of(List.of(
                new Sparse24Selection.Entry(4096, 4096, 1, OURS),
                new Sparse24Selection.Entry(4096, 4096, 16, OURS),
                new Sparse24Selection.Entry(4096, 4096, 64, DENSE),
                new Sparse24Selection.Entry(4096, 4096, 4096, CUSPARSELT, 3, 2)));
        assertEquals(OURS, s.choose(4096, 4096, 9));
        assertEquals(DENSE, s.choose(4096, 4096, 17));
        assertEquals(CUSPARSELT, s.choose(4096, 4096, 1000));
        assertEquals(CUSPARSELT, s.choose(4096, 4096, 10_000));
        assertEquals(3, s.entryFor(4096, 4096, 5000).configId());
        assertEquals(OURS, s.choose(11008, 4096, 1), "no data for this shape: the built-in default");
        assertEquals(OURS, s.choose(11008, 4096, 8));
        assertEquals(OURS, s.choose(11008, 4096, 16));
        assertEquals(DENSE, s.choose(11008, 4096, 17), "never untuned cuSPARSELt");
        assertEquals(DENSE, s.choose(11008, 4096, 100_000));
        Path f = dir.resolve("selection.tsv");
        Files.writeString(f, s.toTsv());
        assertEquals(s.entries(), Sparse24Selection.load(f).entries());
    }

    @Test
    void tuningCacheFileNamesGpuVersionAndDtype() {
        Path home = Path.of("/home/u");
        assertEquals(home.resolve(".cache/twofour/tuning/NVIDIA-H100-80GB-HBM3-cusparselt-0.8.1-fp16.tsv"),
                Sparse24Selection.tuningCacheFile(home, " NVIDIA H100 80GB HBM3", "0.8.1", dev.twofour.cuda.CudaDtype.F16));
        assertEquals(home.resolve(".cache/twofour/tuning/NVIDIA-A100-SXM4-40GB-cusparselt-0.7.0-bf16.tsv"),
                Sparse24Selection.tuningCacheFile(home, "NVIDIA A100/SXM4 (40GB)", "0.7.0", dev.twofour.cuda.CudaDtype.BF16));
    }

    @Test
    void headerLinesAreCommentsAndTheEntriesReadBack(@TempDir Path dir) throws Exception {
        Sparse24Selection s = Sparse24Selection.of(List.of(
                new Sparse24Selection.Entry(12288, 4096, 64, CUSPARSELT, 7, 2),
                new Sparse24Selection.Entry(12288, 4096, 1, OURS)));
        String tsv = s.toTsv(List.of("twofour tune: GPU NVIDIA H100", "command: twofour tune --preset llama2-7b\nsecond line"));
        assertTrue(tsv.startsWith("# twofour tune: GPU NVIDIA H100\n# command: twofour tune --preset llama2-7b\n# second line\n"), tsv);
        assertTrue(tsv.contains("12288\t4096\t64\tcusparselt\t7\t2\n"), tsv);
        Path f = dir.resolve("t.tsv");
        Files.writeString(f, tsv);
        assertEquals(s.entries(), Sparse24Selection.load(f).entries());
    }

    @Test
    void badLinesNameTheFileAndLine(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("selection.tsv");
        Files.writeString(f, "# comment\n4096 4096 1 ours\n4096 4096 two dense\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sparse24Selection.load(f));
        assertTrue(e.getMessage().contains("line 3"), e.getMessage());
    }
}
