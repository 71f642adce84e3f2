// fp16 / bf16 <-> fp32 conversions, round-to-nearest-even on the way down (NaN stays NaN,
// overflow goes to infinity), exact on the way up. Grid-stride loops: any grid size works.
#pragma once
#include "common.cuh"

extern "C" __global__ void twofour_f16_to_f32(const uint16_t* in, float* out, long long n) {
  for (long long i = twofour_global_index(); i < n; i += twofour_global_stride()) out[i] = F16::toFloat(in[i]);
}
extern "C" __global__ void twofour_bf16_to_f32(const uint16_t* in, float* out, long long n) {
  for (long long i = twofour_global_index(); i < n; i += twofour_global_stride()) out[i] = BF16::toFloat(in[i]);
}
extern "C" __global__ void twofour_f32_to_f16(const float* in, uint16_t* out, long long n) {
  for (long long i = twofour_global_index(); i < n; i += twofour_global_stride()) out[i] = F16::fromFloat(in[i]);
}
extern "C" __global__ void twofour_f32_to_bf16(const float* in, uint16_t* out, long long n) {
  for (long long i = twofour_global_index(); i < n; i += twofour_global_stride()) out[i] = BF16::fromFloat(in[i]);
}

// Plain 16-byte copy: the bandwidth ceiling the memory-bound kernels are measured against
// (bytes read + bytes written), as a kernel rather than a driver memcpy.
extern "C" __global__ void twofour_copy16(const uint4* in, uint4* out, long long n16) {
  for (long long i = twofour_global_index(); i < n16; i += twofour_global_stride()) out[i] = __ldcs(in + i);
}
