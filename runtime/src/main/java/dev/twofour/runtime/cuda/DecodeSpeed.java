package dev.twofour.runtime.cuda;

import dev.twofour.cuda.Cuda;
import dev.twofour.cuda.CudaContext;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.model.ModelConfig;
import dev.twofour.runtime.SamplingParams;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Decode and prefill speed of a synthetic preset on the GPU (weights generated on the device, nothing on
 * disk): batch-1 decode tok/s and ms/token against the weight-streaming roofline, prefill tok/s, decode at
 * larger batches; dense and/or 2:4.
 * <pre>
 * java ... dev.twofour.runtime.cuda.DecodeSpeed [--preset llama2-7b] [--dtype fp16|bf16] [--sparse off|on|both]
 *      [--batch 1,8,32] [--prompt 128] [--gen 128] [--prefill 2048] [--bandwidth 3.0e12] [--no-graphs]
 * </pre>
 */
public final class DecodeSpeed {
    private DecodeSpeed() {}

    public static void main(String[] args) {
        String preset = "llama2-7b", dtypeName = "fp16", sparse = "both";
        int[] batches = {1, 8, 32};
        int prompt = 128, gen = 128, prefill = 2048;
        double bandwidth = 3.0e12;
        boolean graphs = true, profile = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--preset" -> preset = args[++i];
                case "--dtype" -> dtypeName = args[++i];
                case "--sparse" -> sparse = args[++i];
                case "--batch" -> batches = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--prompt" -> prompt = Integer.parseInt(args[++i]);
                case "--gen" -> gen = Integer.parseInt(args[++i]);
                case "--prefill" -> prefill = Integer.parseInt(args[++i]);
                case "--bandwidth" -> bandwidth = Double.parseDouble(args[++i]);
                case "--no-graphs" -> graphs = false;
                case "--profile" -> profile = true;
                default -> {
                    System.err.println("DecodeSpeed: unknown argument " + a + " (see the class comment)");
                    System.exit(2);
                }
            }
        }
        if (!Cuda.isAvailable()) {
            System.err.println("DecodeSpeed: no GPU: " + Cuda.unavailableReason());
            System.exit(1);
        }
        ModelConfig config = ModelConfig.preset(preset);
        CudaDtype dtype = CudaDtype.parse(dtypeName);
        int maxBatch = Arrays.stream(batches).max().orElse(1);
        int maxContext = Math.max(prefill, prompt + gen + 16);
        List<String> table = new ArrayList<>();
        CudaContext ctx = CudaContext.primary(0);
        List<Boolean> modes = switch (sparse) {
            case "off" -> List.of(false);
            case "on" -> List.of(true);
            default -> List.of(false, true);
        };
        for (boolean sp : modes) {
            String mode = sp ? "2:4" : "dense";
            CudaModel.Options opts = new CudaModel.Options(maxBatch, maxContext, Math.max(prefill, 512), false, graphs);
            long t0 = System.nanoTime();
            try (CudaModel m = CudaModel.synthetic(config, dtype, sp, 7, opts, ctx)) {
                double loadS = (System.nanoTime() - t0) / 1e9;
                long bytes = m.weightBytesPerToken();
                double roofline = bandwidth / bytes;
                System.out.printf("%s %s %s: weights streamed per step %.2f GB, generated in %.1f s, roofline %.0f tok/s at %.1f TB/s%n",
                        preset, dtypeName, mode, bytes / 1e9, loadS, roofline, bandwidth / 1e12);
                if (sp && m.cusparseLtLayerCount() > 0) {
                    System.out.printf("%s %s %s: %d linear layers run tuned cuSPARSELt for some row counts (-Dtwofour.cuda.selection)%n",
                            preset, dtypeName, mode, m.cusparseLtLayerCount());
                }
                Random rnd = new Random(1);
                // prefill
                if (prefill > 0) {
                    int[] ids = randomIds(rnd, prefill, config.vocabSize());
                    int s = m.newSequence();
                    m.prefill(s, ids, false);  // warm-up
                    m.free(s);
                    double best = Double.MAX_VALUE;
                    for (int rep = 0; rep < (sp ? 1 : 3); rep++) {  // the 2:4 GEMM is built for small M: slow here
                        s = m.newSequence();
                        long a = System.nanoTime();
                        m.prefill(s, ids, false);
                        best = Math.min(best, (System.nanoTime() - a) / 1e6);
                        m.free(s);
                    }
                    String line = String.format("%-6s prefill %5d tokens: %8.2f ms, %9.0f tok/s", mode, prefill, best, prefill * 1000.0 / best);
                    System.out.println(line);
                    table.add(line);
                    if (profile) {
                        System.out.println(mode + " prefill " + prefill + " tokens, profile (layer 0 weights, stream launches):");
                        m.profilePrefill(prefill, 5).forEach(System.out::println);
                    }
                }
                for (int b : batches) {
                    int[] slots = new int[b], last = new int[b];
                    SamplingParams[] params = new SamplingParams[b];
                    for (int i = 0; i < b; i++) {
                        slots[i] = m.newSequence();
                        params[i] = SamplingParams.greedy(gen);
                        last[i] = m.prefillAndSample(slots[i], randomIds(rnd, prompt, config.vocabSize()), params[i]);
                    }
                    int warm = Math.min(8, gen / 4);
                    for (int i = 0; i < warm; i++) last = m.decodeStep(slots, last, params);
                    int steps = gen - warm;
                    double[] ms = new double[steps];
                    for (int i = 0; i < steps; i++) {
                        long a = System.nanoTime();
                        last = m.decodeStep(slots, last, params);
                        ms[i] = (System.nanoTime() - a) / 1e6;
                    }
                    Arrays.sort(ms);
                    double med = ms[steps / 2], p90 = ms[(int) (steps * 0.9)];
                    String line = String.format("%-6s decode batch %2d: %6.3f ms/step (p90 %.3f), %7.1f tok/s per sequence, %8.1f tok/s total%s",
                            mode, b, med, p90, 1000.0 / med, b * 1000.0 / med,
                            b == 1 ? String.format(", %.0f%% of the %.0f tok/s roofline", 100.0 * (1000.0 / med) / roofline, roofline) : "");
                    System.out.println(line);
                    table.add(line);
                    if (profile) {
                        System.out.println(mode + " batch " + b + " launch profile (layer 0 weights, context " + (prompt + gen) + "):");
                        m.profileDecode(slots, 20).forEach(System.out::println);
                    }
                    for (int s : slots) m.free(s);
                }
            }
        }
        System.out.println("== DecodeSpeed " + preset + " " + dtypeName + " on " + ctx.device().name()
                + (graphs ? " (CUDA graphs)" : " (eager)") + ", prompt " + prompt + ", gen " + gen);
        table.forEach(System.out::println);
    }

    private static int[] randomIds(Random r, int n, int vocab) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = 3 + r.nextInt(vocab - 3);
        return ids;
    }
}
