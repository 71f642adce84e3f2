// Kernels of the GPU pruning engine (pruner's CudaPruneEngine). Everything is fp32 storage; the
// group prox and all reductions compute in fp64, like their Java twins.
//
//   twofour_prune_prox          prox of t*R on every group of 4 consecutive floats, in place, one thread
//                               per group; the exact algorithm of pruner's GroupProx (fp64 math, result
//                               rounded to fp32), and a count of the groups left with > 2 nonzeros.
//   twofour_prune_keep_top_two  in every group, zero the two entries with the lowest score; the score is
//                               |w| (magnitude), |w|*colScale[j] (Wanda), or the prox mask score
//                               (|w| for nonzeros, -1/(1+|w0|) for zeros). Ties keep the lower index
//                               (Masks.keepTopTwo).
//   twofour_prune_support       the refinement's mask: nonzeros of w, widened to 2 per group by |w0|.
//   twofour_prune_row_dot       per row r of two [rows][cols] matrices: sum_i a*b in fp64.
//   twofour_prune_sub / _scale  out = a - b; out = s * a.
//   twofour_prune_mask          x = keep ? x : 0.
//   twofour_prune_copy_2d       a rows x cols block between two row strides (blocked factorizations).
//   twofour_prune_reverse       out[i][j] = in[k-1-i][k-1-j] (J A J, J the exchange matrix).
//   twofour_prune_diag_sqrt     sqrt(H_jj) in fp64 (Wanda's column norms).
//   twofour_prune_cg_step       one step of the per-row masked conjugate gradient (CpuPruneEngine.refine)
//                               after the product hd = dir*H: one block per row.
//   twofour_prune_sparsegpt_block  SparseGPT's sweep over one column block (Baselines.sparseGpt): one
//                               thread per row, the block's columns in fp64 local memory.
#pragma once
#include "common.cuh"

#define TWOFOUR_PROX_MAX_SWEEPS 500
#define TWOFOUR_PROX_BISECTIONS 64
// The largest SparseGPT column block the sweep kernel holds in local memory.
#define TWOFOUR_SPARSEGPT_MAX_BLOCK 128

// ---- the group prox (GroupProx.java, line by line) ------------------------------------------------

struct TwofourProx {
  double z[4];
  int order[4];
  double best[4];
  double cand[4];
  double hM, hD, hC;
  double scale;
  double tolerance;
  double pairU, pairV;

  static __host__ __device__ __forceinline__ double r(double a, double b, double c, double d) {
    return fabs(a * b * c) + fabs(a * b * d) + fabs(a * c * d) + fabs(b * c * d);
  }

  __host__ __device__ double objective(const double* w, double t) const {
    double q = 0;
    for (int i = 0; i < 4; i++) { double d = w[i] - z[i]; q += d * d; }
    return 0.5 * q + t * r(w[0], w[1], w[2], w[3]);
  }

  static __host__ __device__ __forceinline__ int support(const double* w) {
    int s = 0;
    for (int i = 0; i < 4; i++) if (w[i] != 0) s++;
    return s;
  }

  __host__ __device__ void pairStep(double a, double b, double kappa) {
    if (kappa < 1) {
      double sum = (a + b) / (1 + kappa), diff = (a - b) / (1 - kappa);
      double u = 0.5 * (sum + diff), v = 0.5 * (sum - diff);
      if (u >= 0 && v >= 0) { pairU = u; pairV = v; return; }
    }
    double vb = fmax(0.0, b), ua = fmax(0.0, a);
    double costU0 = a * a + (vb - b) * (vb - b);
    double costV0 = (ua - a) * (ua - a) + b * b;
    if (costU0 < costV0) { pairU = 0; pairV = vb; } else { pairU = ua; pairV = 0; }
  }

