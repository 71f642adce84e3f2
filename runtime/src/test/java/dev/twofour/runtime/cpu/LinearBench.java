package dev.twofour.runtime.cpu;

import dev.twofour.model.DType;

import java.lang.foreign.MemorySegment;
import java.util.Random;

/** Not a test: timing of the CPU linear kernels (run its main by hand). */
public final class LinearBench {
    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        Parallel par = new Parallel(threads);
        Random rnd = new Random(1);
        int n = 768, k = 256;
        // distinct weights: 40 (16 MB dense, fits this machine's 32 MB L3) or e.g. 200 (79 MB, streams from DRAM)
        int layers = args.length > 1 ? Integer.parseInt(args[1]) : 40;
        DenseLinear[] dense = new DenseLinear[layers];
        Sparse24Linear[] sparse = new Sparse24Linear[layers];
        for (int i = 0; i < layers; i++) {
            float[] w = TestWeights.random(rnd, n * k, DType.F16);
            TestWeights.make24(rnd, w, n, k);
            dense[i] = new DenseLinear("d", DType.F16, TestWeights.segment(w, DType.F16), n, k);
            MemorySegment[] p = TestWeights.pack(w, n, k, DType.F16);
            sparse[i] = new Sparse24Linear("s", DType.F16, p[0], p[1], n, k);
        }
        for (int M : new int[]{1, 4, 256}) {
            if (M == 256 && layers > 40) continue;
            float[] x = TestWeights.random(rnd, M * k, DType.F32);
            float[] y = new float[M * n];
            for (int rep = 0; rep < 3; rep++) {
                for (CpuLinear[] set : new CpuLinear[][]{dense, sparse}) {
                    int iters = M == 1 ? Math.max(2000, 5 * layers) : M == 4 ? Math.max(500, 2 * layers) : 10;
                    long t0 = System.nanoTime();
                    for (int it = 0; it < iters; it++) set[it % layers].forward(x, M, y, par);
                    double us = (System.nanoTime() - t0) / 1e3 / iters;
                    double gflops = 2.0 * M * n * k / (us * 1e3);
                    if (rep == 2) System.out.printf("M=%d %s: %.1f us/call, %.1f GFLOP/s (dense-equivalent)%n", M, set[0].getClass().getSimpleName(), us, gflops);
                }
            }
        }
        par.close();
    }
}
