// Our 2:4 GEMM for 16 < M <= 64 tokens ("wide"): Y[M][N] = X[M][K] · Wᵀ, W [N][K] in the packed layout
// (values [N][K/2], metadata [N][K/8]; docs/FORMAT.md), K a multiple of 64, X and Y fp16 or bf16 with row strides
// ldx, ldy (elements), fp32 accumulation. Tokens M..MT-1 are zero in shared memory and never stored.
//
// Why. At 32-64 tokens the classic kernel re-reads W for every 16-token tile (0.42x cuBLAS at M = 64) and the streaming
// kernel cannot hold all of X per CTA. Here every weight byte is read once from HBM and multiplied by all MT tokens:
// the sparse MMA's token dimension (n = 8) is looped over MT/8 octets with the same A fragment.
//
// Work split. A CTA of WARPS warps owns BN = RW x WARPS rows (each warp RW = 32 or 64 rows = 2 or 4 16-row A tiles, so
// one B fragment feeds 2 or 4 MMAs: a half or a quarter of the shared-memory reads per MMA) and a range of 64-input
// windows (split-K over gridDim.y). A window of the CTA's rows (BN x 72 bytes of values + metadata) and of X (MT x 128 bytes) is one stage
// of a STAGES-deep cp.async ring, one block barrier per stage. With one split the CTA writes Y (through a shared-memory
// tile, 8-byte stores). With 2-4 splits on sm_90+ (_cl<S> kernels) the splits of a row group form a thread-block cluster
// and sum their tiles in distributed shared memory, each CTA a slice, in split order. Otherwise fp32 partials go to the
// workspace (one [MT][BN] block per (row group, split)), and the last CTA of a row group to arrive (counter per row
// group) sums the splits in split order and writes Y, then resets the counter to 0. Every path is deterministic.
//
// Shared memory of one stage (all 16-byte units, swizzled so that the 8 row addresses of one ldmatrix matrix fall in
// 8 distinct 16-byte bank groups):
//   values [BN rows][4 units]:  the row's 32 compressed values of the window (unit p = values 8p..8p+7 =
//                               groups 4p..4p+3 = chunk p of the window), unit p of row r at r*64 + 16*(p ^ ((r>>1)&3))
//   meta   [BN rows][8 bytes]:  the row's 8 metadata bytes of the window (chunk p = bytes 2p, 2p+1), plain
//   X      [MT tokens][8 units]: inputs 8p..8p+7 of token n at n*128 + 16*(p ^ (n&7))
// Rows >= N: values zero, metadata 0x4444 (pattern (0,1) per group: metadata 0 is undefined for ::ordered_metadata);
// tokens >= M: zero. Both are written once before the ring starts and never touched by the copies.
//
// Tensor step: mma.sp::ordered_metadata.sync.aligned.m16n8k32 (MmaSp<Conv>::run<SEL>, sparse24_mmasp.cuh) with the
// hardware's natural fragments, read by ldmatrix. PTX ISA (#warp-level-matrix-fragment-sparse-mma-16832-f16bf16;
// lane = 4g + t), for one 16-row x 32-input block (block h = 0, 1 of the window: inputs 32h..32h+31):
//   A: a0 = row g, compressed cols 2t, 2t+1 (= the 2 kept values of group t); a1 = row g+8, same; a2 = row g, compressed
//      cols 8+2t, 8+2t+1 (group 4+t); a3 = row g+8, same. ldmatrix.x4 of the 8x8 b16 matrices (rows 0-7, values
//      0-7), (rows 8-15, values 0-7), (rows 0-7, values 8-15), (rows 8-15, values 8-15) gives lane (g, t) element
//      (g, 2t..2t+1) of matrix j in register j: exactly a0..a3. The block's values are units 2h, 2h+1 of the rows.
//   B: register j = inputs 8j+2t, 8j+2t+1 of column (token) g. ldmatrix.x4 (non-transposed) of the matrices
//      (tokens n0..n0+7, inputs 32h+8j..32h+8j+7), j = 0..3, gives exactly that: units 4h+j of the 8 token rows.
//   C/D: d0, d1 = row g, tokens 2t, 2t+1 of the octet; d2, d3 = row g+8.
//   Metadata (the ISA's figure, as CUTLASS's SM80_SPARSE_16x8x32 ELayout encodes it and as MmaSpGpuTest confirmed on
//      the H100 for twofour_mmasp_window): with sparsity selector SEL, lanes t = 2 SEL and 2 SEL + 1 of every quad
//      supply it; the even one covers the block's inputs 0-15, the odd one 16-31; bits 0-15 = row g, bits 16-31 =
//      row g+8; nibble q = group q of those 16 inputs, nibble = i0 | i1 << 2: our 16-bit metadata of one 16-input chunk.
//   So block h runs with selector h and lane t supplies chunk t of the window: e = meta16[row g][chunk t] |
//   meta16[row g+8][chunk t] << 16, one 32-bit word per lane, tile and window, for both MMAs (no shuffles).
// Java twin of the layout and every index formula: kernels/src/test/java/dev/twofour/kernels/ref/WideEmulationTest.java.
//
// The sparsity selector must be an immediate 0 or 1 for m16n8k32 f16/bf16 (PTX ISA; LLVM's NVPTX tests allow the range
// [0, 1] for exactly these shapes), hence the two compile-time run<0> / run<1> calls.
//
// Programmatic dependent launch: twofour_pdl_release() first (prologue & 1), the weights of the first STAGES-1 stages
// are issued before twofour_pdl_wait() (weights depend on no kernel); X, Y, the workspace and counters after it.
#pragma once
#include <cooperative_groups.h>
#include "common.cuh"
#include "sparse24_mmasp.cuh"
#include "sparse24_stream.cuh"

