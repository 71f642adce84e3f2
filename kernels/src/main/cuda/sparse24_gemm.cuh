// Our 2:4 decode GEMM:  Y[M][N] = X[M][K] · Wᵀ,  W [N][K] 2:4-sparse in the packed layout
// (values [N][Kp/2], metadata [N][Kp/8] nibbles, Kp = K rounded up to 16; docs/FORMAT.md),
// X and Y fp16 or bf16 (row strides ldx, ldy in elements), fp32 accumulation. With swiglu != 0 (classic kernel)
// X is a fused gate|up activation [M][2K] and the GEMM input is SwiGLU of it, computed while X is staged (the
// down projection without the swiglu launch).
//
// Why it is laid out so. For M <= 16 the GEMM is memory-bound: the floor is the time to read
// 1.125 bytes per weight once. So each lane streams its weights with 16-byte loads (8 values =
// 4 groups = 16 inputs) plus their 2 metadata bytes, and the arithmetic goes to the tensor cores:
// the lane expands each group's 2 values into the 4 dense slots with two byte-permutes (selectors
// from a 16-entry table indexed by the metadata nibble) and feeds a dense mma.m16n8k16 with fp32
// accumulators. The order of k inside one MMA is free, so lane (g, t) of a warp gives the MMA the
// group its own 16-byte load brought in (rows g and g+8, inputs 64c+16t+4q..+3 of a 256-input
// superblock); its B fragment is the same 4 inputs of X for token m = g, read from shared memory.
// Per 16 rows x 256 inputs a lane issues 8 x 16-byte value loads and 8 x 2-byte metadata loads,
// 32 table reads, 64 permutes and 16 MMAs per 8 tokens: far below the issue rate the bytes allow.
//
// Work split: a CTA of 8 warps owns 128 rows and a slice of K (split-K); X's slice for the CTA's
// tokens sits in shared memory (zero-padded beyond K and M). With one split the CTA writes Y
// directly; otherwise it writes fp32 partials to ws[split][m][n] and the last CTA to finish a
// (token tile, row group) sums the splits in order (deterministic) and writes Y, then resets its
// counter to 0 for the next launch. Grid = (token tiles, row groups, splits).
#pragma once
#include "common.cuh"
#include "sparse24_mmasp.cuh"

#define TWOFOUR_GEMM_WARPS 8
#define TWOFOUR_GEMM_ROWS (16 * TWOFOUR_GEMM_WARPS)
#define TWOFOUR_GEMM_SB 256  // inputs per superblock: 16 chunks of 16 inputs per row

