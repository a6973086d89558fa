// SPDX-License-Identifier: BSD-3-Clause
// rand, randn and randint into CUDA tensors: the CPU's Philox streams and per-block maths
// (Note [Random streams], tensor/random.hpp), one thread per counter block, so the same
// seed gives the same numbers on both devices.
#include <cuda_runtime.h>

#include <cstdint>

#include "device_scope.hpp"
#include "kiln/core/philox.hpp"
#include "kiln/cuda/copy.hpp"
#include "kiln/expr/eval_cuda.cuh"
#include "kiln/tensor/random.hpp"

namespace kiln::detail {
namespace {

using expr::cuda::kThreads;

// Element i comes from counter block i / K, word(s) i % K, as on the CPU.
template <class T>
__global__ void __launch_bounds__(kThreads)
    random_kernel(T* __restrict__ p, int64_t n, PhiloxState st, RandomKind kind, int64_t low,
                  uint64_t range) {
  const int K = kind == RandomKind::integer ? randints_per_block(range) : uniforms_per_block<T>;
  const int64_t blocks = (n + K - 1) / K;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t b = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; b < blocks;
       b += step) {
    const PhiloxWords w = philox_block_inline(st, static_cast<uint64_t>(b));
    T* out = p + b * K;
    const int count = static_cast<int>(n - b * K < K ? n - b * K : K);
    if (kind == RandomKind::uniform) {
      if constexpr (is_floating_v<T>)
        for (int k = 0; k < count; ++k) out[k] = static_cast<T>(uniform_of_block<T>(w, k));
    } else if (kind == RandomKind::normal) {
      if constexpr (is_floating_v<T>) {
        double z[4];
        normals_of_block<T>(w, z);
        for (int k = 0; k < count; ++k) out[k] = from_double<T>(z[k]);
      }
    } else {
      for (int k = 0; k < count; ++k)
        out[k] = static_cast<T>(
            static_cast<int64_t>(static_cast<uint64_t>(low) + randint_of_block(w, k, range)));
    }
  }
}

}  // namespace

template <class T>
void random_cuda(T* p, int64_t n, PhiloxState st, RandomKind kind, int64_t low, uint64_t range,
                 int device) {
  if (n == 0) return;
  cuda::detail::DeviceScope scope(device);
  random_kernel<T><<<expr::cuda::grid_size(n / 2 + 1, kThreads), kThreads, 0,
                     cuda::detail::current_stream_handle(device)>>>(p, n, st, kind, low, range);
  expr::cuda::check_launch("random");
}

#define KILN_RANDOM_INSTANTIATE(T) \
  template void random_cuda<T>(T*, int64_t, PhiloxState, RandomKind, int64_t, uint64_t, int);
KILN_RANDOM_INSTANTIATE(float)
KILN_RANDOM_INSTANTIATE(double)
KILN_RANDOM_INSTANTIATE(half)
KILN_RANDOM_INSTANTIATE(bfloat16)
KILN_RANDOM_INSTANTIATE(uint8_t)
KILN_RANDOM_INSTANTIATE(int8_t)
KILN_RANDOM_INSTANTIATE(int16_t)
KILN_RANDOM_INSTANTIATE(int32_t)
KILN_RANDOM_INSTANTIATE(int64_t)
KILN_RANDOM_INSTANTIATE(bool)
#undef KILN_RANDOM_INSTANTIATE

}  // namespace kiln::detail
