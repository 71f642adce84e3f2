// Row-wise transformer ops around the GEMMs: row gather (embedding lookup, last-token gather),
// residual add fused with RMSNorm, RoPE fused with the KV-cache append, bias add, SwiGLU.
// Activations are [rows][cols] row-major with an explicit row stride (in elements), so the same
// kernels run on separate q/k/v tensors or on the column slices of one fused qkv GEMM output.
// Math is fp32; values are rounded to T where Hugging Face holds a T tensor between ops.
#pragma once
#include "tf_common.cuh"

namespace tf {

// out[r] = src[idx[r]] for r < gridDim.x. An index outside [0, numSrcRows) yields a row of NaN, so a
// bad token id shows up in the logits instead of reading foreign memory.
template <typename T>
__device__ void gather_rows(T* __restrict__ out, int outStride, const T* __restrict__ src, int srcStride,
                            const int* __restrict__ idx, int cols, int numSrcRows) {
    const int r = blockIdx.x;
    const int s = idx[r];
    T* o = out + (size_t)r * outStride;
    if (s < 0 || s >= numSrcRows) {
        for (int c = threadIdx.x; c < cols; c += blockDim.x) o[c] = from_f<T>(__int_as_float(0x7fc00000));
        return;
    }
    const T* in = src + (size_t)s * srcStride;
    const bool vec = (cols % 8) == 0 && ((reinterpret_cast<uintptr_t>(o) | reinterpret_cast<uintptr_t>(in)) & 15) == 0;
    if (vec) {
        const uint4* in4 = reinterpret_cast<const uint4*>(in);
        uint4* o4 = reinterpret_cast<uint4*>(o);
        for (int c = threadIdx.x; c < cols / 8; c += blockDim.x) o4[c] = in4[c];
    } else {
        for (int c = threadIdx.x; c < cols; c += blockDim.x) o[c] = in[c];
    }
}

// Per row: if delta != null, x += delta (rounded to T, written back); y = w * T(x * rsqrt(mean(x^2) + eps)).
// y may alias x (each thread reads its own elements before writing them).
// Launched with twofour_pdl_release only: it waits (twofour_pdl_wait) itself, after loading its slice of the weight
// w, which no kernel in the stream writes, so that load overlaps the previous kernel's tail instead of following
// the reduction (one memory round trip less on the critical path).
template <typename T>
__device__ void add_rmsnorm(T* x, int xStride, const T* delta, int dStride, const T* __restrict__ w,
                            T* y, int yStride, int cols, float eps) {
    __shared__ float scratch[32];
    const int r = blockIdx.x;
    T* xr = x + (size_t)r * xStride;
    T* yr = y + (size_t)r * yStride;
    const T* dr = delta == nullptr ? nullptr : delta + (size_t)r * dStride;
    const bool vec = (cols % 8) == 0 && cols / 8 <= 2 * (int)blockDim.x && (xStride % 8) == 0 && (yStride % 8) == 0
            && (dr == nullptr || (dStride % 8) == 0)
            && ((reinterpret_cast<uintptr_t>(xr) | reinterpret_cast<uintptr_t>(yr) | reinterpret_cast<uintptr_t>(dr)
                 | reinterpret_cast<uintptr_t>(w)) & 15) == 0;
    if (vec) {
        // up to two 16-byte chunks per thread, loaded once and kept in registers (one round trip to memory)
        uint4 wv[2];
#pragma unroll
        for (int u = 0; u < 2; u++) {
            const int c8 = threadIdx.x + u * blockDim.x;
            if (c8 < cols / 8) wv[u] = reinterpret_cast<const uint4*>(w)[c8];
        }
        twofour_pdl_wait();
        float v[2][8];
        float ss = 0.f;
#pragma unroll
        for (int u = 0; u < 2; u++) {
            const int c8 = threadIdx.x + u * blockDim.x;
            if (c8 < cols / 8) {
                uint4 xv = reinterpret_cast<const uint4*>(xr)[c8];
                const T* xe = reinterpret_cast<const T*>(&xv);
                if (dr != nullptr) {
                    const uint4 dv = reinterpret_cast<const uint4*>(dr)[c8];
                    const T* de = reinterpret_cast<const T*>(&dv);
                    uint4 sum;
                    T* se = reinterpret_cast<T*>(&sum);
#pragma unroll
                    for (int j = 0; j < 8; j++) {
                        v[u][j] = round_t<T>(to_f(xe[j]) + to_f(de[j]));
                        se[j] = from_f<T>(v[u][j]);
                    }
                    reinterpret_cast<uint4*>(xr)[c8] = sum;
                } else {
#pragma unroll
                    for (int j = 0; j < 8; j++) v[u][j] = to_f(xe[j]);
                }
#pragma unroll
                for (int j = 0; j < 8; j++) ss += v[u][j] * v[u][j];
            }
        }
        const float total = block_sum(ss, scratch);
        const float rs = 1.0f / sqrtf(total / (float)cols + eps);
#pragma unroll
        for (int u = 0; u < 2; u++) {
            const int c8 = threadIdx.x + u * blockDim.x;
            if (c8 < cols / 8) {
                const T* we = reinterpret_cast<const T*>(&wv[u]);
                uint4 out;
                T* oe = reinterpret_cast<T*>(&out);
#pragma unroll
                for (int j = 0; j < 8; j++) oe[j] = from_f<T>(to_f(we[j]) * round_t<T>(v[u][j] * rs));
                reinterpret_cast<uint4*>(yr)[c8] = out;
            }
        }
        return;
    }
    twofour_pdl_wait();
    float ss = 0.f;
    if (dr != nullptr) {
        for (int c = threadIdx.x; c < cols; c += blockDim.x) {
            const float v = round_t<T>(to_f(xr[c]) + to_f(dr[c]));
            xr[c] = from_f<T>(v);
            ss += v * v;
        }
    } else {
        for (int c = threadIdx.x; c < cols; c += blockDim.x) {
            const float v = to_f(xr[c]);
            ss += v * v;
        }
    }
    const float total = block_sum(ss, scratch);
    const float rs = 1.0f / sqrtf(total / (float)cols + eps);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        yr[c] = from_f<T>(to_f(w[c]) * round_t<T>(to_f(xr[c]) * rs));
    }
}

