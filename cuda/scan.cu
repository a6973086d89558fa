// SPDX-License-Identifier: BSD-3-Clause
// cumsum and cumprod of CUDA tensors along a dim (compiled per dtype into kiln::cuda).
#include <cuda_runtime.h>

#include <cstdint>
#include <cub/block/block_scan.cuh>
#include <type_traits>

#include "device_scope.hpp"
#include "dim_split.hpp"
#include "kiln/cuda/copy.hpp"
#include "kiln/expr/eval_cuda.cuh"
#include "kiln/expr/functors/reduce.hpp"
#include "kiln/ops/scan.hpp"

namespace kiln::detail {
namespace {

// Note [CUDA scans]
// The input is made contiguous and viewed as [outer, n, inner], scanned along n, with the
// CPU's dtypes: int64 out for integer inputs, accumulation in double for float (as torch's
// CPU scans), float for half and bfloat16.
// - inner == 1 (the last dim): a block per row. The row is walked in tiles of kThreads
//   elements; CUB's block scan scans a tile, and the tile's total carries into the next.
//   The grouping of additions differs from the CPU's left-to-right loop, so float results
//   agree to rounding, not bit for bit.
// - inner > 1: a thread per (outer, inner) column, scanning in order (adjacent threads
//   take adjacent columns: coalesced); the CPU's order exactly.
using expr::cuda::kThreads;

// The combine of the running total: the reductions' functors (expr/functors/reduce.hpp).
template <bool Prod>
using ScanOp = std::conditional_t<Prod, expr::op::ProdReduce, expr::op::SumReduce>;

template <bool Prod, class T, class O, class A>
__global__ void __launch_bounds__(kThreads)
    scan_rows_kernel(const T* __restrict__ x, O* __restrict__ y, int64_t rows, int64_t n) {
  using BlockScan = cub::BlockScan<A, kThreads>;
  __shared__ typename BlockScan::TempStorage temp;
  const ScanOp<Prod> op;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    A carry = ScanOp<Prod>::template identity<A>();
    for (int64_t base = 0; base < n; base += kThreads) {
      const int64_t j = base + threadIdx.x;
      const A v = j < n ? static_cast<A>(x[r * n + j]) : ScanOp<Prod>::template identity<A>();
      A inclusive, total;
      BlockScan(temp).InclusiveScan(v, inclusive, op, total);
      if (j < n) y[r * n + j] = static_cast<O>(op(carry, inclusive));
      carry = op(carry, total);
      __syncthreads();  // temp is reused by the next tile
    }
  }
}

template <bool Prod, class T, class O, class A>
__global__ void __launch_bounds__(kThreads)
    scan_columns_kernel(const T* __restrict__ x, O* __restrict__ y, int64_t outer, int64_t n,
                        int64_t inner) {
  const ScanOp<Prod> op;
  const int64_t cols = outer * inner;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; c < cols; c += step) {
    const int64_t base = (c / inner) * n * inner + c % inner;
    A acc = ScanOp<Prod>::template identity<A>();
    for (int64_t k = 0; k < n; ++k) {
      acc = op(acc, static_cast<A>(x[base + k * inner]));
      y[base + k * inner] = static_cast<O>(acc);
    }
  }
}

}  // namespace

template <bool Prod, class T>
Tensor<scan_out_t<T>, CUDA> scan_cuda(const Tensor<T, CUDA>& x, int64_t dim) {
  using O = scan_out_t<T>;
  using A = scan_acc_t<T>;
  const char* op = Prod ? "cumprod" : "cumsum";
  cuda::detail::AlongDim<O, T> a(x, dim, op);
  if (a.out.numel() == 0) return a.out;
  const auto [outer, n, inner] = a.split;
  if (inner == 1) {
    const unsigned grid = static_cast<unsigned>(std::min<int64_t>(outer, int64_t{1} << 30));
    scan_rows_kernel<Prod, T, O, A>
        <<<grid, kThreads, 0, a.stream>>>(a.in.data(), a.out.data(), outer, n);
  } else {
    scan_columns_kernel<Prod, T, O, A>
        <<<expr::cuda::grid_size(outer * inner, kThreads), kThreads, 0, a.stream>>>(
            a.in.data(), a.out.data(), outer, n, inner);
  }
  expr::cuda::check_launch(op);
  return a.out;
}

#define KILN_SCAN_INSTANTIATE(T)                                                             \
  template Tensor<scan_out_t<T>, CUDA> scan_cuda<false, T>(const Tensor<T, CUDA>&, int64_t); \
  template Tensor<scan_out_t<T>, CUDA> scan_cuda<true, T>(const Tensor<T, CUDA>&, int64_t);
KILN_SCAN_INSTANTIATE(float)
KILN_SCAN_INSTANTIATE(double)
KILN_SCAN_INSTANTIATE(half)
KILN_SCAN_INSTANTIATE(bfloat16)
KILN_SCAN_INSTANTIATE(bool)
KILN_SCAN_INSTANTIATE(uint8_t)
KILN_SCAN_INSTANTIATE(int8_t)
KILN_SCAN_INSTANTIATE(int16_t)
KILN_SCAN_INSTANTIATE(int32_t)
KILN_SCAN_INSTANTIATE(int64_t)
#undef KILN_SCAN_INSTANTIATE

}  // namespace kiln::detail