#define TWOFOUR_WIDE_WINDOW 64

__device__ __forceinline__ void twofour_cp_async8(void* dst, const void* src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;\n" ::"r"(d), "l"(src) : "memory");
#endif
}

__device__ __forceinline__ void twofour_ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  const unsigned a = (unsigned)__cvta_generic_to_shared(p);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}

// Byte offsets inside a stage (see the header comment).
__device__ __forceinline__ int twofour_wide_value_unit(int r, int p) { return r * 64 + 16 * (p ^ ((r >> 1) & 3)); }
__device__ __forceinline__ int twofour_wide_x_unit(int n, int p) { return n * 128 + 16 * (p ^ (n & 7)); }

template <int MT, int BN_>
struct TwofourWideLayout {
  static constexpr int BN = BN_;
  static constexpr int VALUES = 0;
  static constexpr int META = BN * 64;
  static constexpr int XS = META + BN * 8;
  static constexpr int STAGE = XS + MT * 128;
};

// One window of both 16-row tiles of this warp times every token octet below M: blocks h = 0, 1 (inputs 32h..32h+31),
// step j = h * MO + o. ldmatrix and mma are both asm volatile, so the compiler keeps their order: the B fragment of
// step j + 1 is loaded before the MMAs of step j (double buffer) to hide the shared-memory latency, and all four A
// fragments are loaded first.
template <typename Conv, int MT, int TI>
__device__ __forceinline__ void twofour_wide_window(float (&acc)[TI][MT / 8][4], const uint8_t* sv, const uint8_t* sx,
                                                    int warpRow0, const uint32_t (&e)[TI], int M) {
  constexpr int MO = MT / 8;
  const int lane = threadIdx.x & 31;
  const int q = lane >> 3;
  uint32_t a[2][TI][4];  // [h][tile i]
#pragma unroll
  for (int h = 0; h < 2; h++)
#pragma unroll
    for (int i = 0; i < TI; i++) {
      const int r = warpRow0 + 16 * i + (lane & 7) + 8 * (q & 1);
      twofour_ldmatrix_x4(a[h][i], sv + twofour_wide_value_unit(r, 2 * h + (q >> 1)));
    }
  uint32_t b[2][4];
  twofour_ldmatrix_x4(b[0], sx + twofour_wide_x_unit(lane & 7, q));  // step 0: octet 0 is below M (M >= 1)
#pragma unroll
  for (int j = 0; j < 2 * MO; j++) {
    const int h = j / MO, o = j % MO;
    if (j + 1 < 2 * MO) {
      const int h1 = (j + 1) / MO, o1 = (j + 1) % MO;
      if (8 * o1 < M) twofour_ldmatrix_x4(b[(j + 1) & 1], sx + twofour_wide_x_unit(8 * o1 + (lane & 7), 4 * h1 + q));
    }
    if (8 * o < M) {  // uniform over the block: octets holding only zero tokens are skipped
#pragma unroll
      for (int i = 0; i < TI; i++) {
        const uint32_t* bb = b[j & 1];
        if (h == 0) MmaSp<Conv>::template run<0>(acc[i][o], a[0][i][0], a[0][i][1], a[0][i][2], a[0][i][3], bb[0], bb[1], bb[2], bb[3], e[i]);
        else MmaSp<Conv>::template run<1>(acc[i][o], a[1][i][0], a[1][i][1], a[1][i][2], a[1][i][3], bb[0], bb[1], bb[2], bb[3], e[i]);
      }
    }
  }
}

