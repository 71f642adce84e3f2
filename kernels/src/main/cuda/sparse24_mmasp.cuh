// The 2:4 decode GEMM's inner step on the sparse tensor-core MMA (issue 6: "mma.sp or FMA: measure and keep the
// faster"). twofour_mma_chunk (sparse24_gemm.cuh) expands every 2:4 group into 4 dense fp16 slots with two byte
// permutes and feeds a dense mma.m16n8k16; twofour_mmasp_window below gives the packed values to
// mma.sp::ordered_metadata.m16n8k32 as they are and lets the tensor core place them from our metadata.
//
// PTX facts relied on (PTX ISA 9.x, docs.nvidia.com/cuda/parallel-thread-execution):
//  #warp-level-matrix-fragment-sparse-mma-16832-f16bf16 (fragments; lane = 4g + t):
//   A: 4 b32 registers, each the 2 kept values of one 4-wide group of a row (the lower index in the low half):
//      a0 = row g, cols 4t..4t+3; a1 = row g+8, cols 4t..4t+3; a2 = row g, cols 16+4t..; a3 = row g+8, cols 16+4t..
//   B: 4 b32 registers; register j holds k = 8j+2t (low half) and 8j+2t+1 (high half) of column n = g.
//   C, D: as mma.m16n8k16: d0, d1 = row g, columns 2t, 2t+1; d2, d3 = row g+8.
//   Metadata: the figure (122) is an image; its content as CUTLASS encodes it (cute/atom/mma_traits_sm80_sparse.hpp,
//   ELayout of SM80_SPARSE_16x8x32): of the quad's lane pair that supplies metadata, the even lane covers cols 0-15,
//   the odd lane cols 16-31; bits 0-15 of its word are row g, bits 16-31 row g+8; group q of those 16 columns is
//   the nibble at bits 4q..4q+3, nibble = i0 | i1 << 2.
//  #warp-level-sparse-matrix-storage: for m16n8k32 f16/bf16 the sparsity selector is 0 (lanes T0, T1 of every
//   quad supply the metadata) or 1 (T2, T3). For ::ordered_metadata only the nibbles 0x4, 0x8, 0x9, 0xC, 0xD, 0xE
//   (i0 < i1) are meaningful, anything else is undefined.
//  #warp-level-matrix-instructions-sparse-mma: operand f (the selector) is "a 32-bit integer constant" (an
//   immediate: hence the template parameter); plain mma.sp "may have substantially reduced performance on some
//   target architectures" and the ordered form is advised; mma.sp::ordered_metadata needs PTX ISA 8.5 and sm_80+.
//   Our format always has i0 < i1 (empty and padded groups are (0,1) = 0x4: docs/FORMAT.md), so the ordered form is
//   exact for every weight we store. A caller that masks a row (beyond N, beyond K) must pass metadata 0x4444 with
//   zero values, NOT metadata 0 (0x0 is undefined for the ordered form).
//
// How a window maps onto the two MMAs. Lane t of a quad holds chunk t of the 64-input window (groups 4t..4t+3,
// inputs 16t..16t+15; word q of vA/vB = group 4t+q of row g/g+8). MMA h (h = 0, 1) takes words 2h and 2h+1 of every
// lane: its group j < 4 is window group 4j+2h (lane j's word 2h), its group j+4 is window group 4j+2h+1 (lane j's
// word 2h+1). So the A operands are the loaded words themselves (no permutes), and MMA column 4J+s is window input
//   16*(J&3) + 4*(2h + (J>>2)) + s.
// MMA h uses sparsity selector h: lane t supplies metadata for MMA t>>1, columns 16*(t&1).., i.e. window groups
// 4j+t (j = 0..3): nibble t of every lane of the quad. That is a 4x4 nibble transpose across the quad
// (twofour_mmasp_meta: two shuffles); both MMAs then read the same metadata register.
// B: register j of MMA h for lane t holds window inputs 32(j&1) + 16(t>>1) + 8h + 4(j>>1) + 2(t&1) + {0, 1} of token
// 8o+g: one 32-bit shared load each (8 per token octet and window). Bank conflicts: one load reads words
// {0, 1, 8, 9} + (row stride in words) * g; no row stride makes those 32 banks distinct, so a load costs 2
// wavefronts (e.g. with the classic kernel's stride = 4 words mod 32, every bank is hit twice).
//
// Cost, SASS instructions per 64-input window and lane (nvcc 13, sm_90; sm_80 within 6), counted from the size of
// unrolled test kernels, weight loads included (4 in both): MAY_BE_NULL = false 28 / 40 / 72 for 1 / 2 / 4 token
// octets, against 66 / 72 / 84 for twofour_mma_chunk with its X loads (the classic kernel's per-window step). Per
// octet this path issues 2 sparse MMAs (classic: 4 dense) but 8 32-bit shared loads (classic: 2 of 16 bytes); per
// window it saves the 8 table reads, 16 permutes and the nibble arithmetic, and pays 2 shuffles + 4 ALU for the
// metadata and about 8 register moves (the interleaved A quads). With MAY_BE_NULL = true the null test makes the
// compiler branch per octet: 38 / 100 / 176.
//
// Java twin of every index formula here: kernels/src/test/java/dev/twofour/kernels/ref/MmaSpEmulationTest.java
// (it emulates the lanes and the instruction as the PTX ISA defines it). GPU check: MmaSpGpuTest, on the probe kernels
// at the end of this file.
#pragma once
#include "common.cuh"

