// Host harness for PruneKernelsHostTest: runs the device code of prune.cuh that is marked
// __host__ __device__ (the group prox of twofour_prune_prox, the row sweep of
// twofour_prune_sparsegpt_block) on the CPU, so the CUDA port is checked against its Java twin on
// every build that has nvcc, GPU or not. Files are raw little-endian fp32.
//   prune_host prox IN OUT_PREFIX T...            OUT_PREFIX<i>.bin = prox of each group of IN at the i-th T
//   prune_host sparsegpt W U N K BLOCK OUT        SparseGPT: per column block, the row sweep, then
//                                                 W[:, b1:] -= err * U[b0:b1, b1:] (what the GEMM does)
#include "prune.cuh"
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static std::vector<float> readFloats(const char* path) {
  std::vector<float> v;
  FILE* f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(2); }
  float x;
  while (fread(&x, 4, 1, f) == 1) v.push_back(x);
  fclose(f);
  return v;
}

static void writeFloats(const char* path, const std::vector<float>& v) {
  FILE* f = fopen(path, "wb");
  if (!f || fwrite(v.data(), 4, v.size(), f) != v.size()) { fprintf(stderr, "cannot write %s\n", path); exit(2); }
  fclose(f);
}

int main(int argc, char** argv) {
  if (argc >= 4 && std::string(argv[1]) == "prox") {
    std::vector<float> in = readFloats(argv[2]);
    long long groups = (long long)in.size() / 4;
    for (int a = 4; a < argc; a++) {
      double t = atof(argv[a]);
      std::vector<float> w = in;
      TwofourProx px;
      px.tolerance = 1e-9;
      for (long long g = 0; g < groups; g++) twofour_prox_group(px, &w[4 * g], t);
      char name[4096];
      snprintf(name, sizeof name, "%s%d.bin", argv[3], a - 4);
      writeFloats(name, w);
    }
    return 0;
  }
  if (argc == 8 && std::string(argv[1]) == "sparsegpt") {
    std::vector<float> w = readFloats(argv[2]), u = readFloats(argv[3]);
    int n = atoi(argv[4]), k = atoi(argv[5]), block = atoi(argv[6]);
    std::vector<float> err((size_t)n * block);
    for (int b0 = 0; b0 < k; b0 += block) {
      int b1 = b0 + block < k ? b0 + block : k, bw = b1 - b0;
      for (int r = 0; r < n; r++) twofour_sparsegpt_row(&w[(size_t)r * k + b0], u.data(), &err[(size_t)r * bw], k, b0, bw);
      for (int r = 0; r < n; r++) {
        for (int c = b1; c < k; c++) {
          double s = 0;
          for (int i = 0; i < bw; i++) s += (double)err[(size_t)r * bw + i] * u[(size_t)(b0 + i) * k + c];
          w[(size_t)r * k + c] -= (float)s;
        }
      }
    }
    writeFloats(argv[7], w);
    return 0;
  }
  fprintf(stderr, "usage: prune_host prox IN OUT_PREFIX T... | sparsegpt W U N K BLOCK OUT\n");
  return 2;
}
