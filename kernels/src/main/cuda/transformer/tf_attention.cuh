// Attention over a paged KV cache (vLLM-style blocks): K and V of one layer are [slot][numKvHeads*HD]
// with slot = blockTable[p / blockSize] * blockSize + p % blockSize for position p of a sequence.
//
// Decode (one query token per sequence): flash-decoding. The KV range of a sequence is cut into
// numSplits chunks (multiples of 16 positions); block (kvHead, seq, split) scores its chunk for all query heads of
// the group (so K/V are read once per group, GQA), keeps an online softmax, and writes an unnormalised partial output with
// its running max and sum; tf_attn_combine merges the splits. numSplits is fixed per launch (a CUDA graph
// replays it) and the chunk length follows the live sequence length read on the device.
//
// Prefill (many query tokens, causal, chunked: queries are the last qLen positions of a context of ctx):
// a FlashAttention-2 style kernel on mma.sync m16n8k16 tensor-core instructions; each warp owns 16 query
// rows, a block 64 rows of one head; K/V tiles of 64 positions are staged in shared memory.
// Scores are fp32 (scale applied in fp32), probabilities enter the P·V product as T, output accumulates in fp32.
#pragma once
#include "tf_common.cuh"

namespace tf {

constexpr int ATT_THREADS = 128;
constexpr int ATT_MAXG = 8;      // query heads per KV head supported by the decode kernel
constexpr int DEC_TILE = 64;     // positions per decode tile

template <typename T, int HD>
__device__ void attn_decode(const T* __restrict__ q, int qStride, const T* __restrict__ kCache,
                            const T* __restrict__ vCache, const int* __restrict__ blockTables, int maxBlocks,
                            const int* __restrict__ kvLens, int blockSize, int numHeads, int numKvHeads,
                            float scaleLog2, int numSplits, float* __restrict__ partO, float* __restrict__ partML) {
    constexpr int LP = HD / 8;                 // lanes per position: each loads 8 elements (16 bytes)
    constexpr int PPW = 32 / LP;               // positions per warp per pass
    constexpr int NWARP = ATT_THREADS / 32;
    constexpr int PASSES = DEC_TILE / (NWARP * PPW);
    constexpr int DPL = HD / 32;               // P·V: output dims per lane (each warp takes every 4th position)

    __shared__ float sq[ATT_MAXG][HD];
    __shared__ float ss[ATT_MAXG][DEC_TILE];
    __shared__ float sm[ATT_MAXG], sl[ATT_MAXG], salpha[ATT_MAXG];
    __shared__ int sslot[DEC_TILE];
    __shared__ float red[NWARP][ATT_MAXG][HD];  // the warps' partial P·V sums, reduced at the end

    const int kvh = blockIdx.x, b = blockIdx.y, split = blockIdx.z;
    const int G = numHeads / numKvHeads;
    const int kvDim = numKvHeads * HD;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int len = kvLens[b];
    int chunk = (len + numSplits - 1) / numSplits;
    chunk = (chunk + 15) / 16 * 16;  // tiles of a split hold up to DEC_TILE positions; the last may be partial
    const int begin = split * chunk;
    const int end = min(len, begin + chunk);
    const size_t rowBase = (size_t)b * numHeads + (size_t)kvh * G;  // (b, first head of the group)

    if (begin >= end) {  // nothing to do: an empty partial that the combine step skips
        for (int i = tid; i < G * HD; i += ATT_THREADS) {
            const int g = i / HD, d = i - g * HD;
            partO[((rowBase + g) * numSplits + split) * HD + d] = 0.f;
        }
        if (tid < G) {
            partML[((rowBase + tid) * numSplits + split) * 2] = -INFINITY;
            partML[((rowBase + tid) * numSplits + split) * 2 + 1] = 0.f;
        }
        return;
    }

    const T* qb = q + (size_t)b * qStride + (size_t)kvh * G * HD;
    for (int i = tid; i < G * HD; i += ATT_THREADS) sq[i / HD][i % HD] = to_f(qb[i]) * scaleLog2;
    if (tid < ATT_MAXG) { sm[tid] = -INFINITY; sl[tid] = 0.f; }

    float acc[ATT_MAXG][DPL];
#pragma unroll
    for (int g = 0; g < ATT_MAXG; g++)
#pragma unroll
        for (int e = 0; e < DPL; e++) acc[g][e] = 0.f;
    const int* table = blockTables + (size_t)b * maxBlocks;
    const T* kBase = kCache + (size_t)kvh * HD;
    const T* vBase = vCache + (size_t)kvh * HD;
    const int sub = lane / LP, part = lane % LP;

    for (int t0 = begin; t0 < end; t0 += DEC_TILE) {
        const int n = min(DEC_TILE, end - t0);
        __syncthreads();  // previous tile fully consumed
        for (int i = tid; i < n; i += ATT_THREADS) {
            const int p = t0 + i;
            sslot[i] = table[p / blockSize] * blockSize + p % blockSize;
        }
        __syncthreads();
        // scores: q·k for every head of the group, LP lanes per position
#pragma unroll
        for (int pass = 0; pass < PASSES; pass++) {
            const int i = (pass * NWARP + warp) * PPW + sub;
            const bool valid = i < n;
            float kf[8];
            if (valid) {
                const uint4 raw = *reinterpret_cast<const uint4*>(kBase + (size_t)sslot[i] * kvDim + part * 8);
                const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
                for (int j = 0; j < 8; j++) kf[j] = to_f(e[j]);
            } else {
#pragma unroll
                for (int j = 0; j < 8; j++) kf[j] = 0.f;
            }
#pragma unroll
            for (int g = 0; g < ATT_MAXG; g++) {
                if (g < G) {  // uniform across the warp
                    float dot = 0.f;
#pragma unroll
                    for (int j = 0; j < 8; j++) dot += kf[j] * sq[g][part * 8 + j];
#pragma unroll
                    for (int o = LP / 2; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
                    if (part == 0) ss[g][i] = valid ? dot : -INFINITY;
                }
            }
        }
        __syncthreads();
        // online softmax per head: one warp per head
        for (int g = warp; g < G; g += NWARP) {
            const float s0 = ss[g][lane], s1 = ss[g][lane + 32];
            const float mx = warp_max(fmaxf(s0, s1));
            const float mOld = sm[g];
            const float mNew = fmaxf(mOld, mx);
            const float p0 = exp2f(s0 - mNew), p1 = exp2f(s1 - mNew);
            ss[g][lane] = p0;
            ss[g][lane + 32] = p1;
            const float psum = warp_sum(p0 + p1);
            if (lane == 0) {
                const float alpha = exp2f(mOld - mNew);  // 0 when mOld is -inf
                sl[g] = sl[g] * alpha + psum;
                sm[g] = mNew;
                salpha[g] = alpha;
            }
        }
        __syncthreads();
        // P·V: warp w takes positions w, w+4, ...; lane owns dims lane*DPL .. +DPL-1 of every head of the group
        // (short dependent chains: a tile is 16 loads per warp, not 64 per thread)
#pragma unroll
        for (int g = 0; g < ATT_MAXG; g++) {
            if (g < G) {
                const float a = salpha[g];
#pragma unroll
                for (int e = 0; e < DPL; e++) acc[g][e] *= a;
            }
        }
#pragma unroll 4
        for (int i = warp; i < n; i += NWARP) {
            const T* vp = vBase + (size_t)sslot[i] * kvDim + lane * DPL;
            float vf[DPL];
            if constexpr (DPL == 4) {
                const uint2 raw = *reinterpret_cast<const uint2*>(vp);
                const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
                for (int j = 0; j < 4; j++) vf[j] = to_f(e[j]);
            } else {
                const uint32_t raw = *reinterpret_cast<const uint32_t*>(vp);
                const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
                for (int j = 0; j < DPL; j++) vf[j] = to_f(e[j]);
            }
#pragma unroll
            for (int g = 0; g < ATT_MAXG; g++) {
                if (g < G) {
                    const float pr = ss[g][i];
#pragma unroll
                    for (int e = 0; e < DPL; e++) acc[g][e] += pr * vf[e];
                }
            }
        }
    }
#pragma unroll
    for (int g = 0; g < ATT_MAXG; g++) {
        if (g < G) {
#pragma unroll
            for (int e = 0; e < DPL; e++) red[warp][g][lane * DPL + e] = acc[g][e];
        }
    }
    __syncthreads();
    for (int i = tid; i < G * HD; i += ATT_THREADS) {
        const int g = i / HD, d = i - g * HD;
        float sum = 0.f;
#pragma unroll
        for (int w = 0; w < NWARP; w++) sum += red[w][g][d];
        partO[((rowBase + g) * numSplits + split) * HD + d] = sum;
    }
    if (tid < G) {
        partML[((rowBase + tid) * numSplits + split) * 2] = sm[tid];
        partML[((rowBase + tid) * numSplits + split) * 2 + 1] = sl[tid];
    }
}

// out[b][h*HD + d] = merged splits; grid (numHeads, rows), block HD. A row with no keys gives zeros.
template <typename T, int HD>
__device__ void attn_combine(const float* __restrict__ partO, const float* __restrict__ partML, int numSplits,
                             int numHeads, T* out, int outStride) {
    const int h = blockIdx.x, b = blockIdx.y, d = threadIdx.x;
    const size_t base = ((size_t)b * numHeads + h) * numSplits;
    float M = -INFINITY;
    for (int s = 0; s < numSplits; s++) {
        if (partML[(base + s) * 2 + 1] > 0.f) M = fmaxf(M, partML[(base + s) * 2]);
    }
    float num = 0.f, den = 0.f;
    for (int s = 0; s < numSplits; s++) {
        const float l = partML[(base + s) * 2 + 1];
        if (l > 0.f) {
            const float w = exp2f(partML[(base + s) * 2] - M);
            den += w * l;
            num += w * partO[(base + s) * HD + d];
        }
    }
    out[(size_t)b * outStride + (size_t)h * HD + d] = from_f<T>(den > 0.f ? num / den : 0.f);
}

// ---- Decode attention in one launch (the default; attn_decode + attn_combine above are the legacy pair) ----
//
// grid (numKvHeads, rows, numSplits), block 128; MAXG (1, 2, 4, 8) >= query heads per KV head sizes the registers. Same split of the KV range as attn_decode (chunks of a multiple
// of 16 positions, following the live length), but laid out for latency, because at decode sizes every block
// does one or two tiles and the time is round trips, not bytes:
//  - each warp keeps its own online softmax over its positions: no __syncthreads inside the KV loop;
//  - a lane holds 8 elements (16 bytes) of K AND of V of the positions it scores, loaded together, and the next
//    tile's K/V are loaded before the current tile is computed (two tiles in flight per warp);
//  - the splits are merged by the last block of a (kvHead, row) to finish, found with an arrival counter
//    (counters[row * numKvHeads + kvHead], reset to 0 by that block, so graph replays find zeros), instead of a
//    second launch; a row whose live length fits one split writes its output directly.
// Fused RoPE + KV append (invFreq != null): q is read unrotated and rotated on the way into shared memory, and the
// block whose split holds position kvLens[row]-1 (the new token) rotates k, writes k and v into the cache slot of
// that position (from the block table) and only then loads its tiles (__syncthreads makes its own writes
// visible to it; no other block reads that position). Rounding as tf_rope_append then attn_decode: the rotated
// q and k are rounded to T.
constexpr int DEC1_PASSES = 4;  // positions per lane per tile

template <typename T, int HD>
struct Dec1Tile {
    uint4 k[DEC1_PASSES];
    uint4 v[DEC1_PASSES];
};

template <typename T, int HD>
__device__ __forceinline__ void dec1_load(Dec1Tile<T, HD>& t, int t0, int end, const T* kBase, const T* vBase,
                                          const int* __restrict__ table, int blockSize, int kvDim, int warp, int sub,
                                          int part) {
    // kBase / vBase are not __restrict__: the fused kernel writes the new token into the cache, so the compiler
    // must not turn these into read-only (non-coherent) loads.
    constexpr int LP = HD / 8, PPW = 32 / LP, NWARP = ATT_THREADS / 32;
#pragma unroll
    for (int pass = 0; pass < DEC1_PASSES; pass++) {
        const int p = t0 + (pass * NWARP + warp) * PPW + sub;
        if (p < end) {
            const size_t off = (size_t)(table[p / blockSize] * blockSize + p % blockSize) * kvDim + part * 8;
            t.k[pass] = *reinterpret_cast<const uint4*>(kBase + off);
            t.v[pass] = *reinterpret_cast<const uint4*>(vBase + off);
        } else {
            t.k[pass] = make_uint4(0u, 0u, 0u, 0u);
            t.v[pass] = make_uint4(0u, 0u, 0u, 0u);
        }
    }
}

// One tile into this warp's running state: m (max, log2 units, uniform over the warp), l and acc (this lane's
// position subset: summed over the subsets at the end).
template <typename T, int HD, int MAXG>
__device__ __forceinline__ void dec1_compute(const Dec1Tile<T, HD>& t, int t0, int end, int G, const float (*sq)[HD],
                                             float* m, float* l, float (*acc)[8], int warp, int sub, int part) {
    constexpr int LP = HD / 8, PPW = 32 / LP, NWARP = ATT_THREADS / 32;
#pragma unroll
    for (int g = 0; g < MAXG; g++) {
        if (g < G) {  // uniform across the block
            float qf[8];
#pragma unroll
            for (int j = 0; j < 8; j++) qf[j] = sq[g][part * 8 + j];
            float s[DEC1_PASSES];
            float mx = -INFINITY;
#pragma unroll
            for (int pass = 0; pass < DEC1_PASSES; pass++) {
                const T* e = reinterpret_cast<const T*>(&t.k[pass]);
                float dot = 0.f;
#pragma unroll
                for (int j = 0; j < 8; j++) dot += to_f(e[j]) * qf[j];
#pragma unroll
                for (int o = LP / 2; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
                const int p = t0 + (pass * NWARP + warp) * PPW + sub;
                s[pass] = p < end ? dot : -INFINITY;
                mx = fmaxf(mx, s[pass]);
            }
#pragma unroll
            for (int o = LP; o < 32; o <<= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
            const float mNew = fmaxf(m[g], mx);
            const float mUse = mNew == -INFINITY ? 0.f : mNew;  // a warp with no valid position yet
            const float alpha = exp2f(m[g] - mUse);             // 0 while m is -inf
            m[g] = mNew;
            float psum = 0.f;
#pragma unroll
            for (int e = 0; e < 8; e++) acc[g][e] *= alpha;
#pragma unroll
            for (int pass = 0; pass < DEC1_PASSES; pass++) {
                const float pr = exp2f(s[pass] - mUse);
                psum += pr;
                const T* e = reinterpret_cast<const T*>(&t.v[pass]);
#pragma unroll
                for (int j = 0; j < 8; j++) acc[g][j] += pr * to_f(e[j]);
            }
            l[g] = l[g] * alpha + psum;
        }
    }
}

template <typename T, int HD, int MAXG>
__device__ void attn_decode1(const T* __restrict__ q, int qStride, const T* __restrict__ kNew, int kStride,
                             const T* __restrict__ vNew, int vStride, const int* __restrict__ positions,
                             const float* __restrict__ invFreq, T* kCache, T* vCache,
                             const int* __restrict__ blockTables, int maxBlocks, const int* __restrict__ kvLens,
                             int blockSize, int numHeads, int numKvHeads, float scaleLog2, int numSplits,
                             float* partO, float* partML, int* counters, T* out, int outStride) {
    constexpr int LP = HD / 8, PPW = 32 / LP, NWARP = ATT_THREADS / 32;
    constexpr int TILE = NWARP * PPW * DEC1_PASSES;  // 32 positions (head_dim 128), 64 (head_dim 64)
    constexpr int HALF = HD / 2;
    __shared__ float sq[MAXG][HD];
    __shared__ float wacc[NWARP][MAXG][HD];
    __shared__ float wm[NWARP][MAXG], wl[NWARP][MAXG];
    __shared__ int sLast;

    const int kvh = blockIdx.x, b = blockIdx.y, split = blockIdx.z;
    const int G = numHeads / numKvHeads;
    const int kvDim = numKvHeads * HD;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int sub = lane / LP, part = lane % LP;
    const int len = kvLens[b];
    T* outRow = out + (size_t)b * outStride + (size_t)kvh * G * HD;
    if (len <= 0) {  // no keys: zeros, written once
        if (split == 0) for (int i = tid; i < G * HD; i += ATT_THREADS) outRow[i] = from_f<T>(0.f);
        return;
    }
    int chunk = (len + numSplits - 1) / numSplits;
    chunk = (chunk + 15) / 16 * 16;
    const int used = (len + chunk - 1) / chunk;  // splits with positions; the others have nothing to do
    if (split >= used) return;
    const int begin = split * chunk;
    const int end = min(len, begin + chunk);
    const int* table = blockTables + (size_t)b * maxBlocks;
    const T* kBase = kCache + (size_t)kvh * HD;
    const T* vBase = vCache + (size_t)kvh * HD;
    const bool fused = invFreq != nullptr;
    const bool writer = fused && split == used - 1;  // holds position len-1, the token being appended

    Dec1Tile<T, HD> ta, tb;
    if (!writer) dec1_load<T, HD>(ta, begin, end, kBase, vBase, table, blockSize, kvDim, warp, sub, part);

    const T* qb = q + (size_t)b * qStride + (size_t)kvh * G * HD;
    if (fused) {
        const float pos = (float)positions[b];
        for (int i = tid; i < G * HALF; i += ATT_THREADS) {
            const int g = i / HALF, j = i - g * HALF;
            float sn, cs;
            sincosf(pos * invFreq[j], &sn, &cs);
            const float a = to_f(qb[g * HD + j]), c = to_f(qb[g * HD + j + HALF]);
            sq[g][j] = round_t<T>(a * cs - c * sn) * scaleLog2;
            sq[g][j + HALF] = round_t<T>(c * cs + a * sn) * scaleLog2;
        }
        if (writer) {
            const int p = len - 1;
            const size_t off = (size_t)(table[p / blockSize] * blockSize + p % blockSize) * kvDim + (size_t)kvh * HD;
            const T* kr = kNew + (size_t)b * kStride + (size_t)kvh * HD;
            const T* vr = vNew + (size_t)b * vStride + (size_t)kvh * HD;
            for (int j = tid; j < HALF; j += ATT_THREADS) {
                float sn, cs;
                sincosf(pos * invFreq[j], &sn, &cs);
                const float a = to_f(kr[j]), c = to_f(kr[j + HALF]);
                kCache[off + j] = from_f<T>(a * cs - c * sn);
                kCache[off + j + HALF] = from_f<T>(c * cs + a * sn);
            }
            for (int d = tid; d < HD; d += ATT_THREADS) vCache[off + d] = vr[d];
        }
    } else {
        for (int i = tid; i < G * HD; i += ATT_THREADS) sq[i / HD][i % HD] = to_f(qb[i]) * scaleLog2;
    }
    __syncthreads();  // sq ready; the writer's cache stores visible to the whole block
    if (writer) dec1_load<T, HD>(ta, begin, end, kBase, vBase, table, blockSize, kvDim, warp, sub, part);

    float m[MAXG], l[MAXG], acc[MAXG][8];
#pragma unroll
    for (int g = 0; g < MAXG; g++) {
        m[g] = -INFINITY;
        l[g] = 0.f;
#pragma unroll
        for (int e = 0; e < 8; e++) acc[g][e] = 0.f;
    }
    // two register tiles, alternating: the loads of tile i+1 are in flight while tile i is computed
    for (int t0 = begin; t0 < end; t0 += 2 * TILE) {
        if (t0 + TILE < end) dec1_load<T, HD>(tb, t0 + TILE, end, kBase, vBase, table, blockSize, kvDim, warp, sub, part);
        dec1_compute<T, HD, MAXG>(ta, t0, end, G, sq, m, l, acc, warp, sub, part);
        if (t0 + TILE >= end) break;
        if (t0 + 2 * TILE < end) dec1_load<T, HD>(ta, t0 + 2 * TILE, end, kBase, vBase, table, blockSize, kvDim, warp, sub, part);
        dec1_compute<T, HD, MAXG>(tb, t0 + TILE, end, G, sq, m, l, acc, warp, sub, part);
    }

    // this warp's state: sum l and acc over the lanes' position subsets, then to shared memory
#pragma unroll
    for (int g = 0; g < MAXG; g++) {
        if (g < G) {
#pragma unroll
            for (int o = LP; o < 32; o <<= 1) {
                l[g] += __shfl_xor_sync(0xffffffffu, l[g], o);
#pragma unroll
                for (int e = 0; e < 8; e++) acc[g][e] += __shfl_xor_sync(0xffffffffu, acc[g][e], o);
            }
            if (sub == 0) {
#pragma unroll
                for (int e = 0; e < 8; e++) wacc[warp][g][part * 8 + e] = acc[g][e];
                if (part == 0) { wm[warp][g] = m[g]; wl[warp][g] = l[g]; }
            }
        }
    }
    __syncthreads();
    const size_t rowBase = (size_t)b * numHeads + (size_t)kvh * G;  // (b, first head of the group)
    for (int i = tid; i < G * HD; i += ATT_THREADS) {
        const int g = i / HD, d = i - g * HD;
        float M = -INFINITY;
#pragma unroll
        for (int w = 0; w < NWARP; w++) M = fmaxf(M, wm[w][g]);
        const float mUse = M == -INFINITY ? 0.f : M;
        float o = 0.f, L = 0.f;
#pragma unroll
        for (int w = 0; w < NWARP; w++) {
            const float sc = exp2f(wm[w][g] - mUse);
            o += wacc[w][g][d] * sc;
            L += wl[w][g] * sc;
        }
        if (used == 1) {
            outRow[i] = from_f<T>(L > 0.f ? o / L : 0.f);
        } else {
            const size_t ps = (rowBase + g) * numSplits + split;
            partO[ps * HD + d] = o;
            if (d == 0) { partML[ps * 2] = M; partML[ps * 2 + 1] = L; }
        }
    }
    if (used == 1) return;
    // the last of the `used` blocks of (kvHead, row) to arrive merges the splits
    __threadfence();
    __syncthreads();
    if (tid == 0) {
        int* counter = counters + (size_t)b * numKvHeads + kvh;
        const int last = atomicAdd(counter, 1) == used - 1;
        if (last) *counter = 0;  // every block of this launch has arrived: ready for the next launch
        sLast = last;
    }
    __syncthreads();
    if (!sLast) return;
    __threadfence();
    for (int i = tid; i < G * HD; i += ATT_THREADS) {
        const int g = i / HD, d = i - g * HD;
        const size_t base = (rowBase + g) * numSplits;
        float M = -INFINITY;
        for (int s = 0; s < used; s++) M = fmaxf(M, __ldcg(&partML[(base + s) * 2]));
        const float mUse = M == -INFINITY ? 0.f : M;
        float num = 0.f, den = 0.f;
        for (int s = 0; s < used; s++) {
            const float w = exp2f(__ldcg(&partML[(base + s) * 2]) - mUse);
            den += w * __ldcg(&partML[(base + s) * 2 + 1]);
            num += w * __ldcg(&partO[(base + s) * HD + d]);
        }
        outRow[i] = from_f<T>(den > 0.f ? num / den : 0.f);
    }
}

template <typename T>
__device__ __forceinline__ void mma16816(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
    if constexpr (sizeof(T) == 2 && std::is_same<T, f16>::value) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    } else {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
}

// ldmatrix: four 8x8 tiles of 16-bit elements from shared memory; lane l gives the address of row l & 7 of tile l >> 3.
// Plain: lane (g, t) receives row g, elements 2t, 2t+1 of each tile. .trans: row 2t and 2t+1 of column g.
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* p) {
    const unsigned a = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], const void* p) {
    const unsigned a = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}

// Prefill attention, FlashAttention-2 style on mma.sync m16n8k16. grid (ceil(maxQLen / 64), numHeads, numSeqs), block
// 128: each warp owns 16 query rows, a block 64 rows of one head. Sequence s has query rows [seqStart[s], seqStart[s+1])
// at positions ctxLens[s] - qLen .. ctxLens[s] - 1, and its cache holds positions 0 .. ctxLens[s] - 1 (this chunk
// included); row i attends to positions <= its own. Scores are fp32 (scale applied in fp32), probabilities enter the
// P·V product as T, output accumulates in fp32. What made it 2.2x faster than the first version (session 5,
// kernels/src/main/cuda/transformer/NOTES.md; that version is in commit f264ae1):
//  - K/V tiles of 64 positions go through a 2-deep cp.async ring in (dynamic) shared memory: the next tile streams
//    in while this one is multiplied, with one barrier per tile instead of three; the cache slots of a tile's
//    positions are looked up once, two tiles ahead (the block-table division per 16-byte piece was most of the
//    integer work);
//  - fragments come from ldmatrix: K (the B operand of Q·Kᵀ, [position][d] in shared memory) plain, one x4 per two
//    MMAs; V (B of P·V, also [position][d]) with .trans, one x4 per two MMAs (before: four 16-bit loads per MMA);
//  - the causal mask is applied only on the tiles that cross a warp's diagonal (and on the tile past kvEnd);
//  - q tiles run last to first (blockIdx.x reversed): the longest blocks (most keys) start first, so the tail of the
//    grid is short ones.
// Rows are 16 bytes longer than HD (LDS): the 8 row addresses of one ldmatrix tile then fall in distinct bank groups.
// Positions past kvEnd are zero-filled by cp.async (their V must not be garbage: P = 0 times NaN is NaN).
template <typename T, int HD>
__device__ void attn_prefill(const T* __restrict__ q, int qStride, const T* __restrict__ kCache,
                             const T* __restrict__ vCache, const int* __restrict__ blockTables, int maxBlocks,
                             const int* __restrict__ seqStart, const int* __restrict__ ctxLens, int blockSize,
                             int numHeads, int numKvHeads, float scaleLog2, T* out, int outStride) {
    constexpr int BQ = 64, BK = 64, LDS = HD + 8;
    constexpr int KK = HD / 16;   // k-steps of Q·Kᵀ
    constexpr int NO = HD / 8;    // n-tiles of the output
    constexpr int VEC = HD / 8;   // 16-byte pieces per K or V row
    extern __shared__ __align__(16) uint8_t attnSmem[];
    T* sK = reinterpret_cast<T*>(attnSmem);   // [2][BK][LDS]
    T* sV = sK + 2 * BK * LDS;                // [2][BK][LDS]
    __shared__ int sslot[2][BK];              // cache slots of the positions of tiles j (j & 1), -1 past kvEnd

    const int s = blockIdx.z, h = blockIdx.y;
    const int rowStart = seqStart[s];
    const int qLen = seqStart[s + 1] - rowStart;
    const int q0 = (gridDim.x - 1 - blockIdx.x) * BQ;
    if (q0 >= qLen) return;
    const int ctx = ctxLens[s];
    const int posBase = ctx - qLen;
    const int G = numHeads / numKvHeads;
    const int kvh = h / G;
    const int kvDim = numKvHeads * HD;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int gq = lane >> 2, tq = lane & 3;
    const int* table = blockTables + (size_t)s * maxBlocks;
    const int kvEnd = posBase + min(qLen, q0 + BQ);  // keys needed by this block: 0 .. kvEnd-1
    const int tiles = (kvEnd + BK - 1) / BK;

    // Slots are looked up once per position, two tiles ahead (the block-table division was most of the integer work
    // when every 16-byte piece did its own).
    auto slotsOf = [&](int tile, int i) {
        const int p = tile * BK + i;
        sslot[tile & 1][i] = p < kvEnd ? table[p / blockSize] * blockSize + p % blockSize : -1;
    };
    auto load = [&](int tile) {
        const int buf = tile & 1;
        for (int i = tid; i < BK * VEC; i += ATT_THREADS) {
            const int row = i / VEC, c = (i % VEC) * 8;
            const int slot = sslot[buf][row];
            const size_t off = slot >= 0 ? (size_t)slot * kvDim + (size_t)kvh * HD + c : 0;
            twofour_cp_async16(sK + (buf * BK + row) * LDS + c, kCache + off, slot >= 0 ? 16u : 0u);
            twofour_cp_async16(sV + (buf * BK + row) * LDS + c, vCache + off, slot >= 0 ? 16u : 0u);
        }
        twofour_cp_async_commit();
    };
    for (int i = tid; i < 2 * BK; i += ATT_THREADS) slotsOf(i / BK, i % BK);
    __syncthreads();
    load(0);

    // Q fragments of this warp's 16 rows (rows past qLen read as zero; their output is not stored).
    const int r0 = q0 + warp * 16 + gq, r1 = r0 + 8;
    uint32_t qf[KK][4];
    {
        const T* q0p = q + (size_t)(rowStart + r0) * qStride + (size_t)h * HD;
        const T* q1p = q + (size_t)(rowStart + r1) * qStride + (size_t)h * HD;
#pragma unroll
        for (int kk = 0; kk < KK; kk++) {
            const int c = kk * 16 + tq * 2;
            qf[kk][0] = r0 < qLen ? *reinterpret_cast<const uint32_t*>(q0p + c) : 0u;
            qf[kk][1] = r1 < qLen ? *reinterpret_cast<const uint32_t*>(q1p + c) : 0u;
            qf[kk][2] = r0 < qLen ? *reinterpret_cast<const uint32_t*>(q0p + c + 8) : 0u;
            qf[kk][3] = r1 < qLen ? *reinterpret_cast<const uint32_t*>(q1p + c + 8) : 0u;
        }
    }
    float o[NO][4];
#pragma unroll
    for (int n = 0; n < NO; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
    float mRow[2] = {-INFINITY, -INFINITY};
    float lRow[2] = {0.f, 0.f};
    const int qpos0 = posBase + r0, qpos1 = posBase + r1;
    const int warpFirstPos = posBase + q0 + warp * 16;  // the smallest query position of this warp's rows

    // ldmatrix lane offsets (elements): K tiles are (8 positions, 8 d) at d + 8 (lane >> 3); V tiles at position
    // + 8 ((lane >> 3) & 1), d + 8 (lane >> 4).
    const int kLane = (lane & 7) * LDS + (lane >> 3) * 8;
    const int vLane = ((lane & 7) + ((lane >> 3) & 1) * 8) * LDS + (lane >> 4) * 8;

    for (int j = 0; j < tiles; j++) {
        if (j + 1 < tiles) load(j + 1);
        else twofour_cp_async_commit();  // an empty group keeps the wait count uniform
        twofour_cp_async_wait<1>();      // this thread's copies of tile j have landed
        __syncthreads();                 // ... and everyone's (and load(j + 1) has read sslot[(j + 1) & 1])
        for (int i = tid; i < BK; i += ATT_THREADS) slotsOf(j + 2, i);  // published by the barrier at the end
        const T* k = sK + (j & 1) * BK * LDS;
        const T* v = sV + (j & 1) * BK * LDS;
        const int kt = j * BK;

        float sacc[BK / 8][4];
#pragma unroll
        for (int n = 0; n < BK / 8; n++) sacc[n][0] = sacc[n][1] = sacc[n][2] = sacc[n][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < KK; kk += 2) {
#pragma unroll
            for (int n = 0; n < BK / 8; n++) {
                uint32_t b[4];
                ldsm_x4(b, k + n * 8 * LDS + kk * 16 + kLane);
                mma16816<T>(sacc[n], qf[kk], b[0], b[1]);
                mma16816<T>(sacc[n], qf[kk + 1], b[2], b[3]);
            }
        }
        // scale, causal mask (only where a key can pass this warp's first row), online softmax (rows gq and gq+8 of
        // the warp; 4 lanes share a row)
        const bool masked = kt + BK - 1 > warpFirstPos || kt + BK > kvEnd;
        float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int n = 0; n < BK / 8; n++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float val = sacc[n][e] * scaleLog2;
                if (masked) {
                    const int key = kt + n * 8 + tq * 2 + (e & 1);
                    const int qpos = e < 2 ? qpos0 : qpos1;
                    if (key > qpos || key >= kvEnd) val = -INFINITY;
                }
                sacc[n][e] = val;
                mx[e >> 1] = fmaxf(mx[e >> 1], val);
            }
        }
        float alpha[2], mUse[2];
#pragma unroll
        for (int rr = 0; rr < 2; rr++) {
            mx[rr] = fmaxf(mx[rr], __shfl_xor_sync(0xffffffffu, mx[rr], 1));
            mx[rr] = fmaxf(mx[rr], __shfl_xor_sync(0xffffffffu, mx[rr], 2));
            const float mNew = fmaxf(mRow[rr], mx[rr]);
            mUse[rr] = mNew == -INFINITY ? 0.f : mNew;
            alpha[rr] = exp2f(mRow[rr] - mUse[rr]);
            mRow[rr] = mNew;
            lRow[rr] *= alpha[rr];
        }
#pragma unroll
        for (int n = 0; n < NO; n++) {
            o[n][0] *= alpha[0]; o[n][1] *= alpha[0];
            o[n][2] *= alpha[1]; o[n][3] *= alpha[1];
        }
#pragma unroll
        for (int n = 0; n < BK / 8; n++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const float p = exp2f(sacc[n][e] - mUse[e >> 1]);
                sacc[n][e] = p;
                lRow[e >> 1] += p;
            }
        }
        // O += P·V, P from the score accumulators (FlashAttention-2 register reuse)
#pragma unroll
        for (int kk = 0; kk < BK / 16; kk++) {
            uint32_t a[4];
            a[0] = pack2<T>(sacc[2 * kk][0], sacc[2 * kk][1]);
            a[1] = pack2<T>(sacc[2 * kk][2], sacc[2 * kk][3]);
            a[2] = pack2<T>(sacc[2 * kk + 1][0], sacc[2 * kk + 1][1]);
            a[3] = pack2<T>(sacc[2 * kk + 1][2], sacc[2 * kk + 1][3]);
#pragma unroll
            for (int n = 0; n < NO; n += 2) {
                uint32_t b[4];
                ldsm_x4_trans(b, v + kk * 16 * LDS + n * 8 + vLane);
                mma16816<T>(o[n], a, b[0], b[1]);
                mma16816<T>(o[n + 1], a, b[2], b[3]);
            }
        }
        __syncthreads();  // every warp is done with buffer j & 1 before tile j + 2 is loaded into it; sslot published
    }
    // normalise and store
#pragma unroll
    for (int rr = 0; rr < 2; rr++) {
        lRow[rr] += __shfl_xor_sync(0xffffffffu, lRow[rr], 1);
        lRow[rr] += __shfl_xor_sync(0xffffffffu, lRow[rr], 2);
        lRow[rr] = lRow[rr] > 0.f ? 1.0f / lRow[rr] : 0.f;
    }
    T* o0 = out + (size_t)(rowStart + r0) * outStride + (size_t)h * HD;
    T* o1 = out + (size_t)(rowStart + r1) * outStride + (size_t)h * HD;
#pragma unroll
    for (int n = 0; n < NO; n++) {
        const int c = n * 8 + tq * 2;
        if (r0 < qLen) *reinterpret_cast<uint32_t*>(o0 + c) = pack2<T>(o[n][0] * lRow[0], o[n][1] * lRow[0]);
        if (r1 < qLen) *reinterpret_cast<uint32_t*>(o1 + c) = pack2<T>(o[n][2] * lRow[1], o[n][3] * lRow[1]);
    }
}

}  // namespace tf