// MmaSp<Conv>::run<SEL>: D += A(sparse) x B with sparsity selector SEL. The instruction's type must be a literal in the
// asm string, hence one specialization per element type, written once here.
template <typename Conv> struct MmaSp;
#define TWOFOUR_MMASP_SPECIALIZATION(CONV, PTX_TYPE)                                                            \
  template <> struct MmaSp<CONV> {                                                                            \
    template <int SEL>                                                                                        \
    static __device__ __forceinline__ void run(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, \
                                               uint32_t b0, uint32_t b1, uint32_t b2, uint32_t b3, uint32_t e) {  \
      asm volatile("mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32." PTX_TYPE "." PTX_TYPE ".f32 "    \
                   "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, %13;\n"                  \
                   : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                                            \
                   : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "r"(b2), "r"(b3), "r"(e), "n"(SEL)); \
    }                                                                                                         \
  };
TWOFOUR_MMASP_SPECIALIZATION(F16, "f16")
TWOFOUR_MMASP_SPECIALIZATION(BF16, "bf16")
#undef TWOFOUR_MMASP_SPECIALIZATION

// The metadata word lane t supplies: nibble t of the 16-bit metadata of every lane j of its quad, placed at nibble j;
// row g in bits 0-15, row g+8 in bits 16-31. Seen as a 4x4 nibble matrix per row (lane = matrix row, nibble =
// column), this is the transpose, done in two butterfly steps on both rows at once.
__device__ __forceinline__ uint32_t twofour_mmasp_meta(uint32_t mA, uint32_t mB, int t) {
  // The lane constants below are arithmetic rather than selects so that they hoist out of a caller's loop.
  const uint32_t blockSel = (0x37156240u >> ((t & 2) << 3)) & 0xFFFFu;  // lanes 0, 1: 0x6240; lanes 2, 3: 0x3715
  const uint32_t keep = 0x0F0F0F0Fu << ((t & 1) << 2);                 // even lanes: even nibbles; odd: odd
  const uint32_t rot = 28u - 24u * (uint32_t)(t & 1);                   // rotate left 4 (even) / right 4 (odd)
  uint32_t m = __byte_perm(mA, mB, 0x5410u);  // mA's low 16 bits | mB's low 16 bits << 16
  // Step 1, partner t^2: exchange the off-diagonal 2x2 blocks. Lanes 0, 1 keep nibbles 0-1 (byte 0 of each half)
  // and take the partner's nibbles 0-1 as their nibbles 2-3; lanes 2, 3 keep nibbles 2-3 and take the partner's
  // nibbles 2-3 as their nibbles 0-1.
  uint32_t o = __shfl_xor_sync(0xffffffffu, m, 2);
  m = __byte_perm(m, o, blockSel);
  // Step 2, partner t^1: exchange the off-diagonal nibbles of each 2x2 block. Even lanes keep their even nibbles
  // and take the partner's even nibbles as their odd ones (rotated left by a nibble); odd lanes the other way round.
  o = __shfl_xor_sync(0xffffffffu, m, 1);
  const uint32_t moved = __funnelshift_r(o, o, rot);
  return (m & keep) | (moved & ~keep);
}