// Grid (rows, gy), block = (headDim / 2) x H threads: blocks (r, y) of token row r, at position positions[r], share
// its work:
//  - q (if not null): numHeads heads of headDim, rotated in place;
//  - k (if not null): numKvHeads heads, rotated in place when rotateK; then, when kCache is not null and
//    slots[r] >= 0, k (rotated) and v are written to cache slot slots[r] (cache layout [slot][numKvHeads*headDim]).
// Rotation: Hugging Face rotate_half order; pair j = (j, j + headDim/2), angle = fp32(position * invFreq[j]).
// Thread (j, hl) computes the angle of pair j once and rotates pair j of heads hl + H (y + gy i), q's and k's: a
// prefill of 2048 rows spent most of its 104 us per layer in sincosf when every (head, pair) computed its own. The
// launcher makes gy large for a few rows (decode: one head per thread, as before; a single block looping over all
// pairs of a row was latency-bound: 17 us for llama2-7b) and small for many.
template <typename T>
__device__ void rope_append(T* q, int qStride, int numHeads, T* k, int kStride, const T* v, int vStride,
                            int numKvHeads, int rotateK, const int* __restrict__ positions,
                            const int* __restrict__ slots, T* kCache, T* vCache,
                            const float* __restrict__ invFreq, int headDim) {
    const int r = blockIdx.x;
    const int half = headDim / 2;
    const int j = threadIdx.x % half, lanesH = blockDim.x / half;
    const int h0 = blockIdx.y * lanesH + threadIdx.x / half, hStep = gridDim.y * lanesH;
    float s = 0.f, c = 1.f;
    if (q != nullptr || rotateK) sincosf((float)positions[r] * invFreq[j], &s, &c);
    if (q != nullptr) {
        T* qr = q + (size_t)r * qStride + j;
        for (int h = h0; h < numHeads; h += hStep) {
            T* p = qr + h * headDim;
            const float a = to_f(p[0]), b = to_f(p[half]);
            p[0] = from_f<T>(a * c - b * s);
            p[half] = from_f<T>(b * c + a * s);
        }
    }
    if (k == nullptr) return;
    const int kvDim = numKvHeads * headDim;
    const int slot = (kCache != nullptr && slots != nullptr) ? slots[r] : -1;
    T* kr = k + (size_t)r * kStride + j;
    for (int h = h0; h < numKvHeads; h += hStep) {
        T* p = kr + h * headDim;
        T ra = p[0], rb = p[half];
        if (rotateK) {
            const float a = to_f(ra), b = to_f(rb);
            ra = from_f<T>(a * c - b * s);
            rb = from_f<T>(b * c + a * s);
            p[0] = ra;
            p[half] = rb;
        }
        if (slot >= 0) {
            T* dst = kCache + (size_t)slot * kvDim + h * headDim + j;
            dst[0] = ra;
            dst[half] = rb;
        }
    }
    if (slot >= 0) {
        const T* vr = v + (size_t)r * vStride;
        T* dst = vCache + (size_t)slot * kvDim;
        for (int i = blockIdx.y * blockDim.x + threadIdx.x; i < kvDim; i += gridDim.y * blockDim.x) dst[i] = vr[i];
    }
}

// y[r][c] += bias[c] (rounded to T), grid-stride over rows * cols.
template <typename T>
__device__ void add_bias(T* y, int yStride, const T* __restrict__ bias, int rows, int cols) {
    const long long n = (long long)rows * cols;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        const int r = (int)(i / cols), c = (int)(i - (long long)r * cols);
        T* p = y + (size_t)r * yStride + c;
        *p = from_f<T>(to_f(*p) + to_f(bias[c]));
    }
}

