// SPDX-License-Identifier: BSD-3-Clause
// Reductions over whole tensors or dims, fused with the expression they reduce:
// sum, mean, prod, amax/amin, max/min (with indices), argmax/argmin, var, std,
// logsumexp, norm, all, any.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kiln/expr/ops.hpp"
#include "kiln/expr/reduce_cpu.hpp"
#include "kiln/ops/pick.hpp"
#include "kiln/tensor.hpp"

namespace kiln {

namespace detail {
/// Bit mask of the dims to reduce; an empty list means every dim (torch's dim=None).
inline uint32_t reduce_mask(const Dims& dims, int ndim, const char* op) {
  if (dims.empty()) return ndim == 0 ? 0u : (ndim >= 32 ? ~0u : (1u << ndim) - 1u);
  uint32_t mask = 0;
  for (int64_t d : dims) {
    const int w = wrap_dim(d, ndim, op);
    if (ndim == 0) continue;
    KILN_CHECK(!(mask >> w & 1u), ValueError, "[", op, "] dim ", w,
               " appears multiple times in the list of dims ", dims);
    mask |= 1u << w;
  }
  return mask;
}
inline Shape reduced_shape(const Shape& s, uint32_t mask, bool keepdim) {
  Shape out;
  for (int d = 0; d < s.size(); ++d) {
    if (!(mask >> d & 1u))
      out.push_back(s[d]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}
inline int64_t reduced_count(const Shape& s, uint32_t mask) {
  int64_t n = 1;
  for (int d = 0; d < s.size(); ++d)
    if (mask >> d & 1u) n *= s[d];
  return n;
}

/// Runs reduction RF with accumulator A over `mask`, producing dtype O via fin(acc, n).
template <class RF, class A, class O, class E, class Fin>
Tensor<O, expr::device_t<E>> reduce(const E& e, uint32_t mask, bool keepdim, Fin fin) {
  static_assert(
      std::is_same_v<expr::device_t<E>, CPU>,
      "kiln: reductions on CUDA expressions need the CUDA backend (kiln::cuda), not built yet");
  Tensor<O, CPU> out(reduced_shape(e.shape(), mask, keepdim));
  expr::reduce_cpu<A>(e, mask, out.data(), RF{}, fin);
  return out;
}

template <class T>
using sum_t = std::conditional_t<std::is_integral_v<T>, int64_t, T>;

template <class E>
constexpr void require_floating(const char* /*op*/) {
  static_assert(
      is_floating_v<expr::value_t<E>>,
      "kiln: this reduction needs a floating-point expression; cast with kiln::cast<float>(e)");
}

// Note [Reduction backward]
// A reduction of an expression that needs a gradient evaluates the expression first
// (recording its fused node), reduces that tensor x with grad mode off, and records one
// node on x whose closure gets the incoming gradient g (the output's shape), x and the
// output y (saved without a cycle). The closures are written with differentiable kiln ops
// (views, fused expressions, sum/mean/prod, unpick), so create_graph gives second
// derivatives. Masks built from comparisons (ties of amax, zeros of prod or of a norm) are
// constants: they are evaluated into tensors of their own before the recorded expression
// uses them, so a tensor that requires grad is never a leaf of a recorded expression only
// through a comparison (a fused node would give such a leaf a gradient slot it never writes).

/// The dims set in `mask`, as a list.
inline Dims mask_dims(uint32_t mask, int ndim) {
  Dims d;
  for (int k = 0; k < ndim; ++k)
    if (mask >> k & 1u) d.push_back(k);
  return d;
}

/// Records `out`, a reduction of x, with the gradient bwd(g, x, y) (Note [Reduction backward]).
template <class T, class B>
void record_reduction(const char* name, Tensor<T, CPU>& out, const Tensor<T, CPU>& x, B bwd) {
  autograd::record_with_output(
      name, out, autograd::collect_edges(x),
      [sx = autograd::save(x), bwd](std::vector<AnyTensor>& g, const Tensor<T, CPU>& y) {
        return autograd::grads(bwd(g[0].as<T, CPU>(), sx.unpack(), y));
      });
}

/// forward(e), recorded as `name` with the gradient bwd(g, x, y) when a leaf of e requires
/// grad: e is then materialised as x first, and forward(x) runs with grad mode off.
/// forward is called with either e or x, so it takes `const auto&`.
template <expr::Expr E, class F, class B>
auto reduce_recorded(const E& e, const char* name, F forward, B bwd) {
  using T = expr::value_t<E>;
  if constexpr (is_floating_v<T>) {
    if (autograd::expr_needs_grad(e)) {
      const Tensor<T, CPU> x = eval(e);
      Tensor<T, CPU> out;
      {
        AutoGradMode off(false);
        out = forward(x);
      }
      record_reduction(name, out, x, bwd);
      return out;
    }
  }
  return forward(e);
}

template <class T>
Tensor<T, CPU> prod_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x,
                             const Tensor<T, CPU>& y, uint32_t mask);
template <class T>
Tensor<T, CPU> extremum_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x,
                                 const Tensor<T, CPU>& y, uint32_t mask);
template <class T>
Tensor<T, CPU> var_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x, uint32_t mask,
                            int64_t correction);
template <class T>
Tensor<T, CPU> norm_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x,
                             const Tensor<T, CPU>& y, double p, uint32_t mask);
}  // namespace detail