  __host__ __device__ void denseFrom(double w0, double w1, double w2, double w3, double t) {
    double z0 = z[0], z1 = z[1], z2 = z[2], z3 = z[3];
    double tol = tolerance * scale;
    for (int sweep = 0; sweep < TWOFOUR_PROX_MAX_SWEEPS; sweep++) {
      double pq = w2 * w3;
      pairStep(z0 - t * pq, z1 - t * pq, t * (w2 + w3));
      double n0 = pairU, n1 = pairV;
      double uv = n0 * n1;
      pairStep(z2 - t * uv, z3 - t * uv, t * (n0 + n1));
      double n2 = pairU, n3 = pairV;
      double change = fmax(fmax(fabs(n0 - w0), fabs(n1 - w1)), fmax(fabs(n2 - w2), fabs(n3 - w3)));
      w0 = n0; w1 = n1; w2 = n2; w3 = n3;
      if (change <= tol) break;
    }
    cand[0] = w0; cand[1] = w1; cand[2] = w2; cand[3] = w3;
  }

  __host__ __device__ double h(double a) const {
    double p = 1 + a, n = 1 - a;
    return a - hC + hM * hM / (p * p) - (hD == 0 ? 0 : hD * hD / (n * n));
  }
  __host__ __device__ double dh(double a) const {
    double p = 1 + a, n = 1 - a;
    return 1 - 2 * hM * hM / (p * p * p) - (hD == 0 ? 0 : 2 * hD * hD / (n * n * n));
  }
  __host__ __device__ double d2h(double a) const {
    double p = 1 + a, n = 1 - a;
    double p2 = p * p, n2 = n * n;
    return 6 * hM * hM / (p2 * p2) - (hD == 0 ? 0 : 6 * hD * hD / (n2 * n2));
  }

  __host__ __device__ double bisect(int fn, double lo, double hi, bool increasing) const {
    double x = 0.5 * (lo + hi);
    for (int it = 0; it < TWOFOUR_PROX_BISECTIONS; it++) {
      double v = fn == 0 ? h(x) : dh(x);
      if (v == 0) return x;
      if ((v < 0) == increasing) lo = x; else hi = x;
      double slope = fn == 0 ? dh(x) : d2h(x);
      double next = x - v / slope;
      if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
      if (fabs(next - x) <= 1e-15 * fabs(x) || hi - lo <= 1e-15 * hi) return next;
      x = next;
    }
    return x;
  }

  // Best stationary point with support {1,2,3}, left in cand; its objective or +inf.
  __host__ __device__ double threeSparse(double t) {
    double z1 = z[0], z2 = z[1], z3 = z[2];
    double m = 0.5 * (z1 + z2), d = 0.5 * (z1 - z2);
    hM = t * m; hD = t * d; hC = t * z3;
    double aMax = fmin(hC, z2 / z1);
    if (!(aMax > 0)) return HUGE_VAL;
    double bp[4];
    int nb = 0;
    bp[nb++] = 0;
    double aInf = aMax;
    if (hD > 0) {
      double q = sqrt(hD / hM);
      aInf = fmin(aMax, (1 - q) / (1 + q));
    }
    if (aInf > 0) {
      double lo = 0, hi = aInf;
      if (dh(lo) < 0 && dh(hi) > 0) bp[nb++] = bisect(1, lo, hi, true);
    }
    if (aInf < aMax) {
      double lo = aInf, hi = aMax;
      if (dh(lo) > 0 && dh(hi) < 0) bp[nb++] = bisect(1, lo, hi, false);
    }
    bp[nb++] = aMax;
    double bestF = HUGE_VAL;
    for (int i = 0; i + 1 < nb; i++) {
      double lo = bp[i], hi = bp[i + 1];
      if (!(hi > lo)) continue;
      double hl = h(lo), hh = h(hi);
      double root;
      if (hl == 0) root = lo;
      else if (hh == 0) root = hi;
      else if ((hl < 0) != (hh < 0)) root = bisect(0, lo, hi, hl < 0);
      else continue;
      if (!(root > 0)) continue;
      double a = root;
      double s = a / t;
      double w1 = m / (1 + a) + d / (1 - a);
      double w2 = m / (1 + a) - d / (1 - a);
      if (w2 < 0) w2 = 0;
      if (s > z3) s = z3;
      double f = 0.5 * ((w1 - z1) * (w1 - z1) + (w2 - z2) * (w2 - z2) + (s - z3) * (s - z3) + z[3] * z[3])
                 + t * w1 * w2 * s;
      if (f < bestF) {
        bestF = f;
        cand[0] = w1; cand[1] = w2; cand[2] = s; cand[3] = 0;
      }
    }
    return bestF;
  }