template <typename Conv> struct Mma;
template <> struct Mma<F16> {
  static __device__ __forceinline__ void run(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                             uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
};
template <> struct Mma<BF16> {
  static __device__ __forceinline__ void run(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                             uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
};

// Weights are read once per call: keep them out of L1. Metadata goes through L1 because the four
// lanes of a row read the same 32-byte sector in four consecutive loads.
__device__ __forceinline__ uint4 twofour_ld_stream16(const void* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}

__device__ __forceinline__ uint32_t twofour_word(const uint4& v, int q) {
  return q == 0 ? v.x : q == 1 ? v.y : q == 2 ? v.z : v.w;  // q is a compile-time constant
}



// The two rows (g and g + 8 of a warp's 16) one lane streams: value and metadata row pointers and validity.
struct TwofourWarpRows {
  int rowA;
  bool validA, validB;
  const uint8_t *valA, *valB, *metA, *metB;
  __device__ __forceinline__ TwofourWarpRows(const uint8_t* values, const uint8_t* meta, int N, int Kp, int rowA_)
      : rowA(rowA_), validA(rowA_ < N), validB(rowA_ + 8 < N) {
    // A row holds Kp/2 values of 2 bytes: Kp bytes; and Kp/8 metadata bytes.
    valA = values + (size_t)(validA ? rowA : 0) * Kp;
    valB = values + (size_t)(validB ? rowA + 8 : 0) * Kp;
    metA = meta + (size_t)(validA ? rowA : 0) * (Kp / 8);
    metB = meta + (size_t)(validB ? rowA + 8 : 0) * (Kp / 8);
  }
  // Superblock sb of both rows: chunks sb*16 + 4c + t (c = 0..3) into v[c] (row A), v[4 + c] (row B).
  // Branch-free: every lane loads from a valid address (row 0 / chunk 0 when out of range) and zeroes what
  // it must not use, so the warp never diverges before the warp-wide mma.sync.
  __device__ __forceinline__ void load(int sb, int chunksPerRow, int t, uint4 (&v)[8], uint32_t (&m)[8]) const {
#pragma unroll
    for (int c = 0; c < 4; c++) {
      const int chunk = sb * 16 + 4 * c + t;
      const bool inK = chunk < chunksPerRow;
      const size_t cc = inK ? (size_t)chunk : 0;
      const bool okA = validA && inK, okB = validB && inK;
      const uint4 a = twofour_ld_stream16(valA + cc * 16);
      const uint4 b = twofour_ld_stream16(valB + cc * 16);
      const uint32_t ma = __ldg(reinterpret_cast<const unsigned short*>(metA + cc * 2));
      const uint32_t mb = __ldg(reinterpret_cast<const unsigned short*>(metB + cc * 2));
      v[c] = make_uint4(okA ? a.x : 0u, okA ? a.y : 0u, okA ? a.z : 0u, okA ? a.w : 0u);
      v[4 + c] = make_uint4(okB ? b.x : 0u, okB ? b.y : 0u, okB ? b.z : 0u, okB ? b.w : 0u);
      m[c] = okA ? ma : 0u;
      m[4 + c] = okB ? mb : 0u;
    }
  }
  // Asks for superblock sb of both rows to be brought into L2 (lane t == 0 of each row pair).
  __device__ __forceinline__ void prefetchL2(int sb) const {
    const size_t v1 = (size_t)sb * TWOFOUR_GEMM_SB;  // value bytes before superblock sb in a row
    if (validA) { twofour_prefetch_l2(valA + v1); twofour_prefetch_l2(valA + v1 + 128); twofour_prefetch_l2(metA + v1 / 8); }
    if (validB) { twofour_prefetch_l2(valB + v1); twofour_prefetch_l2(valB + v1 + 128); twofour_prefetch_l2(metB + v1 / 8); }
  }
};

// One 16-input chunk of rows g and g+8 (16-byte value loads vA, vB and their 16-bit metadata mA, mB): each of
// its 4 groups is expanded to dense slots by two byte-permutes and fed to one MMA per token octet o with the
// matching inputs of X (xb[o][0] = inputs 0-7 of the chunk, xb[o][1] = inputs 8-15, token 8o + g).
template <typename Conv, int MO>
__device__ __forceinline__ void twofour_mma_chunk(float (&acc)[MO][2][4], const uint4& cvA, const uint4& cvB,
                                                  uint32_t mA, uint32_t mB, const uint2* sel, const uint4 (&xb)[MO][2]) {
#pragma unroll
  for (int q = 0; q < 4; q++) {
    const uint32_t vA = twofour_word(cvA, q), vB = twofour_word(cvB, q);
    const uint2 sA = sel[(mA >> (4 * q)) & 15u];
    const uint2 sB = sel[(mB >> (4 * q)) & 15u];
    const uint32_t a0 = __byte_perm(vA, 0u, sA.x), a2 = __byte_perm(vA, 0u, sA.y);
    const uint32_t a1 = __byte_perm(vB, 0u, sB.x), a3 = __byte_perm(vB, 0u, sB.y);
#pragma unroll
    for (int o = 0; o < MO; o++) {
      const uint4& xq = xb[o][q >> 1];
      const uint32_t b0 = (q & 1) ? xq.z : xq.x;
      const uint32_t b1 = (q & 1) ? xq.w : xq.y;
      Mma<Conv>::run(acc[o][q & 1], a0, a1, a2, a3, b0, b1);
    }
  }
}

// The selector table: nibble -> byte_perm selectors for dense slots (0-1, 2-3); 0x10 = value 0 (bytes 0,1),
// 0x32 = value 1, 0x44 = zero.
__device__ __forceinline__ void twofour_fill_selectors(uint2* sel) {
  if (threadIdx.x < 16) {
    const unsigned nib = threadIdx.x, i0 = nib & 3, i1 = nib >> 2;
    auto slot = [&](unsigned s) -> unsigned { return s == i0 ? 0x10u : s == i1 ? 0x32u : 0x44u; };
    sel[nib] = make_uint2(slot(0) | slot(1) << 8, slot(2) | slot(3) << 8);
  }
}

template <typename Conv, int MO, bool SP>
__device__ __forceinline__ void twofour_sparse24_gemm(
    const uint16_t* __restrict__ X, long long ldx, const uint8_t* __restrict__ values,
    const uint8_t* __restrict__ meta, uint16_t* __restrict__ Y, long long ldy,
    int M, int N, int K, int sbPerSplit, float* __restrict__ ws, unsigned* __restrict__ counters, int prologue,
    int swiglu) {
  constexpr int MT = 8 * MO;
  extern __shared__ __align__(16) uint8_t smem[];
  uint2* sel = reinterpret_cast<uint2*>(smem);            // 16 entries: nibble -> (slots 0-1, slots 2-3)
  uint16_t* xs = reinterpret_cast<uint16_t*>(smem + 128);  // [MT][xStride]

  const int Kp = (K + 15) & ~15;
  const int chunksPerRow = Kp / 16;
  const int nsb = (Kp + TWOFOUR_GEMM_SB - 1) / TWOFOUR_GEMM_SB;
  const int mTile = blockIdx.x, rowGroup = blockIdx.y, split = blockIdx.z, splits = gridDim.z;
  const int sb0 = split * sbPerSplit;
  const int sb1 = min(nsb, sb0 + sbPerSplit);
  const int sliceK = (sb1 - sb0) * TWOFOUR_GEMM_SB;
  const int xStride = sliceK + 8;  // +16 bytes: the 8 lanes of a 16-byte shared load hit distinct banks

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const TwofourWarpRows rows(values, meta, N, Kp, rowGroup * TWOFOUR_GEMM_ROWS + warp * 16 + g);
  const int rowA = rows.rowA, rowB = rows.rowA + 8;

  uint4 cv[8];
  uint32_t cm[8];
  auto load = [&](int sb, uint4 (&v)[8], uint32_t (&m)[8]) { rows.load(sb, chunksPerRow, t, v, m); };
  // Launched with Kernels.launchDependent (prologue: see tf_gemv.cuh; bits 8-15 = superblocks after the first
  // prefetched to L2). The weights depend on no kernel: the first superblock goes to registers and the next ones
  // toward L2 before waiting for the previous kernel (which writes X and, for an earlier 2:4 layer, used ws and
  // the counters), so weight streaming overlaps that kernel's tail.
  if (prologue & 1) twofour_pdl_release();
  if (sb0 < sb1) load(sb0, cv, cm);
  if (t == 0) {
    const int pfEnd = min(sb1, sb0 + 1 + ((prologue >> 8) & 255));
    for (int sb = sb0 + 1; sb < pfEnd; sb++) rows.prefetchL2(sb);
  }
  twofour_pdl_wait();

  twofour_fill_selectors(sel);
  {
    const int vecPerRow = sliceK / 8;
    const bool vecOk = ((reinterpret_cast<uintptr_t>(X) & 15) == 0) && (ldx % 8 == 0);
    for (int idx = threadIdx.x; idx < MT * vecPerRow; idx += blockDim.x) {
      const int mm = idx / vecPerRow, v = idx % vecPerRow;
      const int m = mTile * MT + mm;
      const int k = sb0 * TWOFOUR_GEMM_SB + v * 8;
      uint4 val = make_uint4(0, 0, 0, 0);
      if (m < M && swiglu) {
        // X row = gate [0, K) | up [K, 2K): the GEMM input is T(T(silu(gate)) * up), rounded as tf_swiglu does.
        const uint16_t* src = X + (size_t)m * ldx + k;
        uint16_t h[8];
#pragma unroll
        for (int e = 0; e < 8; e++) {
          float x = 0.f;
          if (k + e < K) {
            const float gt = Conv::toFloat(src[e]), up = Conv::toFloat(src[K + e]);
            x = Conv::toFloat(Conv::fromFloat(gt / (1.0f + expf(-gt)))) * up;
          }
          h[e] = Conv::fromFloat(x);
        }
        val = make_uint4(h[0] | (uint32_t)h[1] << 16, h[2] | (uint32_t)h[3] << 16,
                         h[4] | (uint32_t)h[5] << 16, h[6] | (uint32_t)h[7] << 16);
      } else if (m < M) {
        const uint16_t* src = X + (size_t)m * ldx + k;
        if (vecOk && k + 8 <= K) {
          val = __ldg(reinterpret_cast<const uint4*>(src));
        } else {
          uint16_t h[8];
#pragma unroll
          for (int e = 0; e < 8; e++) h[e] = (k + e < K) ? src[e] : (uint16_t)0;
          val = make_uint4(h[0] | (uint32_t)h[1] << 16, h[2] | (uint32_t)h[3] << 16,
                           h[4] | (uint32_t)h[5] << 16, h[6] | (uint32_t)h[7] << 16);
        }
      }
      *reinterpret_cast<uint4*>(xs + (size_t)mm * xStride + v * 8) = val;
    }
  }
  __syncthreads();

  float acc[MO][2][4];
  twofour_zero_acc(acc);

  for (int sb = sb0; sb < sb1; sb++) {
    uint4 nv[8];
    uint32_t nm[8];
    if (sb + 1 < sb1) load(sb + 1, nv, nm);
    const int kl = (sb - sb0) * TWOFOUR_GEMM_SB;
    __syncwarp();  // mma.sync.aligned needs the whole warp converged
#pragma unroll
    for (int c = 0; c < 4; c++) {
      if constexpr (SP) {
        // The quad's 4 lanes hold chunks 4c..4c+3: one 64-input window for mma.sp (X rows beyond M and inputs beyond K
        // are staged as zeros). Zeroed metadata (rows >= N, chunks >= K) is no valid mma.sp pattern: 0x4444 instead.
        const uint16_t* xq[MO];
#pragma unroll
        for (int o = 0; o < MO; o++) xq[o] = xs + (size_t)(8 * o + g) * xStride + kl + 64 * c;
        twofour_mmasp_window<Conv, MO, false>(acc, cv[c], cv[4 + c], cm[c] ? cm[c] : 0x4444u, cm[4 + c] ? cm[4 + c] : 0x4444u, xq);
      } else {
        uint4 xb[MO][2];
#pragma unroll
        for (int o = 0; o < MO; o++) {
          const uint16_t* xr = xs + (size_t)(8 * o + g) * xStride + kl + 64 * c + 16 * t;
          xb[o][0] = *reinterpret_cast<const uint4*>(xr);
          xb[o][1] = *reinterpret_cast<const uint4*>(xr + 8);
        }
        twofour_mma_chunk<Conv, MO>(acc, cv[c], cv[4 + c], cm[c], cm[4 + c], sel, xb);
      }
    }
    if (sb + 1 < sb1) {
#pragma unroll
      for (int i = 0; i < 8; i++) { cv[i] = nv[i]; cm[i] = nm[i]; }
    }
  }

  // Fragment: d0,d1 -> row g, tokens 2t, 2t+1 of the octet; d2,d3 -> row g+8.
  if (splits == 1) {
#pragma unroll
    for (int o = 0; o < MO; o++)
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int m = mTile * MT + 8 * o + 2 * t + (i & 1);
        const int row = (i < 2) ? rowA : rowB;
        if (m < M && row < N) Y[(size_t)m * ldy + row] = Conv::fromFloat(acc[o][0][i] + acc[o][1][i]);
      }
    return;
  }
#pragma unroll
  for (int o = 0; o < MO; o++)
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int m = mTile * MT + 8 * o + 2 * t + (i & 1);
      const int row = (i < 2) ? rowA : rowB;
      if (m < M && row < N) ws[((size_t)split * M + m) * N + row] = acc[o][0][i] + acc[o][1][i];
    }
  __threadfence();
  __syncthreads();
  __shared__ unsigned isLast;
  unsigned* counter = counters + (size_t)mTile * gridDim.y + rowGroup;
  if (threadIdx.x == 0) {
    const unsigned prev = atomicAdd(counter, 1u);
    isLast = (prev == (unsigned)splits - 1) ? 1u : 0u;
  }
  __syncthreads();
  if (!isLast) return;
  __threadfence();
  for (int idx = threadIdx.x; idx < MT * TWOFOUR_GEMM_ROWS; idx += blockDim.x) {
    const int m = mTile * MT + idx / TWOFOUR_GEMM_ROWS;
    const int row = rowGroup * TWOFOUR_GEMM_ROWS + idx % TWOFOUR_GEMM_ROWS;
    if (m < M && row < N) {
      float s = 0.f;
      for (int sp = 0; sp < splits; sp++) s += __ldcg(ws + ((size_t)sp * M + m) * N + row);
      Y[(size_t)m * ldy + row] = Conv::fromFloat(s);
    }
  }
  if (threadIdx.x == 0) *counter = 0u;  // every split has arrived: ready for the next launch
}

