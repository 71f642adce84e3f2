package dev.twofour.runtime.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.kernels.Kernels;
import dev.twofour.kernels.Sparse24Selection;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.SafetensorsFile;
import dev.twofour.model.TensorView;
import dev.twofour.model.tokenizer.Tokenizer;
import dev.twofour.runtime.SamplingParams;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The CUDA fast path on tiny-llama-8m against the goldens from Hugging Face transformers
 * (runtime/src/test/resources/goldens/tiny-llama-8m): logits, greedy continuations, perplexity,
 * batch independence, graphs vs eager, bf16. Runs on the GPU machine.
 */
@Tag("gpu")
class CudaModelGpuTest {
    static CudaContext ctx;
    static Path repo, model, goldens;

    @BeforeAll
    static void setUp() {
        assumeTrue(Cuda.isAvailable() && Cuda.deviceCount() > 0, "no GPU: " + Cuda.unavailableReason());
        assumeTrue(Kernels.available(), Kernels.unavailableReason());
        ctx = CudaContext.primary(0);
        repo = Path.of(System.getProperty("twofour.repo", "."));
        model = firstExisting(System.getProperty("twofour.tinyModel") == null ? null : Path.of(System.getProperty("twofour.tinyModel")),
                repo.resolve("models/tiny-llama-8m"), repo.resolve(".dev-carry/tiny-llama-8m"),
                repo.resolve("../shared/models/tiny-llama-8m"));
        goldens = repo.resolve("runtime/src/test/resources/goldens/tiny-llama-8m");
        assumeTrue(model != null, "tiny-llama-8m not found under " + repo);
    }

    static Path firstExisting(Path... candidates) {
        for (Path p : candidates) if (p != null && Files.exists(p)) return p;
        return null;
    }

