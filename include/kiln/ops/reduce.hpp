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

#if defined(__CUDACC__)
#include "kiln/expr/reduce_cuda.cuh"
#endif

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

template <class>
inline constexpr bool reduce_dependent_false = false;

/// Runs reduction RF with accumulator A over `mask`, producing dtype O via fin(acc, n)
/// (a functor of expr/functors/reduce.hpp: the CUDA kernels call it too).
template <class RF, class A, class O, class E, class Fin>
Tensor<O, expr::device_t<E>> reduce(const E& e, uint32_t mask, bool keepdim, Fin fin) {
  using D = expr::device_t<E>;
  const Shape out_shape = reduced_shape(e.shape(), mask, keepdim);
  if constexpr (std::is_same_v<D, CPU>) {
    Tensor<O, CPU> out(out_shape);
    expr::reduce_cpu<A>(e, mask, out.data(), RF{}, fin);
    return out;
  } else {
#if defined(__CUDACC__)
    // The operands' device, made current: the result is allocated and computed there.
    int device = -1;
    e.for_each_leaf([&](const auto& leaf) {
      if (device < 0) device = leaf.get_device();
      KILN_CHECK(leaf.get_device() == device, DeviceError, "[", RF::name,
                 "] operands are on CUDA devices ", device, " and ", leaf.get_device());
    });
    if (device < 0) device = cuda::current_device();
    cuda::DeviceGuard guard(device);
    Tensor<O, D> out(out_shape);
    expr::cuda::reduce<A>(e, mask, out.data(), RF{}, fin, device,
                          cuda::detail::current_stream_handle(device));
    return out;
#else
    static_assert(reduce_dependent_false<E>,
                  "kiln: a reduction of CUDA tensors is a kernel that nvcc generates for the "
                  "expression: compile this file as CUDA (a .cu file) and link kiln::cuda");
#endif
  }
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

/// Which reduction a recorded node differentiates, and its parameters. The backward
/// formulas (Note [Reduction backward]) and the node are compiled once per dtype in
/// src/reduce_backward.cpp: a closure per call site cost every user file a node class.
struct ReductionGrad {
  enum class Kind : uint8_t { prod, extremum, var, std, logsumexp, norm };
  Kind kind;
  uint32_t mask;
  int64_t correction = 0;  // var, std
  double p = 0;            // norm
};

/// Records `out`, a reduction of x, as `name` with the gradient `grad` describes.
template <class T>
void record_reduction(const char* name, Tensor<T, CPU>& out, const Tensor<T, CPU>& x,
                      const ReductionGrad& grad);
#define KILN_REDUCTION_EXTERN(T)                                                                \
  extern template void record_reduction<T>(const char*, Tensor<T, CPU>&, const Tensor<T, CPU>&, \
                                           const ReductionGrad&);
KILN_REDUCTION_EXTERN(float)
KILN_REDUCTION_EXTERN(double)
KILN_REDUCTION_EXTERN(half)
KILN_REDUCTION_EXTERN(bfloat16)
#undef KILN_REDUCTION_EXTERN

// Note [Compiled reductions of plain tensors]
// Reducing a plain float or double tensor (not an expression) is the common case, and
// each reduction's loops are a large instantiation (about 0.2 s of a user file's -O2
// compile each). Those instances are compiled once in src/reduce_instances.cpp, and the
// public functions below dispatch to them, so user files instantiate only reductions of
// their own expressions. The library is built for the baseline ISA (16-byte packets on
// x86-64), so a file built for wider vectors (-mavx2, -march=native) keeps instantiating
// its own copies: they run its wider packets, which the compiled ones would not.
#if KILN_SIMD && defined(__AVX__)
inline constexpr bool kCompiledReductions = false;
#else
inline constexpr bool kCompiledReductions = true;
#endif
template <class E>
inline constexpr bool precompiled_reduction_v = kCompiledReductions &&
                                                (std::is_same_v<E, Tensor<float, CPU>> ||
                                                 std::is_same_v<E, Tensor<double, CPU>>);

#define KILN_COMPILED_REDUCTION(name, ...) \
  template <class T>                       \
  Tensor<T, CPU> name##_tensor(const Tensor<T, CPU>& e, __VA_ARGS__);
KILN_COMPILED_REDUCTION(sum, const Dims& dims, bool keepdim)
KILN_COMPILED_REDUCTION(mean, const Dims& dims, bool keepdim)
KILN_COMPILED_REDUCTION(prod, const Dims& dims, bool keepdim)
KILN_COMPILED_REDUCTION(amax, const Dims& dims, bool keepdim)
KILN_COMPILED_REDUCTION(amin, const Dims& dims, bool keepdim)
KILN_COMPILED_REDUCTION(var, const Dims& dims, int64_t correction, bool keepdim)
KILN_COMPILED_REDUCTION(std, const Dims& dims, int64_t correction, bool keepdim)
KILN_COMPILED_REDUCTION(logsumexp, const Dims& dims, bool keepdim)
KILN_COMPILED_REDUCTION(norm, double p, const Dims& dims, bool keepdim)
#undef KILN_COMPILED_REDUCTION

/// forward(e), recorded as `name` with the gradient `grad` describes when a leaf of e
/// requires grad: e is then materialised as x first, and forward(x) runs with grad mode
/// off. forward is called with either e or x, so it takes `const auto&`.
template <expr::Expr E, class F>
auto reduce_recorded(const E& e, const char* name, F forward, const ReductionGrad& grad) {
  using T = expr::value_t<E>;
  // CUDA tensors cannot require grad yet (requires_grad_ refuses), so only CPU records.
  if constexpr (is_floating_v<T> && std::is_same_v<expr::device_t<E>, CPU>) {
    if (autograd::expr_needs_grad(e)) {
      const Tensor<T, CPU> x = eval(e);
      Tensor<T, CPU> out;
      {
        AutoGradMode off(false);
        out = forward(x);
      }
      record_reduction(name, out, x, grad);
      return out;
    }
  }
  return forward(e);
}

}  // namespace detail