// One 64-input window of rows g and g+8 (g = lane >> 2) times the tokens 8o + g (o < MO) whose inputs xq[o] points
// at (shared memory, 4-byte aligned, 64 contiguous fp16/bf16 values; nullptr = token beyond M, inputs zero).
// Lane t = lane & 3 passes chunk t of the window: vA, vB = its 16-byte value loads of rows g, g+8 (8 values =
// 4 groups), mA, mB = their 16-bit metadata (group q in bits 4q..4q+3; a masked row: values 0, metadata 0x4444).
// Adds the products to acc[o][0] (groups 4t, 4t+1 of every chunk) and acc[o][1] (groups 4t+2, 4t+3): after the
// last window acc[o][0][i] + acc[o][1][i] is the m16n8 C fragment (i = 0, 1: row g, tokens 8o+2t, 8o+2t+1;
// i = 2, 3: row g+8), as twofour_mma_chunk leaves it. Warp-collective: the whole warp calls it, converged.
// Needs 1-D blocks (the lane is threadIdx.x & 31) and sm_80+.
// MAY_BE_NULL = false promises that no xq[o] is nullptr (a caller that stages zeros for tokens beyond M, as the
// classic kernel does): that saves zeroing the 8 B registers of every octet (4 instructions) and the predicates.
// The A operands interleave the two rows' loads ({vA.x, vB.x, vA.y, vB.y} must be one register quad), which costs
// register moves; MMA 0 of every octet is issued before MMA 1 of any so that one copy of each quad serves all octets.
template <typename Conv, int MO, bool MAY_BE_NULL = true>
__device__ __forceinline__ void twofour_mmasp_window(float (&acc)[MO][2][4], const uint4& vA, const uint4& vB,
                                                    uint32_t mA, uint32_t mB, const uint16_t* const (&xq)[MO]) {
  const int t = threadIdx.x & 3;
  const uint32_t e = twofour_mmasp_meta(mA, mB, t);
  const int laneOffset = 16 * (t >> 1) + 2 * (t & 1);  // inputs: see the B formula in the header comment
  // b[o][4h + j] = inputs 32(j&1) + 8h + 4(j>>1) past laneOffset: 32-bit word 16(j&1) + 4h + 2(j>>1).
  uint32_t b[MO][8];
#pragma unroll
  for (int o = 0; o < MO; o++) {
    // No pointer arithmetic on a null xq[o]: the compiler could then assume it non-null and drop the test.
    if (!MAY_BE_NULL || xq[o] != nullptr) {
      const uint32_t* xw = reinterpret_cast<const uint32_t*>(xq[o] + laneOffset);
#pragma unroll
      for (int h = 0; h < 2; h++)
#pragma unroll
        for (int j = 0; j < 4; j++) b[o][4 * h + j] = xw[16 * (j & 1) + 4 * h + 2 * (j >> 1)];
    } else {
#pragma unroll
      for (int i = 0; i < 8; i++) b[o][i] = 0u;
    }
  }
#pragma unroll
  for (int o = 0; o < MO; o++)
    MmaSp<Conv>::template run<0>(acc[o][0], vA.x, vB.x, vA.y, vB.y, b[o][0], b[o][1], b[o][2], b[o][3], e);
#pragma unroll
  for (int o = 0; o < MO; o++)
    MmaSp<Conv>::template run<1>(acc[o][1], vA.z, vB.z, vA.w, vB.w, b[o][4], b[o][5], b[o][6], b[o][7], e);
}

// ---- Probe kernels (tests only: MmaSpGpuTest) ----
// Y[M][N] (fp32) = X[M][K] · Wᵀ with W [N][K] in our packed layout, K a multiple of 64 (so Kp = K), M <= 16.
// One CTA of one warp per 16 rows (grid = ceil(N / 16), block = 32). Lane t loads chunk t of each window with the
// classic kernel's lane mapping; rows beyond N load row 0 and are masked to values 0, metadata 0x4444. X's window
// for all 16 tokens is staged in shared memory, tokens beyond M as zeros; xq holds nullptr for them (MAY_BE_NULL)
// or points at their zero rows (the _nonnull kernels, as a caller with zero-padded staging would).
#define TWOFOUR_MMASP_XSTRIDE 72  // 64 inputs + 8: a row is 36 words, 4 mod 32, as the classic kernel's staging