  __host__ __device__ bool nearTie() const {
    return z[1] - z[2] <= 0.05 * z[1] || z[2] - z[3] <= 0.05 * z[2];
  }

  __host__ __device__ void keepCand() { for (int i = 0; i < 4; i++) best[i] = cand[i]; }

  // Minimizer over w >= 0 for the sorted z (z3 > 0, t > 0), into best.
  __host__ __device__ void solveSorted(double t) {
    if (2 * t * (z[0] + z[1] + z[2]) <= 1) {
      denseFrom(z[0], z[1], z[2], z[3], t);
      keepCand();
      return;
    }
    best[0] = z[0]; best[1] = z[1]; best[2] = 0; best[3] = 0;
    double bestF = 0.5 * (z[2] * z[2] + z[3] * z[3]);
    double l1 = z[0] - t * (z[1] * z[2] + z[1] * z[3] + z[2] * z[3]);
    double l2 = z[1] - t * (z[0] * z[2] + z[0] * z[3] + z[2] * z[3]);
    if (l1 > 0 && l2 > 0 && t * l1 * l2 >= z[2]) return;

    double f3 = threeSparse(t);
    if (f3 < bestF) { bestF = f3; keepCand(); }

    if (z[3] > 0) {
      denseFrom(z[0], z[1], z[2], z[3], t);
      double fd = objective(cand, t);
      if (fd < bestF) { bestF = fd; keepCand(); }
      double s0 = best[0], s1 = best[1], s2 = best[2] > 0 ? best[2] : z[2];
      denseFrom(s0, s1, s2, z[3], t);
      fd = objective(cand, t);
      if (fd < bestF) { bestF = fd; keepCand(); }
      if (!nearTie()) return;
      double zz = z[0] * z[0] + z[1] * z[1] + z[2] * z[2] + z[3] * z[3];
      double e3 = r(z[0], z[1], z[2], z[3]);
      double c = 2 * zz / (zz + sqrt(zz * zz + 12 * t * e3 * zz));
      denseFrom(c * z[0], c * z[1], c * z[2], c * z[3], t);
      fd = objective(cand, t);
      if (fd < bestF) { bestF = fd; keepCand(); }
      denseFrom(0.5 * z[0], 0.5 * z[1], 0.5 * z[2], 0.5 * z[3], t);
      fd = objective(cand, t);
      if (fd < bestF) keepCand();
    }
  }

  // prox of t*R at y, into out (GroupProx.prox).
  __host__ __device__ void prox(const double* y, double t, double* out) {
    double a[4] = {fabs(y[0]), fabs(y[1]), fabs(y[2]), fabs(y[3])};
    double mn = fmin(fmin(a[0], a[1]), fmin(a[2], a[3]));
    if (t > 0 && mn > 0 && 2 * t * (a[0] + a[1] + a[2] + a[3] - mn) <= 1) {
      for (int i = 0; i < 4; i++) z[i] = a[i];
      scale = fmax(fmax(a[0], a[1]), fmax(a[2], a[3]));
      denseFrom(a[0], a[1], a[2], a[3], t);
      for (int i = 0; i < 4; i++) out[i] = copysign(cand[i], y[i]);
      return;
    }
    // Insertion sort, descending by |y|; ties keep the lower index first.
    for (int i = 0; i < 4; i++) order[i] = i;
    for (int i = 1; i < 4; i++) {
      int k = order[i];
      int j = i - 1;
      while (j >= 0 && a[order[j]] < a[k]) { order[j + 1] = order[j]; j--; }
      order[j + 1] = k;
    }
    for (int i = 0; i < 4; i++) z[i] = a[order[i]];
    scale = z[0];
    if (t <= 0 || z[2] == 0) {
      for (int i = 0; i < 4; i++) out[i] = y[i];
      return;
    }
    solveSorted(t);
    for (int q = 0; q < 4; q++) {
      int i = order[q];
      out[i] = copysign(best[q], y[i]);
    }
  }
};

