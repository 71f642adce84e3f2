// Elementwise ops in fp32 math over fp32 / fp16 / bf16 storage.
//   axpby:  y[i] = a * x[i] + b * y[i]            (residual adds, scaled updates)
//   swiglu: out[r][c] = silu(gate[r][c]) * up[r][c], silu(v) = v / (1 + exp(-v)); rows with their own
//           strides so gate and up can be the two halves of one fused gate/up GEMM output.
#pragma once
#include "common.cuh"

struct F32 {
  static __device__ __forceinline__ float load(const float* p, long long i) { return p[i]; }
  static __device__ __forceinline__ void store(float* p, long long i, float v) { p[i] = v; }
};
template <typename Conv> struct Half16 {
  static __device__ __forceinline__ float load(const uint16_t* p, long long i) { return Conv::toFloat(p[i]); }
  static __device__ __forceinline__ void store(uint16_t* p, long long i, float v) { p[i] = Conv::fromFloat(v); }
};

template <typename Io, typename E>
__device__ __forceinline__ void twofour_axpby(const E* x, E* y, long long n, float a, float b) {
  for (long long i = twofour_global_index(); i < n; i += twofour_global_stride())
    Io::store(y, i, a * Io::load(x, i) + b * Io::load(y, i));
}
extern "C" __global__ void twofour_axpby_f32(const float* x, float* y, long long n, float a, float b) {
  twofour_axpby<F32>(x, y, n, a, b);
}
extern "C" __global__ void twofour_axpby_f16(const uint16_t* x, uint16_t* y, long long n, float a, float b) {
  twofour_axpby<Half16<F16>>(x, y, n, a, b);
}
extern "C" __global__ void twofour_axpby_bf16(const uint16_t* x, uint16_t* y, long long n, float a, float b) {
  twofour_axpby<Half16<BF16>>(x, y, n, a, b);
}

template <typename Io, typename E>
__device__ __forceinline__ void twofour_swiglu(const E* gate, long long ldg, const E* up, long long ldu,
                                               E* out, long long ldo, int rows, int cols) {
  const long long total = (long long)rows * cols;
  for (long long i = twofour_global_index(); i < total; i += twofour_global_stride()) {
    const long long r = i / cols, c = i % cols;
    const float g = Io::load(gate, r * ldg + c);
    const float u = Io::load(up, r * ldu + c);
    Io::store(out, r * ldo + c, g / (1.0f + expf(-g)) * u);
  }
}
extern "C" __global__ void twofour_swiglu_f32(const float* gate, long long ldg, const float* up, long long ldu,
                                              float* out, long long ldo, int rows, int cols) {
  twofour_swiglu<F32>(gate, ldg, up, ldu, out, ldo, rows, cols);
}
extern "C" __global__ void twofour_swiglu_f16(const uint16_t* gate, long long ldg, const uint16_t* up, long long ldu,
                                              uint16_t* out, long long ldo, int rows, int cols) {
  twofour_swiglu<Half16<F16>>(gate, ldg, up, ldu, out, ldo, rows, cols);
}
extern "C" __global__ void twofour_swiglu_bf16(const uint16_t* gate, long long ldg, const uint16_t* up, long long ldu,
                                               uint16_t* out, long long ldo, int rows, int cols) {
  twofour_swiglu<Half16<BF16>>(gate, ldg, up, ldu, out, ldo, rows, cols);
}
