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
//  - X (all K, only the M real tokens) is staged once per CTA after the wait (SwiGLU computed on the way when
//    swiglu != 0, as in the classic kernel), and serves every tile of the CTA.
// One stage of one warp = 16 chunks of its K range for its 16 rows: per lane 8 x 16 bytes of values (chunks
// 4c + t of rows g and g + 8, c = 0..3: exactly the bytes this lane multiplies, so no barrier is needed for them)
// plus 32 bytes of metadata per row copied by the row's 4 lanes (two pieces each for row g and g + 8; read by the
// other lanes of the quad after a __syncwarp). Out-of-range rows and chunks are zero-filled by cp.async (src-size 0)
// and their X is taken as zero, so uninitialised shared memory never meets a multiply.
#pragma once
#include "common.cuh"
#include "sparse24_gemm.cuh"

#define TWOFOUR_STREAM_WARPS 8
#define TWOFOUR_STREAM_WARP_STAGE_BYTES (8 * 32 * 16 + 16 * 32)  // values (8 slots x 32 lanes x 16 B) + metadata (16 rows x 32 B)
#define TWOFOUR_STREAM_STAGE_BYTES (TWOFOUR_STREAM_WARPS * TWOFOUR_STREAM_WARP_STAGE_BYTES)

// 16 bytes global -> shared, bypassing L1; src_bytes = 0 writes 16 zero bytes and reads nothing.
__device__ __forceinline__ void twofour_cp_async16(void* dst, const void* src, unsigned src_bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(src_bytes) : "memory");
#endif
}
__device__ __forceinline__ void twofour_cp_async_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
template <int PENDING>
__device__ __forceinline__ void twofour_cp_async_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(PENDING) : "memory");
#endif
}

