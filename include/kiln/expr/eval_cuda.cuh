// SPDX-License-Identifier: BSD-3-Clause
// The CUDA executor: the one kernel template that evaluates any elementwise expression
// (compiled by nvcc, in the user's .cu file, for the user's expression).
#pragma once

#if !defined(__CUDACC__)
#error "kiln/expr/eval_cuda.cuh holds CUDA kernels: include it from files compiled by nvcc"
#endif

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kiln/core/error.hpp"
#include "kiln/core/shape.hpp"
#include "kiln/cuda/device_guard.cuh"
#include "kiln/expr/eval_cpu.hpp"
#include "kiln/expr/node.hpp"

namespace kiln::expr::cuda {

// Note [Fused CUDA kernels]
// Assigning an expression to a CUDA tensor launches ONE kernel: the expression's plan
// (the same trivially copyable struct the CPU loops evaluate, Note [Expressions and
// plans]) is passed by value, and each thread evaluates elements with the op functors'
// KILN_HD bodies, so every input is read once and the output written once.
// - Contiguous output and operands: a grid-stride loop over the flat index. Each thread
//   handles kUnroll elements kThreads apart per step, so a warp's loads stay coalesced and
//   several loads are in flight per thread (what bandwidth needs on big GPUs).
// - Anything else (strided or broadcast operands, a strided output): the dims are
//   coalesced as on the CPU, and each element's coordinates come from its flat index;
//   leaves are pointed at the element's row with the plans' set_row.
// - Indices are 32-bit up to 2^30 elements (cheaper division and addressing; the margin
//   keeps index + grid stride from overflowing), 64-bit beyond; both are instantiated.
// - The grid is capped at a few waves of blocks per SM; the grid-stride loop covers the
//   rest, which keeps launch cost flat for huge tensors.
inline constexpr int kThreads = 256;
inline constexpr int kUnroll = 4;

struct StridedOut {
  int nd;
  int64_t extent[kMaxDims];
  int64_t st[kMaxDims];
};

template <class Index, class T, class Plan>
__global__ void __launch_bounds__(kThreads) linear_kernel(T* __restrict__ out, Index n, Plan p) {
  const Index step = static_cast<Index>(gridDim.x) * kThreads * kUnroll;
  for (Index base = static_cast<Index>(blockIdx.x) * kThreads * kUnroll + threadIdx.x; base < n;
       base += step) {
    T v[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      const Index i = base + k * kThreads;
      if (i < n) v[k] = p.template eval<false>(i);
    }
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      const Index i = base + k * kThreads;
      if (i < n) out[i] = v[k];
    }
  }
}

template <class Index, class T, class Plan>
__global__ void __launch_bounds__(kThreads)
    strided_kernel(T* __restrict__ out, Index n, StridedOut o, Plan p) {
  const Index step = static_cast<Index>(gridDim.x) * kThreads;
  for (Index i = static_cast<Index>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += step) {
    int64_t coords[kMaxDims];
    int64_t off = 0;
    Index rem = i;
    for (int k = o.nd - 1; k >= 0; --k) {
      const Index e = static_cast<Index>(o.extent[k]);
      const Index c = rem % e;
      rem /= e;
      coords[k] = c;
      off += c * o.st[k];
    }
    Plan q = p;
    q.set_row(coords);
    out[off] = q.template eval<true>(coords[o.nd - 1]);
  }
}

/// Blocks for `work` items of `per_block` each: at most a few waves per SM.
inline unsigned grid_size(int64_t work, int64_t per_block) {
  static const int sms = [] {
    int dev = 0, n = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
      cudaGetLastError();
      n = 132;
    }
    return n;
  }();
  const int64_t blocks = (work + per_block - 1) / per_block;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks, int64_t{sms} * 16)));
}

inline void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  KILN_CHECK(err == cudaSuccess, DeviceError, "[cuda] ", what,
             " kernel launch failed: ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
}

/// out = e over `shape`: one kernel on `stream`.
template <class T, class E>
void run(T* out, const Shape& shape, const Strides& out_strides, const E& e, cudaStream_t stream) {
  const int64_t n = numel_of(shape);
  if (n == 0) return;
  // 32-bit indices leave headroom for the grid-stride step and the unrolled offsets.
  const bool small = n <= (int64_t{1} << 30);
  if (is_contiguous_layout(shape, out_strides) && e.leaves_contiguous(shape)) {
    Layout l;
    l.out_shape = shape;
    l.linear = true;
    l.nd = 1;
    l.extent[0] = n;
    const auto plan = e.plan(l);
    const unsigned grid = grid_size(n, int64_t{kThreads} * kUnroll);
    if (small)
      linear_kernel<int32_t><<<grid, kThreads, 0, stream>>>(out, static_cast<int32_t>(n), plan);
    else
      linear_kernel<int64_t><<<grid, kThreads, 0, stream>>>(out, n, plan);
    check_launch("elementwise");
    return;
  }
  std::vector<Strides> all{out_strides};
  e.for_each_leaf([&](const auto& leaf) {
    all.push_back(broadcast_strides(leaf.shape(), leaf.strides(), shape));
  });
  const Layout l = coalesce_layout(shape, all);
  StridedOut o{};
  o.nd = l.nd;
  for (int k = 0; k < l.nd; ++k) o.extent[k] = l.extent[k];
  layout_strides(l, out_strides, o.st);
  const auto plan = e.plan(l);
  const unsigned grid = grid_size(n, kThreads);
  if (small)
    strided_kernel<int32_t><<<grid, kThreads, 0, stream>>>(out, static_cast<int32_t>(n), o, plan);
  else
    strided_kernel<int64_t><<<grid, kThreads, 0, stream>>>(out, n, o, plan);
  check_launch("strided elementwise");
}

}  // namespace kiln::expr::cuda
