// The transformer kernels of the CUDA backend (owner: helper "cuda-backend"); included by twofour.cu.
#pragma once
#include <type_traits>
#include "tf_common.cuh"
#include "tf_elementwise.cuh"
#include "tf_attention.cuh"
#include "tf_sampler.cuh"
#include "tf_gemv.cuh"
