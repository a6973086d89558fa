// SPDX-License-Identifier: BSD-3-Clause
// What every elementwise functor must provide, checked where the op is made public.
#pragma once

#include <concepts>
#include <type_traits>

namespace kiln::expr {

// Note [Functor contract]
// An elementwise op is ONE struct: `name`, a templated operator() written with
// kiln::math helpers (so it runs on scalars of every dtype, on CPU packets and in CUDA
// kernels), and its derivative: `grad(x, y, g)` for unary ops, `grad_a`/`grad_b(a, b, y, g)`
// for binary ones, where y is the forward output and g the incoming gradient.
// Optional members: `vectorizable` (false keeps the op off the packet path),
// `int_to_float` (integer inputs are cast to float first, like torch.sin(int_tensor)),
// `differentiable` (false for comparisons and logical ops, which have no grad), and
// `template <class T> using result = U;` when the output dtype differs from the input's.

template <class F>
concept NamedFunctor = requires {
  { F::name } -> std::convertible_to<const char*>;
};

template <class F>
inline constexpr bool is_differentiable_v = [] {
  if constexpr (requires { F::differentiable; })
    return static_cast<bool>(F::differentiable);
  else
    return true;
}();

template <class F>
concept UnaryFunctor = NamedFunctor<F> && requires(const F& f, float x, double xd) {
  f(x);
  f(xd);
} &&(!is_differentiable_v<F> || requires(const F& f, float x) { f.grad(x, x, x); });

template <class F>
concept BinaryFunctor = NamedFunctor<F> && requires(const F& f, float x, double xd) {
  f(x, x);
  f(xd, xd);
} &&(!is_differentiable_v<F> || requires(const F& f, float x) {
  f.grad_a(x, x, x, x);
  f.grad_b(x, x, x, x);
});

template <class F>
inline constexpr bool is_vectorizable_v = [] {
  if constexpr (requires { F::vectorizable; })
    return static_cast<bool>(F::vectorizable);
  else
    return true;
}();

template <class F>
inline constexpr bool int_to_float_v = [] {
  if constexpr (requires { F::int_to_float; })
    return static_cast<bool>(F::int_to_float);
  else
    return false;
}();

namespace detail {
template <class F, class T>
struct functor_result {
  using type = T;
};
template <class F, class T>
requires requires { typename F::template result<T>; }
struct functor_result<F, T> {
  using type = typename F::template result<T>;
};
}  // namespace detail

/// Output dtype of functor F applied to operands of dtype T.
template <class F, class T>
using functor_result_t = typename detail::functor_result<F, T>::type;

}  // namespace kiln::expr