// out = T(silu(gate)) * up, rounded to T; as Hugging Face's act_fn(gate_proj(x)) * up_proj(x).
// out may alias gate (elementwise).
template <typename T>
__device__ void swiglu(const T* gate, int gStride, const T* up, int uStride, T* out, int oStride, int rows, int cols) {
    const long long n = (long long)rows * cols;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        const int r = (int)(i / cols), c = (int)(i - (long long)r * cols);
        const float g = to_f(gate[(size_t)r * gStride + c]);
        const float u = to_f(up[(size_t)r * uStride + c]);
        const float s = round_t<T>(g / (1.0f + expf(-g)));
        out[(size_t)r * oStride + c] = from_f<T>(s * u);
    }
}

// swiglu with 16-byte loads: grid (ceil(cols/8 / blockDim), rows), one chunk of 8 columns per thread. The
// launcher picks it when cols, the strides and the addresses allow 16-byte access. Same rounding as swiglu.
template <typename T>
__device__ void swiglu8(const T* gate, int gStride, const T* up, int uStride, T* out, int oStride, int cols) {
    const int r = blockIdx.y;
    const int c8 = blockIdx.x * blockDim.x + threadIdx.x;
    if (c8 >= cols / 8) return;
    const uint4 gv = reinterpret_cast<const uint4*>(gate + (size_t)r * gStride)[c8];
    const uint4 uv = reinterpret_cast<const uint4*>(up + (size_t)r * uStride)[c8];
    const T* ge = reinterpret_cast<const T*>(&gv);
    const T* ue = reinterpret_cast<const T*>(&uv);
    uint4 ov;
    T* oe = reinterpret_cast<T*>(&ov);
#pragma unroll
    for (int j = 0; j < 8; j++) {
        const float g = to_f(ge[j]);
        const float s = round_t<T>(g / (1.0f + expf(-g)));
        oe[j] = from_f<T>(s * to_f(ue[j]));
    }
    reinterpret_cast<uint4*>(out + (size_t)r * oStride)[c8] = ov;
}

// dst[i] = value for i < n (int32), used to reset per-sequence sampler state inside a stream.
__device__ void fill_i32(int* dst, long long n, int value) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) dst[i] = value;
}

}  // namespace tf

#define TF_ELEMENTWISE(T, SUF)                                                                                     \
extern "C" __global__ void tf_gather_rows_##SUF(T* out, int outStride, const T* src, int srcStride,                \
        const int* idx, int cols, int numSrcRows) {                                                                 \
    twofour_pdl_enter();                                                                                            \
    tf::gather_rows<T>(out, outStride, src, srcStride, idx, cols, numSrcRows);                                     \
}                                                                                                                   \
extern "C" __global__ void tf_add_rmsnorm_##SUF(T* x, int xStride, const T* delta, int dStride, const T* w,        \
        T* y, int yStride, int cols, float eps) {                                                                   \
    twofour_pdl_release();  /* add_rmsnorm calls twofour_pdl_wait after loading w */                                \
    tf::add_rmsnorm<T>(x, xStride, delta, dStride, w, y, yStride, cols, eps);                                      \
}                                                                                                                   \
extern "C" __global__ void tf_rope_append_##SUF(T* q, int qStride, int numHeads, T* k, int kStride, const T* v,    \
        int vStride, int numKvHeads, int rotateK, const int* positions, const int* slots, T* kCache, T* vCache,     \
        const float* invFreq, int headDim) {                                                                        \
    twofour_pdl_enter();                                                                                            \
    tf::rope_append<T>(q, qStride, numHeads, k, kStride, v, vStride, numKvHeads, rotateK, positions, slots,        \
                       kCache, vCache, invFreq, headDim);                                                           \
}                                                                                                                   \
extern "C" __global__ void tf_add_bias_##SUF(T* y, int yStride, const T* bias, int rows, int cols) {              \
    twofour_pdl_enter();                                                                                            \
    tf::add_bias<T>(y, yStride, bias, rows, cols);                                                                  \
}                                                                                                                   \
extern "C" __global__ void tf_swiglu_##SUF(const T* gate, int gStride, const T* up, int uStride, T* out,          \
        int oStride, int rows, int cols) {                                                                          \
    twofour_pdl_enter();                                                                                            \
    tf::swiglu<T>(gate, gStride, up, uStride, out, oStride, rows, cols);                                           \
}                                                                                                                   \
extern "C" __global__ void tf_swiglu8_##SUF(const T* gate, int gStride, const T* up, int uStride, T* out,         \
        int oStride, int cols) {                                                                                    \
    twofour_pdl_enter();                                                                                            \
    tf::swiglu8<T>(gate, gStride, up, uStride, out, oStride, cols);                                                \
}

TF_ELEMENTWISE(tf::f16, f16)
TF_ELEMENTWISE(tf::bf16, bf16)
#undef TF_ELEMENTWISE

extern "C" __global__ void tf_fill_i32(int* dst, long long n, int value) { twofour_pdl_enter(); tf::fill_i32(dst, n, value); }