#define TF_ATTENTION(T, SUF, HD)                                                                                   \
extern "C" __global__ void __launch_bounds__(tf::ATT_THREADS) tf_attn_decode_##SUF##_hd##HD(const T* q,           \
        int qStride, const T* kCache, const T* vCache, const int* blockTables, int maxBlocks, const int* kvLens,     \
        int blockSize, int numHeads, int numKvHeads, float scaleLog2, int numSplits, float* partO, float* partML) { \
    twofour_pdl_enter();                                                                                            \
    tf::attn_decode<T, HD>(q, qStride, kCache, vCache, blockTables, maxBlocks, kvLens, blockSize, numHeads,          \
                           numKvHeads, scaleLog2, numSplits, partO, partML);                                        \
}                                                                                                                   \
extern "C" __global__ void tf_attn_combine_##SUF##_hd##HD(const float* partO, const float* partML, int numSplits,  \
        int numHeads, T* out, int outStride) {                                                                      \
    twofour_pdl_enter();                                                                                            \
    tf::attn_combine<T, HD>(partO, partML, numSplits, numHeads, out, outStride);                                   \
}                                                                                                                   \
extern "C" __global__ void __launch_bounds__(tf::ATT_THREADS, 2) tf_attn_prefill_##SUF##_hd##HD(const T* q,       \
        int qStride, const T* kCache, const T* vCache, const int* blockTables, int maxBlocks, const int* seqStart,   \
        const int* ctxLens, int blockSize, int numHeads, int numKvHeads, float scaleLog2, T* out, int outStride) {   \
    twofour_pdl_enter();                                                                                            \
    tf::attn_prefill<T, HD>(q, qStride, kCache, vCache, blockTables, maxBlocks, seqStart, ctxLens, blockSize,       \
                            numHeads, numKvHeads, scaleLog2, out, outStride);                                       \
}