    static CudaModel load(CudaDtype dt, int maxBatch, boolean allLogits, boolean graphs) throws Exception {
        return CudaModel.load(model, dt, new CudaModel.Options(maxBatch, 1024, 300, allLogits, graphs), ctx);
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

    void checkLogits(CudaDtype dt, double tol) throws Exception {
        try (CudaModel m = load(dt, 2, true, false);
             SafetensorsFile g = SafetensorsFile.open(goldens.resolve("logits-fp16.safetensors"))) {
            int vocab = m.config().vocabSize();
            double worst = 0;
            for (int p = 0; g.contains("p" + p + ".ids"); p++) {
                TensorView idsT = g.tensor("p" + p + ".ids");
                int[] ids = new int[(int) idsT.numel()];
                for (int i = 0; i < ids.length; i++) ids[i] = (int) idsT.getFloat(i);
                float[] ref = g.tensor("p" + p + ".logits").toFloatArray();
                int slot = m.newSequence();
                float[][] got = m.prefill(slot, ids, true);
                m.free(slot);
                for (int t = 0; t < ids.length; t++) {
                    double e = relErr(got[t], Arrays.copyOfRange(ref, t * vocab, (t + 1) * vocab));
                    worst = Math.max(worst, e);
                    assertTrue(e <= tol, dt + " prompt " + p + " token " + t + ": relative logit error " + e + " > " + tol);
                }
            }
            System.out.printf("CudaModelGpuTest: %s logits vs transformers fp16: worst relative error %.2e%n", dt, worst);
        }
    }

    @Test
    void fp16LogitsMatchTransformers() throws Exception {
        checkLogits(CudaDtype.F16, 2e-2);
    }

    @Test
    void bf16LogitsMatchTransformers() throws Exception {
        checkLogits(CudaDtype.BF16, 6e-2);
    }

    static JsonNode greedyCases() throws Exception {
        return new ObjectMapper().readTree(goldens.resolve("greedy.json").toFile()).get("cases");
    }

    static int[] ints(JsonNode a) {
        int[] v = new int[a.size()];
        for (int i = 0; i < v.length; i++) v[i] = a.get(i).asInt();
        return v;
    }

    /** Greedy continuation of {@code prompt}: n new ids, alone in the model. */
    static int[] generate(CudaModel m, int[] prompt, int n) {
        int slot = m.newSequence();
        SamplingParams greedy = SamplingParams.greedy(n);
        int[] out = new int[n];
        out[0] = m.prefillAndSample(slot, prompt, greedy);
        for (int i = 1; i < n; i++) out[i] = m.decodeStep(new int[] {slot}, new int[] {out[i - 1]}, new SamplingParams[] {greedy})[0];
        m.free(slot);
        return out;
    }

    @Test
    void greedyContinuationsMatchTransformers() throws Exception {
        try (CudaModel m = load(CudaDtype.F16, 8, false, true)) {
            int same32 = 0, n = 0;
            for (JsonNode c : greedyCases()) {
                int[] want = ints(c.get("new_ids_fp16_gpu"));
                int[] got = generate(m, ints(c.get("ids")), want.length);
                assertArrayEquals(want, got, "greedy continuation of \"" + c.get("prompt").asText() + "\"");
                if (Arrays.equals(ints(c.get("new_ids")), got)) same32++;
                n++;
            }
            System.out.printf("CudaModelGpuTest: greedy fp16: %d/%d prompts identical to transformers fp16 (%d also to fp32)%n", n, n, same32);
        }
    }

    @Test
    void graphsAndEagerAgreeAndBatchMembersAreIndependent() throws Exception {
        List<int[]> prompts = new ArrayList<>();
        for (JsonNode c : greedyCases()) prompts.add(ints(c.get("ids")));
        prompts.add(new int[] {0, 17, 300, 42, 9, 1000, 77, 5, 6, 7, 8, 9, 10, 11});
        prompts.add(new int[] {0, 4000});
        prompts.add(new int[] {0, 123, 456, 789, 1011, 1213, 1415, 1617, 1819, 2021, 2223, 2425, 2627, 2829, 3031, 3233, 3435, 3637, 3839, 4041});
        int n = 24;
        int[][] alone = new int[8][];
        try (CudaModel eager = load(CudaDtype.F16, 8, false, false); CudaModel graphs = load(CudaDtype.F16, 8, false, true)) {
            for (int i = 0; i < 8; i++) {
                alone[i] = generate(graphs, prompts.get(i), n);
                assertArrayEquals(alone[i], generate(eager, prompts.get(i), n), "graph replay vs eager, prompt " + i);
            }
            // all eight together, staggered: sequence i starts i steps late so the batch size changes every step
            SamplingParams greedy = SamplingParams.greedy(n);
            int[] slots = new int[8];
            int[][] got = new int[8][n];
            int[] produced = new int[8];
            for (int step = 0; step < n + 8; step++) {
                List<Integer> active = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    if (step == i) {
                        slots[i] = graphs.newSequence();
                        got[i][0] = graphs.prefillAndSample(slots[i], prompts.get(i), greedy);
                        produced[i] = 1;
                    } else if (step > i && produced[i] < n) {
                        active.add(i);
                    }
                }
                if (active.isEmpty()) continue;
                int[] s = new int[active.size()], t = new int[active.size()];
                SamplingParams[] p = new SamplingParams[active.size()];
                for (int j = 0; j < s.length; j++) {
                    int i = active.get(j);
                    s[j] = slots[i];
                    t[j] = got[i][produced[i] - 1];
                    p[j] = greedy;
                }
                int[] ids = graphs.decodeStep(s, t, p);
                for (int j = 0; j < s.length; j++) {
                    int i = active.get(j);
                    got[i][produced[i]++] = ids[j];
                }
            }
            for (int i = 0; i < 8; i++) assertArrayEquals(alone[i], got[i], "prompt " + i + " in a batch of 8 vs alone");
        }
    }

    @Test
    void seededSamplingIsReproducible() throws Exception {
        try (CudaModel m = load(CudaDtype.F16, 4, false, true)) {
            SamplingParams p = SamplingParams.defaults().withTemperature(0.9f).withTopK(40).withTopP(0.95f)
                    .withRepetitionPenalty(1.1f).withSeed(1234L);
            int[] prompt = {0, 747, 264, 2538, 527, 3841};
            int[][] runs = new int[2][];
            for (int r = 0; r < 2; r++) {
                int slot = m.newSequence();
                int[] out = new int[20];
                out[0] = m.prefillAndSample(slot, prompt, p);
                for (int i = 1; i < out.length; i++) out[i] = m.decodeStep(new int[] {slot}, new int[] {out[i - 1]}, new SamplingParams[] {p})[0];
                m.free(slot);
                runs[r] = out;
            }
            assertArrayEquals(runs[0], runs[1], "same seed, same tokens");
        }
    }