template <typename Conv, int MT, int WARPS, int RW, int STAGES, int CLUSTER>
__device__ __forceinline__ void twofour_sparse24_wide(const uint16_t* __restrict__ X, long long ldx,
                                                      const uint8_t* __restrict__ values, const uint8_t* __restrict__ meta,
                                                      uint16_t* __restrict__ Y, long long ldy, int M, int N, int K,
                                                      int winPerSplit, float* __restrict__ ws,
                                                      unsigned* __restrict__ counters, int prologue) {
  constexpr int TI = RW / 16;  // 16-row A tiles per warp: each B fragment feeds TI MMAs
  using L = TwofourWideLayout<MT, RW * WARPS>;
  constexpr int BN = L::BN, THREADS = 32 * WARPS;
  extern __shared__ __align__(16) uint8_t smem[];

  const int rowGroup = blockIdx.x, split = blockIdx.y, splits = gridDim.y;
  const int rowBase = rowGroup * BN;
  const int nWin = K / TWOFOUR_WIDE_WINDOW;
  const int w0 = split * winPerSplit;
  const int nw = max(0, min(nWin, w0 + winPerSplit) - w0);
  const int tid = threadIdx.x;
  const int validRows = min(BN, N - rowBase);
  const bool xVec = ((reinterpret_cast<uintptr_t>(X) & 15) == 0) && (ldx % 8 == 0);

  auto stage = [&](int slot) { return smem + (size_t)slot * L::STAGE; };
  // Weights of window w0 + s into slot s % STAGES: only the valid rows (the others were filled once).
  auto issueWeights = [&](int s) {
    uint8_t* st = stage(s % STAGES);
    const size_t win = (size_t)(w0 + s);
    for (int idx = tid; idx < validRows * 4; idx += THREADS) {
      const int r = idx >> 2, p = idx & 3;
      twofour_cp_async16(st + L::VALUES + twofour_wide_value_unit(r, p),
                         values + (size_t)(rowBase + r) * K + win * 64 + 16 * p, 16u);
    }
    for (int r = tid; r < validRows; r += THREADS)
      twofour_cp_async8(st + L::META + r * 8, meta + (size_t)(rowBase + r) * (K / 8) + win * 8);
  };
  // X of window w0 + s (tokens < M) into slot s % STAGES.
  auto issueX = [&](int s) {
    uint8_t* st = stage(s % STAGES) + L::XS;
    const int k0 = (w0 + s) * TWOFOUR_WIDE_WINDOW;
    for (int idx = tid; idx < M * 8; idx += THREADS) {
      const int n = idx >> 3, p = idx & 7;
      const uint16_t* src = X + (size_t)n * ldx + k0 + 8 * p;
      uint8_t* dst = st + twofour_wide_x_unit(n, p);
      if (xVec) {
        twofour_cp_async16(dst, src, 16u);
      } else {
        uint16_t h[8];
#pragma unroll
        for (int e = 0; e < 8; e++) h[e] = src[e];
        *reinterpret_cast<uint4*>(dst) = make_uint4(h[0] | (uint32_t)h[1] << 16, h[2] | (uint32_t)h[3] << 16,
                                                    h[4] | (uint32_t)h[5] << 16, h[6] | (uint32_t)h[7] << 16);
      }
    }
  };

  if (prologue & 1) twofour_pdl_release();
  // Rows >= N and tokens >= M, in every slot, once: the copies never write there.
  for (int slot = 0; slot < STAGES; slot++) {
    uint8_t* st = stage(slot);
    for (int idx = validRows * 4 + tid; idx < BN * 4; idx += THREADS)
      *reinterpret_cast<uint4*>(st + L::VALUES + twofour_wide_value_unit(idx >> 2, idx & 3)) = make_uint4(0, 0, 0, 0);
    for (int r = validRows + tid; r < BN; r += THREADS)
      *reinterpret_cast<uint2*>(st + L::META + r * 8) = make_uint2(0x44444444u, 0x44444444u);
    for (int idx = M * 8 + tid; idx < MT * 8; idx += THREADS)
      *reinterpret_cast<uint4*>(st + L::XS + twofour_wide_x_unit(idx >> 3, idx & 7)) = make_uint4(0, 0, 0, 0);
  }
#pragma unroll 1
  for (int s = 0; s < STAGES - 1; s++)
    if (s < nw) issueWeights(s);
  twofour_pdl_wait();
  // Group s holds X of stage s; group 0 also every weight copy issued above.
#pragma unroll 1
  for (int s = 0; s < STAGES - 1; s++) {
    if (s < nw) issueX(s);
    twofour_cp_async_commit();
  }

  const int warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int warpRow0 = warp * RW;
  float acc[TI][MT / 8][4];
#pragma unroll
  for (int i = 0; i < TI; i++)
#pragma unroll
    for (int o = 0; o < MT / 8; o++)
#pragma unroll
      for (int c = 0; c < 4; c++) acc[i][o][c] = 0.f;

#pragma unroll 1
  for (int s = 0; s < nw; s++) {
    twofour_cp_async_wait<STAGES - 2>();  // this thread's copies of stage s have landed
    __syncthreads();                      // everyone's have, and everyone is done with stage s - 1's slot
    if (s + STAGES - 1 < nw) {
      issueWeights(s + STAGES - 1);
      issueX(s + STAGES - 1);
    }
    twofour_cp_async_commit();  // one group per stage, empty or not: the wait counts stay uniform
    const uint8_t* st = stage(s % STAGES);
    uint32_t e[TI];
#pragma unroll
    for (int i = 0; i < TI; i++) {
      const int rA = warpRow0 + 16 * i + g;
      const uint32_t lo = *reinterpret_cast<const uint16_t*>(st + L::META + rA * 8 + 2 * t);
      const uint32_t hi = *reinterpret_cast<const uint16_t*>(st + L::META + (rA + 8) * 8 + 2 * t);
      e[i] = lo | hi << 16;
    }
    twofour_wide_window<Conv, MT, TI>(acc, st + L::VALUES, st + L::XS, warpRow0, e, M);
  }

  // acc[i][o][c]: row warpRow0 + 16i + g (+8 for c >= 2), token 8o + 2t + (c & 1).
  // Without the workspace, the CTA's fp32 tile goes through its own shared memory, [MT][BN + 4] floats in the finished
  // ring (+4: the fragment stores of rows g and tokens 2t hit 32 distinct banks), so that Y is written 4 outputs
  // (8 bytes) per store, coalesced, instead of one 2-byte store per fragment element.
  constexpr int LD = BN + 4;
  float* tile = reinterpret_cast<float*>(smem);
  const bool yVec = ((reinterpret_cast<uintptr_t>(Y) & 7) == 0) && (ldy % 4 == 0);
  auto storeY4 = [&](int m, int r, const float4& v) {  // token m, rows rowBase + r .. + 3 (r a multiple of 4)
    const int row = rowBase + r;
    const uint16_t h0 = Conv::fromFloat(v.x), h1 = Conv::fromFloat(v.y), h2 = Conv::fromFloat(v.z), h3 = Conv::fromFloat(v.w);
    uint16_t* dst = Y + (size_t)m * ldy + row;
    if (yVec && row + 3 < N) {
      *reinterpret_cast<uint2*>(dst) = make_uint2(h0 | (uint32_t)h1 << 16, h2 | (uint32_t)h3 << 16);
    } else {
      if (row < N) dst[0] = h0;
      if (row + 1 < N) dst[1] = h1;
      if (row + 2 < N) dst[2] = h2;
      if (row + 3 < N) dst[3] = h3;
    }
  };
  auto tileOut = [&]() {
    __syncthreads();  // every warp is done with the ring
#pragma unroll
    for (int i = 0; i < TI; i++)
#pragma unroll
      for (int o = 0; o < MT / 8; o++)
#pragma unroll
        for (int c = 0; c < 4; c++) {
          const int m = 8 * o + 2 * t + (c & 1), r = warpRow0 + 16 * i + g + 8 * (c >> 1);
          if (8 * o < M) tile[m * LD + r] = acc[i][o][c];
        }
  };
  if (splits == 1) {
    tileOut();
    __syncthreads();
    for (int idx = tid; idx < M * (BN / 4); idx += THREADS) {
      const int m = idx / (BN / 4), r = 4 * (idx % (BN / 4));
      storeY4(m, r, *reinterpret_cast<const float4*>(tile + m * LD + r));
    }
    return;
  }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if constexpr (CLUSTER > 1) {
    // The CLUSTER CTAs of a row group (the splits, gridDim.y == CLUSTER) form one thread-block cluster: each leaves its
    // fp32 partial tile in its own shared memory, and CTA j sums slice j of the tile over the CTAs' shared memory
    // (distributed shared memory) in split order and writes Y. No global partials, counters or serial tail.
    namespace cg = cooperative_groups;
    cg::cluster_group cluster = cg::this_cluster();
    tileOut();
    cluster.sync();  // all partial tiles written and visible across the cluster
    const int rank = (int)cluster.block_rank();
    const float* peers[CLUSTER];
#pragma unroll
    for (int sp = 0; sp < CLUSTER; sp++) peers[sp] = cluster.map_shared_rank(tile, sp);
    const int total = M * (BN / 4), per = (total + CLUSTER - 1) / CLUSTER;
    const int end = min(total, (rank + 1) * per);
    for (int idx = rank * per + tid; idx < end; idx += THREADS) {
      const int m = idx / (BN / 4), r = 4 * (idx % (BN / 4));
      float4 v[CLUSTER];
#pragma unroll
      for (int sp = 0; sp < CLUSTER; sp++) v[sp] = *reinterpret_cast<const float4*>(peers[sp] + m * LD + r);
      float4 sum = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
      for (int sp = 0; sp < CLUSTER; sp++) {  // in split order
        sum.x += v[sp].x; sum.y += v[sp].y; sum.z += v[sp].z; sum.w += v[sp].w;
      }
      storeY4(m, r, sum);
    }
    cluster.sync();  // no CTA leaves while another still reads its shared memory
    return;
  }
#endif
  float* part = ws + (size_t)(rowGroup * splits + split) * (MT * BN);
#pragma unroll
  for (int i = 0; i < TI; i++)
#pragma unroll
    for (int o = 0; o < MT / 8; o++)
#pragma unroll
      for (int c = 0; c < 4; c++) {
        const int m = 8 * o + 2 * t + (c & 1), r = warpRow0 + 16 * i + g + 8 * (c >> 1);
        if (m < M) __stcg(part + m * BN + r, acc[i][o][c]);
      }
  __threadfence();
  __syncthreads();
  __shared__ unsigned isLast;
  if (tid == 0) isLast = (atomicAdd(counters + rowGroup, 1u) == (unsigned)splits - 1) ? 1u : 0u;
  __syncthreads();
  if (!isLast) return;
  __threadfence();
  // The fixup is the kernel's serial tail: keep many loads in flight (U float4 per thread for each of 4 splits at a time,
  // 16 L2 round trips' worth at once) rather than one dependent sum per load.
  constexpr int U = 4;
  const float* base = ws + (size_t)rowGroup * splits * (MT * BN);
  const int total = M * (BN / 4);
#pragma unroll 1
  for (int idx0 = tid; idx0 < total; idx0 += THREADS * U) {
    float4 sum[U];
#pragma unroll
    for (int u = 0; u < U; u++) sum[u] = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 1
    for (int sp0 = 0; sp0 < splits; sp0 += 4) {
      float4 v[4][U];
#pragma unroll
      for (int j = 0; j < 4; j++)
#pragma unroll
        for (int u = 0; u < U; u++) {
          const int idx = idx0 + u * THREADS;
          v[j][u] = make_float4(0.f, 0.f, 0.f, 0.f);
          if (sp0 + j < splits && idx < total)
            v[j][u] = __ldcg(reinterpret_cast<const float4*>(base + (size_t)(sp0 + j) * (MT * BN)) + idx);
        }
#pragma unroll
      for (int j = 0; j < 4; j++)  // in split order: the result does not depend on who arrived last
        if (sp0 + j < splits)
#pragma unroll
          for (int u = 0; u < U; u++) {
            sum[u].x += v[j][u].x; sum[u].y += v[j][u].y; sum[u].z += v[j][u].z; sum[u].w += v[j][u].w;
          }
    }
#pragma unroll
    for (int u = 0; u < U; u++) {
      const int idx = idx0 + u * THREADS;
      if (idx < total) storeY4(idx / (BN / 4), 4 * (idx % (BN / 4)), sum[u]);
    }
  }
  if (tid == 0) counters[rowGroup] = 0u;  // every split has arrived: ready for the next launch
}

