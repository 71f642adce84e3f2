// Shared helpers: element types, conversions to and from fp32, the counter-based hash.
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>

// fp16 / bf16 are moved around as raw 16-bit words; these convert with round-to-nearest-even.
struct F16 {
  static __device__ __forceinline__ float toFloat(uint16_t b) { return __half2float(__ushort_as_half(b)); }
  static __device__ __forceinline__ uint16_t fromFloat(float f) { return __half_as_ushort(__float2half_rn(f)); }
};
struct BF16 {
  static __device__ __forceinline__ float toFloat(uint16_t b) { return __bfloat162float(__ushort_as_bfloat16(b)); }
  static __device__ __forceinline__ uint16_t fromFloat(float f) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }
};

// splitmix64 finaliser over (seed + index * golden ratio): a counter-based generator, so any
// element can be produced independently and the Java reference (dev.twofour.kernels.ref.RandomFillRef)
// reproduces it bit for bit.
__device__ __forceinline__ uint64_t twofour_mix(uint64_t seed, uint64_t index) {
  uint64_t z = seed + index * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [-1, 1] with magnitude at least 2^-10 (never zero), from the top 24 bits of the hash:
// (2k + 1 - 2^24) / 2^24 is exact in fp32 and never 0.
__device__ __forceinline__ float twofour_uniform(uint64_t seed, uint64_t index) {
  int k = (int)(twofour_mix(seed, index) >> 40);
  float v = (float)(2 * k + 1 - 16777216) * (1.0f / 16777216.0f);
  float a = fmaxf(fabsf(v), 0.0009765625f);
  return copysignf(a, v);
}

__device__ __forceinline__ long long twofour_global_index() {
  return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ long long twofour_global_stride() {
  return (long long)gridDim.x * blockDim.x;
}

// Programmatic dependent launch (Kernels.launchDependent; sm_90+, no-ops on older GPUs). A kernel launched so
// may start while the previous kernel in the stream is still running:
//  - twofour_pdl_release(): lets the NEXT kernel launch now; called first thing, so the next kernel's launch
//    latency and prologue overlap this kernel's tail (its blocks only become resident where there is room, and
//    only after every block of this kernel has started, so they never crowd this kernel out).
//  - twofour_pdl_wait(): returns when the previous kernel has finished and its writes are visible. Must come
//    before the first read or write of memory that another kernel writes or reads (activations, workspaces,
//    counters, the KV cache). Only reads of data no kernel in the stream writes (weights) may precede it.
// Every kernel launched with launchDependent calls twofour_pdl_wait, so the completion of kernel i implies that of
// i-1. Without twofour_pdl_release the next kernel launches when this one exits (the weight-streaming kernels
// make that a choice: Kernels.gemvPrologue).
__device__ __forceinline__ void twofour_pdl_release() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void twofour_pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
// The prologue of a kernel with nothing to do before its inputs are ready.
__device__ __forceinline__ void twofour_pdl_enter() {
  twofour_pdl_release();
  twofour_pdl_wait();
}
// Asks for the 128-byte line at p to be brought into L2 (no registers, no completion to wait for).
__device__ __forceinline__ void twofour_prefetch_l2(const void* p) {
  asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
}

// cp.async (sm_80+): 16 bytes global -> shared, bypassing L1; src_bytes = 0 writes 16 zero bytes and reads nothing.
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

// 2:4 GEMM accumulators of MO token octets x 2 (the two MMAs of a group pair) x 4 (the C fragment), all zero.
template <int MO>
__device__ __forceinline__ void twofour_zero_acc(float (&acc)[MO][2][4]) {
#pragma unroll
  for (int o = 0; o < MO; o++)
#pragma unroll
    for (int h = 0; h < 2; h++)
#pragma unroll
      for (int i = 0; i < 4; i++) acc[o][h][i] = 0.f;
}
