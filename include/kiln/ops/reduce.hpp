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
    autograd::record_fused_reduction(out, e, detail::reduced_shape(e.shape(), mask, true),
                                     1.0 / static_cast<double>(detail::reduced_count(e.shape(), mask)),
                                     "MeanBackward");
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

template <expr::Expr E>
auto prod(const E& e, const Dims& dims, bool keepdim = false) {
  using T = expr::value_t<E>;
  using O = detail::sum_t<T>;
  return detail::reduce<expr::op::ProdReduce, acc_t<T>, O>(
      e, detail::reduce_mask(dims, e.shape().size(), "prod"), keepdim,
      [](acc_t<T> a, int64_t) { return static_cast<O>(a); });
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

/// Maximum over `dims`; NaN propagates. Throws ValueError on an empty reduction.
template <expr::Expr E>
auto amax(const E& e, const Dims& dims = {}, bool keepdim = false) {
  return detail::extremum<expr::op::MaxReduce>(e, dims, keepdim, "amax");
}
template <expr::Expr E>
auto amin(const E& e, const Dims& dims = {}, bool keepdim = false) {
  return detail::extremum<expr::op::MinReduce>(e, dims, keepdim, "amin");
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
template <expr::Expr E>
ValuesIndices<expr::value_t<E>> max(const E& e, int64_t dim, bool keepdim = false) {
  return {amax(e, Dims{dim}, keepdim), argmax(e, dim, keepdim)};
}
template <expr::Expr E>
ValuesIndices<expr::value_t<E>> min(const E& e, int64_t dim, bool keepdim = false) {
  return {amin(e, Dims{dim}, keepdim), argmin(e, dim, keepdim)};
}
/// Maximum of all elements (0-d tensor).
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
template <expr::Expr E>
auto var(const E& e, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false) {
  detail::require_floating<E>("var");
  using T = expr::value_t<E>;
  using A = acc_t<T>;
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "var");
  const Tensor<T, CPU> m = mean(e, dims, /*keepdim=*/true);
  return detail::reduce<expr::op::SumReduce, A, T>(
      square(e - m), mask, keepdim, [correction](A a, int64_t n) {
        return static_cast<T>(a / static_cast<A>(std::max<int64_t>(n - correction, 0)));
      });
}
template <expr::Expr E>
auto std(const E& e, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false) {
  using T = expr::value_t<E>;
  return Tensor<T, CPU>(sqrt(var(e, dims, correction, keepdim)));
}

/// log(sum(exp(e))) over `dims`, stable for large inputs, in one pass over memory
/// (Note [Deterministic reductions]; an all -inf slice gives -inf).
template <expr::Expr E>
auto logsumexp(const E& e, const Dims& dims, bool keepdim = false) {
  detail::require_floating<E>("logsumexp");
  using T = expr::value_t<E>;
  using A = expr::op::LseAcc<opmath_t<T>>;
  return detail::reduce<expr::op::LogSumExpReduce, A, T>(
      e, detail::reduce_mask(dims, e.shape().size(), "logsumexp"), keepdim,
      [](A a, int64_t) { return static_cast<T>(math::log(a.s) + a.m); });
}
template <expr::Expr E>
auto logsumexp(const E& e, int64_t dim, bool keepdim = false) {
  return logsumexp(e, Dims{dim}, keepdim);
}

/// Vector p-norm over `dims` (all when empty): p = 2 (default), 1, inf, -inf, 0 or any
/// other positive value.
template <expr::Expr E>
auto norm(const E& e, double p = 2.0, const Dims& dims = {}, bool keepdim = false) {
  detail::require_floating<E>("norm");
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

}  // namespace kiln