// WARPS warps of RW rows each: 3 x 32 = 96 rows with a 7-stage ring (12288 rows = 128 CTAs, 4096 = 43 x 3 splits = 129),
// 4 x 32 = 128 rows with 6 stages, 8 x 32 = 256 rows with 4 stages, and (64 tokens only) 4 x 64 = 256 rows with 4 stages
// (_r64: each B fragment feeds 4 MMAs, half the B reads of shared memory per weight byte, 128 accumulators per thread):
// 77-104 KB, two CTAs per SM.
#define TWOFOUR_SPARSE24_WIDE(NAME, CONV, MT, WARPS, RW, STAGES)                                                     \
  extern "C" __global__ void __launch_bounds__(32 * WARPS, 2)                                                       \
  NAME(const uint16_t* X, long long ldx, const uint8_t* values, const uint8_t* meta, uint16_t* Y, long long ldy,   \
       int M, int N, int K, int winPerSplit, float* ws, unsigned* counters, int prologue) {                       \
    twofour_sparse24_wide<CONV, MT, WARPS, RW, STAGES, 0>(X, ldx, values, meta, Y, ldy, M, N, K, winPerSplit, ws,  \
                                                          counters, prologue);                                     \
  }
TWOFOUR_SPARSE24_WIDE(twofour_sparse24_wide_f16_mt32_bn96, F16, 32, 3, 32, 7)
TWOFOUR_SPARSE24_WIDE(twofour_sparse24_wide_f16_mt64_bn96, F16, 64, 3, 32, 7)
TWOFOUR_SPARSE24_WIDE(twofour_sparse24_wide_f16_mt32_bn128, F16, 32, 4, 32, 6)
TWOFOUR_SPARSE24_WIDE(twofour_sparse24_wide_f16_mt64_bn128, F16, 64, 4, 32, 6)
TWOFOUR_SPARSE24_WIDE(twofour_sparse24_wide_f16_mt32_bn256, F16, 32, 8, 32, 4)
TWOFOUR_SPARSE24_WIDE(twofour_sparse24_wide_f16_mt64_bn256, F16, 64, 8, 32, 4)
TWOFOUR_SPARSE24_WIDE(twofour_sparse24_wide_f16_mt64_bn256_r64, F16, 64, 4, 64, 4)
TWOFOUR_SPARSE24_WIDE(twofour_sparse24_wide_bf16_mt32_bn96, BF16, 32, 3, 32, 7)
TWOFOUR_SPARSE24_WIDE(twofour_sparse24_wide_bf16_mt64_bn96, BF16, 64, 3, 32, 7)
TWOFOUR_SPARSE24_WIDE(twofour_sparse24_wide_bf16_mt32_bn128, BF16, 32, 4, 32, 6)
TWOFOUR_SPARSE24_WIDE(twofour_sparse24_wide_bf16_mt64_bn128, BF16, 64, 4, 32, 6)
TWOFOUR_SPARSE24_WIDE(twofour_sparse24_wide_bf16_mt32_bn256, BF16, 32, 8, 32, 4)
TWOFOUR_SPARSE24_WIDE(twofour_sparse24_wide_bf16_mt64_bn256, BF16, 64, 8, 32, 4)
TWOFOUR_SPARSE24_WIDE(twofour_sparse24_wide_bf16_mt64_bn256_r64, BF16, 64, 4, 64, 4)

