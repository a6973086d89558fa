// SPDX-License-Identifier: BSD-3-Clause
// Boolean-mask ops: masked_fill(_), masked_select, masked_scatter(_), nonzero/argwhere,
// and masked_select's backward helper.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kiln/expr/ops.hpp"
#include "kiln/ops/index.hpp"
#include "kiln/tensor.hpp"
#include "kiln/tensor/factories.hpp"

namespace kiln {

// Note [Mask order]
// masked_select, masked_scatter and nonzero number the selected elements in row-major
// order of the (broadcast) shape. They count the selected elements of fixed blocks of
// the input first and then fill the blocks in parallel, each from its own start, so the
// output is the same for any number of threads.

namespace detail {
// Defined in src/mask.cpp for every dtype; `op` names the public op in error messages.
template <class T>
Tensor<T, CPU> masked_select(const Tensor<T, CPU>& x, const Tensor<bool, CPU>& mask);
template <class T>
void masked_scatter_(const Tensor<T, CPU>& self, const Tensor<bool, CPU>& mask,
                     const Tensor<T, CPU>& source, const char* op);
template <class T>
Tensor<int64_t, CPU> nonzero(const Tensor<T, CPU>& x, const char* op);
}  // namespace detail

/// A copy of x with `value` where mask is true. x and mask broadcast against each other
/// (torch's out-of-place rule), so the result has their broadcast shape. One fused
/// where() pass; mask may be any bool expression (`masked_fill(x, x < 0, 0)`).
/// Differentiable in x through that fused node (WhereBackward).
template <class T>
Tensor<T, CPU> masked_fill(const Tensor<T, CPU>& x, const Tensor<bool, CPU>& mask,
                           std::type_identity_t<T> value) {
  detail::check_defined(x.defined(), "masked_fill", "input");
  detail::check_defined(mask.defined(), "masked_fill", "mask");
  (void)broadcast_shapes(x.shape(), mask.shape(), "masked_fill");  // names this op on mismatch
  return Tensor<T, CPU>(where(mask, value, x));
}
/// In place: x = value where mask is true; mask must broadcast to x's shape. Returns x.
template <class T>
Tensor<T, CPU> masked_fill_(const Tensor<T, CPU>& x, const Tensor<bool, CPU>& mask,
                            std::type_identity_t<T> value) {
  detail::check_defined(x.defined(), "masked_fill_", "self");
  detail::check_defined(mask.defined(), "masked_fill_", "mask");
  autograd::check_inplace(x, "masked_fill_");
  KILN_CHECK(broadcasts_to(mask.shape(), x.shape()), ShapeError, "[masked_fill_] mask of shape ",
             mask.shape(), " cannot be broadcast to self of shape ", x.shape());
  detail::check_no_internal_overlap(x.shape(), x.strides(), "masked_fill_");
  x.copy_(where(mask, value, x));
  return x;
}

/// The elements of x where mask is true, as a 1-d tensor; x and mask broadcast against
/// each other (Note [Mask order]). Differentiable in x: the gradient goes back to the
/// selected positions (masked_scatter into zeros), summed over broadcast dims.
template <class T>
Tensor<T, CPU> masked_select(const Tensor<T, CPU>& x, const Tensor<bool, CPU>& mask) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = detail::masked_select(x, mask);
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x))
      autograd::record("MaskedSelectBackward", out, autograd::collect_edges(x),
                       [sm = autograd::save(mask), in = x.shape()](std::vector<AnyTensor>& g) {
                         const Tensor<bool, CPU> m = sm.unpack();
                         const Shape bs = broadcast_shapes(in, m.shape(), "masked_select");
                         return autograd::grads(autograd::sum_to(
                             masked_scatter(zeros<T>(bs), m, g[0].as<T, CPU>()), in));
                       });
  return out;
}

/// In place: the elements of self where mask is true get source's elements in order
/// (source read flattened, row-major; it needs at least as many elements as the mask
/// selects). mask must broadcast to self's shape. Returns self.
template <class T>
Tensor<T, CPU> masked_scatter_(const Tensor<T, CPU>& self, const Tensor<bool, CPU>& mask,
                               const Tensor<T, CPU>& source) {
  autograd::check_inplace(self, "masked_scatter_", source.requires_grad());
  detail::masked_scatter_(self, mask, source, "masked_scatter_");
  return self;
}
/// A copy of x (broadcast with mask) with source's elements where mask is true.
/// Differentiable in x (the gradient where mask is false, summed over broadcast dims) and
/// in source (the gradient where mask is true, in order, zeros for unused elements).
template <class T>
Tensor<T, CPU> masked_scatter(const Tensor<T, CPU>& x, const Tensor<bool, CPU>& mask,
                              const Tensor<T, CPU>& source) {
  detail::check_defined(x.defined(), "masked_scatter", "input");
  detail::check_defined(mask.defined(), "masked_scatter", "mask");
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = x.expand(broadcast_shapes(x.shape(), mask.shape(), "masked_scatter")).clone();
    detail::masked_scatter_(out, mask, source, "masked_scatter");
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x, source))
      autograd::record(
          "MaskedScatterBackward", out, autograd::collect_edges(x, source),
          [sm = autograd::save(mask), in = x.shape(), ss = source.shape(), nx = x.requires_grad(),
           ns = source.requires_grad()](std::vector<AnyTensor>& g) {
            const Tensor<T, CPU>& go = g[0].as<T, CPU>();
            const Tensor<bool, CPU> m = sm.unpack();
            Tensor<T, CPU> gx, gs;
            if (nx) gx = autograd::sum_to(masked_fill(go, m, T(0)), in);
            if (ns) {
              // The selected gradients in order, then zeros for the source's unused tail.
              gs = masked_select(go, m);
              const int64_t k = gs.numel();
              if (k < numel_of(ss))
                gs = autograd::embed(gs, Shape{numel_of(ss)},
                                     [k](const Tensor<T, CPU>& z) { return z.narrow(0, 0, k); });
              gs = gs.reshape(ss);
            }
            return autograd::grads(gx, gs);
          });
  return out;
}

/// The coordinates of the nonzero elements of x (NaN counts as nonzero), one row each,
/// in row-major order: int64 [n, x.dim()].
template <class T>
Tensor<int64_t, CPU> nonzero(const Tensor<T, CPU>& x) {
  return detail::nonzero(x, "nonzero");
}
/// torch.argwhere: the same as nonzero.
template <class T>
Tensor<int64_t, CPU> argwhere(const Tensor<T, CPU>& x) {
  return detail::nonzero(x, "argwhere");
}

/// Gradient of masked_select(x, mask) w.r.t. x of shape self_shape: grad (1-d) put back
/// where mask is true, zeros elsewhere, summed over the dims x was broadcast along.
template <class T>
Tensor<T, CPU> masked_select_backward(const Tensor<T, CPU>& grad, const Tensor<bool, CPU>& mask,
                                      const Shape& self_shape) {
  detail::check_defined(mask.defined(), "masked_select_backward", "mask");
  KILN_CHECK(grad.dim() == 1, ShapeError, "[masked_select_backward] grad must be 1-d, got shape ",
             grad.shape());
  Tensor<T, CPU> g = zeros<T>(broadcast_shapes(self_shape, mask.shape(), "masked_select_backward"));
  detail::masked_scatter_(g, mask, grad, "masked_select_backward");
  return detail::sum_to(g, self_shape);
}

}  // namespace kiln
