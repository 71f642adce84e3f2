// Our 2:4 decode GEMM, streaming variant: the same Y[M][N] = X[M][K] · Wᵀ as sparse24_gemm.cuh (same packed layout,
// same per-lane tensor-core step twofour_mma_chunk), for M <= 16 and K a multiple of 128, laid out so that HBM is
// busy from the kernel's first cycle to its last:
//  - Persistent grid (one CTA per SM at most): CTA c takes the 16-row tiles c, c + G, c + 2G, ... (G = gridDim.x);
//    16-row tiles make the work divide evenly over the SMs (o 4096 rows: 256 tiles on 132 SMs = 97% balanced,
//    where 128-row groups x splits left whole waves half empty).
//  - The 8 warps of a CTA share a tile and split its K into 8 ranges of chunksPerWarp 16-input chunks; the tile's
//    partial sums meet in shared memory at the end of the tile. No global partials, no fixup pass, no counters.
//  - Weights stream through a STAGES-deep ring of shared memory with cp.async: bytes in flight hold no registers,
//    and the first STAGES stages are issued BEFORE griddepcontrol.wait (weights depend on no kernel), so with
//    programmatic dependent launch a layer's weights stream while the previous kernel (attention, rmsnorm, the
//    previous GEMM's tail) is still running. The classic kernel could only hold one superblock in registers then.
//  - X (all K, only the M real tokens) is staged once per CTA after the wait and serves every tile of the CTA. Since
//    every CTA holds whole rows of X, the op that makes X can be done on the way (TwofourStreamInput.op):
//    SwiGLU of a gate|up row (the down projection, as in the classic kernel), or the residual add + RMSNorm that
//    precedes qkv and gate|up (x += delta written by CTA 0 to a second residual buffer, X = w * rmsnorm(x)).
// One stage of one warp = CH (16 or 8) chunks of its K range for its 16 rows: per lane CH/2 x 16 bytes of values
// (chunks 4c + t of rows g and g + 8, c < CH/4: exactly the bytes this lane multiplies, so no barrier is needed for
// them) plus 2 CH bytes of metadata per row, copied in 16-byte pieces by lanes of the row's quad (read by the other
// lanes of the quad after a __syncwarp). Out-of-range rows and chunks are zero-filled by cp.async (src-size 0) and
// their X is taken as zero, so uninitialised shared memory never meets a multiply. CH = 8 halves a stage: the same
// ring bytes in twice the stages, so more of them stay in flight while one is consumed (16 tokens, whose X leaves
// room for 74 KB of ring only).
#pragma once
#include "common.cuh"
#include "sparse24_gemm.cuh"
#include "sparse24_mmasp.cuh"

#define TWOFOUR_STREAM_WARPS 8
// values (CH/2 slots x 32 lanes x 16 B) + metadata (16 rows x 2 CH B)
#define TWOFOUR_STREAM_WARP_STAGE_BYTES(CH) ((CH) / 2 * 32 * 16 + 16 * (CH) * 2)
#define TWOFOUR_STREAM_STAGE_BYTES(CH) (TWOFOUR_STREAM_WARPS * TWOFOUR_STREAM_WARP_STAGE_BYTES(CH))

// What the kernel stages as X. op 0: X itself. op 1 (SwiGLU): X is gate|up [M][2K], the GEMM input is
// T(T(silu(gate)) * up), rounded as tf_swiglu does. op 2 (add + RMSNorm, as tf_add_rmsnorm rounds it): with r = X
// (the residual stream, [M][K]) and d = delta (or 0 when delta is null), v = T(r + d); the GEMM input is
// T(w * T(v * rsqrt(mean(v^2) + eps))); CTA 0 writes v to residualOut (unless null), which must not alias X (other
// CTAs still read X). The sum of squares runs in a fixed order: deterministic, though not tf_add_rmsnorm's order.
struct TwofourStreamInput {
  int op;
  const uint16_t* delta;
  long long ldd;
  const uint16_t* normWeight;
  uint16_t* residualOut;
  long long ldr;
  float eps;
};