// Split-K reduced across a thread-block cluster of the CL splits of a row group (distributed shared memory; sm_90+:
// the grid's y dimension must equal CL). _cl<CL> kernels; not compiled for older GPUs.
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
#define TWOFOUR_SPARSE24_WIDE_CL(NAME, CONV, MT, WARPS, RW, STAGES, CL)                                              \
  extern "C" __global__ void __cluster_dims__(1, CL, 1) __launch_bounds__(32 * WARPS, 2)                            \
  NAME(const uint16_t* X, long long ldx, const uint8_t* values, const uint8_t* meta, uint16_t* Y, long long ldy,   \
       int M, int N, int K, int winPerSplit, float* ws, unsigned* counters, int prologue) {                       \
    twofour_sparse24_wide<CONV, MT, WARPS, RW, STAGES, CL>(X, ldx, values, meta, Y, ldy, M, N, K, winPerSplit, ws, \
                                                           counters, prologue);                                    \
  }
#define TWOFOUR_SPARSE24_WIDE_CLS(PREFIX, CONV, MT, WARPS, RW, STAGES)             \
  TWOFOUR_SPARSE24_WIDE_CL(PREFIX##_cl2, CONV, MT, WARPS, RW, STAGES, 2)           \
  TWOFOUR_SPARSE24_WIDE_CL(PREFIX##_cl3, CONV, MT, WARPS, RW, STAGES, 3)           \
  TWOFOUR_SPARSE24_WIDE_CL(PREFIX##_cl4, CONV, MT, WARPS, RW, STAGES, 4)
TWOFOUR_SPARSE24_WIDE_CLS(twofour_sparse24_wide_f16_mt32_bn96, F16, 32, 3, 32, 7)
TWOFOUR_SPARSE24_WIDE_CLS(twofour_sparse24_wide_f16_mt64_bn96, F16, 64, 3, 32, 7)
TWOFOUR_SPARSE24_WIDE_CLS(twofour_sparse24_wide_f16_mt32_bn128, F16, 32, 4, 32, 6)
TWOFOUR_SPARSE24_WIDE_CLS(twofour_sparse24_wide_f16_mt64_bn128, F16, 64, 4, 32, 6)
TWOFOUR_SPARSE24_WIDE_CLS(twofour_sparse24_wide_f16_mt32_bn256, F16, 32, 8, 32, 4)
TWOFOUR_SPARSE24_WIDE_CLS(twofour_sparse24_wide_f16_mt64_bn256, F16, 64, 8, 32, 4)
TWOFOUR_SPARSE24_WIDE_CLS(twofour_sparse24_wide_f16_mt64_bn256_r64, F16, 64, 4, 64, 4)
TWOFOUR_SPARSE24_WIDE_CLS(twofour_sparse24_wide_bf16_mt32_bn96, BF16, 32, 3, 32, 7)
TWOFOUR_SPARSE24_WIDE_CLS(twofour_sparse24_wide_bf16_mt64_bn96, BF16, 64, 3, 32, 7)
TWOFOUR_SPARSE24_WIDE_CLS(twofour_sparse24_wide_bf16_mt32_bn128, BF16, 32, 4, 32, 6)
TWOFOUR_SPARSE24_WIDE_CLS(twofour_sparse24_wide_bf16_mt64_bn128, BF16, 64, 4, 32, 6)
TWOFOUR_SPARSE24_WIDE_CLS(twofour_sparse24_wide_bf16_mt32_bn256, BF16, 32, 8, 32, 4)
TWOFOUR_SPARSE24_WIDE_CLS(twofour_sparse24_wide_bf16_mt64_bn256, BF16, 64, 8, 32, 4)
TWOFOUR_SPARSE24_WIDE_CLS(twofour_sparse24_wide_bf16_mt64_bn256_r64, BF16, 64, 4, 64, 4)
#undef TWOFOUR_SPARSE24_WIDE_CLS
#undef TWOFOUR_SPARSE24_WIDE_CL
#endif
