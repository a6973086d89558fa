// SPDX-License-Identifier: BSD-3-Clause
// The public elementwise API: operators and kiln::sin(e)-style functions. Each line
// names a functor; nothing else is needed to add an op (see docs/architecture.md).
#pragma once

#include <limits>
#include <type_traits>
#include <utility>

#include "kiln/expr/functors/binary.hpp"
#include "kiln/expr/functors/ternary.hpp"
#include "kiln/expr/functors/unary.hpp"
#include "kiln/expr/make.hpp"

namespace kiln {

/// Lazy elementwise conversion to dtype U.
template <class U, class E>
requires expr::Expr<E>
auto cast(E&& e) { return expr::as_dtype<U>(std::forward<E>(e)); }

#define KILN_UNARY_OP(name, Functor)                                                               \
  static_assert(::kiln::expr::UnaryFunctor<::kiln::expr::op::Functor>, #Functor " is incomplete"); \
  template <class E>                                                                               \
  requires ::kiln::expr::Expr<E>                                                                   \
  auto name(E&& e) {                                                                               \
    return ::kiln::expr::make_unary(::kiln::expr::op::Functor{}, std::forward<E>(e));              \
  }

#define KILN_BINARY_OP(name, Functor)                                                 \
  static_assert(::kiln::expr::BinaryFunctor<::kiln::expr::op::Functor>,               \
                #Functor " is incomplete");                                           \
  template <class A, class B>                                                         \
  requires(::kiln::expr::Expr<A> || ::kiln::expr::Expr<B>) auto name(A&& a, B&& b) {  \
    return ::kiln::expr::make_binary(::kiln::expr::op::Functor{}, std::forward<A>(a), \
                                     std::forward<B>(b));                             \
  }

KILN_UNARY_OP(neg, Neg)
KILN_UNARY_OP(abs, Abs)
KILN_UNARY_OP(sign, Sign)
KILN_UNARY_OP(floor, Floor)
KILN_UNARY_OP(ceil, Ceil)
KILN_UNARY_OP(round, Round)
KILN_UNARY_OP(trunc, Trunc)
KILN_UNARY_OP(square, Square)
KILN_UNARY_OP(sqrt, Sqrt)
KILN_UNARY_OP(rsqrt, Rsqrt)
KILN_UNARY_OP(reciprocal, Reciprocal)
KILN_UNARY_OP(exp, Exp)
KILN_UNARY_OP(exp2, Exp2)
KILN_UNARY_OP(expm1, Expm1)
KILN_UNARY_OP(log, Log)
KILN_UNARY_OP(log2, Log2)
KILN_UNARY_OP(log1p, Log1p)
KILN_UNARY_OP(sin, Sin)
KILN_UNARY_OP(cos, Cos)
KILN_UNARY_OP(tan, Tan)
KILN_UNARY_OP(asin, Asin)
KILN_UNARY_OP(acos, Acos)
KILN_UNARY_OP(atan, Atan)
KILN_UNARY_OP(sinh, Sinh)
KILN_UNARY_OP(cosh, Cosh)
KILN_UNARY_OP(tanh, Tanh)
KILN_UNARY_OP(erf, Erf)
KILN_UNARY_OP(sigmoid, Sigmoid)
KILN_UNARY_OP(relu, Relu)
KILN_UNARY_OP(silu, Silu)
KILN_UNARY_OP(gelu, Gelu)
KILN_UNARY_OP(gelu_tanh, GeluTanh)
KILN_UNARY_OP(logical_not, LogicalNot)
KILN_UNARY_OP(bitwise_not, BitwiseNot)

KILN_BINARY_OP(add, Add)
KILN_BINARY_OP(sub, Sub)
KILN_BINARY_OP(mul, Mul)
KILN_BINARY_OP(div, Div)
KILN_BINARY_OP(atan2, Atan2)
KILN_BINARY_OP(fmod, Fmod)
KILN_BINARY_OP(floor_divide, FloorDivide)
KILN_BINARY_OP(remainder, Remainder)
KILN_BINARY_OP(bitwise_and, BitwiseAnd)
KILN_BINARY_OP(bitwise_or, BitwiseOr)
KILN_BINARY_OP(bitwise_xor, BitwiseXor)
KILN_BINARY_OP(left_shift, LeftShift)
KILN_BINARY_OP(right_shift, RightShift)
KILN_BINARY_OP(maximum, Maximum)
KILN_BINARY_OP(minimum, Minimum)
KILN_BINARY_OP(eq, Eq)
KILN_BINARY_OP(ne, Ne)
KILN_BINARY_OP(lt, Lt)
KILN_BINARY_OP(le, Le)
KILN_BINARY_OP(gt, Gt)
KILN_BINARY_OP(ge, Ge)
KILN_BINARY_OP(logical_and, LogicalAnd)
KILN_BINARY_OP(logical_or, LogicalOr)
KILN_BINARY_OP(logical_xor, LogicalXor)

#undef KILN_UNARY_OP
#undef KILN_BINARY_OP

// ---- ops with parameters ---------------------------------------------------------------------
template <class E>
requires expr::Expr<E>
auto leaky_relu(E&& e, double negative_slope = 0.01) {
  return expr::make_unary(expr::op::LeakyRelu{negative_slope}, std::forward<E>(e));
}
template <class E>
requires expr::Expr<E>
auto elu(E&& e, double alpha = 1.0) {
  return expr::make_unary(expr::op::Elu{alpha}, std::forward<E>(e));
}
template <class E>
requires expr::Expr<E>
auto softplus(E&& e, double beta = 1.0, double threshold = 20.0) {
  return expr::make_unary(expr::op::Softplus{beta, threshold}, std::forward<E>(e));
}
/// a ** b elementwise for two expressions.
template <class A, class B>
requires(expr::Expr<A>&& expr::Expr<B>) auto pow(A&& a, B&& b) {
  return expr::make_binary(expr::op::Pow{}, std::forward<A>(a), std::forward<B>(b));
}
/// x ** exponent for a number exponent (torch.pow(tensor, number)). An integer tensor
/// raised to an integer stays integer (exact repeated squaring), as in torch.
template <class E, class S>
requires(expr::Expr<E>&& expr::Scalar<S>) auto pow(E&& e, S exponent) {
  if constexpr (std::is_integral_v<std::remove_cvref_t<S>> && !is_floating_v<expr::value_t<E>>)
    return expr::make_binary(expr::op::Pow{}, std::forward<E>(e), exponent);
  else
    return expr::make_unary(expr::op::PowScalar{static_cast<double>(exponent)}, std::forward<E>(e));
}
/// base ** e for a number base (torch.pow(number, tensor)).
template <class S, class E>
requires(expr::Scalar<S>&& expr::Expr<E>) auto pow(S base, E&& e) {
  return expr::make_binary(expr::op::Pow{}, base, std::forward<E>(e));
}
/// Clamps into [lo, hi]; NaN stays NaN.
template <class E>
requires expr::Expr<E>
auto clamp(E&& e, double lo, double hi) {
  return expr::make_unary(expr::op::Clamp{lo, hi}, std::forward<E>(e));
}
template <class E>
requires expr::Expr<E>
auto clamp_min(E&& e, double lo) {
  return expr::make_unary(expr::op::Clamp{lo, std::numeric_limits<double>::infinity()},
                          std::forward<E>(e));
}
template <class E>
requires expr::Expr<E>
auto clamp_max(E&& e, double hi) {
  return expr::make_unary(expr::op::Clamp{-std::numeric_limits<double>::infinity(), hi},
                          std::forward<E>(e));
}

/// where(cond, a, b) with broadcasting; a and/or b may be numbers (then of the other
/// operand's dtype, or float when both are numbers).
template <class C, class A, class B>
requires(expr::Expr<C> &&
         (expr::Expr<A> || expr::Scalar<A>)&&(expr::Expr<B> ||
                                              expr::Scalar<B>)) auto where(C&& cond, A&& a, B&& b) {
  static_assert(std::is_same_v<expr::value_t<C>, bool>,
                "kiln::where: the condition must be a bool expression");
  using D = expr::device_t<C>;
  if constexpr (!expr::Expr<A> && !expr::Expr<B>) {
    return where(std::forward<C>(cond), expr::ScalarNode<float, D>(static_cast<float>(a)),
                 expr::ScalarNode<float, D>(static_cast<float>(b)));
  } else if constexpr (!expr::Expr<A>) {
    using T = expr::value_t<B>;
    return where(std::forward<C>(cond), expr::ScalarNode<T, D>(static_cast<T>(a)),
                 std::forward<B>(b));
  } else if constexpr (!expr::Expr<B>) {
    using T = expr::value_t<A>;
    return where(std::forward<C>(cond), std::forward<A>(a),
                 expr::ScalarNode<T, D>(static_cast<T>(b)));
  } else {
    expr::check_same_dtype_and_device<A, B>();
    static_assert(std::is_same_v<expr::device_t<C>, expr::device_t<A>>,
                  "kiln::where: the condition lives on another device");
    return expr::TernaryNode<expr::op::Where, expr::node_t<C>, expr::node_t<A>, expr::node_t<B>>(
        expr::op::Where{}, expr::node_t<C>(std::forward<C>(cond)),
        expr::node_t<A>(std::forward<A>(a)), expr::node_t<B>(std::forward<B>(b)));
  }
}

// ---- operators ----------------------------------------------------------------------------------
#define KILN_BINARY_OPERATOR(sym, Functor)                                                 \
  template <class A, class B>                                                              \
  requires((expr::Expr<A> && (expr::Expr<B> || expr::Scalar<B>)) ||                        \
           (expr::Scalar<A> && expr::Expr<B>)) auto                                        \
  operator sym(A&& a, B&& b) {                                                             \
    return expr::make_binary(expr::op::Functor{}, std::forward<A>(a), std::forward<B>(b)); \
  }
KILN_BINARY_OPERATOR(+, Add)
KILN_BINARY_OPERATOR(-, Sub)
KILN_BINARY_OPERATOR(*, Mul)
KILN_BINARY_OPERATOR(/, Div)
KILN_BINARY_OPERATOR(==, Eq)
KILN_BINARY_OPERATOR(!=, Ne)
KILN_BINARY_OPERATOR(<, Lt)
KILN_BINARY_OPERATOR(<=, Le)
KILN_BINARY_OPERATOR(>, Gt)
KILN_BINARY_OPERATOR(>=, Ge)
KILN_BINARY_OPERATOR(&&, LogicalAnd)
KILN_BINARY_OPERATOR(||, LogicalOr)
#undef KILN_BINARY_OPERATOR

template <class E>
requires expr::Expr<E>
auto operator-(E&& e) { return neg(std::forward<E>(e)); }
template <class E>
requires expr::Expr<E>
auto operator!(E&& e) { return logical_not(std::forward<E>(e)); }

}  // namespace kiln