template <typename Conv, bool MAY_BE_NULL>
__device__ __forceinline__ void twofour_mmasp_probe(const uint8_t* __restrict__ values, const uint8_t* __restrict__ meta,
                                                    const uint16_t* __restrict__ X, float* __restrict__ Y, int M, int N,
                                                    int K) {
  constexpr int MO = 2;
  __shared__ __align__(16) uint16_t xs[16 * TWOFOUR_MMASP_XSTRIDE];
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int rowA = blockIdx.x * 16 + g, rowB = rowA + 8;
  const bool okA = rowA < N, okB = rowB < N;
  // A row holds K/2 values of 2 bytes (K bytes) and K/8 metadata bytes.
  const uint8_t* valA = values + (size_t)(okA ? rowA : 0) * K;
  const uint8_t* valB = values + (size_t)(okB ? rowB : 0) * K;
  const uint8_t* metA = meta + (size_t)(okA ? rowA : 0) * (K / 8);
  const uint8_t* metB = meta + (size_t)(okB ? rowB : 0) * (K / 8);
  const uint16_t* xq[MO];
#pragma unroll
  for (int o = 0; o < MO; o++) xq[o] = (!MAY_BE_NULL || 8 * o + g < M) ? xs + (8 * o + g) * TWOFOUR_MMASP_XSTRIDE : nullptr;

  float acc[MO][2][4];
  twofour_zero_acc(acc);

  for (int w = 0; w < K / 64; w++) {
    __syncwarp();  // the previous window's shared reads are done
    for (int i = lane; i < 16 * 8; i += 32) {  // 16 tokens x 8 vectors of 8 inputs
      const int m = i >> 3, v = i & 7;
      uint4 val = make_uint4(0, 0, 0, 0);
      if (m < M) val = __ldg(reinterpret_cast<const uint4*>(X + (size_t)m * K + 64 * w + 8 * v));
      *reinterpret_cast<uint4*>(xs + m * TWOFOUR_MMASP_XSTRIDE + 8 * v) = val;
    }
    const int chunk = 4 * w + t;
    uint4 vA = __ldg(reinterpret_cast<const uint4*>(valA + (size_t)chunk * 16));
    uint4 vB = __ldg(reinterpret_cast<const uint4*>(valB + (size_t)chunk * 16));
    uint32_t mA = __ldg(reinterpret_cast<const unsigned short*>(metA + (size_t)chunk * 2));
    uint32_t mB = __ldg(reinterpret_cast<const unsigned short*>(metB + (size_t)chunk * 2));
    if (!okA) { vA = make_uint4(0, 0, 0, 0); mA = 0x4444u; }
    if (!okB) { vB = make_uint4(0, 0, 0, 0); mB = 0x4444u; }
    __syncwarp();  // X staged, and the warp converged for mma.sync
    twofour_mmasp_window<Conv, MO, MAY_BE_NULL>(acc, vA, vB, mA, mB, xq);
  }

#pragma unroll
  for (int o = 0; o < MO; o++)
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int m = 8 * o + 2 * t + (i & 1);
      const int row = (i < 2) ? rowA : rowB;
      if (m < M && row < N) Y[(size_t)m * N + row] = acc[o][0][i] + acc[o][1][i];
    }
}

#define TWOFOUR_MMASP_PROBE(NAME, CONV, MAY_BE_NULL)                                                            \
  extern "C" __global__ void __launch_bounds__(32)                                                                \
  NAME(const uint8_t* values, const uint8_t* meta, const uint16_t* X, float* Y, int M, int N, int K) {           \
    twofour_mmasp_probe<CONV, MAY_BE_NULL>(values, meta, X, Y, M, N, K);                                         \
  }
TWOFOUR_MMASP_PROBE(twofour_mmasp_probe_f16, F16, true)
TWOFOUR_MMASP_PROBE(twofour_mmasp_probe_bf16, BF16, true)
TWOFOUR_MMASP_PROBE(twofour_mmasp_probe_nonnull_f16, F16, false)
TWOFOUR_MMASP_PROBE(twofour_mmasp_probe_nonnull_bf16, BF16, false)
