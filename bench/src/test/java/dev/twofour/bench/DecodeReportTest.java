package dev.twofour.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DecodeReportTest {
    static DecodeReport sample() {
        List<DecodeResult> raw = List.of(
                new DecodeResult("dense", 1, 21.5, 5.10, 5.40, 1000 / 5.10, 1000 / 5.10, Double.NaN, 13_476_000_000L, 14_000_000_000L, 255),
                new DecodeResult("dense", 8, 22.0, 5.70, 6.10, 1000 / 5.70, 8000 / 5.70, Double.NaN, 13_476_000_000L, 14_000_000_000L, 255),
                new DecodeResult("2:4", 1, 19.0, 3.00, 3.20, 1000 / 3.00, 1000 / 3.00, Double.NaN, 7_581_000_000L, 8_000_000_000L, 255),
                new DecodeResult("2:4", 8, 20.0, 3.80, 4.00, 1000 / 3.80, 8000 / 3.80, Double.NaN, 7_581_000_000L, 8_000_000_000L, 255));
        return new DecodeReport("NVIDIA H100 80GB HBM3", "cuda", "llama2-7b", "fp16", 128, 256, 8, 3, "2026-11-21T21:00:00Z",
                List.of("dense: synthetic", "2:4: synthetic"), DecodeBench.withSpeedups(raw), null);
    }

    @Test
    void speedupIsDenseStepTimeOverThisStepTimeAtTheSameBatch() {
        DecodeReport r = sample();
        assertEquals(1.0, r.find("dense", 8).orElseThrow().speedup(), 1e-12);
        assertEquals(5.10 / 3.00, r.find("2:4", 1).orElseThrow().speedup(), 1e-12);
        assertEquals(5.70 / 3.80, r.find("2:4", 8).orElseThrow().speedup(), 1e-12);
        assertEquals(List.of("dense", "2:4"), r.modes());
    }

    @Test
    void writesEveryFileAndReadsJsonBack(@TempDir Path dir) throws Exception {
        DecodeReport r = sample().withMemory(MemoryTable.of("llama2-7b", dev.twofour.model.ModelConfig.preset("llama2-7b"),
                dev.twofour.cuda.CudaDtype.F16, 8, 385, 128, "NVIDIA H100 80GB HBM3", 85_000_000_000L, 84_000_000_000L));
        List<Path> files = r.writeAll(dir, new PrintStream(new ByteArrayOutputStream()));
        assertTrue(files.size() >= 3, files.toString());
        DecodeReport back = DecodeReport.readJson(dir.resolve("decode.json"));
        assertEquals(r.results(), back.results());
        assertEquals(r.memory(), back.memory());
        String md = Files.readString(dir.resolve("decode.md"));
        assertTrue(md.contains("| 2:4 | 1 | 19.00 | 3.000 | 3.200 | 333.3 | 333.3 | 1.70x |"), md);
        assertTrue(md.contains("| dense | 8 |") && md.contains("| — |"), "dense rows have no speedup: " + md);
        assertTrue(md.contains("## Memory") && md.contains("| fits (total + 0.50 GiB margin <= free) | yes | yes |"), md);
        List<String> csv = Files.readAllLines(dir.resolve("decode.csv"));
        assertEquals(5, csv.size());
        assertTrue(csv.get(3).startsWith("\"llama2-7b\",\"fp16\",cuda,2:4,1,128,256,19.000,3.0000,3.2000,333.33,333.33,1.7000,"), csv.get(3));
        if (ReportFiles.canDraw()) {
            assertTrue(Files.size(dir.resolve("decode-tps.png")) > 1000);
            assertTrue(Files.size(dir.resolve("decode-speedup.png")) > 1000);
        }
    }

    @Test
    void prefillReportRoundTripsAndComputesSpeedups(@TempDir Path dir) throws Exception {
        PrefillReport r = new PrefillReport("NVIDIA H100 80GB HBM3", "cuda", "llama2-7b", "fp16", 2048, 3, "2026-11-21T21:00:00Z", List.of("n"),
                List.of(new PrefillResult("dense", 2048, 70.0, 69.0, 2048 / 0.070, 1.0),
                        new PrefillResult("2:4", 2048, 50.0, 49.5, 2048 / 0.050, 1.4)));
        r.writeAll(dir, new PrintStream(new ByteArrayOutputStream()));
        assertEquals(r, PrefillReport.readJson(dir.resolve("prefill.json")));
        String md = Files.readString(dir.resolve("prefill.md"));
        assertTrue(md.contains("| 2:4 | 2048 | 50.00 | 49.50 | 40960 | 1.40x |"), md);
        assertEquals(3, Files.readAllLines(dir.resolve("prefill.csv")).size());
    }

    @Test
    void percentilesAndMedians() {
        double[] a = {5, 1, 4, 2, 3, 10, 6, 7, 9, 8};
        assertEquals(5.5, DecodeBench.median(a), 1e-12);
        assertEquals(9, DecodeBench.percentile(a, 0.9), 1e-12);
        assertEquals(10, DecodeBench.percentile(a, 1.0), 1e-12);
        assertEquals(3, DecodeBench.median(new double[] {3, 1, 7}), 1e-12);
    }
}
