package dev.twofour.bench;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.kernels.Sparse24Selection;
import dev.twofour.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static dev.twofour.kernels.Sparse24Selection.Method.CUSPARSELT;
import static dev.twofour.kernels.Sparse24Selection.Method.DENSE;
import static dev.twofour.kernels.Sparse24Selection.Method.OURS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * twofour tune's parent side on the CPU: shapes, selection, the written file, and what happens when the child
 * process crashes, hangs or fails (a fake child, {@link FakeTuneChild}, in a real process).
 */
class TunerTest {
    static final GemmShapes.Shape QKV = new GemmShapes.Shape("qkv", 1536, 512);
    static final Tuner.Environment ENV = new Tuner.Environment("Fake GPU 80GB", "13.0", "130002", "0.8.1");

    static Tuner.ChildCommand fake(String scenario) {
        return args -> {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Dfake.scenario=" + scenario, "-cp", System.getProperty("java.class.path"), FakeTuneChild.class.getName()));
            cmd.addAll(args);
            return cmd;
        };
    }

    record Run(Tuner.Outcome outcome, String tsv, String log) {}

    static Run tune(Path dir, String scenario, List<Integer> ms, double timeout) throws Exception {
        return tune(dir, scenario, List.of(QKV), ms, timeout);
    }

    static Run tune(Path dir, String scenario, List<GemmShapes.Shape> shapes, List<Integer> ms, double timeout) throws Exception {
        Path out = dir.resolve("tuning/fake.tsv");
        Tuner.Options o = new Tuner.Options(shapes, ms, CudaDtype.F16, out, timeout, true, 1, 2, 3, 1 << 20,
                "twofour tune --shapes 1536x512");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        Tuner.Outcome outcome = Tuner.run(o, ENV, fake(scenario), new PrintStream(log, true, StandardCharsets.UTF_8), ProgressBar.NONE);
        return new Run(outcome, Files.readString(out), log.toString(StandardCharsets.UTF_8));
    }

    static Sparse24Selection.Entry entry(Run r, int m) {
        return r.outcome().selection().entries().stream().filter(e -> e.m() == m).findFirst().orElseThrow(() -> new AssertionError("no entry for M=" + m + ":\n" + r.tsv()));
    }

    @Test
    void llamaShapesAreTheFusedOnesTheRuntimeRuns() {
        List<GemmShapes.Shape> s = Tuner.modelShapes(ModelConfig.preset("llama2-7b"));
        assertEquals(List.of("qkv 12288x4096", "o 4096x4096", "gate_up 22016x4096", "down 4096x11008"), s.stream().map(Object::toString).toList());
    }

    @Test
    void aCleanRunWritesTheFastestCorrectMethodPerMWithAHeader(@TempDir Path dir) throws Exception {
        Run r = tune(dir, "ok", List.of(64, 1, 16), 60);
        // ours 6.5 us vs dense 10.25 at M=1; at M=16 config 4 (8 + 2 - 2 = 8) beats ours (14) and dense (14)
        assertEquals(OURS, entry(r, 1).method());
        assertEquals(new Sparse24Selection.Entry(1536, 512, 16, CUSPARSELT, 4, 1), entry(r, 16));
        assertEquals(CUSPARSELT, entry(r, 64).method());
        assertTrue(r.tsv().startsWith("# twofour tune:"), r.tsv());
        assertTrue(r.tsv().contains("# GPU: Fake GPU 80GB; driver CUDA 13.0; cuBLAS 130002; cuSPARSELt 0.8.1; dtype fp16"), r.tsv());
        assertTrue(r.tsv().contains("# command: twofour tune --shapes 1536x512"), r.tsv());
        assertTrue(r.tsv().contains("1536\t512\t16\tcusparselt\t4\t1"), r.tsv());
        assertEquals(r.outcome().selection().entries(), Sparse24Selection.load(dir.resolve("tuning/fake.tsv")).entries());
        assertTrue(r.outcome().shapes().getFirst().failures().isEmpty(), r.log());
        assertTrue(r.log().contains("selected"), "summary table: " + r.log());
        try (var files = Files.list(dir.resolve("tuning"))) {
            assertEquals(List.of("fake.tsv"), files.map(p -> p.getFileName().toString()).toList(), "no temporary file left");
        }
    }

