package dev.twofour.runtime.cuda;

import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.kernels.Kernels;
import dev.twofour.model.SafetensorsFile;
import dev.twofour.model.TensorView;
import dev.twofour.runtime.KvCache;
import dev.twofour.runtime.Transformer;
import dev.twofour.runtime.cpu.CpuBackend;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The runtime's Transformer on the CUDA backend (op by op, paged KV cache) against the CPU backend and
 * transformers' fp16 logits, and mixed batches against single sequences. Runs on the GPU machine.
 */
@Tag("gpu")
class CudaBackendGpuTest {
    static CudaContext ctx;
    static Path model, goldens;

    @BeforeAll
    static void setUp() {
        assumeTrue(Cuda.isAvailable() && Cuda.deviceCount() > 0, "no GPU: " + Cuda.unavailableReason());
        assumeTrue(Kernels.available(), Kernels.unavailableReason());
        ctx = CudaContext.primary(0);
        Path repo = Path.of(System.getProperty("twofour.repo", "."));
        model = repo.resolve("models/tiny-llama-8m");
        goldens = repo.resolve("runtime/src/test/resources/goldens/tiny-llama-8m");
        assumeTrue(Files.exists(model), "tiny-llama-8m not found under " + repo);
    }

    static double relErr(float[] got, int gotOff, float[] ref, int refOff, int n) {
        double num = 0, den = 0;
        for (int i = 0; i < n; i++) {
            float g = got[gotOff + i], r = ref[refOff + i];
            assertTrue(Float.isFinite(g), "non-finite logit");
            num += (g - r) * (double) (g - r);
            den += (double) r * r;
        }
        return Math.sqrt(num / den);
    }

    static float[] run(Transformer m, int[] ids) {
        try (KvCache cache = m.newKvCache(ids.length + 8)) {
            int seq = cache.newSequence();
            return m.forward(cache, List.of(new Transformer.SequenceInput(seq, ids)), true);
        }
    }

    @Test
    void logitsMatchCpuBackendAndTransformers() throws Exception {
        try (CudaBackend gpu = new CudaBackend(ctx, CudaDtype.F16); CpuBackend cpu = new CpuBackend();
             Transformer mg = Transformer.load(model, gpu, Transformer.Options.defaults());
             Transformer mc = Transformer.load(model, cpu, Transformer.Options.defaults());
             SafetensorsFile g = SafetensorsFile.open(goldens.resolve("logits-fp16.safetensors"))) {
            int vocab = mg.vocabSize();
            double worstHf = 0, worstCpu = 0;
            for (int p = 0; g.contains("p" + p + ".ids"); p++) {
                TensorView idsT = g.tensor("p" + p + ".ids");
                int[] ids = new int[(int) idsT.numel()];
                for (int i = 0; i < ids.length; i++) ids[i] = (int) idsT.getFloat(i);
                float[] ref = g.tensor("p" + p + ".logits").toFloatArray();
                float[] ours = run(mg, ids), cpuLogits = run(mc, ids);
                for (int t = 0; t < ids.length; t++) {
                    worstHf = Math.max(worstHf, relErr(ours, t * vocab, ref, t * vocab, vocab));
                    worstCpu = Math.max(worstCpu, relErr(ours, t * vocab, cpuLogits, t * vocab, vocab));
                }
            }
            System.out.printf("CudaBackendGpuTest: worst relative logit error vs transformers fp16 %.2e, vs CPU backend %.2e%n", worstHf, worstCpu);
            assertTrue(worstHf <= 2e-2, "vs transformers fp16: " + worstHf);
            assertTrue(worstCpu <= 2e-2, "vs the CPU backend: " + worstCpu);
        }
    }

    @Test
    void mixedBatchesAndDecodeStepsMatchSingleSequences() throws Exception {
        try (CudaBackend gpu = new CudaBackend(ctx, CudaDtype.F16);
             Transformer m = Transformer.load(model, gpu, Transformer.Options.defaults())) {
            int vocab = m.vocabSize();
            int[][] prompts = {{0, 747, 264, 2538, 527, 3841}, {0, 17, 300, 42, 9, 1000, 77, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19},
                    {0, 4000}, new int[90]};
            for (int i = 0; i < 90; i++) prompts[3][i] = 5 + (i * 131) % 8000;
            int steps = 6;
            int[] extra = {11, 22, 33, 44, 55, 66};
            // each alone: prefill, then decode steps one token at a time; last-token logits of every call
            List<float[]> alone = new ArrayList<>();
            for (int[] p : prompts) {
                try (KvCache cache = m.newKvCache(200)) {
                    int seq = cache.newSequence();
                    alone.add(m.forward(cache, List.of(new Transformer.SequenceInput(seq, p)), false));
                    for (int s = 0; s < steps; s++) alone.add(m.forward(cache, List.of(new Transformer.SequenceInput(seq, new int[] {extra[s]})), false));
                }
            }
            // together: one mixed prefill of all prompts, then batched decode steps (all single tokens)
            try (KvCache cache = m.newKvCache(800)) {
                List<Transformer.SequenceInput> batch = new ArrayList<>();
                int[] seqs = new int[prompts.length];
                for (int i = 0; i < prompts.length; i++) {
                    seqs[i] = cache.newSequence();
                    batch.add(new Transformer.SequenceInput(seqs[i], prompts[i]));
                }
                float[] first = m.forward(cache, batch, false);
                double worst = 0;
                for (int i = 0; i < prompts.length; i++) worst = Math.max(worst, relErr(first, i * vocab, alone.get(i * (steps + 1)), 0, vocab));
                for (int s = 0; s < steps; s++) {
                    List<Transformer.SequenceInput> step = new ArrayList<>();
                    for (int i = 0; i < prompts.length; i++) step.add(new Transformer.SequenceInput(seqs[i], new int[] {extra[s]}));
                    float[] l = m.forward(cache, step, false);
                    for (int i = 0; i < prompts.length; i++) worst = Math.max(worst, relErr(l, i * vocab, alone.get(i * (steps + 1) + s + 1), 0, vocab));
                }
                System.out.printf("CudaBackendGpuTest: batched vs single sequences, worst relative logit difference %.2e%n", worst);
                assertTrue(worst < 1e-2, "batched vs alone: " + worst);
            }
            // the decode kernel path (one token per step) against the prefill kernel path (one long prefill)
            int[] p = prompts[1];
            float[] all = run(m, p);
            try (KvCache cache = m.newKvCache(64)) {
                int seq = cache.newSequence();
                m.forward(cache, List.of(new Transformer.SequenceInput(seq, Arrays.copyOf(p, 10))), false);
                double worst = 0;
                for (int i = 10; i < p.length; i++) {
                    float[] l = m.forward(cache, List.of(new Transformer.SequenceInput(seq, new int[] {p[i]})), false);
                    worst = Math.max(worst, relErr(l, 0, all, i * vocab, vocab));
                }
                assertTrue(worst < 1e-2, "incremental decode vs one prefill: " + worst);
            }
        }
    }
}
