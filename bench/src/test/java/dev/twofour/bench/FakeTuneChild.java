package dev.twofour.bench;

/**
 * A stand-in for {@link TuneChild} in CPU tests: speaks the same protocol with made-up timings, and crashes, hangs
 * or fails where the system property {@code fake.scenario} says: "crash:ID:SPLITK@M" (halts with exit code 134,
 * as a SIGABRT would), "hang:search@M", "searchfail@M" (exit 3), "die:ours@M", or "ok".
 *
 * <p>Made-up times per M: dense 10 + M/4 us; ours 6 + M/2 (wins at small M); cuSPARSELt (M padded to at least 16,
 * L = max(M, 16)) default 9 + L/8; configuration c (0..4, split-K 1 only) 8 + L/8 - c/2, so configuration 4 is the
 * fastest, 3 the next, and so on.
 * Configuration 1 stands for one that computes wrong results: a real child never reports it as the tuned one.
 */
public final class FakeTuneChild {
    public static void main(String[] argv) throws Exception {
        TuneChild.Args a = TuneChild.Args.parse(argv);
        String scenario = System.getProperty("fake.scenario", "ok");
        TuneChild.Reporter rep = new TuneChild.Reporter(System.out);
        System.err.println("fake child starting for " + a.shape() + " M " + a.ms());
        for (int m : a.ms()) {
            int l = Math.max(m, a.ltMinM());
            if (!a.ltOnlyMs().contains(m)) {
                rep.trying(m, "dense");
                rep.result(r(a, m, "dense", 10 + m / 4.0, 0, "cublasGemmEx"), -1, -1);
                rep.trying(m, "ours");
                if (scenario.equals("die:ours@" + m)) Runtime.getRuntime().halt(139);
                rep.result(r(a, m, "ours", 6 + m / 2.0, 1e-4, "tile 8"), -1, -1);
            }
            if (!a.skip().contains("default")) {
                rep.trying(m, "default");
                rep.result(r(a, m, "cusparselt", 9 + l / 8.0, 1e-4, "default config 0, split-K 1"), 0, 1);
            }
            int best = -1;
            for (int c = 0; c <= 4; c++) {
                if (GemmBench.skips(a.skip(), c + ":1")) continue;
                rep.trying(m, "config " + c + " split-K 1");
                if (scenario.equals("crash:" + c + ":1@" + m)) Runtime.getRuntime().halt(134);
                if (c != 1) best = c;  // the fastest correct one so far (higher is faster)
            }
            if (a.search()) {
                rep.trying(m, "search");
                if (scenario.equals("hang:search@" + m)) Thread.sleep(600_000);
                if (scenario.equals("searchfail@" + m)) {
                    System.err.println("cusparseLtMatmulSearch failed: CUSPARSE_STATUS_INTERNAL_ERROR (7)");
                    System.exit(3);
                }
            }
            if (best >= 0) {
                rep.result(r(a, m, "cusparselt-tuned", 8 + l / 8.0 - best / 2.0, 1e-4, "config " + best + ", split-K 1"), best, 1);
            }
            rep.ltDone(m);
        }
        rep.done();
        System.exit(0);
    }

    private static GemmResult r(TuneChild.Args a, int m, String method, double micros, double err, String note) {
        return new GemmResult(a.shape().name(), a.shape().n(), a.shape().k(), m, "fp16", method, micros, 1, 1,
                method.equals("dense") ? 1 : Double.NaN, err, note);
    }

    private FakeTuneChild() {}
}
