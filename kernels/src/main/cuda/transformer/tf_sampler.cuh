// Logits processing and sampling on the GPU, one block of 1024 threads per row (sequence), so a decode
// step can be captured in a CUDA graph and never wait for the host until the ids are ready.
//
// Order (as Hugging Face's processors/warpers): repetition penalty (HF: logit > 0 ? /p : *p, for tokens seen
// in the prompt or output), frequency and presence penalties (OpenAI: -= freq*count + pres*[count>0], output
// tokens only), temperature, top-k, top-p, min-p, then a draw. Greedy (temperature <= 0 or top_k == 1):
// argmax of the penalised logits, lowest index on ties (torch.argmax).
// Each filter keeps all tokens with a logit >= some threshold (ties kept, as HF's top-k); thresholds are
// found by a 3-pass radix select over order-preserving 32-bit keys of the logits (11/11/10 bits), no sort.
// Probabilities are exp(z - max) in 32.32 fixed point (uint64), so every sum is exact and the draw is
// reproducible: the uniform number comes from Philox4x32-10 keyed by the row's 64-bit seed with counter
// = the slot's step count, which the kernel itself increments (a graph replay advances it).
//
// counts[slot][V] (optional): bits 0-23 = times the token was generated, bit 30 = token is in the prompt.
#pragma once
#include "tf_common.cuh"