// One group of GroupProx.proxAll: groups with at most two nonzeros are left alone (returns false);
// otherwise x becomes the prox of t*R at x, in fp64 rounded to fp32 (returns true).
__host__ __device__ __forceinline__ bool twofour_prox_group(TwofourProx& px, float* x, double t) {
  int nz = (x[0] != 0) + (x[1] != 0) + (x[2] != 0) + (x[3] != 0);
  if (nz <= 2) return false;
  double y[4] = {x[0], x[1], x[2], x[3]}, o[4];
  px.prox(y, t, o);
  for (int i = 0; i < 4; i++) x[i] = (float)o[i];
  return true;
}

// Sum of v over the warp, on every lane.
__device__ __forceinline__ int twofour_warp_sum(int v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// In place on w[0 .. 4*groups): the prox of t*R on each group with more than two nonzeros
// (GroupProx.proxAll); adds to *denseCount the number of groups still having more than two.
// No thread returns early, so every lane of a warp reaches the warp sum after its last trip.
extern "C" __global__ void twofour_prune_prox(float* w, long long groups, double t, double tolerance,
                                              int* denseCount) {
  TwofourProx px;
  px.tolerance = tolerance;
  int dense = 0;
  const long long stride = twofour_global_stride();
  for (long long g = twofour_global_index(); g < groups; g += stride) {
    float4 v = reinterpret_cast<float4*>(w)[g];
    float x[4] = {v.x, v.y, v.z, v.w};
    if (!twofour_prox_group(px, x, t)) continue;
    reinterpret_cast<float4*>(w)[g] = make_float4(x[0], x[1], x[2], x[3]);
    if ((x[0] != 0) + (x[1] != 0) + (x[2] != 0) + (x[3] != 0) > 2) dense++;
  }
  dense = twofour_warp_sum(dense);
  if ((threadIdx.x & 31) == 0 && dense > 0) atomicAdd(denseCount, dense);
}

// ---- masks ----------------------------------------------------------------------------------------

// mode 0: score |w|; mode 1: |w| * colScale[col] (fp64 product rounded to fp32, as Baselines.wanda);
// mode 2: the prox mask score, |w| for nonzeros and -1/(1 + |w0|) for zeros (CpuPruneEngine.prox).
extern "C" __global__ void twofour_prune_keep_top_two(float* w, const float* w0, const double* colScale,
                                                      long long groups, int cols, int mode) {
  const int groupsPerRow = cols / 4;
  for (long long g = twofour_global_index(); g < groups; g += twofour_global_stride()) {
    float4 v = reinterpret_cast<float4*>(w)[g];
    float x[4] = {v.x, v.y, v.z, v.w};
    float s[4];
    if (mode == 2) {
      float4 u = reinterpret_cast<const float4*>(w0)[g];
      float x0[4] = {u.x, u.y, u.z, u.w};
      for (int i = 0; i < 4; i++) s[i] = x[i] != 0 ? fabsf(x[i]) : __fdiv_rn(-1.0f, __fadd_rn(1.0f, fabsf(x0[i])));
    } else if (mode == 1) {
      const int c0 = (int)(g % groupsPerRow) * 4;
      for (int i = 0; i < 4; i++) s[i] = (float)((double)fabsf(x[i]) * colScale[c0 + i]);
    } else {
      for (int i = 0; i < 4; i++) s[i] = fabsf(x[i]);
    }
    int first = -1, second = -1;
    for (int i = 0; i < 4; i++) {
      if (first < 0 || s[i] > s[first]) { second = first; first = i; }
      else if (second < 0 || s[i] > s[second]) second = i;
    }
    for (int i = 0; i < 4; i++) if (i != first && i != second) x[i] = 0.0f;
    reinterpret_cast<float4*>(w)[g] = make_float4(x[0], x[1], x[2], x[3]);
  }
}

// keep[i] = 1 where v is nonzero, plus, in groups with fewer than two, the largest |w0| of the rest
// until there are two (CpuPruneEngine.widenToTwo).
extern "C" __global__ void twofour_prune_support(const float* v, const float* w0, unsigned char* keep, long long groups) {
  for (long long g = twofour_global_index(); g < groups; g += twofour_global_stride()) {
    float4 a = reinterpret_cast<const float4*>(v)[g];
    float4 b = reinterpret_cast<const float4*>(w0)[g];
    float x[4] = {a.x, a.y, a.z, a.w}, x0[4] = {b.x, b.y, b.z, b.w};
    bool k[4];
    int kept = 0;
    for (int i = 0; i < 4; i++) { k[i] = x[i] != 0.0f; kept += k[i]; }
    while (kept < 2) {
      int bestI = -1;
      for (int i = 0; i < 4; i++) {
        if (!k[i] && (bestI < 0 || fabsf(x0[i]) > fabsf(x0[bestI]))) bestI = i;
      }
      k[bestI] = true;
      kept++;
    }
    for (int i = 0; i < 4; i++) keep[4 * g + i] = k[i] ? 1 : 0;
  }
}

// ---- elementwise and reductions -------------------------------------------------------------------

extern "C" __global__ void twofour_prune_sub(const float* a, const float* b, float* out, long long n) {
  for (long long i = twofour_global_index(); i < n; i += twofour_global_stride()) out[i] = a[i] - b[i];
}

extern "C" __global__ void twofour_prune_scale(const float* a, float* out, long long n, float s) {
  for (long long i = twofour_global_index(); i < n; i += twofour_global_stride()) out[i] = s * a[i];
}

extern "C" __global__ void twofour_prune_mask(float* x, const unsigned char* keep, long long n) {
  for (long long i = twofour_global_index(); i < n; i += twofour_global_stride()) if (!keep[i]) x[i] = 0.0f;
}

extern "C" __global__ void twofour_prune_copy_2d(const float* src, long long lds, float* dst, long long ldd, int rows, int cols) {
  const long long total = (long long)rows * cols;
  for (long long i = twofour_global_index(); i < total; i += twofour_global_stride()) {
    const long long r = i / cols, c = i % cols;
    dst[r * ldd + c] = src[r * lds + c];
  }
}

extern "C" __global__ void twofour_prune_reverse(const float* in, float* out, int k) {
  const long long total = (long long)k * k;
  for (long long i = twofour_global_index(); i < total; i += twofour_global_stride()) out[i] = in[total - 1 - i];
}

extern "C" __global__ void twofour_prune_diag_sqrt(const float* h, int k, double* out) {
  for (long long j = twofour_global_index(); j < k; j += twofour_global_stride()) out[j] = sqrt((double)h[j * (long long)k + j]);
}

// Sum over a block of 256 threads in fp64; every thread gets the total. scratch: 8 doubles.
__device__ __forceinline__ double twofour_block_sum(double v, double* scratch) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  double s = 0;
  for (int i = 0; i < (int)(blockDim.x >> 5); i++) s += scratch[i];
  return s;
}