// 8 halves at p: one 16-byte load when aligned, else eight 2-byte loads.
__device__ __forceinline__ uint4 twofour_load8(const uint16_t* p, bool vec) {
  if (vec) return __ldg(reinterpret_cast<const uint4*>(p));
  return make_uint4(p[0] | (uint32_t)p[1] << 16, p[2] | (uint32_t)p[3] << 16, p[4] | (uint32_t)p[5] << 16,
                    p[6] | (uint32_t)p[7] << 16);
}
__device__ __forceinline__ uint4 twofour_pack8(const uint16_t (&h)[8]) {
  return make_uint4(h[0] | (uint32_t)h[1] << 16, h[2] | (uint32_t)h[3] << 16, h[4] | (uint32_t)h[5] << 16,
                    h[6] | (uint32_t)h[7] << 16);
}

// Stages X for M tokens x K inputs into xs ([M][xStride] halves) as `in` says, with the whole block; the caller's
// barrier publishes it. X is read from L2 right after the PDL wait, on the critical path, where L2 is busy with the
// weight stream. Plain X (op 0, 16-byte aligned rows) goes by cp.async, all of it in flight at once, with no
// registers; unless asyncX is false, which loads it as the fused ops do: XB 16-byte loads in flight per thread, so
// ceil(M K / 8 / (XB x 256)) round trips (4 at 8 tokens of 4096 with XB = 4: the loads made 8-16 tokens slow; 16 of
// them in registers cost the kernel 23 registers and batch-1 decode 300 -> 248 tok/s, kernels/NOTES.md session 4).
template <typename Conv>
__device__ __forceinline__ void twofour_stream_stage_x(const uint16_t* __restrict__ X, long long ldx, int M, int K,
                                                       const TwofourStreamInput& in, uint16_t* xs, int xStride,
                                                       float* scratch, bool asyncX) {
  constexpr int XB = 4;
  const int vecPerRow = K >> 3, nvec = M * vecPerRow;
  const bool vecX = ((reinterpret_cast<uintptr_t>(X) & 15) == 0) && (ldx % 8 == 0);
  const bool vecD = ((reinterpret_cast<uintptr_t>(in.delta) & 15) == 0) && (in.ldd % 8 == 0);
  if (in.op == 0 && vecX && asyncX) {
    for (int idx = threadIdx.x; idx < nvec; idx += blockDim.x) {
      const int m = idx / vecPerRow, k = (idx % vecPerRow) * 8;
      twofour_cp_async16(xs + (size_t)m * xStride + k, X + (size_t)m * ldx + k, 16u);
    }
    twofour_cp_async_commit();
    // wait_group 0 also waits for the ring's first stages (a thread can only wait for its oldest groups): they were
    // issued before the PDL wait and are due first anyway.
    twofour_cp_async_wait<0>();
    return;
  }
  for (int base = threadIdx.x; base < nvec; base += XB * blockDim.x) {
    uint4 a[XB], b[XB];
#pragma unroll
    for (int u = 0; u < XB; u++) {
      const int idx = base + u * blockDim.x;
      if (idx < nvec) {
        const int m = idx / vecPerRow, k = (idx % vecPerRow) * 8;
        const uint16_t* src = X + (size_t)m * ldx + k;
        a[u] = twofour_load8(src, vecX);
        if (in.op == 1) b[u] = twofour_load8(src + K, vecX);
        if (in.op == 2 && in.delta != nullptr) b[u] = twofour_load8(in.delta + (size_t)m * in.ldd + k, vecD);
      }
    }
#pragma unroll
    for (int u = 0; u < XB; u++) {
      const int idx = base + u * blockDim.x;
      if (idx >= nvec) continue;
      const int m = idx / vecPerRow, k = (idx % vecPerRow) * 8;
      uint4 val = a[u];
      if (in.op == 1) {
        const uint16_t* gv = reinterpret_cast<const uint16_t*>(&a[u]);
        const uint16_t* uv = reinterpret_cast<const uint16_t*>(&b[u]);
        uint16_t h[8];
#pragma unroll
        for (int e = 0; e < 8; e++) {
          const float gt = Conv::toFloat(gv[e]), up = Conv::toFloat(uv[e]);
          h[e] = Conv::fromFloat(Conv::toFloat(Conv::fromFloat(gt / (1.0f + expf(-gt)))) * up);
        }
        val = twofour_pack8(h);
      } else if (in.op == 2 && in.delta != nullptr) {
        const uint16_t* rv = reinterpret_cast<const uint16_t*>(&a[u]);
        const uint16_t* dv = reinterpret_cast<const uint16_t*>(&b[u]);
        uint16_t h[8];
#pragma unroll
        for (int e = 0; e < 8; e++) h[e] = Conv::fromFloat(Conv::toFloat(rv[e]) + Conv::toFloat(dv[e]));
        val = twofour_pack8(h);
      }
      if (in.op == 2 && blockIdx.x == 0 && in.residualOut != nullptr) {
        uint16_t* dst = in.residualOut + (size_t)m * in.ldr + k;
        if (((reinterpret_cast<uintptr_t>(dst) & 15) == 0)) {
          *reinterpret_cast<uint4*>(dst) = val;
        } else {
          const uint16_t* h = reinterpret_cast<const uint16_t*>(&val);
#pragma unroll
          for (int e = 0; e < 8; e++) dst[e] = h[e];
        }
      }
      *reinterpret_cast<uint4*>(xs + (size_t)m * xStride + k) = val;
    }
  }
  if (in.op != 2) return;
  __syncthreads();
  // RMSNorm: warp w sums tokens w, w + 8 in a fixed order (lane-strided, then a shuffle tree).
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  for (int m = warp; m < M; m += warps) {
    float ss = 0.f;
    for (int j = lane; j < vecPerRow; j += 32) {
      const uint4 v = *reinterpret_cast<const uint4*>(xs + (size_t)m * xStride + j * 8);
      const uint16_t* h = reinterpret_cast<const uint16_t*>(&v);
#pragma unroll
      for (int e = 0; e < 8; e++) {
        const float f = Conv::toFloat(h[e]);
        ss += f * f;
      }
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off);
    if (lane == 0) scratch[m] = 1.0f / sqrtf(ss / (float)K + in.eps);
  }
  __syncthreads();
  const bool vecW = (reinterpret_cast<uintptr_t>(in.normWeight) & 15) == 0;
  for (int base = threadIdx.x; base < nvec; base += XB * blockDim.x) {
    uint4 wv[XB];
#pragma unroll
    for (int u = 0; u < XB; u++) {
      const int idx = base + u * blockDim.x;
      if (idx < nvec) wv[u] = twofour_load8(in.normWeight + (idx % vecPerRow) * 8, vecW);
    }
#pragma unroll
    for (int u = 0; u < XB; u++) {
      const int idx = base + u * blockDim.x;
      if (idx >= nvec) continue;
      const int m = idx / vecPerRow, k = (idx % vecPerRow) * 8;
      uint4* p = reinterpret_cast<uint4*>(xs + (size_t)m * xStride + k);
      const uint4 v = *p;
      const uint16_t* h = reinterpret_cast<const uint16_t*>(&v);
      const uint16_t* w = reinterpret_cast<const uint16_t*>(&wv[u]);
      const float rs = scratch[m];
      uint16_t o[8];
#pragma unroll
      for (int e = 0; e < 8; e++) o[e] = Conv::fromFloat(Conv::toFloat(w[e]) * Conv::toFloat(Conv::fromFloat(Conv::toFloat(h[e]) * rs)));
      *p = twofour_pack8(o);
    }
  }
}