template <typename Conv, int MO, int STAGES>
__device__ __forceinline__ void twofour_sparse24_stream(
    const uint16_t* __restrict__ X, long long ldx, const uint8_t* __restrict__ values,
    const uint8_t* __restrict__ meta, uint16_t* __restrict__ Y, long long ldy,
    int M, int N, int K, int chunksPerWarp, int prologue, int swiglu) {
  extern __shared__ __align__(16) uint8_t smem[];
  uint8_t* ring = smem;                                                         // [STAGES][warp][values | metadata]
  float* red = reinterpret_cast<float*>(smem + STAGES * TWOFOUR_STREAM_STAGE_BYTES);  // [2][warp][MO][4][32]
  uint2* sel = reinterpret_cast<uint2*>(red + 2 * TWOFOUR_STREAM_WARPS * MO * 128);   // 16 entries
  uint16_t* xs = reinterpret_cast<uint16_t*>(sel + 16);                                // [M][K + 8]
  const int xStride = K + 8;  // +16 bytes: the lanes of a 16-byte shared load hit distinct banks

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const int chunksPerRow = K >> 4;   // K % 128 == 0: no padding, metadata rows 16-byte aligned
  const int rowBytes = K;            // K/2 two-byte values
  const int metaRowBytes = K >> 3;
  const int rowTiles = (N + 15) >> 4;
  const int myTiles = blockIdx.x < rowTiles ? (rowTiles - 1 - blockIdx.x) / gridDim.x + 1 : 0;
  const int stagesPerTile = (chunksPerWarp + 15) >> 4;
  const int total = myTiles * stagesPerTile;
  const int warpChunk0 = warp * chunksPerWarp;
  const int warpChunkEnd = min(chunksPerRow, warpChunk0 + chunksPerWarp);

  // Stage s of this warp: tile blockIdx.x + (s / stagesPerTile) * G, chunks warpChunk0 + 16 (s % stagesPerTile) + 0..15.
  auto issue = [&](int s) {
    uint8_t* st = ring + (size_t)(s % STAGES) * TWOFOUR_STREAM_STAGE_BYTES + warp * TWOFOUR_STREAM_WARP_STAGE_BYTES;
    const int tile = blockIdx.x + (s / stagesPerTile) * gridDim.x;
    const int chunk0 = warpChunk0 + 16 * (s % stagesPerTile);
    const int rowA = tile * 16 + g, rowB = rowA + 8;
    const bool okA = rowA < N, okB = rowB < N;
#pragma unroll
    for (int c = 0; c < 4; c++) {
      const int chunk = chunk0 + 4 * c + t;
      const bool inK = chunk < warpChunkEnd;
      const uint8_t* srcA = values + (okA && inK ? (size_t)rowA * rowBytes + (size_t)chunk * 16 : 0);
      const uint8_t* srcB = values + (okB && inK ? (size_t)rowB * rowBytes + (size_t)chunk * 16 : 0);
      twofour_cp_async16(st + (c * 32 + lane) * 16, srcA, okA && inK ? 16u : 0u);
      twofour_cp_async16(st + ((4 + c) * 32 + lane) * 16, srcB, okB && inK ? 16u : 0u);
    }
    // Metadata: lane t copies piece (t & 1) (chunks chunk0 + 8 (t & 1) .. + 7) of row g (t < 2) or g + 8 (t >= 2).
    const int piece = t & 1, r = (t < 2) ? g : g + 8, row = tile * 16 + r;
    const bool ok = row < N && chunk0 + 8 * piece < warpChunkEnd;  // ranges end on 8-chunk boundaries
    const uint8_t* src = meta + (ok ? (size_t)row * metaRowBytes + (size_t)(chunk0 + 8 * piece) * 2 : 0);
    twofour_cp_async16(st + 8 * 32 * 16 + r * 32 + piece * 16, src, ok ? 16u : 0u);
  };

  // Launched with Kernels.launchDependent: release the next kernel, put the first STAGES stages in flight, then wait
  // for the previous kernel (which writes X, and may still be reading Y's buffer) before touching activations.
  if (prologue & 1) twofour_pdl_release();
#pragma unroll
  for (int s = 0; s < STAGES; s++) {
    if (s < total) issue(s);
    twofour_cp_async_commit();  // one group per stage, empty or not: wait_group counts stay uniform
  }
  twofour_pdl_wait();

  twofour_fill_selectors(sel);
  {
    const int vecPerRow = K >> 3;
    const bool vecOk = ((reinterpret_cast<uintptr_t>(X) & 15) == 0) && (ldx % 8 == 0);
    for (int idx = threadIdx.x; idx < M * vecPerRow; idx += blockDim.x) {
      const int m = idx / vecPerRow, k = (idx % vecPerRow) * 8;
      const uint16_t* src = X + (size_t)m * ldx + k;
      uint4 val;
      if (swiglu) {
        // X row = gate [0, K) | up [K, 2K): the GEMM input is T(T(silu(gate)) * up), rounded as tf_swiglu does.
        uint16_t h[8];
#pragma unroll
        for (int e = 0; e < 8; e++) {
          const float gt = Conv::toFloat(src[e]), up = Conv::toFloat(src[K + e]);
          h[e] = Conv::fromFloat(Conv::toFloat(Conv::fromFloat(gt / (1.0f + expf(-gt)))) * up);
        }
        val = make_uint4(h[0] | (uint32_t)h[1] << 16, h[2] | (uint32_t)h[3] << 16, h[4] | (uint32_t)h[5] << 16,
                         h[6] | (uint32_t)h[7] << 16);
      } else if (vecOk) {
        val = __ldg(reinterpret_cast<const uint4*>(src));
      } else {
        val = make_uint4(src[0] | (uint32_t)src[1] << 16, src[2] | (uint32_t)src[3] << 16,
                         src[4] | (uint32_t)src[5] << 16, src[6] | (uint32_t)src[7] << 16);
      }
      *reinterpret_cast<uint4*>(xs + (size_t)m * xStride + k) = val;
    }
  }
  __syncthreads();

  float acc[MO][2][4];
#pragma unroll
  for (int o = 0; o < MO; o++)
#pragma unroll
    for (int h = 0; h < 2; h++)
#pragma unroll
      for (int i = 0; i < 4; i++) acc[o][h][i] = 0.f;

  for (int s = 0; s < total; s++) {
    twofour_cp_async_wait<STAGES - 1>();  // this lane's copies of stage s have landed
    __syncwarp();                         // ... and the quad's metadata pieces are visible to every lane
    const uint8_t* st = ring + (size_t)(s % STAGES) * TWOFOUR_STREAM_STAGE_BYTES + warp * TWOFOUR_STREAM_WARP_STAGE_BYTES;
    const uint4* vs = reinterpret_cast<const uint4*>(st);
    const uint8_t* ms = st + 8 * 32 * 16;
    const int chunk0 = warpChunk0 + 16 * (s % stagesPerTile);
#pragma unroll
    for (int c = 0; c < 4; c++) {
      const int chunk = chunk0 + 4 * c + t;
      const bool inK = chunk < warpChunkEnd;
      const uint4 vA = vs[c * 32 + lane], vB = vs[(4 + c) * 32 + lane];
      const uint32_t mA = *reinterpret_cast<const uint16_t*>(ms + g * 32 + (4 * c + t) * 2);
      const uint32_t mB = *reinterpret_cast<const uint16_t*>(ms + (g + 8) * 32 + (4 * c + t) * 2);
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
          acc[o][0][i] = 0.f;
          acc[o][1][i] = 0.f;
        }
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
// takes the room of the other two).
#define TWOFOUR_SPARSE24_STREAM(NAME, CONV, MO, STAGES)                                                          \
  extern "C" __global__ void __launch_bounds__(32 * TWOFOUR_STREAM_WARPS, 1)                                     \
  NAME(const uint16_t* X, long long ldx, const uint8_t* values, const uint8_t* meta, uint16_t* Y, long long ldy, \
       int M, int N, int K, int chunksPerWarp, int prologue, int swiglu) {                                       \
    twofour_sparse24_stream<CONV, MO, STAGES>(X, ldx, values, meta, Y, ldy, M, N, K, chunksPerWarp, prologue, swiglu); \
  }
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_f16_mt8, F16, 1, 4)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_f16_mt16, F16, 2, 2)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_bf16_mt8, BF16, 1, 4)
TWOFOUR_SPARSE24_STREAM(twofour_sparse24_stream_bf16_mt16, BF16, 2, 2)
