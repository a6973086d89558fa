// SPDX-License-Identifier: BSD-3-Clause
// The CUDA reduction executor (Note [CUDA reductions]): reduces an expression over a set
// of dims in one kernel that evaluates the expression as it reads it.
#pragma once

#if !defined(__CUDACC__)
#error "kiln/expr/reduce_cuda.cuh holds CUDA kernels: include it from files compiled by nvcc"
#endif

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cub/block/block_reduce.cuh>

#include "kiln/cuda/copy.hpp"
#include "kiln/cuda/memory.hpp"
#include "kiln/cuda/scratch.hpp"
#include "kiln/expr/eval_cuda.cuh"
#include "kiln/expr/reduce_geometry.hpp"

namespace kiln::expr::cuda {

/// Each block reduces pieces (item = output * pieces + piece) of the reduced ranges.
/// With one piece per output the result goes through fin into `out`; otherwise the
/// accumulator goes to `partial[item]`.
template <class A, class RF, class O, class P, class Fin>
__global__ void __launch_bounds__(kReduceThreads)
    reduce_block_kernel(P plan, ReduceDims d, int64_t n_items, int64_t pieces, int64_t piece,
                        int64_t n_red, RF rf, Fin fin, O* out, A* partial) {
  using BlockReduce = cub::BlockReduce<A, kReduceThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  for (int64_t item = blockIdx.x; item < n_items; item += gridDim.x) {
    const int64_t o = item / pieces, r0 = (item % pieces) * piece;
    const int64_t r1 = r0 + piece < n_red ? r0 + piece : n_red;
    P p = plan;
    const A acc = reduce_strided<A>(p, d, o, r0 + threadIdx.x, r1, kReduceThreads, rf);
    const A total = BlockReduce(temp).Reduce(acc, rf);
    if (threadIdx.x == 0) {
      if (partial)
        partial[item] = total;
      else
        out[o] = fin(total, n_red);
    }
    __syncthreads();  // temp is reused by the next item
  }
}

/// Each thread reduces one piece in order; item = piece * n_out + output, so adjacent
/// threads take adjacent outputs.
template <class A, class RF, class O, class P, class Fin>
__global__ void __launch_bounds__(kReduceThreads)
    reduce_thread_kernel(P plan, ReduceDims d, int64_t n_out, int64_t pieces, int64_t piece,
                         int64_t n_red, RF rf, Fin fin, O* out, A* partial) {
  const int64_t n_items = n_out * pieces;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kReduceThreads;
  for (int64_t item = static_cast<int64_t>(blockIdx.x) * kReduceThreads + threadIdx.x;
       item < n_items; item += step) {
    const int64_t o = item % n_out, c = item / n_out;
    const int64_t r0 = c * piece, r1 = r0 + piece < n_red ? r0 + piece : n_red;
    P p = plan;
    const A acc = reduce_run<A>(p, d, o, r0, r1, rf);
    if (partial)
      partial[o * pieces + c] = acc;
    else
      out[o] = fin(acc, n_red);
  }
}

/// out[o] = fin(partial[o * pieces] + ... + partial[o * pieces + pieces - 1]), in order.
template <class A, class RF, class O, class Fin>
__global__ void __launch_bounds__(kReduceThreads)
    combine_kernel(const A* partial, int64_t n_out, int64_t pieces, int64_t n_red, RF rf, Fin fin,
                   O* out) {
  using BlockReduce = cub::BlockReduce<A, kReduceThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  for (int64_t o = blockIdx.x; o < n_out; o += gridDim.x) {
    A acc = RF::template identity<A>();
    for (int64_t c = threadIdx.x; c < pieces; c += kReduceThreads)
      acc = rf(acc, partial[o * pieces + c]);
    const A total = BlockReduce(temp).Reduce(acc, rf);
    if (threadIdx.x == 0) out[o] = fin(total, n_red);
    __syncthreads();
  }
}

/// out[o] = fin(reduction of e over `mask` for output o, n_red), `out` contiguous over
/// the kept dims, on `device`'s current stream.
template <class A, class RF, class O, class E, class Fin>
void reduce(const E& e, uint32_t mask, O* out, RF rf, Fin fin, int device, cudaStream_t stream) {
  const Shape& shape = e.shape();
  const ReduceGeometry g = reduce_geometry(shape, mask, leaf_strides(e, shape));
  const int64_t n_out = g.rl.n_out, n_red = g.rl.n_red;
  if (n_out == 0) return;
  if (n_red == 0) {  // the identity everywhere
    const O v = fin(RF::template identity<A>(), int64_t{0});
    const int64_t n = n_out, st = 1;
    kiln::cuda::detail::fill(out, &n, &st, 1, sizeof(O), &v, device);
    return;
  }
  const auto plan = e.plan(g.rl.layout);
  const int64_t n_items = n_out * g.pieces;
  const kiln::cuda::Scratch scratch(
      g.pieces > 1 ? static_cast<std::size_t>(n_items) * sizeof(A) : 0, device, stream);
  A* partial = scratch.as<A>();  // null with one piece per output
  if (g.per_thread) {
    reduce_thread_kernel<A><<<grid_size(n_items, kReduceThreads), kReduceThreads, 0, stream>>>(
        plan, g.dims, n_out, g.pieces, g.piece, n_red, rf, fin, out, partial);
  } else {
    const unsigned grid = static_cast<unsigned>(std::min<int64_t>(n_items, int64_t{1} << 30));
    reduce_block_kernel<A><<<grid, kReduceThreads, 0, stream>>>(
        plan, g.dims, n_items, g.pieces, g.piece, n_red, rf, fin, out, partial);
  }
  check_launch("reduction");
  if (partial) {
    const unsigned grid = static_cast<unsigned>(std::min<int64_t>(n_out, int64_t{1} << 30));
    combine_kernel<A>
        <<<grid, kReduceThreads, 0, stream>>>(partial, n_out, g.pieces, n_red, rf, fin, out);
    check_launch("reduction combine");
  }
}

}  // namespace kiln::expr::cuda