// ---- sum / mean / prod -------------------------------------------------------------------------
/// Sum over `dims` (all dims when empty). Integer and bool inputs sum to int64, as in torch.
template <expr::Expr E>
auto sum(const E& e, const Dims& dims, bool keepdim = false) {
  using T = expr::value_t<E>;
  using O = detail::sum_t<T>;
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "sum");
  auto out = detail::reduce<expr::op::SumReduce, acc_t<T>, O>(
      e, mask, keepdim, [](acc_t<T> a, int64_t) { return static_cast<O>(a); });
  if constexpr (is_floating_v<T>)
    if (autograd::expr_needs_grad(e))
      autograd::record_fused_reduction(out, e, detail::reduced_shape(e.shape(), mask, true), 1.0,
                                       "SumBackward");
  return out;
}
template <expr::Expr E>
auto sum(const E& e, int64_t dim, bool keepdim = false) {
  return sum(e, Dims{dim}, keepdim);
}
template <expr::Expr E>
auto sum(const E& e) {
  return sum(e, Dims{}, false);
}

template <expr::Expr E>
auto mean(const E& e, const Dims& dims, bool keepdim = false) {
  detail::require_floating<E>("mean");
  using T = expr::value_t<E>;
  using A = acc_t<T>;
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "mean");
  auto out = detail::reduce<expr::op::SumReduce, A, T>(
      e, mask, keepdim, [](A a, int64_t n) { return static_cast<T>(a / static_cast<A>(n)); });
  if (autograd::expr_needs_grad(e))
    autograd::record_fused_reduction(
        out, e, detail::reduced_shape(e.shape(), mask, true),
        1.0 / static_cast<double>(detail::reduced_count(e.shape(), mask)), "MeanBackward");
  return out;
}
template <expr::Expr E>
auto mean(const E& e, int64_t dim, bool keepdim = false) {
  return mean(e, Dims{dim}, keepdim);
}
template <expr::Expr E>
auto mean(const E& e) {
  return mean(e, Dims{}, false);
}

/// Product over `dims` (all dims when empty); integer and bool inputs give int64. The
/// gradient of an element is the product of the others, also where the input has zeros.
template <expr::Expr E>
auto prod(const E& e, const Dims& dims, bool keepdim = false) {
  using T = expr::value_t<E>;
  using O = detail::sum_t<T>;
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "prod");
  const auto fin = [](acc_t<T> a, int64_t) { return static_cast<O>(a); };
  return detail::reduce_recorded(
      e, "ProdBackward",
      [&](const auto& a) {
        return detail::reduce<expr::op::ProdReduce, acc_t<T>, O>(a, mask, keepdim, fin);
      },
      [mask](const auto& g, const auto& xs, const auto& y) {
        return detail::prod_backward(g, xs, y, mask);
      });
}
template <expr::Expr E>
auto prod(const E& e, int64_t dim, bool keepdim = false) {
  return prod(e, Dims{dim}, keepdim);
}
template <expr::Expr E>
auto prod(const E& e) {
  return prod(e, Dims{}, false);
}

