package dev.twofour.pruner;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The CUDA port of the group prox and of SparseGPT's row sweep (prune.cuh, the code marked
 * __host__ __device__) compiled by nvcc for the host and run on the CPU against GroupProx and
 * Baselines.sparseGpt. Needs nvcc, not a GPU (skipped without nvcc). The GPU tests
 * (PruneKernelsGpuTest) compare the kernels themselves; this one checks the port on every build.
 */
class PruneKernelsHostTest {
    @TempDir static Path dir;
    static Path harness;

    @BeforeAll
    static void compile() throws Exception {
        Path nvcc = findNvcc();
        assumeTrue(nvcc != null, "nvcc not found (CUDA_HOME, PATH, /usr/local/cuda/bin) or TWOFOUR_NO_NVCC set");
        Path cuda = Path.of(System.getProperty("twofour.repo", "..")).resolve("kernels/src/main/cuda");
        assumeTrue(Files.isRegularFile(cuda.resolve("prune.cuh")), "kernel sources not found under " + cuda);
        Path src = dir.resolve("prune_host.cu");
        try (InputStream in = PruneKernelsHostTest.class.getResourceAsStream("prune_host.cu")) {
            Files.copy(in, src);
        }
        harness = dir.resolve("prune_host");
        run(List.of(nvcc.toString(), "-O2", "-std=c++17", "-I", cuda.toString(), "-o", harness.toString(), src.toString()), 300);
    }

    static Path findNvcc() {
        if (System.getenv("TWOFOUR_NO_NVCC") != null) return null;
        List<Path> candidates = new ArrayList<>();
        String home = System.getenv("CUDA_HOME");
        if (home != null) candidates.add(Path.of(home, "bin", "nvcc"));
        String path = System.getenv("PATH");
        if (path != null) for (String d : path.split(":")) if (!d.isEmpty()) candidates.add(Path.of(d, "nvcc"));
        candidates.add(Path.of("/usr/local/cuda/bin/nvcc"));
        for (Path p : candidates) if (Files.isExecutable(p)) return p;
        return null;
    }

    static void run(List<String> cmd, int timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(timeoutSeconds, TimeUnit.SECONDS), "timed out: " + cmd);
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed:\n" + new String(out));
    }

    static void write(Path p, float[] f) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : f) bb.putFloat(x);
        Files.write(p, bb.array());
    }

    static float[] read(Path p) throws IOException {
        FloatBuffer fb = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        float[] f = new float[fb.remaining()];
        fb.get(f);
        return f;
    }

    @Test
    void proxPortMatchesGroupProx() throws Exception {
        float[] awkward = PruneKernelsGpuTest.awkwardGroups(20_011, 11);
        float[] y = java.util.Arrays.copyOf(awkward, awkward.length + 4 * 10_007);
        SplittableRandom r = new SplittableRandom(5); // groups at the scale of real weights
        for (int i = awkward.length; i < y.length; i++) y[i] = (float) (r.nextGaussian() * 0.02 * Math.exp(0.5 * r.nextGaussian()));
        double[] ts = {0, 1e-9, 1e-4, 0.01, 0.1, 0.3, 1, 3, 30, 1e3, 1e7};
        Path in = dir.resolve("prox-in.bin");
        write(in, y);
        List<String> cmd = new ArrayList<>(List.of(harness.toString(), "prox", in.toString(), dir.resolve("prox-out").toString()));
        for (double t : ts) cmd.add(Double.toString(t));
        run(cmd, 120);
        int groups = y.length / 4;
        for (int ti = 0; ti < ts.length; ti++) {
            float[] ref = y.clone();
            new GroupProx(CpuPruneEngine.PROX_TOLERANCE).proxAll(ref, 0, groups, ts[ti]);
            float[] got = read(dir.resolve("prox-out" + ti + ".bin"));
            assertEquals(y.length, got.length);
            int differ = 0;
            for (int g = 0; g < groups; g++) {
                int o = 4 * g;
                boolean same = true;
                for (int i = 0; i < 4; i++) same &= Float.floatToRawIntBits(got[o + i]) == Float.floatToRawIntBits(ref[o + i]);
                if (same) continue;
                differ++;
                double scale = 0;
                for (int i = 0; i < 4; i++) scale = Math.max(scale, Math.abs(y[o + i]));
                double fg = PruneKernelsGpuTest.objective(got, o, y, ts[ti]), fr = PruneKernelsGpuTest.objective(ref, o, y, ts[ti]);
                assertTrue(fg <= fr + 1e-9 * scale * scale + 1e-15, "t=" + ts[ti] + " group " + g + ": port " + fg + " > GroupProx " + fr);
            }
            // Same algorithm, same IEEE doubles: bit-identical except where a host compiler fuses multiply-adds.
            assertTrue(differ <= groups / 1000, "t=" + ts[ti] + ": " + differ + " of " + groups + " groups differ from GroupProx");
        }
    }

    @Test
    void sparseGptSweepMatchesBaselines() throws Exception {
        int[][] shapes = {{37, 148, 611, 1}, {13, 516, 1500, 3}};
        for (int[] s : shapes) {
            LayerProblem p = LayerMathTest.problem(s[0], s[1], s[2], s[3]);
            int n = s[0], k = s[1];
            boolean[] dead = new boolean[k];
            double[] u = Cholesky.upperFactorOfInverse(Baselines.dampenedHessian(p.hessian(), 0.01, dead), k);
            float[] uf = new float[u.length];
            for (int i = 0; i < u.length; i++) uf[i] = (float) u[i];
            for (int block : new int[]{128, 36}) {
                Path w = dir.resolve("w.bin"), uPath = dir.resolve("u.bin"), out = dir.resolve("sgpt-out.bin");
                write(w, p.weight());
                write(uPath, uf);
                run(List.of(harness.toString(), "sparsegpt", w.toString(), uPath.toString(), Integer.toString(n), Integer.toString(k),
                        Integer.toString(block), out.toString()), 120);
                float[] got = read(out), ref = Baselines.sparseGpt(p, block, 0.01);
                assertTrue(Masks.isTwoFour(got), "2:4");
                double agree = CudaPruneEngineGpuTest.maskAgreement(ref, got);
                double lg = p.loss(got), lr = p.loss(ref);
                assertTrue(agree > 0.99, "mask agreement " + agree + " block " + block);
                assertTrue(CudaPruneEngineGpuTest.relDiff(lg, lr) < 2e-3, "loss port " + lg + " vs Baselines " + lr + " block " + block);
            }
        }
    }
}