TF_ATTENTION(tf::f16, f16, 64)
TF_ATTENTION(tf::f16, f16, 128)
TF_ATTENTION(tf::bf16, bf16, 64)
TF_ATTENTION(tf::bf16, bf16, 128)
#undef TF_ATTENTION

#define TF_ATTN_DECODE1(T, SUF, HD, MAXG)                                                                          \
extern "C" __global__ void __launch_bounds__(tf::ATT_THREADS) tf_attn_decode1_##SUF##_hd##HD##_g##MAXG(const T* q, \
        int qStride, const T* kNew, int kStride, const T* vNew, int vStride, const int* positions,                  \
        const float* invFreq, T* kCache, T* vCache, const int* blockTables, int maxBlocks, const int* kvLens,       \
        int blockSize, int numHeads, int numKvHeads, float scaleLog2, int numSplits, float* partO, float* partML,   \
        int* counters, T* out, int outStride) {                                                                     \
    twofour_pdl_enter();                                                                                            \
    tf::attn_decode1<T, HD, MAXG>(q, qStride, kNew, kStride, vNew, vStride, positions, invFreq, kCache, vCache,     \
                                  blockTables, maxBlocks, kvLens, blockSize, numHeads, numKvHeads, scaleLog2,       \
                                  numSplits, partO, partML, counters, out, outStride);                              \
}
#define TF_ATTN_DECODE1_G(T, SUF, HD) \
    TF_ATTN_DECODE1(T, SUF, HD, 1) TF_ATTN_DECODE1(T, SUF, HD, 2) TF_ATTN_DECODE1(T, SUF, HD, 4) TF_ATTN_DECODE1(T, SUF, HD, 8)
TF_ATTN_DECODE1_G(tf::f16, f16, 64)
TF_ATTN_DECODE1_G(tf::f16, f16, 128)
TF_ATTN_DECODE1_G(tf::bf16, bf16, 64)
TF_ATTN_DECODE1_G(tf::bf16, bf16, 128)
#undef TF_ATTN_DECODE1_G
#undef TF_ATTN_DECODE1