// ---- extrema ------------------------------------------------------------------------------------
namespace detail {
template <class RF, expr::Expr E>
auto extremum(const E& e, const Dims& dims, bool keepdim, const char* op) {
  using T = expr::value_t<E>;
  using A = opmath_t<T>;
  const uint32_t mask = reduce_mask(dims, e.shape().size(), op);
  KILN_CHECK(
      reduced_count(e.shape(), mask) > 0 || numel_of(reduced_shape(e.shape(), mask, false)) == 0,
      ValueError, "[", op, "] cannot reduce over a zero-size dimension (shape ", e.shape(),
      ", dims ", dims, "): the operation has no identity");
  return reduce<RF, A, T>(e, mask, keepdim, [](A a, int64_t) { return static_cast<T>(a); });
}
}  // namespace detail

namespace detail {
// amax/amin, recorded when needed: ties share the gradient equally, as in torch.
template <class RF, expr::Expr E>
auto extremum_recorded(const E& e, const Dims& dims, bool keepdim, const char* op,
                       const char* node) {
  const uint32_t mask = reduce_mask(dims, e.shape().size(), op);
  return reduce_recorded(
      e, node, [&](const auto& a) { return extremum<RF>(a, dims, keepdim, op); },
      [mask](const auto& g, const auto& xs, const auto& y) {
        return extremum_backward(g, xs, y, mask);
      });
}
}  // namespace detail

/// Maximum over `dims`; NaN propagates. Throws ValueError on an empty reduction. Equal
/// maxima share the gradient equally (torch's amax).
template <expr::Expr E>
auto amax(const E& e, const Dims& dims = {}, bool keepdim = false) {
  return detail::extremum_recorded<expr::op::MaxReduce>(e, dims, keepdim, "amax", "AmaxBackward");
}
template <expr::Expr E>
auto amin(const E& e, const Dims& dims = {}, bool keepdim = false) {
  return detail::extremum_recorded<expr::op::MinReduce>(e, dims, keepdim, "amin", "AminBackward");
}

namespace detail {
// argmax (Max) or argmin over `dims` (all dims, flattened, when empty).
template <bool Max, expr::Expr E>
Tensor<int64_t, CPU> arg_reduce(const E& e, const Dims& dims, bool keepdim, const char* op) {
  const uint32_t mask = reduce_mask(dims, e.shape().size(), op);
  KILN_CHECK(reduced_count(e.shape(), mask) > 0, ValueError, "[", op,
             "] cannot reduce over a zero-size dimension (shape ", e.shape(), ", dims ", dims, ")");
  Tensor<int64_t, CPU> out(reduced_shape(e.shape(), mask, keepdim));
  expr::arg_reduce_cpu<Max>(e, mask, out.data());
  return out;
}
}  // namespace detail

/// Index of the first maximum along `dim` (int64), NaN counting as the maximum.
template <expr::Expr E>
Tensor<int64_t, CPU> argmax(const E& e, int64_t dim, bool keepdim = false) {
  return detail::arg_reduce<true>(e, Dims{dim}, keepdim, "argmax");
}
template <expr::Expr E>
Tensor<int64_t, CPU> argmin(const E& e, int64_t dim, bool keepdim = false) {
  return detail::arg_reduce<false>(e, Dims{dim}, keepdim, "argmin");
}
/// Index into the flattened input of the first maximum (a 0-d int64 tensor).
template <expr::Expr E>
Tensor<int64_t, CPU> argmax(const E& e) {
  return detail::arg_reduce<true>(e, Dims{}, false, "argmax");
}
template <expr::Expr E>
Tensor<int64_t, CPU> argmin(const E& e) {
  return detail::arg_reduce<false>(e, Dims{}, false, "argmin");
}

