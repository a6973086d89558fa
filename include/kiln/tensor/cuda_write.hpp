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
    cuda::DeviceGuard guard(out.get_device());
    expr::cuda::run(out.data(), out.shape(), out.strides(), e,
                    cuda::detail::current_stream_handle(out.get_device()));
#else
    static_assert(cuda_dependent_false<E>,
                  "kiln: an expression on CUDA tensors becomes one fused kernel, which nvcc "
                  "generates: compile this file as CUDA (a .cu file) and link kiln::cuda");
#endif
  }
}

/// An uninitialised tensor in page-locked host memory (Note [Pinned host memory]).
template <class T>
Tensor<T, CPU> pinned_empty(const Shape& shape) {
  const std::size_t nbytes = static_cast<std::size_t>(numel_of(shape)) * sizeof(T);
  void* p = cuda::detail::host_allocate(nbytes);
  return Tensor<T, CPU>(
      Storage<CPU>::from_blob(p, nbytes, [](void* q) { cuda::detail::host_deallocate(q); }), 0,
      shape, contiguous_strides(shape));
}

template <class Dst, class T, class Src>
Tensor<T, Dst> copy_to_device(const Tensor<T, Src>& x, bool non_blocking) {
  static_assert(!std::is_same_v<Dst, Src>);
  const std::size_t nbytes = static_cast<std::size_t>(x.numel()) * sizeof(T);
  if constexpr (std::is_same_v<Dst, CUDA>) {
    const Tensor<T, CPU> c = x.contiguous();
    Tensor<T, CUDA> r(x.shape());
    if (nbytes == 0) return r;
    void* block = c.storage().data();
    if (non_blocking && cuda::detail::is_pinned_block(block))
      cuda::detail::copy_to_device_async(r.data(), c.data(), block, nbytes, r.get_device());
    else  // pageable memory: the caller may free or change it once we return, so wait
      cuda::detail::copy_to_device(r.data(), c.data(), nbytes, r.get_device());
    return r;
  } else {
    const Tensor<T, CUDA> c = x.contiguous();
    if (non_blocking && nbytes > 0) {
      Tensor<T, CPU> r = pinned_empty<T>(x.shape());
      cuda::detail::copy_to_host_async(r.data(), r.storage().data(), c.data(), nbytes,
                                       c.get_device());
      return r;
    }
    Tensor<T, CPU> r(x.shape());
    if (nbytes) cuda::detail::copy_to_host(r.data(), c.data(), nbytes, c.get_device());
    return r;
  }
}

}  // namespace detail

namespace cuda {
/// Whether t's memory is page-locked host memory from kiln's pinned cache (torch's
/// Tensor.is_pinned()).
template <class T>
bool is_pinned(const Tensor<T, CPU>& t) {
  return t.defined() && detail::is_pinned_block(t.storage().data());
}
/// A copy of t in page-locked host memory, from which `.to<kiln::CUDA>(true)` copies
/// without waiting (torch's Tensor.pin_memory()); t itself when it is pinned already.
template <class T>
Tensor<T, CPU> pin_memory(const Tensor<T, CPU>& t) {
  if (is_pinned(t)) return t;
  Tensor<T, CPU> r = kiln::detail::pinned_empty<T>(t.shape());
  r.copy_(t);
  return r;
}
}  // namespace cuda
}  // namespace kiln