// ---- sum / mean / prod -------------------------------------------------------------------------
namespace detail {
template <expr::Expr E>
auto sum_any(const E& e, const Dims& dims, bool keepdim) {
  using T = expr::value_t<E>;
  using O = detail::sum_t<T>;
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "sum");
  auto out =
      detail::reduce<expr::op::SumReduce, acc_t<T>, O>(e, mask, keepdim, expr::op::CastFin<O>{});
  if constexpr (is_floating_v<T>)
    if (autograd::expr_needs_grad(e))
      autograd::record_fused_reduction(out, e, detail::reduced_shape(e.shape(), mask, true), 1.0,
                                       "SumBackward");
  return out;
}
}  // namespace detail
/// Sum over `dims` (all dims when empty). Integer and bool inputs sum to int64, as in torch.
template <expr::Expr E>
auto sum(const E& e, const Dims& dims, bool keepdim = false) {
  if constexpr (detail::precompiled_reduction_v<E>)
    return detail::sum_tensor(e, dims, keepdim);
  else
    return detail::sum_any(e, dims, keepdim);
}
template <expr::Expr E>
auto sum(const E& e, int64_t dim, bool keepdim = false) {
  return sum(e, Dims{dim}, keepdim);
}
template <expr::Expr E>
auto sum(const E& e) {
  return sum(e, Dims{}, false);
}

namespace detail {
template <expr::Expr E>
auto mean_any(const E& e, const Dims& dims, bool keepdim) {
  detail::require_floating<E>("mean");
  using T = expr::value_t<E>;
  using A = acc_t<T>;
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "mean");
  auto out = detail::reduce<expr::op::SumReduce, A, T>(e, mask, keepdim, expr::op::MeanFin<T>{});
  if (autograd::expr_needs_grad(e))
    autograd::record_fused_reduction(
        out, e, detail::reduced_shape(e.shape(), mask, true),
        1.0 / static_cast<double>(detail::reduced_count(e.shape(), mask)), "MeanBackward");
  return out;
}
}  // namespace detail
template <expr::Expr E>
auto mean(const E& e, const Dims& dims, bool keepdim = false) {
  if constexpr (detail::precompiled_reduction_v<E>)
    return detail::mean_tensor(e, dims, keepdim);
  else
    return detail::mean_any(e, dims, keepdim);
}
template <expr::Expr E>
auto mean(const E& e, int64_t dim, bool keepdim = false) {
  return mean(e, Dims{dim}, keepdim);
}
template <expr::Expr E>
auto mean(const E& e) {
  return mean(e, Dims{}, false);
}