/// torch.max(x, dim): values and the indices where they occur.
template <class T>
struct ValuesIndices {
  Tensor<T, CPU> values;
  Tensor<int64_t, CPU> indices;
};
namespace detail {
// max/min along a dim, recorded when needed: the gradient goes to the returned index.
template <bool Max, expr::Expr E>
ValuesIndices<expr::value_t<E>> max_min_dim(const E& e, int64_t dim, bool keepdim) {
  using T = expr::value_t<E>;
  const auto run = [&](const auto& x) -> ValuesIndices<T> {
    if constexpr (Max)
      return {amax(x, Dims{dim}, keepdim), argmax(x, dim, keepdim)};
    else
      return {amin(x, Dims{dim}, keepdim), argmin(x, dim, keepdim)};
  };
  if constexpr (is_floating_v<T>) {
    if (autograd::expr_needs_grad(e)) {
      const Tensor<T, CPU> x = eval(e);
      ValuesIndices<T> r;
      {
        AutoGradMode off(false);
        r = run(x);
      }
      const int d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), Max ? "max" : "min");
      const Shape keep = reduced_shape(x.shape(), x.dim() == 0 ? 0u : 1u << d, true);
      autograd::record(
          Max ? "MaxBackward" : "MinBackward", r.values, autograd::collect_edges(x),
          [si = autograd::save(r.indices), d, keep, shape = x.shape()](std::vector<AnyTensor>& g) {
            const Tensor<T, CPU>& go = g[0].as<T, CPU>();
            if (shape.size() == 0) return autograd::grads(go);
            return autograd::grads(unpick(go.reshape(keep), d, si.unpack().reshape(keep), shape));
          });
      return r;
    }
  }
  return run(e);
}
}  // namespace detail

/// torch.max(x, dim): the maxima and their indices; the gradient goes to the index.
template <expr::Expr E>
ValuesIndices<expr::value_t<E>> max(const E& e, int64_t dim, bool keepdim = false) {
  return detail::max_min_dim<true>(e, dim, keepdim);
}
template <expr::Expr E>
ValuesIndices<expr::value_t<E>> min(const E& e, int64_t dim, bool keepdim = false) {
  return detail::max_min_dim<false>(e, dim, keepdim);
}
/// Maximum of all elements (0-d tensor); equal maxima share the gradient, as in torch.
template <expr::Expr E>
auto max(const E& e) {
  return amax(e);
}
template <expr::Expr E>
auto min(const E& e) {
  return amin(e);
}

// ---- all / any ----------------------------------------------------------------------------------
template <expr::Expr E>
Tensor<bool, CPU> all(const E& e, const Dims& dims = {}, bool keepdim = false) {
  return detail::reduce<expr::op::AllReduce, bool, bool>(
      cast<bool>(e), detail::reduce_mask(dims, e.shape().size(), "all"), keepdim,
      [](bool a, int64_t) { return a; });
}
template <expr::Expr E>
Tensor<bool, CPU> any(const E& e, const Dims& dims = {}, bool keepdim = false) {
  return detail::reduce<expr::op::AnyReduce, bool, bool>(
      cast<bool>(e), detail::reduce_mask(dims, e.shape().size(), "any"), keepdim,
      [](bool a, int64_t) { return a; });
}

// ---- statistics ---------------------------------------------------------------------------------
/// Variance over `dims` with Bessel's correction (`correction` = 1, torch's default;
/// 0 for the population variance). Two fused passes: the mean, then squared deviations.
namespace detail {
template <expr::Expr E>
auto var_impl(const E& e, const Dims& dims, int64_t correction, bool keepdim) {
  using T = expr::value_t<E>;
  using A = acc_t<T>;
  const uint32_t mask = reduce_mask(dims, e.shape().size(), "var");
  const Tensor<T, CPU> m = mean(e, dims, /*keepdim=*/true);
  return reduce<expr::op::SumReduce, A, T>(
      square(e - m), mask, keepdim, [correction](A a, int64_t n) {
        return static_cast<T>(a / static_cast<A>(std::max<int64_t>(n - correction, 0)));
      });
}
}  // namespace detail

template <expr::Expr E>
auto var(const E& e, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false) {
  detail::require_floating<E>("var");
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "var");
  return detail::reduce_recorded(
      e, "VarBackward",
      [&](const auto& a) { return detail::var_impl(a, dims, correction, keepdim); },
      [mask, correction](const auto& g, const auto& xs, const auto&) {
        return detail::var_backward(g, xs, mask, correction);
      });
}
/// Standard deviation: sqrt(var(e, dims, correction)). Where it is 0 the gradient is 0.
template <expr::Expr E>
auto std(const E& e, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false) {
  detail::require_floating<E>("std");
  using T = expr::value_t<E>;
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "std");
  return detail::reduce_recorded(
      e, "StdBackward",
      [&](const auto& a) {
        Tensor<T, CPU> v = detail::var_impl(a, dims, correction, keepdim);
        v.copy_(sqrt(v));  // in place: no second buffer
        return v;
      },
      [mask, correction](const auto& g, const auto& xs, const auto& y) {
        const Tensor<bool, CPU> zero = y == T(0);  // Note [Reduction backward]
        const Tensor<T, CPU> gv = where(zero, T(0), g / (y * T(2)));
        return detail::var_backward(gv, xs, mask, correction);
      });
}