// out[r] = sum_i a[r][i] * b[r][i] in fp64; one block of 256 threads per row (grid-stride over rows).
extern "C" __global__ void twofour_prune_row_dot(const float* a, const float* b, double* out, int rows, int cols) {
  __shared__ double scratch[8];
  for (int r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* ar = a + (long long)r * cols;
    const float* br = b + (long long)r * cols;
    double s = 0;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) s += (double)ar[i] * br[i];
    s = twofour_block_sum(s, scratch);
    if (threadIdx.x == 0) out[r] = s;
  }
}

// One masked CG step for every row (CpuPruneEngine.refine's loop body), after hd = dir * H:
//   dhd = dir.hd; rows with rr == 0 are done; dhd <= 0 ends a row (rr = 0);
//   alpha = rr / dhd; v += alpha dir, res -= alpha hd (on the mask); next = res.res;
//   dir = keep ? res + (next / rr) dir : 0; rr = next.
// dir is zero off the mask, so dir.hd needs no mask. One block of 256 threads per row.
extern "C" __global__ void twofour_prune_cg_step(float* v, float* res, float* dir, const float* hd,
                                                 const unsigned char* keep, double* rr, int rows, int cols) {
  __shared__ double scratch[8];
  for (int r = blockIdx.x; r < rows; r += gridDim.x) {
    const long long o = (long long)r * cols;
    const double rrOld = rr[r];
    if (rrOld == 0) continue;  // the same for the whole block
    double dhd = 0;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) dhd += (double)dir[o + i] * hd[o + i];
    dhd = twofour_block_sum(dhd, scratch);
    if (!(dhd > 0)) {
      if (threadIdx.x == 0) rr[r] = 0;
      continue;
    }
    const double alpha = rrOld / dhd;
    double next = 0;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) {
      if (!keep[o + i]) continue;
      v[o + i] += (float)(alpha * dir[o + i]);
      float rv = res[o + i] - (float)(alpha * hd[o + i]);
      res[o + i] = rv;
      next += (double)rv * rv;
    }
    next = twofour_block_sum(next, scratch);
    const double beta = next / rrOld;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) {
      dir[o + i] = keep[o + i] ? (float)(res[o + i] + beta * dir[o + i]) : 0.0f;
    }
    if (threadIdx.x == 0) rr[r] = next;
  }
}