namespace detail {
template <expr::Expr E>
auto prod_any(const E& e, const Dims& dims, bool keepdim) {
  using T = expr::value_t<E>;
  using O = detail::sum_t<T>;
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "prod");
  const expr::op::CastFin<O> fin;
  return detail::reduce_recorded(
      e, "ProdBackward",
      [&](const auto& a) {
        return detail::reduce<expr::op::ProdReduce, acc_t<T>, O>(a, mask, keepdim, fin);
      },
      detail::ReductionGrad{detail::ReductionGrad::Kind::prod, mask});
}
}  // namespace detail
/// Product over `dims` (all dims when empty); integer and bool inputs give int64. The
/// gradient of an element is the product of the others, also where the input has zeros.
template <expr::Expr E>
auto prod(const E& e, const Dims& dims, bool keepdim = false) {
  if constexpr (detail::precompiled_reduction_v<E>)
    return detail::prod_tensor(e, dims, keepdim);
  else
    return detail::prod_any(e, dims, keepdim);
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
  return reduce<RF, A, T>(e, mask, keepdim, expr::op::CastFin<T>{});
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
      ReductionGrad{ReductionGrad::Kind::extremum, mask});
}
}  // namespace detail

namespace detail {
template <expr::Expr E>
auto amax_any(const E& e, const Dims& dims, bool keepdim) {
  return detail::extremum_recorded<expr::op::MaxReduce>(e, dims, keepdim, "amax", "AmaxBackward");
}
}  // namespace detail
/// Maximum over `dims`; NaN propagates. Throws ValueError on an empty reduction. Equal
/// maxima share the gradient equally (torch's amax).
template <expr::Expr E>
auto amax(const E& e, const Dims& dims = {}, bool keepdim = false) {
  if constexpr (detail::precompiled_reduction_v<E>)
    return detail::amax_tensor(e, dims, keepdim);
  else
    return detail::amax_any(e, dims, keepdim);
}
namespace detail {
template <expr::Expr E>
auto amin_any(const E& e, const Dims& dims, bool keepdim) {
  return detail::extremum_recorded<expr::op::MinReduce>(e, dims, keepdim, "amin", "AminBackward");
}
}  // namespace detail
template <expr::Expr E>
auto amin(const E& e, const Dims& dims = {}, bool keepdim = false) {
  if constexpr (detail::precompiled_reduction_v<E>)
    return detail::amin_tensor(e, dims, keepdim);
  else
    return detail::amin_any(e, dims, keepdim);
}

namespace detail {
// argmax (Max) or argmin over `dims` (all dims, flattened, when empty).
template <bool Max, expr::Expr E>
Tensor<int64_t, expr::device_t<E>> arg_reduce(const E& e, const Dims& dims, bool keepdim,
                                              const char* op) {
  const uint32_t mask = reduce_mask(dims, e.shape().size(), op);
  KILN_CHECK(reduced_count(e.shape(), mask) > 0, ValueError, "[", op,
             "] cannot reduce over a zero-size dimension (shape ", e.shape(), ", dims ", dims, ")");
  if constexpr (std::is_same_v<expr::device_t<E>, CPU>) {
    Tensor<int64_t, CPU> out(reduced_shape(e.shape(), mask, keepdim));
    expr::arg_reduce_cpu<Max>(e, mask, out.data());
    return out;
  } else {  // the CUDA reduction with a (value, index) accumulator
    using A = expr::op::ArgAcc<opmath_t<expr::value_t<E>>>;
    return reduce<expr::op::ArgReduce<Max>, A, int64_t>(e, mask, keepdim, expr::op::ArgIndexFin{});
  }
}
}  // namespace detail

