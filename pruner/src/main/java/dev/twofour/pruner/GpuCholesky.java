package dev.twofour.pruner;

import dev.twofour.cuda.Cublas;
import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.kernels.Kernels;
import dev.twofour.kernels.PruneKernels;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * SparseGPT's factor on the GPU: the upper-triangular U with H⁻¹ = UᵀU, fp32, for K up to the
 * 11008 of a 7B MLP (the fp64 CPU {@link Cholesky} takes minutes there).
 *
 * <p>No explicit H⁻¹ is formed. With J the exchange matrix (reversal), let L be the Cholesky factor
 * of G = J H J (G = L Lᵀ). Then H = (J L J)(J L J)ᵀ with J L J upper triangular, so
 * H⁻¹ = (J L⁻¹ J)ᵀ (J L⁻¹ J) and U = J L⁻¹ J (upper, positive diagonal: the unique Cholesky factor).
 * Two O(K³/3) steps instead of the four of {@link Cholesky#upperFactorOfInverse}, both blocked so
 * that nearly all the work is cuBLAS fp32 GEMMs:
 * <ol>
 *   <li>right-looking blocked Cholesky of G: per block of {@value #NB} columns, the diagonal block is
 *       factored (and inverted) on the CPU in fp64, the panel below is A₂₁·L₁₁⁻ᵀ (GEMM), the trailing
 *       matrix gets −L₂₁L₂₁ᵀ (GEMM);</li>
 *   <li>X = L⁻¹ by block rows: X_II = L_II⁻¹ (from step 1), X[I][:I] = −L_II⁻¹ · (L[I][:I] · X[:I][:I]).</li>
 * </ol>
 * The fp32 products follow SparseGPT's reference (torch fp32 Cholesky); the 1 % dampening keeps H
 * well conditioned. Row-major everywhere; a row-major product C = A·B is the column-major Cᵀ = Bᵀ·Aᵀ.
 */
final class GpuCholesky {
    private GpuCholesky() {}

    /** Column block of the factorization: small enough for the CPU diagonal step, big enough for fast GEMMs. */
    static final int NB = 128;

    /**
     * U with H⁻¹ = UᵀU for the symmetric positive definite {@code h} (k×k, row-major, already dampened).
     * The caller owns (closes) the returned buffer.
     * @throws ArithmeticException when a pivot is not positive (H not positive definite in fp32)
     */
    static DeviceBuffer upperFactorOfInverse(Kernels kernels, Cublas cublas, CudaStream stream, float[] h, int k) {
        if (h.length != (long) k * k) throw new IllegalArgumentException("GpuCholesky: " + h.length + " values for a " + k + "x" + k + " matrix");
        long bytes = 4L * k * k;
        DeviceBuffer u = null;
        try (DeviceBuffer in = CudaPruneEngine.upload(h); DeviceBuffer a = DeviceBuffer.allocate(bytes);
             DeviceBuffer panel = DeviceBuffer.allocate(4L * k * NB); DeviceBuffer small = DeviceBuffer.allocate(4L * NB * NB)) {
            PruneKernels.reverse(kernels, stream, in, a, k); // a = G = J H J
            List<double[]> diagInverses = choleskyInPlace(kernels, cublas, stream, a, panel, small, k);
            DeviceBuffer x = in; // H is no longer needed: X = L⁻¹ goes there
            x.memset((byte) 0);
            lowerInverse(kernels, cublas, stream, a, x, panel, small, k, diagInverses);
            u = DeviceBuffer.allocate(bytes);
            PruneKernels.reverse(kernels, stream, x, u, k); // U = J X J
            return u;
        } catch (RuntimeException e) {
            if (u != null) u.close();
            throw e;
        }
    }

    /** Blocked Cholesky of a (k×k, row-major) in place: its lower triangle becomes L. Returns each L_JJ⁻¹ (fp64). */
    private static List<double[]> choleskyInPlace(Kernels kernels, Cublas cublas, CudaStream stream, DeviceBuffer a,
                                                  DeviceBuffer panel, DeviceBuffer small, int k) {
        List<double[]> inverses = new ArrayList<>();
        long base = a.address();
        for (int j0 = 0; j0 < k; j0 += NB) {
            int jb = Math.min(NB, k - j0), j1 = j0 + jb, m = k - j1;
            // The (already updated) diagonal block, factored on the CPU in fp64. Only its lower triangle is read; nothing
            // reads a's diagonal blocks or upper part afterwards (the panel GEMM reads rows >= j1, lowerInverse columns
            // left of each diagonal block and takes L_JJ⁻¹ from the returned list), so L_JJ is not written back.
            PruneKernels.copy2d(kernels, stream, base + 4L * ((long) j0 * k + j0), k, small.address(), jb, jb, jb);
            stream.synchronize();
            float[] host = new float[jb * jb];
            small.slice(0, 4L * jb * jb).copyTo(MemorySegment.ofArray(host));
            double[] block = new double[jb * jb];
            for (int r = 0; r < jb; r++) {
                for (int c = 0; c <= r; c++) {
                    block[r * jb + c] = host[r * jb + c];
                    block[c * jb + r] = host[r * jb + c];
                }
            }
            double[] l11;
            try {
                l11 = Cholesky.lower(block, jb);
            } catch (ArithmeticException e) {
                throw new ArithmeticException("GPU Cholesky (fp32) of the dampened H: block at column " + j0 + ": " + e.getMessage());
            }
            double[] l11inv = Cholesky.lowerInverse(l11, jb);
            inverses.add(l11inv);
            if (m == 0) break;
            // Panel L₂₁ = A₂₁ · L₁₁⁻ᵀ: P[m][jb] = A[j1:, j0:j1] (ld k) · T[jb][jb], T = L₁₁⁻ᵀ row-major.
            float[] t = new float[jb * jb];
            for (int r = 0; r < jb; r++) for (int c = 0; c < jb; c++) t[r * jb + c] = (float) l11inv[c * jb + r];
            small.slice(0, 4L * jb * jb).copyFrom(MemorySegment.ofArray(t));
            long a21 = base + 4L * ((long) j1 * k + j0);
            cublas.gemmEx(Cublas.Op.N, Cublas.Op.N, jb, m, jb, 1f, small.address(), CudaDtype.F32, jb,
                    a21, CudaDtype.F32, k, 0f, panel.address(), CudaDtype.F32, jb);
            PruneKernels.copy2d(kernels, stream, panel.address(), jb, a21, k, m, jb);
            // Trailing update A₂₂ −= P·Pᵀ (the full square: both triangles stay symmetric).
            cublas.gemmEx(Cublas.Op.T, Cublas.Op.N, m, m, jb, -1f, panel.address(), CudaDtype.F32, jb,
                    panel.address(), CudaDtype.F32, jb, 1f, base + 4L * ((long) j1 * k + j1), CudaDtype.F32, k);
        }
        return inverses;
    }

    /** X = L⁻¹ by block rows into x (zeroed, k×k): X_II = L_II⁻¹, X[I][:i0] = −L_II⁻¹·(L[I][:i0]·X[:i0][:i0]). */
    private static void lowerInverse(Kernels kernels, Cublas cublas, CudaStream stream, DeviceBuffer l, DeviceBuffer x,
                                     DeviceBuffer scratch, DeviceBuffer small, int k, List<double[]> diagInverses) {
        long lb = l.address(), xb = x.address();
        int block = 0;
        for (int i0 = 0; i0 < k; i0 += NB, block++) {
            int ib = Math.min(NB, k - i0);
            double[] inv = diagInverses.get(block);
            float[] f = new float[ib * ib];
            for (int i = 0; i < f.length; i++) f[i] = (float) inv[i];
            small.slice(0, 4L * ib * ib).copyFrom(MemorySegment.ofArray(f));
            if (i0 > 0) {
                // S[ib][i0] = L[I][0:i0] (ld k) · X[0:i0][0:i0] (ld k), into scratch (ld i0).
                cublas.gemmEx(Cublas.Op.N, Cublas.Op.N, i0, ib, i0, 1f, xb, CudaDtype.F32, k,
                        lb + 4L * i0 * k, CudaDtype.F32, k, 0f, scratch.address(), CudaDtype.F32, i0);
                // X[I][0:i0] = −L_II⁻¹ (ld ib) · S (ld i0).
                cublas.gemmEx(Cublas.Op.N, Cublas.Op.N, i0, ib, ib, -1f, scratch.address(), CudaDtype.F32, i0,
                        small.address(), CudaDtype.F32, ib, 0f, xb + 4L * i0 * k, CudaDtype.F32, k);
            }
            PruneKernels.copy2d(kernels, stream, small.address(), ib, xb + 4L * ((long) i0 * k + i0), k, ib, ib);
        }
    }
}
