// SPDX-License-Identifier: BSD-3-Clause
// Dropout: dropout_mask, dropout and dropout_with_mask (the mask autograd will save).
// The mask is the bernoulli layout of Note [Random streams] with p_keep = 1 - p.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

#include "kiln/core/dtype.hpp"
#include "kiln/core/error.hpp"
#include "kiln/core/generator.hpp"
#include "kiln/expr/ops.hpp"
#include "kiln/tensor.hpp"
#include "kiln/tensor/factories.hpp"
#include "kiln/tensor/sampling.hpp"

namespace kiln {

/// dropout_with_mask's result: the output and the mask of kept elements.
template <class T>
struct DropoutResult {
  Tensor<T, CPU> output;
  Tensor<bool, CPU> mask;
};

namespace detail {
inline void check_dropout_p(double p, const char* op) {
  KILN_CHECK(p >= 0 && p <= 1, ValueError, "[", op,
             "] dropout probability has to be between 0 and 1, but got p=", p);
}

/// out[i] = x[i] * (kept_i ? 1 / (1 - p) : 0), kept_i from the dropout layout, and
/// mask[i] = kept_i when a mask is asked for. `x` may be `out` (in place). The scale is
/// torch's (1 / (1 - p) in T's opmath type, rounded to T), and it multiplies, as torch's
/// input * noise does, so NaN and inf inputs give NaN where dropped.
template <class T>
void apply_dropout(const T* x, T* out, bool* mask, int64_t n, double p, PhiloxState st) {
  using A = opmath_t<T>;
  const A scale = p == 1 ? A(0) : static_cast<A>(static_cast<T>(A(1) / static_cast<A>(1 - p)));
  const double thr = (1 - p) * kTwoPow32;
  fill_by_blocks<4>(out, n, st, kParallelGrain / 4,
                    [x, out, mask, scale, thr](const auto& w, T* o, int count) {
                      const int64_t i = o - out;
                      for (int k = 0; k < count; ++k) {
                        const bool keep = static_cast<double>(w[k]) < thr;
                        o[k] = static_cast<T>(static_cast<A>(x[i + k]) * (keep ? scale : A(0)));
                        if (mask) mask[i + k] = keep;
                      }
                    });
}

/// Runs apply_dropout on the value of `x` into a new tensor, reading a contiguous tensor
/// in place and evaluating anything else into the output first.
template <expr::Expr E>
Tensor<expr::value_t<E>, CPU> dropout_into(const E& x, double p, bool* mask, PhiloxState st) {
  using T = expr::value_t<E>;
  Tensor<T, CPU> out(x.shape());
  const T* src = out.data();
  if constexpr (std::is_same_v<E, Tensor<T, CPU>>) {
    if (x.is_contiguous())
      src = x.data();
    else
      out.copy_(x);
  } else {
    out.copy_(x);
  }
  apply_dropout(src, out.data(), mask, out.numel(), p, st);
  return out;
}

/// Records out = dropout(x) with its keep-mask: the gradient is g * mask / (1 - p) (with
/// the forward's scale), linear in g, so create_graph works.
template <class T>
void record_dropout(Tensor<T, CPU>& out, const Tensor<T, CPU>& x, const Tensor<bool, CPU>& mask,
                    double p) {
  if (!autograd::needs_grad(x)) return;
  using A = opmath_t<T>;
  const T scale = p == 1 ? T(0) : static_cast<T>(A(1) / static_cast<A>(1 - p));
  autograd::record(
      "DropoutBackward", out, autograd::collect_edges(x),
      [sm = autograd::save(mask), scale](std::vector<AnyTensor>& g) {
        return autograd::grads(Tensor<T, CPU>(g[0].as<T, CPU>() * (cast<T>(sm.unpack()) * scale)));
      });
}

template <expr::Expr E>
constexpr void check_dropout_input() {
  static_assert(is_floating_v<expr::value_t<E>>,
                "kiln::dropout: x must be a floating expression (float, double, half, bfloat16)");
  static_assert(std::is_same_v<expr::device_t<E>, CPU>,
                "kiln::dropout: CUDA tensors need the CUDA backend (kiln::cuda)");
}
}  // namespace detail

/// The keep-mask of dropout with drop probability p: true (kept) with probability 1 - p.
/// With the same seed it is the mask dropout(x, p) and dropout_with_mask(x, p) use for an
/// x of this shape. Throws ValueError unless p lies in [0, 1].
inline Tensor<bool, CPU> dropout_mask(const Shape& shape, double p) {
  detail::check_dropout_p(p, "dropout_mask");
  detail::check_random_shape(shape, "dropout_mask");
  const PhiloxState st = detail::next_philox_state();
  Tensor<bool, CPU> m(shape);
  detail::fill_bernoulli(m.data(), m.numel(), st,
                         [thr = (1 - p) * detail::kTwoPow32](int64_t) { return thr; });
  return m;
}

template <expr::Expr E>
DropoutResult<expr::value_t<E>> dropout_with_mask(const E& x, double p);

/// Zeroes each element of x with probability p and scales the rest by 1 / (1 - p), like
/// torch.nn.functional.dropout, in one pass that never stores the mask (unless x needs a
/// gradient: then the mask is kept for backward, g * mask / (1 - p)). x may be any
/// floating expression. With training=false or p = 0 it returns x (the same tensor, as
/// torch does) and draws nothing; p = 1 gives x * 0. Throws ValueError unless p lies in [0, 1].
template <expr::Expr E>
Tensor<expr::value_t<E>, CPU> dropout(const E& x, double p, bool training = true) {
  detail::check_dropout_input<E>();
  detail::check_dropout_p(p, "dropout");
  using T = expr::value_t<E>;
  if (!training || p == 0) return Tensor<T, CPU>(x);
  if (autograd::expr_needs_grad(x)) {
    DropoutResult<T> r = dropout_with_mask(x, p);
    return std::move(r.output);
  }
  return detail::dropout_into(x, p, nullptr, detail::next_philox_state());
}

/// dropout(x, p) and its keep-mask, for a backward pass (grad_in = grad_out * mask /
/// (1 - p), which autograd records when x needs a gradient): with the same seed the output
/// equals dropout(x, p). p = 0 returns x and an all-true mask without drawing.
template <expr::Expr E>
DropoutResult<expr::value_t<E>> dropout_with_mask(const E& x, double p) {
  using T = expr::value_t<E>;
  detail::check_dropout_input<E>();
  detail::check_dropout_p(p, "dropout_with_mask");
  if (p == 0) return {Tensor<T, CPU>(x), ones<bool>(x.shape())};
  Tensor<bool, CPU> mask(x.shape());
  if (autograd::expr_needs_grad(x)) {  // evaluated (and recorded) first, then dropped
    const Tensor<T, CPU> xt(x);
    Tensor<T, CPU> out;
    {
      AutoGradMode off(false);
      out = detail::dropout_into(xt, p, mask.data(), detail::next_philox_state());
    }
    detail::record_dropout(out, xt, mask, p);
    return {std::move(out), std::move(mask)};
  }
  Tensor<T, CPU> out = detail::dropout_into(x, p, mask.data(), detail::next_philox_state());
  return {std::move(out), std::move(mask)};
}

}  // namespace kiln