// Two CTAs per SM for 8 and 16 tokens (128 registers); one for 32 tokens, whose fragments need more. _sp: mma.sp
// (sparse24_mmasp.cuh) instead of permutes + dense mma.sync.
#define TWOFOUR_SPARSE24_GEMM(NAME, CONV, MO, MIN_CTAS, SP)                                                     \
  extern "C" __global__ void __launch_bounds__(32 * TWOFOUR_GEMM_WARPS, MIN_CTAS)                              \
  NAME(const uint16_t* X, long long ldx, const uint8_t* values, const uint8_t* meta, uint16_t* Y, long long ldy, \
       int M, int N, int K, int sbPerSplit, float* ws, unsigned* counters, int prologue, int swiglu) {         \
    twofour_sparse24_gemm<CONV, MO, SP>(X, ldx, values, meta, Y, ldy, M, N, K, sbPerSplit, ws, counters, prologue, \
                                        swiglu);                                                                \
  }
TWOFOUR_SPARSE24_GEMM(twofour_sparse24_gemm_f16_mt8, F16, 1, 2, false)
TWOFOUR_SPARSE24_GEMM(twofour_sparse24_gemm_f16_mt16, F16, 2, 2, false)
TWOFOUR_SPARSE24_GEMM(twofour_sparse24_gemm_f16_mt32, F16, 4, 1, false)
TWOFOUR_SPARSE24_GEMM(twofour_sparse24_gemm_bf16_mt8, BF16, 1, 2, false)
TWOFOUR_SPARSE24_GEMM(twofour_sparse24_gemm_bf16_mt16, BF16, 2, 2, false)
TWOFOUR_SPARSE24_GEMM(twofour_sparse24_gemm_bf16_mt32, BF16, 4, 1, false)
TWOFOUR_SPARSE24_GEMM(twofour_sparse24_gemm_sp_f16_mt8, F16, 1, 2, true)
TWOFOUR_SPARSE24_GEMM(twofour_sparse24_gemm_sp_f16_mt16, F16, 2, 2, true)
TWOFOUR_SPARSE24_GEMM(twofour_sparse24_gemm_sp_f16_mt32, F16, 4, 1, true)
TWOFOUR_SPARSE24_GEMM(twofour_sparse24_gemm_sp_bf16_mt8, BF16, 1, 2, true)
TWOFOUR_SPARSE24_GEMM(twofour_sparse24_gemm_sp_bf16_mt16, BF16, 2, 2, true)
TWOFOUR_SPARSE24_GEMM(twofour_sparse24_gemm_sp_bf16_mt32, BF16, 4, 1, true)
