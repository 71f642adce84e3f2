// Dense y = x · Wᵀ for a few rows (decode: M = 1..8 tokens), W [N][K] row-major in T, fp32 accumulation.
// Memory-bound: every weight byte is read once with 16-byte streaming loads (no L1 allocation), x (tiny,
// hot in L1/L2) with read-only loads. A warp owns R consecutive output rows and walks K in 256-element
// steps (32 lanes x 8 elements), several steps in flight; the M x R partial sums are reduced with shuffles.
// Needs K % 8 == 0, ldx % 8 == 0 and 16-byte aligned x and W (the launcher checks; cuBLAS otherwise).
#pragma once
#include "tf_common.cuh"

namespace tf {

constexpr int GEMV_THREADS = 256;
// prologue (Kernels.weightStreamPrologue): bit 0 = let the next kernel launch right away (else when this one
// exits); bits 8-15 = K-steps (512 bytes of a row each) of this warp's rows prefetched to L2 before the wait.

template <typename T>
__device__ __forceinline__ void unpack8(const uint4& v, float* f) {
    const T* e = reinterpret_cast<const T*>(&v);
#pragma unroll
    for (int j = 0; j < 8; j++) f[j] = to_f(e[j]);
}

// SWI: x is a fused gate|up output [rows][2K] (ldx = its row stride) and the GEMV input is
// T(T(silu(gate)) * up), computed on the fly exactly as tf_swiglu rounds it (down_proj without the swiglu launch).
template <typename T, int M, int R, bool SWI = false>
__device__ void gemv(const T* __restrict__ x, int ldx, const T* __restrict__ w, void* y, int ldy, int rows, int N,
                     int K, int outF32, int prologue) {
    const int lane = threadIdx.x & 31;
    const int warpGlobal = blockIdx.x * (GEMV_THREADS / 32) + (threadIdx.x >> 5);
    const int n0 = warpGlobal * R;
    // Launched with Kernels.launchDependent. The weights depend on no kernel: while the previous kernel
    // finishes, pull the first steps of this warp's rows toward L2 (one lane per 128-byte line).
    if (prologue & 1) twofour_pdl_release();
    const int prefetchSteps = (prologue >> 8) & 255;
    if (n0 < N && (lane & 7) == 0) {
#pragma unroll
        for (int r = 0; r < R; r++) {
            const T* row = w + (size_t)min(n0 + r, N - 1) * K;
            for (int k0 = lane * 8, s = 0; k0 < K && s < prefetchSteps; k0 += 256, s++) twofour_prefetch_l2(row + k0);
        }
    }
    twofour_pdl_wait();
    if (n0 >= N) return;
    float acc[R][M];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int m = 0; m < M; m++) acc[r][m] = 0.f;
    const T* wr[R];
#pragma unroll
    for (int r = 0; r < R; r++) wr[r] = w + (size_t)min(n0 + r, N - 1) * K;  // clamp: a missing row recomputes the last
#pragma unroll 4
    for (int k0 = lane * 8; k0 < K; k0 += 256) {
        uint4 wv[R];
#pragma unroll
        for (int r = 0; r < R; r++) wv[r] = __ldcs(reinterpret_cast<const uint4*>(wr[r] + k0));
#pragma unroll
        for (int m = 0; m < M; m++) {
            // rows <= M: the kernel of the next bucket serves 3, 5, 6, 7 rows (uniform branch)
            const uint4 xv = m < rows ? __ldg(reinterpret_cast<const uint4*>(x + (size_t)m * ldx + k0)) : make_uint4(0, 0, 0, 0);
            float xf[8];
            unpack8<T>(xv, xf);
            if constexpr (SWI) {
                const uint4 uv = m < rows ? __ldg(reinterpret_cast<const uint4*>(x + (size_t)m * ldx + K + k0)) : make_uint4(0, 0, 0, 0);
                float uf[8];
                unpack8<T>(uv, uf);
#pragma unroll
                for (int j = 0; j < 8; j++) xf[j] = round_t<T>(round_t<T>(xf[j] / (1.0f + expf(-xf[j]))) * uf[j]);
            }
#pragma unroll
            for (int r = 0; r < R; r++) {
                float wf[8];
                unpack8<T>(wv[r], wf);
#pragma unroll
                for (int j = 0; j < 8; j++) acc[r][m] = fmaf(wf[j], xf[j], acc[r][m]);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int m = 0; m < M; m++) acc[r][m] = warp_sum(acc[r][m]);
    if (lane == 0) {
#pragma unroll
        for (int r = 0; r < R; r++) {
            if (n0 + r >= N) continue;
#pragma unroll
            for (int m = 0; m < M; m++) {
                if (m >= rows) continue;
                if (outF32) reinterpret_cast<float*>(y)[(size_t)m * ldy + n0 + r] = acc[r][m];
                else reinterpret_cast<T*>(y)[(size_t)m * ldy + n0 + r] = from_f<T>(acc[r][m]);
            }
        }
    }
}

}  // namespace tf

#define TF_GEMV(T, SUF, M)                                                                                          \
extern "C" __global__ void __launch_bounds__(tf::GEMV_THREADS) tf_gemv_##SUF##_m##M(const T* x, int ldx, const T* w, \
        void* y, int ldy, int rows, int N, int K, int outF32, int prologue) {                                                     \
    tf::gemv<T, M, 2>(x, ldx, w, y, ldy, rows, N, K, outF32, prologue);                                                          \
}
// R variants for the decode rows (1, 2) so the launcher can pick the rows-per-warp that streams fastest.
#define TF_GEMV_R(T, SUF, M, R)                                                                                     \
extern "C" __global__ void __launch_bounds__(tf::GEMV_THREADS) tf_gemv_##SUF##_m##M##_r##R(const T* x, int ldx,     \
        const T* w, void* y, int ldy, int rows, int N, int K, int outF32, int prologue) {                                          \
    tf::gemv<T, M, R>(x, ldx, w, y, ldy, rows, N, K, outF32, prologue);                                                    \
}
#define TF_GEMV_SWIGLU(T, SUF, M)                                                                                   \
extern "C" __global__ void __launch_bounds__(tf::GEMV_THREADS) tf_gemv_swiglu_##SUF##_m##M(const T* x, int ldx,       \
        const T* w, void* y, int ldy, int rows, int N, int K, int outF32, int prologue) {                                          \
    tf::gemv<T, M, 2, true>(x, ldx, w, y, ldy, rows, N, K, outF32, prologue);                                              \
}
TF_GEMV_SWIGLU(tf::f16, f16, 1)
TF_GEMV_SWIGLU(tf::f16, f16, 2)
TF_GEMV_SWIGLU(tf::bf16, bf16, 1)
TF_GEMV_SWIGLU(tf::bf16, bf16, 2)
#undef TF_GEMV_SWIGLU
TF_GEMV_R(tf::f16, f16, 1, 1)
TF_GEMV_R(tf::f16, f16, 1, 4)
TF_GEMV_R(tf::f16, f16, 2, 1)
TF_GEMV_R(tf::f16, f16, 2, 4)
TF_GEMV_R(tf::bf16, bf16, 1, 1)
TF_GEMV_R(tf::bf16, bf16, 1, 4)
TF_GEMV_R(tf::bf16, bf16, 2, 1)
TF_GEMV_R(tf::bf16, bf16, 2, 4)
#undef TF_GEMV_R
TF_GEMV(tf::f16, f16, 1)
TF_GEMV(tf::f16, f16, 2)
TF_GEMV(tf::f16, f16, 4)
TF_GEMV(tf::f16, f16, 8)
TF_GEMV(tf::bf16, bf16, 1)
TF_GEMV(tf::bf16, bf16, 2)
TF_GEMV(tf::bf16, bf16, 4)
TF_GEMV(tf::bf16, bf16, 8)
#undef TF_GEMV