/// Index of the first maximum along `dim` (int64), NaN counting as the maximum.
template <expr::Expr E>
Tensor<int64_t, expr::device_t<E>> argmax(const E& e, int64_t dim, bool keepdim = false) {
  return detail::arg_reduce<true>(e, Dims{dim}, keepdim, "argmax");
}
template <expr::Expr E>
Tensor<int64_t, expr::device_t<E>> argmin(const E& e, int64_t dim, bool keepdim = false) {
  return detail::arg_reduce<false>(e, Dims{dim}, keepdim, "argmin");
}
/// Index into the flattened input of the first maximum (a 0-d int64 tensor).
template <expr::Expr E>
Tensor<int64_t, expr::device_t<E>> argmax(const E& e) {
  return detail::arg_reduce<true>(e, Dims{}, false, "argmax");
}
template <expr::Expr E>
Tensor<int64_t, expr::device_t<E>> argmin(const E& e) {
  return detail::arg_reduce<false>(e, Dims{}, false, "argmin");
}

/// torch.max(x, dim): values and the indices where they occur.
template <class T, class D = CPU>
struct ValuesIndices {
  Tensor<T, D> values;
  Tensor<int64_t, D> indices;
};
namespace detail {
// max/min along a dim, recorded when needed: the gradient goes to the returned index.
template <bool Max, expr::Expr E>
ValuesIndices<expr::value_t<E>, expr::device_t<E>> max_min_dim(const E& e, int64_t dim,
                                                               bool keepdim) {
  using T = expr::value_t<E>;
  using D = expr::device_t<E>;
  const auto run = [&](const auto& x) -> ValuesIndices<T, D> {
    if constexpr (Max)
      return {amax(x, Dims{dim}, keepdim), argmax(x, dim, keepdim)};
    else
      return {amin(x, Dims{dim}, keepdim), argmin(x, dim, keepdim)};
  };
  if constexpr (is_floating_v<T> && std::is_same_v<D, CPU>) {
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
ValuesIndices<expr::value_t<E>, expr::device_t<E>> max(const E& e, int64_t dim,
                                                       bool keepdim = false) {
  return detail::max_min_dim<true>(e, dim, keepdim);
}
template <expr::Expr E>
ValuesIndices<expr::value_t<E>, expr::device_t<E>> min(const E& e, int64_t dim,
                                                       bool keepdim = false) {
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
Tensor<bool, expr::device_t<E>> all(const E& e, const Dims& dims = {}, bool keepdim = false) {
  return detail::reduce<expr::op::AllReduce, bool, bool>(
      cast<bool>(e), detail::reduce_mask(dims, e.shape().size(), "all"), keepdim,
      expr::op::CastFin<bool>{});
}
template <expr::Expr E>
Tensor<bool, expr::device_t<E>> any(const E& e, const Dims& dims = {}, bool keepdim = false) {
  return detail::reduce<expr::op::AnyReduce, bool, bool>(
      cast<bool>(e), detail::reduce_mask(dims, e.shape().size(), "any"), keepdim,
      expr::op::CastFin<bool>{});
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
  const Tensor<T, expr::device_t<E>> m = mean(e, dims, /*keepdim=*/true);
  return reduce<expr::op::SumReduce, A, T>(square(e - m), mask, keepdim,
                                           expr::op::VarFin<T>{correction});
}
}  // namespace detail

namespace detail {
template <expr::Expr E>
auto var_any(const E& e, const Dims& dims, int64_t correction, bool keepdim) {
  detail::require_floating<E>("var");
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "var");
  return detail::reduce_recorded(
      e, "VarBackward",
      [&](const auto& a) { return detail::var_impl(a, dims, correction, keepdim); },
      detail::ReductionGrad{detail::ReductionGrad::Kind::var, mask, correction});
}
}  // namespace detail
template <expr::Expr E>
auto var(const E& e, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false) {
  if constexpr (detail::precompiled_reduction_v<E>)
    return detail::var_tensor(e, dims, correction, keepdim);
  else
    return detail::var_any(e, dims, correction, keepdim);
}
namespace detail {
template <expr::Expr E>
auto std_any(const E& e, const Dims& dims, int64_t correction, bool keepdim) {
  detail::require_floating<E>("std");
  using T = expr::value_t<E>;
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "std");
  return detail::reduce_recorded(
      e, "StdBackward",
      [&](const auto& a) {
        Tensor<T, expr::device_t<E>> v = detail::var_impl(a, dims, correction, keepdim);
        v.copy_(sqrt(v));  // in place: no second buffer
        return v;
      },
      detail::ReductionGrad{detail::ReductionGrad::Kind::std, mask, correction});
}
}  // namespace detail
/// Standard deviation: sqrt(var(e, dims, correction)). Where it is 0 the gradient is 0.
template <expr::Expr E>
auto std(const E& e, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false) {
  if constexpr (detail::precompiled_reduction_v<E>)
    return detail::std_tensor(e, dims, correction, keepdim);
  else
    return detail::std_any(e, dims, correction, keepdim);
}

namespace detail {
template <expr::Expr E>
auto logsumexp_any(const E& e, const Dims& dims, bool keepdim) {
  detail::require_floating<E>("logsumexp");
  using T = expr::value_t<E>;
  using A = expr::op::LseAcc<opmath_t<T>>;
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "logsumexp");
  const expr::op::LogSumExpFin<T> fin;
  return detail::reduce_recorded(
      e, "LogsumexpBackward",
      [&](const auto& a) {
        return detail::reduce<expr::op::LogSumExpReduce, A, T>(a, mask, keepdim, fin);
      },
      detail::ReductionGrad{detail::ReductionGrad::Kind::logsumexp, mask});
}
}  // namespace detail
/// log(sum(exp(e))) over `dims`, stable for large inputs, in one pass over memory
/// (Note [Deterministic reductions]; an all -inf slice gives -inf).
template <expr::Expr E>
auto logsumexp(const E& e, const Dims& dims, bool keepdim = false) {
  if constexpr (detail::precompiled_reduction_v<E>)
    return detail::logsumexp_tensor(e, dims, keepdim);
  else
    return detail::logsumexp_any(e, dims, keepdim);
}
template <expr::Expr E>
auto logsumexp(const E& e, int64_t dim, bool keepdim = false) {
  return logsumexp(e, Dims{dim}, keepdim);
}

