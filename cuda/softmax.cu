// SPDX-License-Identifier: BSD-3-Clause
// softmax and log_softmax of CUDA tensors along a dim (compiled once per dtype into
// kiln::cuda, so g++-compiled files can call them).
#include <cuda_runtime.h>

#include <cstdint>
#include <limits>

#include "device_scope.hpp"
#include "dim_split.hpp"
#include "kiln/cuda/copy.hpp"
#include "kiln/expr/eval_cuda.cuh"
#include "kiln/expr/functors/reduce.hpp"
#include "kiln/ops/softmax.hpp"

namespace kiln::detail {
namespace {

// Note [CUDA softmax]
// The input is made contiguous and viewed as [outer, n, inner] with the softmax over n.
// Each row is read twice: pass 1 keeps a running maximum m and a running sum s of
// exp(x - m), rescaling s when m grows (online softmax; the pairs combine with
// logsumexp's functor); pass 2 writes exp(x - m) / s, or (x - m) - log(s) for log_softmax.
// - inner == 1 (the last dim): a warp per row. Lanes stride over the row (coalesced) and
//   combine their (m, s) pairs with shuffles.
// - inner > 1: a thread per (outer, inner) column; adjacent threads take adjacent columns,
//   so each step of the walk down n reads a coalesced row.
// Accumulation is in float for half and bfloat16 (opmath), as on the CPU. A NaN in a row,
// or a row of -inf only, gives a NaN row, as on the CPU and in torch.
using expr::cuda::kThreads;
constexpr int kWarp = 32;

// Running (max, sum of exp(x - max)) pairs combine as logsumexp's accumulators do: one
// functor for both (expr/functors/reduce.hpp), NaN and infinities included.
using Lse = expr::op::LogSumExpReduce;

template <bool Log, class A>
__device__ A finish(A x, A m, A s) {
  if constexpr (Log)
    return (x - m) - math::log(s);
  else
    return math::exp(x - m) / s;
}

template <bool Log, class T>
__global__ void __launch_bounds__(kThreads)
    softmax_rows_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t n) {
  using A = opmath_t<T>;
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (kThreads / kWarp);
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * (kThreads / kWarp) + threadIdx.x / kWarp;
       r < rows; r += warps) {
    const T* xr = x + r * n;
    const Lse rf;
    auto o = Lse::identity<expr::op::LseAcc<A>>();
    for (int64_t j = lane; j < n; j += kWarp) o = rf(o, expr::op::LseAcc<A>(static_cast<A>(xr[j])));
    for (int off = kWarp / 2; off > 0; off /= 2)
      o = rf(o, expr::op::LseAcc<A>(__shfl_xor_sync(0xffffffffu, o.m, off),
                                    __shfl_xor_sync(0xffffffffu, o.s, off)));
    T* yr = y + r * n;
    for (int64_t j = lane; j < n; j += kWarp)
      yr[j] = static_cast<T>(finish<Log>(static_cast<A>(xr[j]), o.m, o.s));
  }
}

template <bool Log, class T>
__global__ void __launch_bounds__(kThreads)
    softmax_columns_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t outer, int64_t n,
                           int64_t inner) {
  using A = opmath_t<T>;
  const int64_t cols = outer * inner;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; c < cols; c += step) {
    const int64_t base = (c / inner) * n * inner + c % inner;
    const Lse rf;
    auto o = Lse::identity<expr::op::LseAcc<A>>();
    for (int64_t k = 0; k < n; ++k)
      o = rf(o, expr::op::LseAcc<A>(static_cast<A>(x[base + k * inner])));
    for (int64_t k = 0; k < n; ++k)
      y[base + k * inner] =
          static_cast<T>(finish<Log>(static_cast<A>(x[base + k * inner]), o.m, o.s));
  }
}

}  // namespace

template <bool Log, class T>
Tensor<T, CUDA> softmax_cuda(const Tensor<T, CUDA>& x, int64_t dim) {
  const char* op = Log ? "log_softmax" : "softmax";
  cuda::detail::AlongDim<T, T> a(x, dim, op);
  if (a.out.numel() == 0) return a.out;
  const auto [outer, n, inner] = a.split;
  if (inner == 1) {
    const int64_t rows_per_block = kThreads / kWarp;
    softmax_rows_kernel<Log>
        <<<expr::cuda::grid_size(outer, rows_per_block), kThreads, 0, a.stream>>>(
            a.in.data(), a.out.data(), outer, n);
  } else {
    softmax_columns_kernel<Log>
        <<<expr::cuda::grid_size(outer * inner, kThreads), kThreads, 0, a.stream>>>(
            a.in.data(), a.out.data(), outer, n, inner);
  }
  expr::cuda::check_launch(op);
  return a.out;
}

#define KILN_SOFTMAX_INSTANTIATE(T)                                                 \
  template Tensor<T, CUDA> softmax_cuda<false, T>(const Tensor<T, CUDA>&, int64_t); \
  template Tensor<T, CUDA> softmax_cuda<true, T>(const Tensor<T, CUDA>&, int64_t);
KILN_SOFTMAX_INSTANTIATE(float)
KILN_SOFTMAX_INSTANTIATE(double)
KILN_SOFTMAX_INSTANTIATE(half)
KILN_SOFTMAX_INSTANTIATE(bfloat16)
#undef KILN_SOFTMAX_INSTANTIATE

}  // namespace kiln::detail
