// SPDX-License-Identifier: BSD-3-Clause
// Building nodes: dtype/device checks, integer-to-float promotion, scalar operands.
#pragma once

#include <type_traits>

#include "kiln/core/dtype.hpp"
#include "kiln/expr/functors/concepts.hpp"
#include "kiln/expr/node.hpp"

namespace kiln::expr {

/// A plain number usable as an operand: `a * 2`, `0.5f + a`.
template <class S>
concept Scalar = (std::is_arithmetic_v<S> || std::is_same_v<S, half> || std::is_same_v<S, bfloat16>) &&
                 !Expr<S>;

template <class E>
using node_t = std::remove_cvref_t<E>;

/// `e` as a node of dtype U: itself when it already is, else a cast node.
template <class U, class E>
auto as_dtype(const E& e) {
  if constexpr (std::is_same_v<value_t<E>, U>)
    return node_t<E>(e);
  else
    return CastNode<U, node_t<E>>(e);
}

// Ops marked int_to_float compute integer and bool inputs in float (torch.sin(int) is float).
template <class Op, class T>
using compute_t = std::conditional_t<int_to_float_v<Op> && !is_floating_v<T>, float, T>;

template <class Op, Expr E>
auto make_unary(Op op, const E& e) {
  static_assert(UnaryFunctor<Op>, "kiln: not a unary functor (see Note [Functor contract])");
  using C = compute_t<Op, value_t<E>>;
  using A = decltype(as_dtype<C>(e));
  return UnaryNode<Op, A>(op, as_dtype<C>(e));
}

template <class A, class B>
constexpr void check_same_dtype_and_device() {
  static_assert(std::is_same_v<value_t<A>, value_t<B>>,
                "kiln: operands have different dtypes; cast one explicitly with kiln::cast<T>(e) or .to<T>()");
  static_assert(std::is_same_v<device_t<A>, device_t<B>>,
                "kiln: operands live on different devices; move one with .to<kiln::CPU>() or .to<kiln::CUDA>()");
}

template <class Op, Expr A, Expr B>
auto make_binary(Op op, const A& a, const B& b) {
  static_assert(BinaryFunctor<Op>, "kiln: not a binary functor (see Note [Functor contract])");
  check_same_dtype_and_device<A, B>();
  using C = compute_t<Op, value_t<A>>;
  using NA = decltype(as_dtype<C>(a));
  using NB = decltype(as_dtype<C>(b));
  return BinaryNode<Op, NA, NB>(op, as_dtype<C>(a), as_dtype<C>(b));
}

/// Tensor-scalar: the scalar only changes the dtype when its category is higher
/// (int tensor * 0.5 is float), as in PyTorch.
template <class Op, Expr A, Scalar S>
auto make_binary(Op op, const A& a, S s) {
  using R = scalar_result_t<value_t<A>, S>;
  return make_binary(op, as_dtype<R>(a), ScalarNode<R, device_t<A>>(static_cast<R>(s)));
}
template <class Op, Scalar S, Expr B>
auto make_binary(Op op, S s, const B& b) {
  using R = scalar_result_t<value_t<B>, S>;
  return make_binary(op, ScalarNode<R, device_t<B>>(static_cast<R>(s)), as_dtype<R>(b));
}

}  // namespace kiln::expr