    @Test
    void aConfigurationThatCrashesTheChildIsNeverWrittenAndTheRestIsMeasured(@TempDir Path dir) throws Exception {
        // configuration 4 (the fastest) kills the child at M=32, after it was measured at M=16
        Run r = tune(dir, "crash:4:1@32", List.of(1, 16, 32, 64, 128), 60);
        System.out.print(r.log());
        Tuner.ShapeOutcome so = r.outcome().shapes().getFirst();
        assertEquals(Set.of("4:1"), so.crashedConfigs());
        assertTrue(so.failures().getFirst().contains("config 4 split-K 1 at M=32") && so.failures().getFirst().contains("exit code 134"),
                so.failures().toString());
        for (Sparse24Selection.Entry e : r.outcome().selection().entries()) {
            assertFalse(e.method() == CUSPARSELT && e.configId() == 4, "crashed configuration written: " + e);
        }
        // the next best (3) wins at 16 and beyond, and every M after the crash was measured by the second child
        assertEquals(new Sparse24Selection.Entry(1536, 512, 16, CUSPARSELT, 3, 1), entry(r, 16));
        assertEquals(new Sparse24Selection.Entry(1536, 512, 128, CUSPARSELT, 3, 1), entry(r, 128));
        assertEquals(5, r.outcome().selection().entries().size());
        assertEquals(1, so.results().stream().filter(t -> t.result().m() == 32 && t.result().method().equals("dense")).count(),
                "dense at M=32 kept from the first child, not measured twice");
        assertTrue(r.tsv().contains("crashed, never used: 4:1"), r.tsv());
    }

    @Test
    void afterACrashNoConfigurationWithALargerIdIsTried(@TempDir Path dir) throws Exception {
        // configuration 2 kills the child at M=16: 3 and 4 (faster, but past the crash) are not tried again, so the
        // fastest correct one left, 0, is chosen from M=16 on (configuration 1 computes wrong results)
        Run r = tune(dir, "crash:2:1@16", List.of(1, 16, 64), 60);
        Tuner.ShapeOutcome so = r.outcome().shapes().getFirst();
        assertEquals(Set.of("2:1"), so.crashedConfigs());
        for (Sparse24Selection.Entry e : r.outcome().selection().entries()) {
            assertFalse(e.method() == CUSPARSELT && e.configId() > 0, "a configuration past the crash was written: " + e);
        }
        assertEquals(3, r.outcome().selection().entries().size());
    }

    @Test
    void aFailingSearchIsTurnedOffAndAHangIsKilledAtTheTimeout(@TempDir Path dir) throws Exception {
        GemmShapes.Shape down = new GemmShapes.Shape("down", 512, 1376);
        Run failed = tune(dir, "searchfail@16", List.of(QKV, down), List.of(1, 16, 32), 60);
        Tuner.ShapeOutcome so = failed.outcome().shapes().getFirst();
        assertTrue(so.failures().getFirst().contains("search turned off") && so.failures().getFirst().contains("INTERNAL_ERROR"),
                so.failures().toString());
        assertTrue(failed.outcome().shapes().get(1).failures().isEmpty(),
                "the second shape skips the search that failed for the first: " + failed.outcome().shapes().get(1).failures());
        assertEquals(6, failed.outcome().selection().entries().size());
        assertEquals(CUSPARSELT, failed.outcome().selection().choose(1536, 512, 32));
        assertEquals(CUSPARSELT, failed.outcome().selection().choose(512, 1376, 32));

        long t0 = System.nanoTime();
        Run hung = tune(dir, "hang:search@16", List.of(1, 16, 32), 6);
        double took = (System.nanoTime() - t0) / 1e9;
        assertTrue(took < 30, "the hung child must be killed near the 6 s timeout, took " + took);
        List<String> f = hung.outcome().shapes().getFirst().failures();
        assertTrue(f.getFirst().contains("ran out of time") && f.getFirst().contains("search at M=16")
                && f.getFirst().contains("no cuSPARSELt results for M [16, 32]"), f.toString());
        assertEquals(OURS, entry(hung, 1).method(), "what was measured before the hang is kept");
        assertEquals(new Sparse24Selection.Entry(1536, 512, 16, CUSPARSELT, 0, 1), entry(hung, 16),
                "the default plan measured at M=16 before the hang counts");
        assertTrue(hung.outcome().shapes().getFirst().crashedConfigs().isEmpty(), "a timeout marks no configuration");
    }

    @Test
    void aChildDyingInOurKernelStopsTheShapeButKeepsItsResults(@TempDir Path dir) throws Exception {
        Run r = tune(dir, "die:ours@16", List.of(1, 16, 32), 60);
        List<String> f = r.outcome().shapes().getFirst().failures();
        assertTrue(f.getFirst().contains("during ours at M=16") && f.getFirst().contains("exit code 139"), f.toString());
        assertEquals(OURS, entry(r, 1).method());
        // M=16 has a dense time only: dense is the safe choice there; M=32 was never reached
        assertEquals(DENSE, entry(r, 16).method());
        assertEquals(2, r.outcome().selection().entries().size());
    }

