// Seeded pseudo-random fills (synthetic models, tests, benchmarks): out[i] = scale * u(seed, i),
// u uniform in [-1, 1] with |u| >= 2^-10, so the data is never zero (for scale >= 1e-4 in fp16).
// The sparse variant writes a random 2:4 weight directly in the packed layout (docs/FORMAT.md):
// values [N][Kp/2] and metadata [N][Kp/8] (one nibble per group of 4 inputs, low nibble for even
// groups, bits 0-1 = first kept index, bits 2-3 = second), padded groups (index >= K/4) = (0,1)
// with zero values. No dense intermediate is ever made.
#pragma once
#include "common.cuh"

extern "C" __global__ void twofour_fill_f32(float* out, long long n, unsigned long long seed, float scale) {
  for (long long i = twofour_global_index(); i < n; i += twofour_global_stride())
    out[i] = twofour_uniform(seed, (uint64_t)i) * scale;
}
extern "C" __global__ void twofour_fill_f16(uint16_t* out, long long n, unsigned long long seed, float scale) {
  for (long long i = twofour_global_index(); i < n; i += twofour_global_stride())
    out[i] = F16::fromFloat(twofour_uniform(seed, (uint64_t)i) * scale);
}
extern "C" __global__ void twofour_fill_bf16(uint16_t* out, long long n, unsigned long long seed, float scale) {
  for (long long i = twofour_global_index(); i < n; i += twofour_global_stride())
    out[i] = BF16::fromFloat(twofour_uniform(seed, (uint64_t)i) * scale);
}

// The six (first, second) index pairs of a group of 4, as nibbles first | second << 2.
__device__ __forceinline__ unsigned twofour_pattern_nibble(unsigned p) {
  // (0,1)=0x4 (0,2)=0x8 (0,3)=0xC (1,2)=0x9 (1,3)=0xD (2,3)=0xE
  return (0xED9C84u >> (4 * p)) & 0xFu;
}

// One thread per metadata byte (two groups, four values). Metadata uses seed ^ constant so the
// pattern and the values are independent streams.
template <typename Conv>
__device__ __forceinline__ void twofour_fill_sparse24(uint16_t* values, uint8_t* meta, int n, int k,
                                                      unsigned long long seed, float scale) {
  const int kp = (k + 15) & ~15;
  const long long bytesPerRow = kp / 8;
  const long long total = (long long)n * bytesPerRow;
  const int groups = k / 4;
  for (long long b = twofour_global_index(); b < total; b += twofour_global_stride()) {
    const long long row = b / bytesPerRow;
    const int g0 = (int)(b % bytesPerRow) * 2;
    unsigned byte = 0;
    for (int h = 0; h < 2; h++) {
      const int g = g0 + h;
      const long long v = row * (kp / 2) + 2LL * g;
      unsigned nib;
      if (g < groups) {
        nib = twofour_pattern_nibble((unsigned)(twofour_mix(seed ^ 0x5DEECE66DA3B1F27ull, (uint64_t)(row * (kp / 4) + g)) % 6));
        values[v] = Conv::fromFloat(twofour_uniform(seed, (uint64_t)v) * scale);
        values[v + 1] = Conv::fromFloat(twofour_uniform(seed, (uint64_t)(v + 1)) * scale);
      } else {
        nib = 0x4;  // padding: indices (0,1), values zero
        values[v] = 0;
        values[v + 1] = 0;
      }
      byte |= nib << (4 * h);
    }
    meta[b] = (uint8_t)byte;
  }
}
extern "C" __global__ void twofour_fill_sparse24_f16(uint16_t* values, uint8_t* meta, int n, int k,
                                                     unsigned long long seed, float scale) {
  twofour_fill_sparse24<F16>(values, meta, n, k, seed, scale);
}
extern "C" __global__ void twofour_fill_sparse24_bf16(uint16_t* values, uint8_t* meta, int n, int k,
                                                      unsigned long long seed, float scale) {
  twofour_fill_sparse24<BF16>(values, meta, n, k, seed, scale);
}
