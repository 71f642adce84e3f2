// Packed 2:4 -> dense [N][K] (the same dtype): the dense twin of a packed weight, for cuBLAS
// baselines, cuSPARSELt compression (which starts from a dense 2:4 matrix) and checks.
// One thread per group of 4 outputs: zeros, then the two kept values at their metadata indices.
#pragma once
#include "common.cuh"

extern "C" __global__ void twofour_sparse24_unpack(const uint16_t* values, const uint8_t* meta, uint16_t* dense,
                                                   int n, int k) {
  const int kp = (k + 15) & ~15;
  const int groups = k / 4;
  const long long total = (long long)n * groups;
  for (long long i = twofour_global_index(); i < total; i += twofour_global_stride()) {
    const long long row = i / groups;
    const int g = (int)(i % groups);
    const unsigned nib = (meta[row * (kp / 8) + g / 2] >> (4 * (g & 1))) & 0xFu;
    const uint16_t v0 = values[row * (kp / 2) + 2 * g], v1 = values[row * (kp / 2) + 2 * g + 1];
    uint16_t* d = dense + row * k + 4LL * g;
#pragma unroll
    for (unsigned e = 0; e < 4; e++) d[e] = e == (nib & 3u) ? v0 : e == (nib >> 2) ? v1 : (uint16_t)0;
  }
}