    static double perplexity(CudaModel m, int[] ids) {
        double nll = 0;
        long predicted = 0;
        int vocab = m.config().vocabSize();
        for (int start = 0; start < ids.length - 1; start += 256) {
            int end = Math.min(ids.length, start + 257);
            int[] window = Arrays.copyOfRange(ids, start, end);
            int slot = m.newSequence();
            float[][] logits = m.prefill(slot, Arrays.copyOf(window, window.length - 1), true);
            m.free(slot);
            for (int t = 0; t < window.length - 1; t++) {
                float[] row = logits[t];
                double mx = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < vocab; v++) mx = Math.max(mx, row[v]);
                double sum = 0;
                for (int v = 0; v < vocab; v++) sum += Math.exp(row[v] - mx);
                nll += Math.log(sum) + mx - row[window[t + 1]];
                predicted++;
            }
        }
        return Math.exp(nll / predicted);
    }

    static int[] validationIds() throws Exception {
        String pre = System.getProperty("twofour.validIds");  // int32 LE ids made by the same protocol off the device
        if (pre != null) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(Files.readAllBytes(Path.of(pre))).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            int[] ids = new int[b.remaining() / 4];
            for (int i = 0; i < ids.length; i++) ids[i] = b.getInt();
            return ids;
        }
        Path text = firstExisting(
                System.getProperty("twofour.valid") == null ? null : Path.of(System.getProperty("twofour.valid")),
                repo.resolve("data/valid.txt"), repo.resolve("runtime/src/test/resources/data/valid.txt"),
                repo.resolve("../shared/data/valid.txt"));
        assumeTrue(text != null, "valid.txt not found (set -Dtwofour.valid=PATH)");
        Tokenizer tok = Tokenizer.load(model);
        String all = Files.readString(text);
        List<Integer> ids = new ArrayList<>();
        for (String part : all.split("\n\n", -1)) {
            if (part.isBlank()) continue;
            ids.add(tok.bosId());
            for (int id : tok.encode(part, false)) ids.add(id);
            ids.add(tok.eosIds().get(0));
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }


    @Test
    void perplexityMatchesTransformers() throws Exception {
        int[] ids = validationIds();
        try (CudaModel m = load(CudaDtype.F16, 1, true, false)) {
            double ppl = perplexity(m, ids);
            System.out.printf("CudaModelGpuTest: fp16 perplexity %.4f (transformers 84.60) over %d ids%n", ppl, ids.length);
            assertEquals(84.60, ppl, 84.60 * 0.005, "fp16 perplexity");
        }
        try (CudaModel m = load(CudaDtype.BF16, 1, true, false)) {
            double ppl = perplexity(m, ids);
            System.out.printf("CudaModelGpuTest: bf16 perplexity %.4f%n", ppl);
            assertEquals(84.60, ppl, 84.60 * 0.02, "bf16 perplexity");
        }
    }

    @Test
    void syntheticPresetRunsDenseAndSparse() {
        ModelConfig tinyShape = new ModelConfig(ModelConfig.LLAMA, 512, 1376, 2, 8, 2, 64, 3000, 1e-5, 10000, null,
                512, false, dev.twofour.model.DType.F16, false, List.of(1), List.of(2));
        // dense; 2:4 with dense copies (cuBLAS for many rows); 2:4 without them (unpack + cuBLAS)
        for (String mode : new String[] {"dense", "2:4", "2:4 without dense copies"}) {
            boolean sparse = !mode.equals("dense");
            if (mode.endsWith("copies")) System.setProperty("twofour.cuda.denseCopies", "off");
            try (CudaModel m = CudaModel.synthetic(tinyShape, CudaDtype.F16, sparse, 42, new CudaModel.Options(4, 256, 128, false, true), ctx)) {
                int slot = m.newSequence();
                int first = m.prefillAndSample(slot, new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, SamplingParams.greedy(4));
                int next = m.decodeStep(new int[] {slot}, new int[] {first}, new SamplingParams[] {SamplingParams.greedy(4)})[0];
                assertTrue(first >= 0 && first < 3000 && next >= 0 && next < 3000);
                float[] logits = m.lastDecodeLogits(1)[0];
                double ss = 0;
                for (float f : logits) { assertTrue(Float.isFinite(f)); ss += f * f; }
                assertTrue(ss > 0, "synthetic logits are not all zero");
                m.free(slot);
                // the many-row path (cuBLAS, or unpack + cuBLAS for 2:4) and the one-row path (our GEMV / 2:4 kernel)
                // compute the same function: prefill of 100 tokens vs prefill of 99 + one decode step
                int[] ids = new int[100];
                for (int i = 0; i < ids.length; i++) ids[i] = 3 + (i * 37) % 2990;
                int a = m.newSequence();
                float[] many = m.prefill(a, ids, false)[0];
                m.free(a);
                int b = m.newSequence();
                m.prefill(b, Arrays.copyOf(ids, 99), false);
                m.decodeStep(new int[] {b}, new int[] {ids[99]}, new SamplingParams[] {SamplingParams.greedy(1)});
                float[] one = m.lastDecodeLogits(1)[0];
                m.free(b);
                double e = relErr(one, many);
                System.out.printf("CudaModelGpuTest: synthetic %s: one-row vs many-row logits, relative error %.2e%n", mode, e);
                assertTrue(e < 2e-2, mode + ": one-row vs many-row logits differ by " + e);
            } finally {
                System.clearProperty("twofour.cuda.denseCopies");
            }
        }
    }

    @Test
    void tunedCusparseLtSelectionGivesTheSameLogits() throws Exception {
        assumeTrue(dev.twofour.cuda.CusparseLt.isInstalled(), "cuSPARSELt is not installed");
        ModelConfig tinyShape = new ModelConfig(ModelConfig.LLAMA, 512, 1376, 2, 8, 2, 64, 3000, 1e-5, 10000, null,
                512, false, dev.twofour.model.DType.F16, false, List.of(1), List.of(2));
        // every linear shape of the model (qkv 768x512, o 512x512, gate_up 2752x512, down 512x1376) on cuSPARSELt
        // configuration 0 from 16 rows on (decode buckets pad up to the 16-row plan; a full prefill chunk has its own)
        List<Sparse24Selection.Entry> entries = new ArrayList<>();
        for (int[] nk : new int[][] {{768, 512}, {512, 512}, {2752, 512}, {512, 1376}}) {
            for (int m : new int[] {16, 128}) entries.add(new Sparse24Selection.Entry(nk[0], nk[1], m, Sparse24Selection.Method.CUSPARSELT, 0, 1));
        }
        Path tsv = Files.createTempFile("twofour-selection", ".tsv");
        Files.writeString(tsv, Sparse24Selection.of(entries).toTsv());
        // 128 tokens: one full prefill chunk, the row count of the prefill plan
        int[] ids = new int[128];
        for (int i = 0; i < ids.length; i++) ids[i] = 5 + (i * 53) % 2980;
        float[][] prefill = new float[2][], decode = new float[2][];
        try {
            for (int run = 0; run < 2; run++) {
                if (run == 1) System.setProperty("twofour.cuda.selection", tsv.toString());
                try (CudaModel m = CudaModel.synthetic(tinyShape, CudaDtype.F16, true, 7, new CudaModel.Options(4, 256, 128, false, true), ctx)) {
                    assertEquals(run == 0 ? 0 : 8, m.cusparseLtLayerCount(), "2:4 layers on cuSPARSELt");
                    int slot = m.newSequence();
                    prefill[run] = m.prefill(slot, ids, false)[0];
                    m.decodeStep(new int[] {slot}, new int[] {ids[7]}, new SamplingParams[] {SamplingParams.greedy(1)});
                    decode[run] = m.lastDecodeLogits(1)[0];
                    m.free(slot);
                }
            }
        } finally {
            System.clearProperty("twofour.cuda.selection");
            Files.deleteIfExists(tsv);
        }
        double ep = relErr(prefill[1], prefill[0]), ed = relErr(decode[1], decode[0]);
        System.out.printf("CudaModelGpuTest: cuSPARSELt vs default 2:4 paths: prefill rel err %.2e, decode %.2e%n", ep, ed);
        assertTrue(ep < 2e-2, "128-token prefill logits with cuSPARSELt differ by " + ep);
        assertTrue(ed < 2e-2, "decode logits with cuSPARSELt differ by " + ed);
    }
}
