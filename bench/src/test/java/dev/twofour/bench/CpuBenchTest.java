package dev.twofour.bench;

import dev.twofour.cuda.CudaDtype;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The decode and prefill benchmarks on the CPU backend with the embedded tiny model (small settings). */
class CpuBenchTest {
    private static BenchTarget tiny() {
        return new BenchTarget(Repo.tinyModel(), null, null, false, CudaDtype.F16, 2);
    }

    @Test
    void decodeMeasuresDenseAndMagnitude24AtEachBatch() {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        DecodeReport r = DecodeBench.run(tiny(), new DecodeBench.Options(List.of(1, 3), 5, 4, 1, 2, "both"), ProgressBar.NONE,
                new PrintStream(log));
        assertEquals(4, r.results().size());
        assertEquals(List.of("dense", "2:4"), r.modes());
        for (DecodeResult x : r.results()) {
            assertTrue(x.msPerStepMedian() > 0 && x.ttftMillis() > 0 && x.msPerStepP90() >= x.msPerStepMedian() * 0.999, x.toString());
            assertEquals(x.batch() * x.tokensPerSecondPerSequence(), x.tokensPerSecondTotal(), 1e-6);
            assertEquals(3, x.steps());
            assertEquals(-1, x.deviceMemoryBytes());
        }
        long dense = r.find("dense", 1).orElseThrow().weightBytesPerToken(), sparse = r.find("2:4", 1).orElseThrow().weightBytesPerToken();
        assertTrue(sparse < 0.8 * dense, "2:4 streams values + metadata, fewer bytes: " + sparse + " vs " + dense);
        assertTrue(r.notes().get(1).contains("magnitude"), r.notes().toString());
        assertTrue(log.toString().contains("2:4   batch  3"), log.toString());
        assertEquals("cpu", r.backend());
    }

    @Test
    void prefillMeasuresEachLength() {
        PrefillReport r = PrefillBench.run(tiny(), new PrefillBench.Options(List.of(17, 40), 2048, 1, "both"), ProgressBar.NONE,
                new PrintStream(new ByteArrayOutputStream()));
        assertEquals(4, r.results().size());
        for (PrefillResult x : r.results()) assertTrue(x.millisMedian() > 0 && x.tokensPerSecond() > 0, x.toString());
        assertEquals(1.0, r.find("dense", 40).orElseThrow().speedup(), 1e-12);
    }

    @Test
    void presetsRunOnTheGpuOnlyAndSparseModesAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> new BenchTarget(null, null, "llama2-7b", false, CudaDtype.F16, 0));
        assertThrows(IllegalArgumentException.class, () -> tiny().modes("sometimes"));
        assertEquals(List.of(false), tiny().modes("auto"), "the tiny model is dense");
        assertEquals(List.of(false, true), tiny().modes("both"));
        assertThrows(IllegalArgumentException.class, () -> new DecodeBench.Options(List.of(65), 8, 8, 1, 1, "both"));
        assertThrows(IllegalArgumentException.class, () -> new DecodeBench.Options(List.of(1), 8, 1, 1, 1, "both"));
    }
}