// ---- SparseGPT ------------------------------------------------------------------------------------

// The sweep over columns [b0, b0 + bw) of w ([n][k] fp32), with u the upper Cholesky factor of the
// dampened H^-1 ([k][k] fp32): at the start of each group of 4 columns, the mask of the group keeps the
// two largest w^2 / U_jj^2 (from the already-updated weights); each column's pruning error
// e = (w_j - q_j) / U_jj is spread over the block's later columns (w_c -= e U_jc) and written to
// err[r][j - b0] for the update of the columns right of the block (one GEMM, done by the caller).
// One thread per row; the row's block lives in fp64 local memory (per-thread, so accesses coalesce).
// One row of the sweep: wr = the row's columns [b0, b0 + bw), err = the row's errors (bw values).
__host__ __device__ __forceinline__ void twofour_sparsegpt_row(float* wr, const float* u, float* err, int k, int b0, int bw) {
  double wl[TWOFOUR_SPARSEGPT_MAX_BLOCK];
  for (int c = 0; c < bw; c++) wl[c] = wr[c];
  bool pruned[4] = {false, false, false, false};
  for (int c = 0; c < bw; c++) {
    const int j = b0 + c;
    if (c % 4 == 0) {
      double score[4];
      for (int i = 0; i < 4; i++) {
        double d = u[(long long)(j + i) * k + j + i];
        double x = wl[c + i];
        score[i] = x * x / (d * d);
      }
      int first = -1, second = -1;
      for (int i = 0; i < 4; i++) {
        if (first < 0 || score[i] > score[first]) { second = first; first = i; }
        else if (second < 0 || score[i] > score[second]) second = i;
      }
      for (int i = 0; i < 4; i++) pruned[i] = i != first && i != second;
    }
    const double d = u[(long long)j * k + j];
    const double wj = wl[c];
    const double q = pruned[c % 4] ? 0 : wj;
    const double e = (wj - q) / d;
    err[c] = (float)e;
    if (e != 0) {
      const float* urow = u + (long long)j * k + b0;
      for (int c2 = c + 1; c2 < bw; c2++) wl[c2] -= e * urow[c2];
    }
    wl[c] = q;
  }
  for (int c = 0; c < bw; c++) wr[c] = (float)wl[c];
}

extern "C" __global__ void twofour_prune_sparsegpt_block(float* w, const float* u, float* err, int n, int k,
                                                         int b0, int bw) {
  for (long long r = twofour_global_index(); r < n; r += twofour_global_stride())
    twofour_sparsegpt_row(w + r * k + b0, u, err + r * bw, k, b0, bw);
}