/// log(sum(exp(e))) over `dims`, stable for large inputs, in one pass over memory
/// (Note [Deterministic reductions]; an all -inf slice gives -inf).
template <expr::Expr E>
auto logsumexp(const E& e, const Dims& dims, bool keepdim = false) {
  detail::require_floating<E>("logsumexp");
  using T = expr::value_t<E>;
  using A = expr::op::LseAcc<opmath_t<T>>;
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "logsumexp");
  const auto fin = [](A a, int64_t) { return static_cast<T>(math::log(a.s) + a.m); };
  return detail::reduce_recorded(
      e, "LogsumexpBackward",
      [&](const auto& a) {
        return detail::reduce<expr::op::LogSumExpReduce, A, T>(a, mask, keepdim, fin);
      },
      [mask](const auto& g, const auto& xs, const auto& y) {
        const Shape keep = detail::reduced_shape(xs.shape(), mask, true);
        return Tensor<T, CPU>(g.reshape(keep) * exp(xs - y.reshape(keep)));
      });
}
template <expr::Expr E>
auto logsumexp(const E& e, int64_t dim, bool keepdim = false) {
  return logsumexp(e, Dims{dim}, keepdim);
}

namespace detail {
template <expr::Expr E>
auto norm_impl(const E& e, double p, const Dims& dims, bool keepdim) {
  using T = expr::value_t<E>;
  if (p == 2.0) return Tensor<T, CPU>(sqrt(sum(square(e), dims, keepdim)));
  if (p == 1.0) return sum(abs(e), dims, keepdim);
  if (std::isinf(p)) {
    return p > 0 ? amax(abs(e), dims, keepdim) : amin(abs(e), dims, keepdim);
  }
  if (p == 0.0) return sum(cast<T>(e != T(0)), dims, keepdim);
  KILN_CHECK(p > 0, ValueError, "[norm] p must be positive, 0 or +-inf, got ", p);
  return Tensor<T, CPU>(pow(sum(pow(abs(e), p), dims, keepdim), 1.0 / p));
}
}  // namespace detail

/// Vector p-norm over `dims` (all when empty): p = 2 (default), 1, inf, -inf, 0 or any
/// other positive value. The gradient is 0 where the norm is 0 (torch's subgradient);
/// for p = +-inf equal extrema share it.
template <expr::Expr E>
auto norm(const E& e, double p = 2.0, const Dims& dims = {}, bool keepdim = false) {
  detail::require_floating<E>("norm");
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "norm");
  return detail::reduce_recorded(
      e, "NormBackward", [&](const auto& a) { return detail::norm_impl(a, p, dims, keepdim); },
      [mask, p](const auto& g, const auto& xs, const auto& y) {
        return detail::norm_backward(g, xs, y, p, mask);
      });
}