namespace tf {

constexpr int SAMPLE_THREADS = 1024;
constexpr unsigned long long ULL_ONE = 1ull;

__device__ __forceinline__ uint32_t order_key(float z) {
    const uint32_t u = __float_as_uint(z);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// exp(z - m) in 32.32 fixed point (z <= m); the Java reference computes the same expression.
__device__ __forceinline__ unsigned long long prob_fix(float z, float m) {
    return (unsigned long long)(exp2f((z - m) * 1.44269504f) * 4294967296.0f);
}

__device__ __forceinline__ unsigned long long warp_sum_u64(unsigned long long v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ unsigned long long warp_incl_scan_u64(unsigned long long v, int lane) {
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const unsigned long long n = __shfl_up_sync(0xffffffffu, v, o);
        if (lane >= o) v += n;
    }
    return v;
}

// Inclusive scan over the 1024 threads of the block; scratch: 32 u64 of shared memory.
__device__ __forceinline__ unsigned long long block_incl_scan_u64(unsigned long long v, unsigned long long* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_incl_scan_u64(v, lane);
    __syncthreads();
    if (lane == 31) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        const unsigned long long t = scratch[lane];
        const unsigned long long s = warp_incl_scan_u64(t, lane);
        scratch[lane] = s - t;  // exclusive prefix of warp totals
    }
    __syncthreads();
    return v + scratch[warp];
}

__device__ __forceinline__ unsigned long long block_sum_u64(unsigned long long v, unsigned long long* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum_u64(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    return warp_sum_u64(scratch[lane]);
}

struct SampleShared {
    unsigned long long hist[2048];
    unsigned long long scan[32];
    float bestV[32];
    int bestI[32];
    uint32_t digit;
    unsigned long long above;
    int warpSel;
    unsigned long long rem;
    int found;
};

// Largest key K >= floorKey with sum over {i : key_i >= K} of w_i >= target, w_i = 1 (countMode) or
// prob_fix(z_i, m). Requires the total over key >= floorKey to reach target (the caller checks).
__device__ uint32_t radix_select(const float* lg, int V, float m, bool countMode, unsigned long long target,
                                 uint32_t floorKey, SampleShared& sh) {
    uint32_t prefix = 0, mask = 0;
    unsigned long long above = 0;
    for (int level = 0; level < 3; level++) {
        const int shift = level == 0 ? 21 : (level == 1 ? 10 : 0);
        const int nb = level == 2 ? 1024 : 2048;
        for (int i = threadIdx.x; i < nb; i += SAMPLE_THREADS) sh.hist[i] = 0;
        __syncthreads();
        for (int i = threadIdx.x; i < V; i += SAMPLE_THREADS) {
            const float z = lg[i];
            const uint32_t key = order_key(z);
            if (key < floorKey || (key & mask) != prefix) continue;
            const unsigned long long w = countMode ? ULL_ONE : prob_fix(z, m);
            if (w != 0) atomicAdd(&sh.hist[(key >> shift) & (nb - 1)], w);
        }
        __syncthreads();
        // Thread j owns bins nb-1-j*per .. (descending); find the digit where the mass from the top reaches target.
        const int per = nb / SAMPLE_THREADS;
        unsigned long long local = 0;
        for (int e = 0; e < per; e++) local += sh.hist[nb - 1 - threadIdx.x * per - e];
        const unsigned long long incl = block_incl_scan_u64(local, sh.scan);
        const unsigned long long before = incl - local;
        if (above + before < target && above + incl >= target) {
            unsigned long long run = above + before;
            for (int e = 0; e < per; e++) {
                const int bin = nb - 1 - threadIdx.x * per - e;
                if (run + sh.hist[bin] >= target) {
                    sh.digit = (uint32_t)bin;
                    sh.above = run;
                    break;
                }
                run += sh.hist[bin];
            }
        }
        __syncthreads();
        prefix |= sh.digit << shift;
        mask |= (uint32_t)(nb - 1) << shift;
        above = sh.above;
        __syncthreads();
    }
    return prefix;
}

// One logit after the penalties of its token (count c: bits 0-23 generated count, c == 0: never seen) and the
// temperature (not for greedy rows); NaN becomes -inf so it is never sampled.
__device__ __forceinline__ float adjust_logit(float z, int c, float rep, float freq, float pres, bool greedy,
                                              float temperature) {
    if (c != 0) {
        const int gen = c & 0xFFFFFF;
        if (rep != 1.f) z = z > 0.f ? z / rep : z * rep;
        z -= freq * (float)gen + (gen > 0 ? pres : 0.f);
    }
    if (!greedy) {
        z = z / temperature;
        if (isnan(z)) z = -INFINITY;
    }
    return z;
}

// grid (rows), block 1024. fparams[row] = {temperature, topP, minP, repetition, frequency, presence};
// iparams[row] = {topK, slot, seedLo, seedHi}; slot < 0: no counts, RNG counter 0.
// outIds[row] = the id (-1 when every logit is NaN); nextTokens (optional) gets a copy for the next step.
__device__ void sample(float* logits, int V, long long ldLogits, const float* __restrict__ fparams,
                       const int* __restrict__ iparams, int* stepCounter, int* counts, int* outIds, int* nextTokens) {
    __shared__ SampleShared sh;
    const int row = blockIdx.x, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    float* lg = logits + (size_t)row * ldLogits;
    const float temperature = fparams[row * 6 + 0], topP = fparams[row * 6 + 1], minP = fparams[row * 6 + 2];
    const float rep = fparams[row * 6 + 3], freq = fparams[row * 6 + 4], pres = fparams[row * 6 + 5];
    const int topK = iparams[row * 4 + 0], slot = iparams[row * 4 + 1];
    const uint32_t seedLo = (uint32_t)iparams[row * 4 + 2], seedHi = (uint32_t)iparams[row * 4 + 3];
    int* cnt = (counts != nullptr && slot >= 0) ? counts + (size_t)slot * V : nullptr;
    const bool greedy = !(temperature > 0.f) || topK == 1;
    const bool penal = cnt != nullptr && (rep != 1.f || freq != 0.f || pres != 0.f);

    // pass A: penalties, temperature, max / argmax (lowest index on ties). 16-byte loads, several in flight per
    // thread (a scalar loop was one L2 round trip per element per thread: ~8 us for 32000 logits at batch 1).
    float best = -INFINITY;
    int bestI = 0x7fffffff;
    const int V4 = (reinterpret_cast<uintptr_t>(lg) & 15) == 0 ? V / 4 : 0;
    if (!penal && greedy) {  // the decode default: read only
#pragma unroll 4
        for (int i4 = tid; i4 < V4; i4 += SAMPLE_THREADS) {
            const float4 z4 = reinterpret_cast<const float4*>(lg)[i4];
            const float zs[4] = {z4.x, z4.y, z4.z, z4.w};
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int i = 4 * i4 + e;
                if (zs[e] > best || (zs[e] == best && i < bestI)) { best = zs[e]; bestI = i; }
            }
        }
    } else {
#pragma unroll 2
        for (int i4 = tid; i4 < V4; i4 += SAMPLE_THREADS) {
            float4 z4 = reinterpret_cast<const float4*>(lg)[i4];
            float* zs = reinterpret_cast<float*>(&z4);
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int i = 4 * i4 + e;
                const float z = adjust_logit(zs[e], penal ? cnt[i] : 0, rep, freq, pres, greedy, temperature);
                zs[e] = z;
                if (z > best || (z == best && i < bestI)) { best = z; bestI = i; }
            }
            if (!greedy) reinterpret_cast<float4*>(lg)[i4] = z4;
        }
    }
    for (int i = 4 * V4 + tid; i < V; i += SAMPLE_THREADS) {  // the tail (or every element of an unaligned row)
        const float z = adjust_logit(lg[i], penal ? cnt[i] : 0, rep, freq, pres, greedy, temperature);
        if (!greedy) lg[i] = z;
        if (z > best || (z == best && i < bestI)) { best = z; bestI = i; }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, best, o);
        const int oi = __shfl_xor_sync(0xffffffffu, bestI, o);
        if (ov > best || (ov == best && oi < bestI)) { best = ov; bestI = oi; }
    }
    if (lane == 0) { sh.bestV[warp] = best; sh.bestI[warp] = bestI; }
    __syncthreads();
    if (warp == 0) {
        best = sh.bestV[lane];
        bestI = sh.bestI[lane];
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, best, o);
            const int oi = __shfl_xor_sync(0xffffffffu, bestI, o);
            if (ov > best || (ov == best && oi < bestI)) { best = ov; bestI = oi; }
        }
        if (lane == 0) { sh.bestV[0] = best; sh.bestI[0] = bestI; }
    }
    __syncthreads();
    best = sh.bestV[0];
    bestI = sh.bestI[0];

    int id;
    if (bestI == 0x7fffffff || best == -INFINITY) {
        id = bestI == 0x7fffffff ? -1 : bestI;
    } else if (greedy) {
        id = bestI;
    } else {
        const float m = best;
        uint32_t thr = 0;  // keep everything (NaN already mapped to -inf)
        if (topK > 0 && topK < V) {
            thr = radix_select(lg, V, m, true, (unsigned long long)topK, 0u, sh);
        }
        if (topP > 0.f && topP < 1.f) {
            unsigned long long z = 0;
            for (int i = tid; i < V; i += SAMPLE_THREADS) {
                const float v = lg[i];
                if (order_key(v) >= thr) z += prob_fix(v, m);
            }
            z = block_sum_u64(z, sh.scan);
            const unsigned long long target = (unsigned long long)((double)topP * (double)z);
            if (target > 0) {
                const uint32_t pk = radix_select(lg, V, m, false, target, thr, sh);
                thr = max(thr, pk);
            }
        }
        if (minP > 0.f) thr = max(thr, order_key(m + logf(minP)));
        // the draw: target uniform in [0, total), first index whose inclusive prefix exceeds it
        const int chunk = (V + 31) / 32;
        const int lo = warp * chunk, hi = min(V, lo + chunk);
        unsigned long long part = 0;
        for (int i = lo + lane; i < hi; i += 32) {
            const float v = lg[i];
            if (order_key(v) >= thr) part += prob_fix(v, m);
        }
        part = warp_sum_u64(part);
        __syncthreads();
        if (lane == 0) sh.scan[warp] = part;
        __syncthreads();
        if (tid == 0) {
            const uint32_t step = (slot >= 0 && stepCounter != nullptr) ? (uint32_t)stepCounter[slot] : 0u;
            const uint4 r = philox4x32(make_uint4(step, 0u, 0u, 0u), seedLo, seedHi);
            const unsigned long long rand64 = ((unsigned long long)r.x << 32) | r.y;
            unsigned long long total = 0;
            for (int w = 0; w < 32; w++) total += sh.scan[w];
            const unsigned long long target = __umul64hi(rand64, total);
            unsigned long long run = 0;
            int sel = 31;
            for (int w = 0; w < 32; w++) {
                if (run + sh.scan[w] > target) { sel = w; break; }
                run += sh.scan[w];
            }
            sh.warpSel = sel;
            sh.rem = target - run;
            sh.found = bestI;  // fallback, cannot be needed with exact sums
        }
        __syncthreads();
        if (warp == sh.warpSel) {
            const unsigned long long rem = sh.rem;
            unsigned long long base = 0;
            for (int i0 = lo; i0 < hi; i0 += 32) {
                const int i = i0 + lane;
                unsigned long long w = 0;
                if (i < hi) {
                    const float v = lg[i];
                    if (order_key(v) >= thr) w = prob_fix(v, m);
                }
                const unsigned long long incl = warp_incl_scan_u64(w, lane);
                const unsigned ballot = __ballot_sync(0xffffffffu, base + incl > rem);
                if (ballot != 0) {
                    if (lane == 0) sh.found = i0 + __ffs(ballot) - 1;
                    break;
                }
                base += __shfl_sync(0xffffffffu, incl, 31);
            }
        }
        __syncthreads();
        id = sh.found;
    }
    if (tid == 0) {
        outIds[row] = id;
        if (nextTokens != nullptr) nextTokens[row] = id;
        if (cnt != nullptr && id >= 0) cnt[id] += 1;
        if (slot >= 0 && stepCounter != nullptr) stepCounter[slot] += 1;
    }
}

// counts[slot][ids[i]] |= bit 30 for the prompt tokens of a sequence (repetition penalty covers the prompt).
__device__ void mark_prompt(int* counts, int V, int slot, const int* ids, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const int t = ids[i];
        if (t >= 0 && t < V) atomicOr(&counts[(size_t)slot * V + t], 1 << 30);
    }
}

}  // namespace tf

extern "C" __global__ void __launch_bounds__(tf::SAMPLE_THREADS) tf_sample(float* logits, int V, long long ldLogits,
        const float* fparams, const int* iparams, int* stepCounter, int* counts, int* outIds, int* nextTokens) { twofour_pdl_enter();
    tf::sample(logits, V, ldLogits, fparams, iparams, stepCounter, counts, outIds, nextTokens);
}

extern "C" __global__ void tf_mark_prompt(int* counts, int V, int slot, const int* ids, int n) { twofour_pdl_enter();
    tf::mark_prompt(counts, V, slot, ids, n);
}
