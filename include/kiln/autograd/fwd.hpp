// SPDX-License-Identifier: BSD-3-Clause
// Declarations tensor.hpp needs before Tensor is complete; defined in record.hpp and
// fused.hpp, which tensor.hpp includes at its end.
#pragma once

#include <string>
#include <utility>

#include "kiln/autograd/grad_mode.hpp"
#include "kiln/autograd/node.hpp"
#include "kiln/core/error.hpp"
#include "kiln/core/shape.hpp"

namespace kiln::autograd {

/// What a view op did, so that one compiled node type (ViewNode) can undo it in backward.
struct ViewSpec {
  enum class Kind : uint8_t { slice, select, transpose, permute, reshape, expand, identity };
  ViewSpec(Kind k, const char* n, Shape in, int64_t d = 0, int64_t s = 0, int64_t e = 0,
           int64_t st = 1, Dims ds = {})
      : kind(k),
        name(n),
        in_shape(std::move(in)),
        dim(d),
        start(s),
        end(e),
        step(st),
        dims(std::move(ds)) {}
  Kind kind;
  const char* name;  // the node's name, e.g. "SliceBackward"
  Shape in_shape;    // the input's shape
  // slice: dim, start, end, step; select: dim, start = index; transpose: dim, start = other dim
  int64_t dim, start, end, step;
  Dims dims;  // permute
};

/// Records the view `out` of `in` (clears out's autograd identity first).
template <class T, class D>
void record_view_spec(const Tensor<T, D>& in, Tensor<T, D>& out, const ViewSpec& spec);

template <class T, class D>
void check_inplace(const Tensor<T, D>& t, const char* op, bool source_requires_grad = false);
template <class T, class D, class B>
void record_view(const Tensor<T, D>& in, Tensor<T, D>& out, const char* name, B backward);
template <class T, class D>
Tensor<T, D> sum_to(const Tensor<T, D>& g, const Shape& to);
template <class T, class D, class V>
Tensor<T, D> embed(const Tensor<T, D>& g, const Shape& in_shape, V view);
/// Whether evaluating `e` must be recorded: grad mode is on and a leaf requires grad.
template <class E>
bool expr_needs_grad(const E& e);
/// Records the evaluation of `e` into `out` as one fused node (fused.hpp).
template <class T, class D, class E>
void record_fused(Tensor<T, D>& out, const E& e);

namespace detail {
// Gradients of CUDA tensors come with the CUDA autograd kernels (docs/cuda.md); until then
// recording an op on a CUDA tensor that requires grad throws this AutogradError.
[[noreturn]] inline void cuda_autograd_unavailable(const std::string& op, const Shape& shape) {
  ::kiln::detail::throw_message<AutogradError>(
      {"[", op, "] autograd on CUDA tensors is not available yet (shape ", shape,
       "): compute on the CPU, or under kiln::NoGradGuard"});
}
}  // namespace detail

}  // namespace kiln::autograd