namespace detail {
template <expr::Expr E>
auto norm_impl(const E& e, double p, const Dims& dims, bool keepdim) {
  using T = expr::value_t<E>;
  using R = Tensor<T, expr::device_t<E>>;
  if (p == 2.0) return R(sqrt(sum(square(e), dims, keepdim)));
  if (p == 1.0) return sum(abs(e), dims, keepdim);
  if (std::isinf(p)) {
    return p > 0 ? amax(abs(e), dims, keepdim) : amin(abs(e), dims, keepdim);
  }
  if (p == 0.0) return sum(cast<T>(e != T(0)), dims, keepdim);
  KILN_CHECK(p > 0, ValueError, "[norm] p must be positive, 0 or +-inf, got ", p);
  return R(pow(sum(pow(abs(e), p), dims, keepdim), 1.0 / p));
}
}  // namespace detail

namespace detail {
template <expr::Expr E>
auto norm_any(const E& e, double p, const Dims& dims, bool keepdim) {
  detail::require_floating<E>("norm");
  const uint32_t mask = detail::reduce_mask(dims, e.shape().size(), "norm");
  return detail::reduce_recorded(
      e, "NormBackward", [&](const auto& a) { return detail::norm_impl(a, p, dims, keepdim); },
      detail::ReductionGrad{detail::ReductionGrad::Kind::norm, mask, 0, p});
}
}  // namespace detail
/// Vector p-norm over `dims` (all when empty): p = 2 (default), 1, inf, -inf, 0 or any
/// other positive value. The gradient is 0 where the norm is 0 (torch's subgradient);
/// for p = +-inf equal extrema share it.
template <expr::Expr E>
auto norm(const E& e, double p = 2.0, const Dims& dims = {}, bool keepdim = false) {
  if constexpr (detail::precompiled_reduction_v<E>)
    return detail::norm_tensor(e, p, dims, keepdim);
  else
    return detail::norm_any(e, p, dims, keepdim);
}

}  // namespace kiln