    @Test
    void aChildThatMeasuresNothingLeavesTheOldFileAlone(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("tuning/fake.tsv");
        Files.createDirectories(out.getParent());
        Files.writeString(out, "# an earlier run\n1536\t512\t1\tours\n");
        Tuner.Options o = new Tuner.Options(List.of(QKV), List.of(1), CudaDtype.F16, out, 60, true, 1, 2, 3, 1 << 20, "c");
        Tuner.Outcome r = Tuner.run(o, ENV, fake("die:ours@1"), new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                ProgressBar.NONE);
        // dense at M=1 was measured before the child died: that is data, and it is written
        assertEquals(List.of(new Sparse24Selection.Entry(1536, 512, 1, DENSE)), r.selection().entries());
        Tuner.Outcome none = Tuner.run(o, ENV, args -> List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-version"),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), ProgressBar.NONE);
        assertEquals(null, none.written());
        assertTrue(none.shapes().getFirst().failures().getFirst().contains("before measuring"), none.shapes().getFirst().failures().toString());
        assertEquals(List.of(new Sparse24Selection.Entry(1536, 512, 1, DENSE)), Sparse24Selection.load(out).entries(), "left as it was");
    }

    @Test
    void theRealChildStartsFromThisJvmsClasspathAndReportsWhyItCannotMeasure() {
        assumeFalse(dev.twofour.cuda.Cuda.isAvailable(), "a GPU is present: TunerGpuTest runs the real child");
        TuneChild.Args args = new TuneChild.Args(QKV, List.of(1, 16), CudaDtype.F16, Set.of(), Set.of("7:1"), true, 16, 2, 256, 1, 2, 3, 1 << 20);
        assertEquals(args, TuneChild.Args.parse(args.toArgs().toArray(String[]::new)), "the arguments survive the command line");
        Tuner.ChildRun run = Tuner.runChild(Tuner.sameJvm().command(args.toArgs()), 60, (m, w) -> {}, r -> {}, m -> {});
        assertEquals(3, run.exitCode(), "the child exits 3 when it cannot measure: " + run.tail());
        assertTrue(run.tail().stream().anyMatch(l -> l.startsWith("twofour tune child:")), run.tail().toString());
        assertFalse(run.done());
    }

    @Test
    void wrongOrUnconfiguredResultsNeverWin() {
        GemmShapes.Shape s = new GemmShapes.Shape("o", 512, 512);
        List<TuneResult> rs = List.of(
                new TuneResult(new GemmResult("o", 512, 512, 8, "fp16", "dense", 10, 1, 1, 1, 0, ""), -1, -1),
                new TuneResult(new GemmResult("o", 512, 512, 8, "fp16", "ours", 4, 1, 1, 2.5, 0.3, "wrong"), -1, -1),
                new TuneResult(new GemmResult("o", 512, 512, 8, "fp16", "cusparselt-tuned", 5, 1, 1, 2, Double.NaN, "unwritten"), 2, 1),
                new TuneResult(new GemmResult("o", 512, 512, 8, "fp16", "cusparselt", 6, 1, 1, 1.7, 1e-4, "no id"), -1, -1),
                new TuneResult(new GemmResult("o", 512, 512, 8, "fp16", "cusparselt", 9, 1, 1, 1.1, 1e-4, "default config 0"), 0, 1));
        Sparse24Selection sel = Tuner.select(List.of(new Tuner.ShapeOutcome(s, rs, List.of(), Set.of(), false)), CudaDtype.F16);
        assertEquals(List.of(new Sparse24Selection.Entry(512, 512, 8, CUSPARSELT, 0, 1)), sel.entries());
    }

    @Test
    void configKeysAndBadSteps() {
        assertEquals("11:2", Tuner.configKey("config 11 split-K 2"));
        assertThrows(IllegalArgumentException.class, () -> Tuner.configKey("config eleven"));
    }

    @Test
    void optionsRefuseBadValues(@TempDir Path dir) {
        Path out = dir.resolve("x.tsv");
        assertThrows(IllegalArgumentException.class, () -> new Tuner.Options(List.of(QKV), List.of(0), CudaDtype.F16, out, 10, true, 1, 1, 1, 1, "c"));
        assertThrows(IllegalArgumentException.class, () -> new Tuner.Options(List.of(QKV), List.of(1), CudaDtype.F32, out, 10, true, 1, 1, 1, 1, "c"));
        assertThrows(IllegalArgumentException.class, () -> new Tuner.Options(List.of(QKV), List.of(1), CudaDtype.F16, out, 0, true, 1, 1, 1, 1, "c"));
        assertEquals(List.of(1, 4, 16), new Tuner.Options(List.of(QKV), List.of(16, 1, 4, 16), CudaDtype.F16, out, 10, true, 1, 1, 1, 1, "c").ms());
    }
}
