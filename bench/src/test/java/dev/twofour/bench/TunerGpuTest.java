package dev.twofour.bench;

import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CusparseLt;
import dev.twofour.kernels.Kernels;
import dev.twofour.kernels.Sparse24Selection;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * twofour tune on the GPU: real child processes measuring a small shape (dense, ours, cuSPARSELt default, sweep,
 * search), and bench gemm's cuSPARSELt sweep (one plan per configuration over rotated compressed copies).
 */
@Tag("gpu")
class TunerGpuTest {
    @BeforeAll
    static void gpu() {
        assumeTrue(Cuda.isAvailable() && Cuda.deviceCount() > 0, () -> "no GPU: " + Cuda.unavailableReason());
        assumeTrue(Kernels.available(), Kernels.unavailableReason());
        assumeTrue(CusparseLt.isInstalled(), "cuSPARSELt is not installed");
    }

    @Test
    void tuneWritesAnEntryPerMFromChildProcesses(@TempDir Path dir) throws Exception {
        GemmShapes.Shape shape = new GemmShapes.Shape("o", 1024, 1536);
        Path out = dir.resolve("tuning.tsv");
        Tuner.Options o = new Tuner.Options(List.of(shape), List.of(1, 16, 64), CudaDtype.F16, out, 90, true, 3, 10, 5, 64L << 20,
                "TunerGpuTest");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        Tuner.Outcome r = Tuner.run(o, Tuner.Environment.detect(), Tuner.sameJvm(), new PrintStream(log, true, StandardCharsets.UTF_8),
                ProgressBar.NONE);
        String text = log.toString(StandardCharsets.UTF_8);
        System.out.print(text);
        Tuner.ShapeOutcome so = r.shapes().getFirst();
        Set<String> methods = so.results().stream().map(t -> t.result().method()).collect(Collectors.toSet());
        assertTrue(methods.containsAll(Set.of("dense", "ours", "cusparselt")), "methods measured: " + methods + "\n" + text);
        for (int m : List.of(1, 16, 64)) {
            assertTrue(so.results().stream().anyMatch(t -> t.result().m() == m && t.result().method().equals("dense")), "dense at M=" + m);
        }
        assertEquals(3, r.selection().entries().size(), text);
        List<Sparse24Selection.Entry> written = Sparse24Selection.load(out).entries();
        assertEquals(r.selection().entries(), written);
        for (Sparse24Selection.Entry e : written) {
            if (e.method() == Sparse24Selection.Method.CUSPARSELT) {
                assertTrue(e.configId() >= 0 && e.splitK() >= 1, "a cuSPARSELt entry names its configuration: " + e);
                assertTrue(!so.crashedConfigs().contains(e.configId() + ":" + e.splitK()), "crashed configuration written: " + e);
            }
        }
        assertTrue(Files.readString(out).contains("# GPU: " + Cuda.device(0).name().strip()), Files.readString(out));
    }

    @Test
    void benchGemmSweepFindsACorrectTunedConfiguration(@TempDir Path dir) {
        GemmBench.Options o = new GemmBench.Options(List.of(new GemmShapes.Shape("t", 1536, 1024)), List.of(32), CudaDtype.F16, true, 64,
                false, 3, 10, 5, 64L << 20, null);
        GemmReport rep = GemmBench.run(o, System.out);
        GemmResult tuned = rep.results().stream().filter(x -> x.method().equals("cusparselt-tuned")).findFirst()
                .orElseThrow(() -> new AssertionError("no tuned cuSPARSELt result: " + rep.results()));
        assertTrue(tuned.relError() < 2e-3, "tuned result error " + tuned.relError());
        assertTrue(tuned.note().matches("config \\d+, split-K \\d+.*"), tuned.note());
        GemmResult def = rep.results().stream().filter(x -> x.method().equals("cusparselt")).findFirst().orElseThrow();
        assertTrue(def.relError() < 2e-3, "default result error " + def.relError());
        Sparse24Selection.Entry e = rep.selection().entries().getFirst();
        assertEquals(32, e.m());
    }
}
