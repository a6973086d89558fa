// SPDX-License-Identifier: BSD-3-Clause
// Building nodes: dtype/device checks, integer-to-float promotion, scalar operands.
#pragma once

#include <type_traits>
#include <utility>

#include "kiln/core/dtype.hpp"
#include "kiln/expr/functors/concepts.hpp"
#include "kiln/expr/node.hpp"

namespace kiln::expr {

/// A plain number usable as an operand: `a * 2`, `0.5f + a`.
template <class S>
concept Scalar = (std::is_arithmetic_v<std::remove_cvref_t<S>> ||
                  std::is_same_v<std::remove_cvref_t<S>, half> ||
                  std::is_same_v<std::remove_cvref_t<S>, bfloat16>)&&!Expr<S>;

template <class E>
using node_t = std::remove_cvref_t<E>;

// Note [Operands by value, temporaries moved]
// Nodes own copies of their operands. Builders take forwarding references and MOVE
// temporary sub-expressions into the parent, so in `y = y * 0.5f + b` only the final
// tree holds a handle to y's storage; `y = expr` can then see that y is the sole
// owner (besides the expression) and write in place.

/// `e` as a node of dtype U: itself when it already is, else a cast node.
template <class U, class E>
auto as_dtype(E&& e) {
  if constexpr (std::is_same_v<value_t<E>, U>)
    return node_t<E>(std::forward<E>(e));
  else
    return CastNode<U, node_t<E>>(node_t<E>(std::forward<E>(e)));
}

// Ops marked int_to_float compute integer and bool inputs in float (torch.sin(int) is float).
template <class Op, class T>
using compute_t = std::conditional_t<int_to_float_v<Op> && !is_floating_v<T>, float, T>;

template <class Op, class E>
requires Expr<E>
auto make_unary(Op op, E&& e) {
  static_assert(UnaryFunctor<Op>, "kiln: not a unary functor (see Note [Functor contract])");
  using C = compute_t<Op, value_t<E>>;
  auto a = as_dtype<C>(std::forward<E>(e));
  return UnaryNode<Op, decltype(a)>(op, std::move(a));
}

template <class A, class B>
constexpr void check_same_dtype_and_device() {
  static_assert(std::is_same_v<value_t<A>, value_t<B>>,
                "kiln: operands have different dtypes; cast one explicitly with kiln::cast<T>(e) "
                "or .to<T>()");
  static_assert(std::is_same_v<device_t<A>, device_t<B>>,
                "kiln: operands live on different devices; move one with .to<kiln::CPU>() or "
                ".to<kiln::CUDA>()");
}

template <class Op, class A, class B>
requires(Expr<A>&& Expr<B>) auto make_binary(Op op, A&& a, B&& b) {
  static_assert(BinaryFunctor<Op>, "kiln: not a binary functor (see Note [Functor contract])");
  check_same_dtype_and_device<A, B>();
  using C = compute_t<Op, value_t<A>>;
  auto na = as_dtype<C>(std::forward<A>(a));
  auto nb = as_dtype<C>(std::forward<B>(b));
  return BinaryNode<Op, decltype(na), decltype(nb)>(op, std::move(na), std::move(nb));
}

/// Tensor-scalar: the scalar only changes the dtype when its category is higher
/// (int tensor * 0.5 is float), as in PyTorch.
template <class Op, class A, class S>
requires(Expr<A>&& Scalar<S>) auto make_binary(Op op, A&& a, S s) {
  using R = scalar_result_t<value_t<A>, std::remove_cvref_t<S>>;
  return make_binary(op, as_dtype<R>(std::forward<A>(a)),
                     ScalarNode<R, device_t<A>>(static_cast<R>(s)));
}
template <class Op, class S, class B>
requires(Scalar<S>&& Expr<B>) auto make_binary(Op op, S s, B&& b) {
  using R = scalar_result_t<value_t<B>, std::remove_cvref_t<S>>;
  return make_binary(op, ScalarNode<R, device_t<B>>(static_cast<R>(s)),
                     as_dtype<R>(std::forward<B>(b)));
}

}  // namespace kiln::expr
