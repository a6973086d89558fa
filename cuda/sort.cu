// SPDX-License-Identifier: BSD-3-Clause
// sort (and through it argsort and topk) of CUDA tensors along a dim: CUB's segmented
// radix sort, one segment per row (compiled per dtype into kiln::cuda).
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <cub/device/device_segmented_radix_sort.cuh>
#include <type_traits>

#include "device_scope.hpp"
#include "kiln/cuda/copy.hpp"
#include "kiln/cuda/scratch.hpp"
#include "kiln/expr/eval_cuda.cuh"
#include "kiln/ops/sort.hpp"

namespace kiln::detail {
namespace {

// Note [CUDA sort]
// The dim is moved last and made contiguous, so each row is one segment of CUB's
// segmented radix sort, which sorts (key, index) pairs and is stable: equal keys keep
// their input order, ascending or descending, as the CPU's sort. Keys are a copy:
// - half and bfloat16 become float (exact, order-preserving); bool becomes uint8;
// - every NaN becomes +NaN, which radix order puts after +inf: NaN sorts as the largest
//   value, as in torch (a NaN with its sign bit set would otherwise sort first);
// - -0.0 becomes +0.0, so that the two zeros compare equal and keep their input order,
//   as the CPU's comparison sort does.
// The values are then gathered from the input at the sorted indices, so the output holds
// the input's own elements (zeros keep their signs, NaNs their payloads).
using expr::cuda::kThreads;

template <class T>
using sort_key_t = std::conditional_t<is_reduced_float_v<T>, float,
                                      std::conditional_t<std::is_same_v<T, bool>, uint8_t, T>>;

template <class T, class K>
__global__ void prepare_kernel(const T* __restrict__ x, K* __restrict__ keys,
                               int64_t* __restrict__ idx, int64_t* __restrict__ offsets,
                               int64_t numel, int64_t n, int64_t rows) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < numel;
       i += step) {
    K k = static_cast<K>(x[i]);
    if constexpr (std::is_floating_point_v<K>) {
      if (k != k) k = std::numeric_limits<K>::quiet_NaN();  // +NaN
      if (k == K(0)) k = K(0);                              // -0.0 -> +0.0
    }
    keys[i] = k;
    idx[i] = i % n;
  }
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; r <= rows; r += step)
    offsets[r] = r * n;
}

template <class T>
__global__ void gather_kernel(const T* __restrict__ x, const int64_t* __restrict__ idx,
                              T* __restrict__ y, int64_t numel, int64_t n) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < numel; i += step)
    y[i] = x[(i / n) * n + idx[i]];
}

}  // namespace

template <class T>
ValuesIndices<T, CUDA> sort_cuda(const Tensor<T, CUDA>& x, int64_t dim, bool descending) {
  using K = sort_key_t<T>;
  const int d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), "sort");
  const int device = x.get_device();
  cuda::detail::DeviceScope scope(device);  // what follows is allocated on x's device
  // The sorted dim last and contiguous: rows of n elements.
  const Tensor<T, CUDA> rows = x.dim() == 0 ? x.reshape({1}) : x.transpose(d, -1).contiguous();
  const int64_t numel = rows.numel();
  const int64_t n = numel == 0 ? 0 : rows.shape()[rows.dim() - 1];
  Tensor<T, CUDA> values(rows.shape());
  Tensor<int64_t, CUDA> indices(rows.shape());
  if (numel > 0) {
    KILN_CHECK(numel <= INT_MAX, ValueError,
               "[sort] CUDA sort handles at most 2^31 - 1 elements, got ", numel, " (shape ",
               x.shape(), ")");
    const int64_t n_rows = numel / n;
    cudaStream_t stream = cuda::detail::current_stream_handle(device);
    const auto bytes = [](int64_t count, std::size_t size) {
      return static_cast<std::size_t>(count) * size;
    };
    const cuda::Scratch keys_in(bytes(numel, sizeof(K)), device, stream);
    const cuda::Scratch keys_out(bytes(numel, sizeof(K)), device, stream);
    const cuda::Scratch idx_in(bytes(numel, sizeof(int64_t)), device, stream);
    const cuda::Scratch offsets(bytes(n_rows + 1, sizeof(int64_t)), device, stream);
    K* kin = keys_in.as<K>();
    K* kout = keys_out.as<K>();
    int64_t* iin = idx_in.as<int64_t>();
    int64_t* off = offsets.as<int64_t>();
    prepare_kernel<<<expr::cuda::grid_size(std::max(numel, n_rows + 1), kThreads), kThreads, 0,
                     stream>>>(rows.data(), kin, iin, off, numel, n, n_rows);
    expr::cuda::check_launch("sort (keys)");
    const int items = static_cast<int>(numel), segments = static_cast<int>(n_rows);
    auto run = [&](void* temp, std::size_t& temp_bytes) {
      return descending ? cub::DeviceSegmentedRadixSort::SortPairsDescending(
                              temp, temp_bytes, kin, kout, iin, indices.data(), items, segments,
                              off, off + 1, 0, int(sizeof(K) * 8), stream)
                        : cub::DeviceSegmentedRadixSort::SortPairs(
                              temp, temp_bytes, kin, kout, iin, indices.data(), items, segments,
                              off, off + 1, 0, int(sizeof(K) * 8), stream);
    };
    std::size_t temp_bytes = 0;
    cuda::detail::check(run(nullptr, temp_bytes), "cub::DeviceSegmentedRadixSort (size)");
    const cuda::Scratch temp(temp_bytes, device, stream);
    cuda::detail::check(run(temp.get(), temp_bytes), "cub::DeviceSegmentedRadixSort");
    gather_kernel<<<expr::cuda::grid_size(numel, kThreads), kThreads, 0, stream>>>(
        rows.data(), indices.data(), values.data(), numel, n);
    expr::cuda::check_launch("sort (gather)");
  }
  if (x.dim() == 0) return {values.reshape({}), indices.reshape({})};
  return {values.transpose(d, -1), indices.transpose(d, -1)};
}

#define KILN_SORT_INSTANTIATE(T) \
  template ValuesIndices<T, CUDA> sort_cuda<T>(const Tensor<T, CUDA>&, int64_t, bool);
KILN_SORT_INSTANTIATE(float)
KILN_SORT_INSTANTIATE(double)
KILN_SORT_INSTANTIATE(half)
KILN_SORT_INSTANTIATE(bfloat16)
KILN_SORT_INSTANTIATE(bool)
KILN_SORT_INSTANTIATE(uint8_t)
KILN_SORT_INSTANTIATE(int8_t)
KILN_SORT_INSTANTIATE(int16_t)
KILN_SORT_INSTANTIATE(int32_t)
KILN_SORT_INSTANTIATE(int64_t)
#undef KILN_SORT_INSTANTIATE

}  // namespace kiln::detail