template <typename Conv, int MO, int STAGES, bool SP, int CH>
__device__ __forceinline__ void twofour_sparse24_stream(
    const uint16_t* __restrict__ X, long long ldx, const uint8_t* __restrict__ values,
    const uint8_t* __restrict__ meta, uint16_t* __restrict__ Y, long long ldy,
    int M, int N, int K, int chunksPerWarp, int prologue, const TwofourStreamInput& in) {
  extern __shared__ __align__(16) uint8_t smem[];
  uint8_t* ring = smem;                                                         // [STAGES][warp][values | metadata]
  static_assert(CH == 16 || CH == 8, "a stage is 16 or 8 chunks per warp");
  constexpr int WINDOWS = CH / 4;             // 64-input windows per lane per stage (quad lane t takes chunk 4c + t)
  constexpr int META = CH / 2 * 32 * 16;      // offset of the metadata in a warp's stage
  float* red = reinterpret_cast<float*>(smem + STAGES * TWOFOUR_STREAM_STAGE_BYTES(CH));  // [2][warp][MO][4][32]
  uint2* sel = reinterpret_cast<uint2*>(red + 2 * TWOFOUR_STREAM_WARPS * MO * 128);   // 16 entries
  uint16_t* xs = reinterpret_cast<uint16_t*>(sel + 16);                                // [M][K + 8]
  const int xStride = K + 8;  // +16 bytes: the lanes of a 16-byte shared load hit distinct banks
  uint16_t* zeroRow = xs + (size_t)M * xStride;  // 64 zero inputs: the mma.sp path's X for tokens >= M and chunks past K

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const int chunksPerRow = K >> 4;   // K % 128 == 0: no padding, metadata rows 16-byte aligned
  const int rowBytes = K;            // K/2 two-byte values
  const int metaRowBytes = K >> 3;
  const int rowTiles = (N + 15) >> 4;
  const int myTiles = blockIdx.x < rowTiles ? (rowTiles - 1 - blockIdx.x) / gridDim.x + 1 : 0;
  const int stagesPerTile = (chunksPerWarp + CH - 1) / CH;
  const int total = myTiles * stagesPerTile;
  const int warpChunk0 = warp * chunksPerWarp;
  const int warpChunkEnd = min(chunksPerRow, warpChunk0 + chunksPerWarp);

  // Stage s of this warp: tile blockIdx.x + (s / stagesPerTile) * G, chunks warpChunk0 + CH (s % stagesPerTile) + 0..CH-1,
  // in ring slot s % STAGES.
  auto slot = [&](int s) {
    return ring + (size_t)(s % STAGES) * TWOFOUR_STREAM_STAGE_BYTES(CH) + warp * TWOFOUR_STREAM_WARP_STAGE_BYTES(CH);
  };
  auto firstChunk = [&](int s) { return warpChunk0 + CH * (s % stagesPerTile); };
  auto issue = [&](int s) {
    uint8_t* st = slot(s);
    const int tile = blockIdx.x + (s / stagesPerTile) * gridDim.x;
    const int chunk0 = firstChunk(s);
    const int rowA = tile * 16 + g, rowB = rowA + 8;
    const bool okA = rowA < N, okB = rowB < N;
#pragma unroll
    for (int c = 0; c < WINDOWS; c++) {
      const int chunk = chunk0 + 4 * c + t;
      const bool inK = chunk < warpChunkEnd;
      const uint8_t* srcA = values + (okA && inK ? (size_t)rowA * rowBytes + (size_t)chunk * 16 : 0);
      const uint8_t* srcB = values + (okB && inK ? (size_t)rowB * rowBytes + (size_t)chunk * 16 : 0);
      twofour_cp_async16(st + (c * 32 + lane) * 16, srcA, okA && inK ? 16u : 0u);
      twofour_cp_async16(st + ((WINDOWS + c) * 32 + lane) * 16, srcB, okB && inK ? 16u : 0u);
    }
    // Metadata, CH/8 pieces of 16 bytes (8 chunks) per row: lane t < 2 CH/8 copies piece t % (CH/8) of row g
    // (t / (CH/8) == 0) or g + 8.
    constexpr int PIECES = CH / 8;
    if (t < 2 * PIECES) {
      const int piece = t % PIECES, r = (t / PIECES == 0) ? g : g + 8, row = tile * 16 + r;
      const bool ok = row < N && chunk0 + 8 * piece < warpChunkEnd;  // ranges end on 8-chunk boundaries
      const uint8_t* src = meta + (ok ? (size_t)row * metaRowBytes + (size_t)(chunk0 + 8 * piece) * 2 : 0);
      twofour_cp_async16(st + META + r * (2 * CH) + piece * 16, src, ok ? 16u : 0u);
    }
  };

  // Launched with Kernels.launchDependent: release the next kernel, put the first STAGES stages in flight, then wait
  // for the previous kernel (which writes X, and may still be reading Y's buffer) before touching activations.
  if (prologue & 1) twofour_pdl_release();
#pragma unroll
  for (int s = 0; s < STAGES; s++) {
    if (s < total) issue(s);
    twofour_cp_async_commit();  // one group per stage, empty or not: wait_group counts stay uniform
  }
  // The norm weight (op 2) is a weight: bring it toward L1 before the wait, so the normalisation pass finds it there.
  if (in.op == 2 && threadIdx.x * 64 < K) asm volatile("prefetch.global.L1 [%0];" ::"l"(in.normWeight + threadIdx.x * 64));
  twofour_pdl_wait();

  twofour_fill_selectors(sel);
  if (threadIdx.x < 32) reinterpret_cast<uint32_t*>(zeroRow)[threadIdx.x] = 0u;
  twofour_stream_stage_x<Conv>(X, ldx, M, K, in, xs, xStride, red, (prologue & 2) == 0);
  __syncthreads();

  float acc[MO][2][4];
  twofour_zero_acc(acc);

  for (int s = 0; s < total; s++) {
    twofour_cp_async_wait<STAGES - 1>();  // this lane's copies of stage s have landed
    __syncwarp();                         // ... and the quad's metadata pieces are visible to every lane
    const uint8_t* st = slot(s);
    const uint4* vs = reinterpret_cast<const uint4*>(st);
    const uint8_t* ms = st + META;
    const int chunk0 = firstChunk(s);
#pragma unroll
    for (int c = 0; c < WINDOWS; c++) {
      const int chunk = chunk0 + 4 * c + t;
      const bool inK = chunk < warpChunkEnd;
      const uint4 vA = vs[c * 32 + lane], vB = vs[(WINDOWS + c) * 32 + lane];
      const uint32_t mA = *reinterpret_cast<const uint16_t*>(ms + g * (2 * CH) + (4 * c + t) * 2);
      const uint32_t mB = *reinterpret_cast<const uint16_t*>(ms + (g + 8) * (2 * CH) + (4 * c + t) * 2);
      if constexpr (SP) {
        // mma.sp takes the quad's 4 chunks (64 contiguous inputs) at once. Warp ranges end on 8-chunk boundaries, so a
        // window is wholly inside or outside the range. Zero-filled metadata (a row >= N or a chunk past the range) is
        // not a valid pattern for mma.sp: such chunks pass 0x4444 (their values, 0, at slots 0 and 1).
        const bool inW = chunk0 + 4 * c < warpChunkEnd;
        const uint16_t* xq[MO];
#pragma unroll
        for (int o = 0; o < MO; o++) {
          const int m = 8 * o + g;
          xq[o] = (m < M && inW) ? xs + (size_t)m * xStride + (chunk0 + 4 * c) * 16 : zeroRow;
        }
        __syncwarp();
        twofour_mmasp_window<Conv, MO, false>(acc, vA, vB, mA ? mA : 0x4444u, mB ? mB : 0x4444u, xq);
      } else {
        uint4 xb[MO][2];
#pragma unroll
        for (int o = 0; o < MO; o++) {
          const int m = 8 * o + g;
          if (m < M && inK) {
            const uint16_t* xr = xs + (size_t)m * xStride + chunk * 16;
            xb[o][0] = *reinterpret_cast<const uint4*>(xr);
            xb[o][1] = *reinterpret_cast<const uint4*>(xr + 8);
          } else {
            xb[o][0] = make_uint4(0, 0, 0, 0);
            xb[o][1] = make_uint4(0, 0, 0, 0);
          }
        }
        __syncwarp();  // mma.sync.aligned needs the whole warp converged
        twofour_mma_chunk<Conv, MO>(acc, vA, vB, mA, mB, sel, xb);
      }
    }
    __syncwarp();  // every lane is done with this slot (metadata is shared within quads) before it is refilled
    if (s + STAGES < total) issue(s + STAGES);
    twofour_cp_async_commit();

    if (s % stagesPerTile == stagesPerTile - 1) {
      // End of a tile: the 8 warps' partial sums meet in shared memory (two buffers alternate, so the next tile
      // may start writing while slow threads still read this one: the barrier below orders them).
      const int tile = blockIdx.x + (s / stagesPerTile) * gridDim.x;
      float* rb = red + (size_t)((s / stagesPerTile) & 1) * (TWOFOUR_STREAM_WARPS * MO * 128);
#pragma unroll
      for (int o = 0; o < MO; o++)
#pragma unroll
        for (int i = 0; i < 4; i++) {
          rb[((warp * MO + o) * 4 + i) * 32 + lane] = acc[o][0][i] + acc[o][1][i];
        }
      twofour_zero_acc(acc);
      __syncthreads();
      for (int idx = threadIdx.x; idx < 8 * MO * 16; idx += blockDim.x) {
        const int m = idx >> 4, r = idx & 15;  // 16 consecutive threads write 16 consecutive rows of token m
        const int row = tile * 16 + r;
        if (m < M && row < N) {
          const int o = m >> 3, tk = m & 7;
          const int i = (r >> 3) * 2 + (tk & 1), ln = (r & 7) * 4 + (tk >> 1);
          float sum = 0.f;
#pragma unroll
          for (int w = 0; w < TWOFOUR_STREAM_WARPS; w++) sum += rb[((w * MO + o) * 4 + i) * 32 + ln];
          Y[(size_t)m * ldy + row] = Conv::fromFloat(sum);
        }
      }
    }
  }
}

