package dev.twofour.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.twofour.cuda.CudaDtype;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The hidden entry point of {@code twofour tune}'s child process: measures one linear shape (dense cuBLAS, our
 * kernel, cuSPARSELt default, configuration sweep and search) and reports each step on stdout in lines that start
 * with {@value #PREFIX}, so that the parent ({@link Tuner}) knows which step was running when the process died
 * (a cuSPARSELt configuration has killed the CUDA context with ILLEGAL_INSTRUCTION, and the search has failed with
 * INTERNAL_ERROR, on the H100). Everything else goes to stderr. Exit 0 after "done"; 3 on a failure.
 *
 * <p>Protocol, one line each: {@code try M WHAT} (before each step: "dense", "ours", and the cuSPARSELt ones that
 * may crash: "default", "search", "config ID split-K S"), {@code result JSON} (a {@link TuneResult}), {@code ltdone M}, {@code done}.
 */
public final class TuneChild {
    static final String PREFIX = "@@tune ";
    static final ObjectMapper JSON = new ObjectMapper();

    private TuneChild() {}

    /** What the parent asks one child to do. */
    record Args(GemmShapes.Shape shape, List<Integer> ms, CudaDtype dtype, Set<Integer> ltOnlyMs, Set<String> skip, boolean search,
                int ltMinM, double sweepSeconds, int oursMaxM, int warmup, int iters, int reps, long rotateBytes) {

        List<String> toArgs() {
            List<String> a = new ArrayList<>(List.of("--name", shape.name(), "--n", "" + shape.n(), "--k", "" + shape.k(),
                    "--m", join(ms), "--dtype", dtype == CudaDtype.BF16 ? "bf16" : "fp16", "--search", "" + search,
                    "--lt-min-m", "" + ltMinM, "--sweep-seconds", "" + sweepSeconds, "--ours-max-m", "" + oursMaxM,
                    "--warmup", "" + warmup, "--iters", "" + iters, "--reps", "" + reps, "--rotate-bytes", "" + rotateBytes));
            if (!ltOnlyMs.isEmpty()) a.addAll(List.of("--lt-only", join(List.copyOf(ltOnlyMs))));
            if (!skip.isEmpty()) a.addAll(List.of("--skip", String.join(",", skip)));
            return a;
        }

        static Args parse(String[] argv) {
            String name = null;
            int n = 0, k = 0, ltMinM = 16, oursMaxM = 256, warmup = 10, iters = 20, reps = 15;
            List<Integer> ms = List.of();
            CudaDtype dtype = CudaDtype.F16;
            boolean search = true;
            Set<Integer> ltOnly = new java.util.TreeSet<>();
            Set<String> skip = new LinkedHashSet<>();
            double sweep = 10;
            long rotate = 200L << 20;
            for (int i = 0; i < argv.length; i++) {
                String f = argv[i];
                if (i + 1 >= argv.length) throw new IllegalArgumentException("tune child: " + f + " needs a value");
                String v = argv[++i];
                switch (f) {
                    case "--name" -> name = v;
                    case "--n" -> n = Integer.parseInt(v);
                    case "--k" -> k = Integer.parseInt(v);
                    case "--m" -> ms = v.isEmpty() ? List.of() : java.util.Arrays.stream(v.split(",")).map(Integer::valueOf).toList();
                    case "--dtype" -> dtype = CudaDtype.parse(v);
                    case "--search" -> search = Boolean.parseBoolean(v);
                    case "--lt-min-m" -> ltMinM = Integer.parseInt(v);
                    case "--sweep-seconds" -> sweep = Double.parseDouble(v);
                    case "--ours-max-m" -> oursMaxM = Integer.parseInt(v);
                    case "--warmup" -> warmup = Integer.parseInt(v);
                    case "--iters" -> iters = Integer.parseInt(v);
                    case "--reps" -> reps = Integer.parseInt(v);
                    case "--rotate-bytes" -> rotate = Long.parseLong(v);
                    case "--skip" -> skip.addAll(List.of(v.split(",")));
                    case "--lt-only" -> java.util.Arrays.stream(v.split(",")).map(Integer::valueOf).forEach(ltOnly::add);
                    default -> throw new IllegalArgumentException("tune child: unknown flag " + f);
                }
            }
            if (name == null) throw new IllegalArgumentException("tune child: --name is required");
            return new Args(new GemmShapes.Shape(name, n, k), ms, dtype, ltOnly, skip, search, ltMinM, sweep, oursMaxM, warmup,
                    iters, reps, rotate);
        }

        private static String join(List<Integer> ms) {
            return String.join(",", ms.stream().map(String::valueOf).toList());
        }
    }

    /** Writes the protocol lines; shared with the tests' fake child. */
    static final class Reporter implements GemmBench.TuneListener {
        private final PrintStream out;

        Reporter(PrintStream out) { this.out = out; }

        @Override public void trying(int m, String what) { line("try " + m + " " + what); }

        @Override public void result(GemmResult r, int configId, int splitK) {
            try {
                line("result " + JSON.writeValueAsString(new TuneResult(r, configId, splitK)));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("cannot encode " + r + ": " + e.getMessage(), e);
            }
        }

        @Override public void ltDone(int m) { line("ltdone " + m); }

        void done() { line("done"); }

        private void line(String s) {
            out.println(PREFIX + s);
            out.flush();  // the parent must see a step before the process can die in it
        }
    }

    public static void main(String[] argv) {
        Reporter reporter = new Reporter(System.out);
        try {
            Args a = Args.parse(argv);
            GemmBench.Options o = new GemmBench.Options(List.of(a.shape()), a.ms(), a.dtype(), true, a.oursMaxM(), false,
                    a.warmup(), a.iters(), a.reps(), a.rotateBytes(), null);
            GemmBench.tuneShape(o, new GemmBench.TuneHooks(a.ltOnlyMs(), a.skip(), a.search(), a.ltMinM(), a.sweepSeconds(), reporter),
                    System.err);
            reporter.done();
            System.exit(0);
        } catch (Throwable t) {
            System.err.println("twofour tune child: " + t);
            t.printStackTrace(System.err);
            System.exit(3);
        }
    }
}
