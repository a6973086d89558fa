// SPDX-License-Identifier: BSD-3-Clause
// CUDA tensors: copies between host and device, and writing an expression into a CUDA
// tensor (a fill or a copy by kiln::cuda's compiled kernels; anything else by one fused
// kernel that nvcc generates for the expression, expr/eval_cuda.cuh).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kiln/core/device.hpp"
#include "kiln/core/error.hpp"
#include "kiln/core/shape.hpp"
#include "kiln/cuda/copy.hpp"
#include "kiln/expr/node.hpp"

#if defined(__CUDACC__)
#include "kiln/expr/eval_cuda.cuh"
#endif

namespace kiln {

namespace detail {

template <class T, class D>
struct is_scalar_node : std::false_type {};
template <class T, class D>
struct is_scalar_node<expr::ScalarNode<T, D>, D> : std::true_type {};

template <class>
inline constexpr bool cuda_dependent_false = false;

template <class T, class E>
void write_cuda(const Tensor<T, CUDA>& out, const E& e, const char* op) {
  const int nd = out.dim();
  int64_t shape[kMaxDims] = {}, ost[kMaxDims] = {};
  for (int d = 0; d < nd; ++d) {
    shape[d] = out.shape()[d];
    ost[d] = out.strides()[d];
  }
  if constexpr (is_scalar_node<std::remove_cvref_t<E>, CUDA>::value) {
    const T v = e.value();
    cuda::detail::fill(out.data(), shape, ost, nd, sizeof(T), &v, out.get_device());
  } else if constexpr (std::is_same_v<std::remove_cvref_t<E>, Tensor<T, CUDA>>) {
    KILN_CHECK(e.get_device() == out.get_device(), DeviceError, "[", op,
               "] the source is on CUDA device ", e.get_device(), " and the destination on ",
               out.get_device(), "; copy across devices with .to<kiln::CPU>() first");
    const Strides bs = broadcast_strides(e.shape(), e.strides(), out.shape());
    int64_t sst[kMaxDims] = {};
    for (int d = 0; d < nd; ++d) sst[d] = bs[d];
    cuda::detail::copy(out.data(), ost, e.data(), sst, shape, nd, sizeof(T), out.get_device());
  } else {
#if defined(__CUDACC__)
    e.for_each_leaf([&](const auto& leaf) {
      KILN_CHECK(leaf.get_device() == out.get_device(), DeviceError, "[", op,
                 "] an operand is on CUDA device ", leaf.get_device(), " and the result on device ",
                 out.get_device());
    });
    expr::cuda::run(out.data(), out.shape(), out.strides(), e,
                    cuda::detail::current_stream_handle(out.get_device()));
#else
    static_assert(cuda_dependent_false<E>,
                  "kiln: an expression on CUDA tensors becomes one fused kernel, which nvcc "
                  "generates: compile this file as CUDA (a .cu file) and link kiln::cuda");
#endif
  }
}

template <class Dst, class T, class Src>
Tensor<T, Dst> copy_to_device(const Tensor<T, Src>& x) {
  static_assert(!std::is_same_v<Dst, Src>);
  const std::size_t nbytes = static_cast<std::size_t>(x.numel()) * sizeof(T);
  if constexpr (std::is_same_v<Dst, CUDA>) {
    const Tensor<T, CPU> c = x.contiguous();
    Tensor<T, CUDA> r(x.shape());
    if (nbytes) cuda::detail::copy_to_device(r.data(), c.data(), nbytes, r.get_device());
    return r;
  } else {
    const Tensor<T, CUDA> c = x.contiguous();
    Tensor<T, CPU> r(x.shape());
    if (nbytes) cuda::detail::copy_to_host(r.data(), c.data(), nbytes, c.get_device());
    return r;
  }
}

}  // namespace detail
}  // namespace kiln