// One CTA per SM at most (it takes most of the SM's shared memory); 8 tokens with 4 stages, 16 tokens with 2 (their X
// takes the room of the other two). _sp: the tensor-core step is mma.sp (sparse24_mmasp.cuh) instead of permutes + mma.
#define TWOFOUR_SPARSE24_STREAM(NAME, CONV, MO, STAGES, SP, CH)                                                      \
  extern "C" __global__ void __launch_bounds__(32 * TWOFOUR_STREAM_WARPS, 1)                                     \
  NAME(const uint16_t* X, long long ldx, const uint8_t* values, const uint8_t* meta, uint16_t* Y, long long ldy, \
       int M, int N, int K, int chunksPerWarp, int prologue, int op, const uint16_t* delta, long long ldd,       \
       const uint16_t* normWeight, uint16_t* residualOut, long long ldr, float eps) {                            \
    const TwofourStreamInput in{op, delta, ldd, normWeight, residualOut, ldr, eps};                              \
    twofour_sparse24_stream<CONV, MO, STAGES, SP, CH>(X, ldx, values, meta, Y, ldy, M, N, K, chunksPerWarp, prologue, in); \
  }
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_f16_mt8, F16, 1, 4, false, 16)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_f16_mt16, F16, 2, 2, false, 16)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_bf16_mt8, BF16, 1, 4, false, 16)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_bf16_mt16, BF16, 2, 2, false, 16)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_sp_f16_mt8, F16, 1, 4, true, 16)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_sp_f16_mt16, F16, 2, 2, true, 16)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_sp_bf16_mt8, BF16, 1, 4, true, 16)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_sp_bf16_mt16, BF16, 2, 2, true, 16)
// Shallower rings for 8 tokens (_s2, _s3): less shared memory per CTA, so the next kernel's CTAs (another GEMM's
// included, at 2 stages) fit beside it and start streaming before it ends (-Dtwofour.gemm.streamStages).
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_sp_f16_mt8_s2, F16, 1, 2, true, 16)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_sp_bf16_mt8_s2, BF16, 1, 2, true, 16)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_sp_f16_mt8_s3, F16, 1, 3, true, 16)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_sp_bf16_mt8_s3, BF16, 1, 3, true, 16)
// Half-size stages (CH = 8, _c8_sS: S stages, mma.sp only): 16 tokens with 4 stages in the 74 KB that their X leaves
// (against 2 full stages), 8 tokens with 8 stages, and 4 stages for 4-8 tokens of K = 11008.
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_sp_f16_mt16_c8_s4, F16, 2, 4, true, 8)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_sp_bf16_mt16_c8_s4, BF16, 2, 4, true, 8)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_sp_f16_mt8_c8_s8, F16, 1, 8, true, 8)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_sp_bf16_mt8_c8_s8, BF16, 1, 8, true, 8)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_sp_f16_mt8_c8_s4, F16, 1, 4, true, 8)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_sp_bf16_mt8_c8_s4, BF16, 1, 4, true, 8)
