// The one translation unit nvcc compiles into twofour.fatbin (see kernels/build-fatbin.sh).
// Every kernel is extern "C" so the Java launchers find it by its plain name.
#include "common.cuh"
#include "fill.cuh"
#include "convert.cuh"
#include "elementwise.cuh"
#include "sparse24_gemm.cuh"
#include "sparse24_mmasp.cuh"
#include "sparse24_stream.cuh"
#include "sparse24_wide.cuh"
#include "unpack.cuh"
#include "prune.cuh"
#include "transformer/transformer.cuh"