// ---- backward formulas (Note [Reduction backward]) ---------------------------------------------
namespace detail {
// d prod / d x_i = product of the others. Without zeros that is y / x_i. With zeros and
// no create_graph, the product p of the non-zero elements gives it: p / x_i in a slice
// without zeros, p at the only zero of a slice with one, 0 elsewhere. With create_graph
// (where that formula's second derivative would be wrong) each element's product of the
// others is an explicit prod over its slice with the element set to 1, O(n^2) per slice.
template <class T>
Tensor<T, CPU> prod_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x,
                             const Tensor<T, CPU>& y, uint32_t mask) {
  const Shape& in = x.shape();
  const int nd = in.size();
  const Shape keep = reduced_shape(in, mask, true);
  const Tensor<T, CPU> gk = g.reshape(keep);
  bool has_zero;
  {
    AutoGradMode off(false);
    has_zero = x.numel() > 0 && any(x == T(0)).item();
  }
  if (!has_zero) return Tensor<T, CPU>(gk * (y.reshape(keep) / x));
  const Dims dims = mask_dims(mask, nd);
  if (!autograd::GradMode::is_enabled()) {
    const Tensor<bool, CPU> z = x == T(0);
    const Tensor<int64_t, CPU> nz = sum(z, dims, true);
    const Tensor<T, CPU> p = prod(where(z, T(1), x), dims, true);
    return Tensor<T, CPU>(gk *
                          where(nz == int64_t(0), p / x, where(z && nz == int64_t(1), p, T(0))));
  }
  // x as rows [r, n] (kept dims first), each repeated n times with the diagonal set to 1.
  Dims perm, inv(nd);
  Shape pshape;
  int64_t r = 1, n = 1;
  for (int pass = 0; pass < 2; ++pass)
    for (int d = 0; d < nd; ++d)
      if (static_cast<int>(mask >> d & 1u) == pass) {
        inv[d] = perm.size();
        perm.push_back(d);
        pshape.push_back(in[d]);
        (pass ? n : r) *= in[d];
      }
  Tensor<bool, CPU> eye({n, n});
  for (int64_t i = 0; i < n * n; ++i) eye.data()[i] = i % (n + 1) == 0;
  const Tensor<T, CPU> rows = x.permute(perm).reshape({r, 1, n}).expand({r, n, n});
  const Tensor<T, CPU> others = prod(where(eye, T(1), rows), Dims{2});
  return Tensor<T, CPU>(gk * others.reshape(pshape).permute(inv));
}

// amax/amin: g / (number of ties) at each element equal to the extremum.
template <class T>
Tensor<T, CPU> extremum_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x,
                                 const Tensor<T, CPU>& y, uint32_t mask) {
  const Shape keep = reduced_shape(x.shape(), mask, true);
  Tensor<T, CPU> w;
  {
    AutoGradMode off(false);
    const Tensor<T, CPU> hit = cast<T>(x == y.reshape(keep));
    w = hit / sum(hit, mask_dims(mask, x.dim()), true);
  }
  return Tensor<T, CPU>(g.reshape(keep) * w);
}

// var: g * 2 (x - mean(x)) / (n - correction).
template <class T>
Tensor<T, CPU> var_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x, uint32_t mask,
                            int64_t correction) {
  const Shape keep = reduced_shape(x.shape(), mask, true);
  const int64_t n = reduced_count(x.shape(), mask);
  const double c = 2.0 / static_cast<double>(std::max<int64_t>(n - correction, 0));
  const Tensor<T, CPU> m = mean(x, mask_dims(mask, x.dim()), true);
  return Tensor<T, CPU>(g.reshape(keep) * (x - m) * T(c));
}

template <class T>
Tensor<T, CPU> norm_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x,
                             const Tensor<T, CPU>& y, double p, uint32_t mask) {
  const Shape keep = reduced_shape(x.shape(), mask, true);
  const Tensor<T, CPU> gk = g.reshape(keep), yk = y.reshape(keep);
  if (p == 0.0) return {};
  if (p == 1.0) return Tensor<T, CPU>(gk * sign(x));
  // Comparison masks are evaluated first (Note [Reduction backward]).
  const Tensor<bool, CPU> zero = yk == T(0);
  if (p == 2.0) return Tensor<T, CPU>(gk * x / where(zero, T(1), yk));
  if (std::isinf(p))
    return Tensor<T, CPU>(sign(x) * extremum_backward(g, Tensor<T, CPU>(abs(x)), y, mask));
  // |x|^(p-1) sign(x) / y^(p-1); for p < 1 the gradient at x = 0 is taken as 0.
  const Tensor<T, CPU> scaled = Tensor<T, CPU>(sign(x) * pow(abs(x), p - 1));
  const Tensor<T, CPU> s =
      p < 1 ? Tensor<T, CPU>(where(Tensor<bool, CPU>(x == T(0)), T(0), scaled)) : scaled;
  return Tensor<T, CPU>(gk * s / where(zero, T(1), pow(yk, p - 1)));
}
}  // namespace detail

}  // namespace kiln
