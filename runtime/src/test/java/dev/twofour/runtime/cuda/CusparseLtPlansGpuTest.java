package dev.twofour.runtime.cuda;

import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CusparseLt;
import dev.twofour.kernels.Kernels;
import dev.twofour.kernels.Sparse24Selection;
import dev.twofour.model.ModelConfig;
import dev.twofour.runtime.SamplingParams;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Tuned cuSPARSELt in a 2:4 model on the GPU: one plan per (shape, M, configuration) shared by all layers, and a
 * configuration that cannot run dropped once (logged once) with the layers falling back to our kernel or cuBLAS,
 * giving the same logits.
 */
@Tag("gpu")
class CusparseLtPlansGpuTest {
    static CudaContext ctx;
    /** 3 layers; linear shapes qkv 768x512, o 512x512, gate_up 2752x512, down 512x1376. */
    static final ModelConfig SHAPE = new ModelConfig(ModelConfig.LLAMA, 512, 1376, 3, 8, 2, 64, 3000, 1e-5, 10000, null,
            512, false, dev.twofour.model.DType.F16, false, List.of(1), List.of(2));
    static final int[][] SHAPES = {{768, 512}, {512, 512}, {2752, 512}, {512, 1376}};

    @BeforeAll
    static void setUp() {
        assumeTrue(Cuda.isAvailable() && Cuda.deviceCount() > 0, "no GPU: " + Cuda.unavailableReason());
        assumeTrue(Kernels.available(), Kernels.unavailableReason());
        assumeTrue(CusparseLt.isInstalled(), "cuSPARSELt is not installed");
        ctx = CudaContext.primary(0);
    }

    record Run(float[] prefill, float[] decode, int layersOnLt, int planBuilds, String stderr) {}

    /** Loads the synthetic 2:4 model with {@code entries} as its selection (null: none), prefills 128 tokens, decodes one. */
    static Run run(List<Sparse24Selection.Entry> entries) throws Exception {
        Path tsv = entries == null ? null : Files.createTempFile("twofour-selection", ".tsv");
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try {
            if (tsv != null) {
                Files.writeString(tsv, Sparse24Selection.of(entries).toTsv());
                System.setProperty("twofour.cuda.selection", tsv.toString());
            }
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            int[] ids = new int[128];
            for (int i = 0; i < ids.length; i++) ids[i] = 5 + (i * 53) % 2980;
            try (CudaModel m = CudaModel.synthetic(SHAPE, CudaDtype.F16, true, 11, new CudaModel.Options(4, 256, 128, false, true), ctx)) {
                int slot = m.newSequence();
                float[] p = m.prefill(slot, ids, false)[0];
                m.decodeStep(new int[] {slot}, new int[] {ids[7]}, new SamplingParams[] {SamplingParams.greedy(1)});
                float[] d = m.lastDecodeLogits(1)[0];
                m.free(slot);
                return new Run(p, d, m.cusparseLtLayerCount(), m.cusparseLtPlanBuilds(), captured.toString(StandardCharsets.UTF_8));
            }
        } finally {
            System.setErr(err);
            System.clearProperty("twofour.cuda.selection");
            if (tsv != null) Files.deleteIfExists(tsv);
        }
    }

    static double relErr(float[] got, float[] ref) {
        double num = 0, den = 0;
        for (int i = 0; i < ref.length; i++) {
            assertTrue(Float.isFinite(got[i]), "non-finite logit at " + i);
            num += (got[i] - ref[i]) * (double) (got[i] - ref[i]);
            den += (double) ref[i] * ref[i];
        }
        return Math.sqrt(num / den);
    }

    @Test
    void plansAreSharedByLayersAndBuiltOnce() throws Exception {
        List<Sparse24Selection.Entry> entries = new ArrayList<>();
        for (int[] nk : SHAPES) {
            for (int m : new int[] {16, 128}) entries.add(new Sparse24Selection.Entry(nk[0], nk[1], m, Sparse24Selection.Method.CUSPARSELT, 0, 1));
        }
        Run base = run(null), tuned = run(entries);
        assertEquals(0, base.layersOnLt());
        assertEquals(12, tuned.layersOnLt(), "3 layers x 4 shapes on cuSPARSELt");
        // decode buckets 1, 2, 4 pad up to the 16-row plan; the prefill chunk has its own: 4 shapes x 2 M
        assertEquals(8, tuned.planBuilds(), "one plan per (shape, M, configuration), not per layer");
        assertTrue(!tuned.stderr().contains("cuSPARSELt"), "no plan should be dropped: " + tuned.stderr());
        double ep = relErr(tuned.prefill(), base.prefill()), ed = relErr(tuned.decode(), base.decode());
        System.out.printf("CusparseLtPlansGpuTest: shared plans vs default paths: prefill %.2e, decode %.2e%n", ep, ed);
        assertTrue(ep < 2e-2 && ed < 2e-2, "logits with shared cuSPARSELt plans differ: prefill " + ep + ", decode " + ed);
    }

    @Test
    void aConfigurationThatCannotRunIsDroppedOnceAndTheLayersFallBack() throws Exception {
        List<Sparse24Selection.Entry> entries = new ArrayList<>();
        // qkv names a configuration id no shape has (refused when planned); the others configuration 0
        entries.add(new Sparse24Selection.Entry(768, 512, 16, Sparse24Selection.Method.CUSPARSELT, 100_000, 1));
        entries.add(new Sparse24Selection.Entry(768, 512, 128, Sparse24Selection.Method.CUSPARSELT, 100_000, 1));
        for (int[] nk : new int[][] {{512, 512}, {2752, 512}, {512, 1376}}) {
            for (int m : new int[] {16, 128}) entries.add(new Sparse24Selection.Entry(nk[0], nk[1], m, Sparse24Selection.Method.CUSPARSELT, 0, 1));
        }
        Run base = run(null), fallback = run(entries);
        assertEquals(9, fallback.layersOnLt(), "qkv of the 3 layers falls back; o, gate_up, down stay on cuSPARSELt");
        String err = fallback.stderr();
        System.out.print("CusparseLtPlansGpuTest: stderr of the fallback run:\n" + err);
        assertEquals(2, err.lines().filter(l -> l.contains("cuSPARSELt plan 768x512")).count(),
                "one line per dropped plan (M=16 and M=128), not one per layer: " + err);
        assertTrue(err.contains("768x512 at M=16 (configuration 100000, split-K 1)"), err);
        double ep = relErr(fallback.prefill(), base.prefill()), ed = relErr(fallback.decode(), base.decode());
        assertTrue(ep < 2e-2 && ed < 2e-2, "logits after the fallback differ: prefill " + ep + ", decode " + ed);
    }
}
