// SPDX-License-Identifier: BSD-3-Clause
// The bodies of Lazy and LazyMask (autograd/lazy.hpp): each runs one recorded tensor op.
// Included by src/autograd_lazy.cpp, which instantiates them for the CPU dtypes; a
// CUDA build instantiates them for its device the same way.
#pragma once

#include "kiln/expr/ops.hpp"
#include "kiln/tensor.hpp"

namespace kiln::autograd::detail {

template <class D>
LazyMask<D> LazyMask<D>::logical_and_(const LazyMask& a, const LazyMask& b) {
  return {Tensor<bool, D>(logical_and(a.t, b.t))};
}
template <class D>
LazyMask<D> LazyMask<D>::logical_or_(const LazyMask& a, const LazyMask& b) {
  return {Tensor<bool, D>(logical_or(a.t, b.t))};
}
template <class D>
LazyMask<D> LazyMask<D>::logical_xor_(const LazyMask& a, const LazyMask& b) {
  return {Tensor<bool, D>(logical_xor(a.t, b.t))};
}
template <class D>
LazyMask<D> LazyMask<D>::logical_not_(const LazyMask& a) {
  return {Tensor<bool, D>(logical_not(a.t))};
}

template <class T, class D>
Lazy<T, D> Lazy<T, D>::arith(Arith op, const Lazy& a, const Lazy& b) {
  switch (op) {
    case Arith::add:
      return {Tensor<T, D>(a.t + b.t)};
    case Arith::sub:
      return {Tensor<T, D>(a.t - b.t)};
    case Arith::mul:
      return {Tensor<T, D>(a.t * b.t)};
    case Arith::div:
      break;
  }
  return {Tensor<T, D>(a.t / b.t)};
}
template <class T, class D>
LazyMask<D> Lazy<T, D>::compare(Cmp op, const Lazy& a, const Lazy& b) {
  switch (op) {
    case Cmp::eq:
      return {Tensor<bool, D>(a.t == b.t)};
    case Cmp::ne:
      return {Tensor<bool, D>(a.t != b.t)};
    case Cmp::lt:
      return {Tensor<bool, D>(a.t < b.t)};
    case Cmp::le:
      return {Tensor<bool, D>(a.t <= b.t)};
    case Cmp::gt:
      return {Tensor<bool, D>(a.t > b.t)};
    case Cmp::ge:
      break;
  }
  return {Tensor<bool, D>(a.t >= b.t)};
}
template <class T, class D>
Lazy<T, D> Lazy<T, D>::negate(const Lazy& a) {
  return {Tensor<T, D>(neg(a.t))};
}
template <class T, class D>
Lazy<T, D> Lazy<T, D>::lazy_lit(double v) {
  Tensor<T, D> s{Shape{}};
  s.fill_(static_cast<T>(v));
  return {s};
}
template <class T, class D>
Lazy<T, D> Lazy<T, D>::lazy_select(const LazyMask<D>& c, const Lazy& a, const Lazy& b) {
  return {Tensor<T, D>(where(c.t, a.t, b.t))};
}

#define KILN_LAZY_UNARY(name, fn)                     \
  template <class T, class D>                         \
  Lazy<T, D> Lazy<T, D>::lazy_##name(const Lazy& x) { \
    return {Tensor<T, D>(fn(x.t))};                   \
  }
KILN_LAZY_UNARY(sin, kiln::sin)
KILN_LAZY_UNARY(cos, kiln::cos)
KILN_LAZY_UNARY(tan, kiln::tan)
KILN_LAZY_UNARY(asin, kiln::asin)
KILN_LAZY_UNARY(acos, kiln::acos)
KILN_LAZY_UNARY(atan, kiln::atan)
KILN_LAZY_UNARY(sinh, kiln::sinh)
KILN_LAZY_UNARY(cosh, kiln::cosh)
KILN_LAZY_UNARY(tanh, kiln::tanh)
KILN_LAZY_UNARY(exp, kiln::exp)
KILN_LAZY_UNARY(exp2, kiln::exp2)
KILN_LAZY_UNARY(expm1, kiln::expm1)
KILN_LAZY_UNARY(log, kiln::log)
KILN_LAZY_UNARY(log2, kiln::log2)
KILN_LAZY_UNARY(log1p, kiln::log1p)
KILN_LAZY_UNARY(erf, kiln::erf)
KILN_LAZY_UNARY(sqrt, kiln::sqrt)
KILN_LAZY_UNARY(floor, kiln::floor)
KILN_LAZY_UNARY(ceil, kiln::ceil)
KILN_LAZY_UNARY(trunc, kiln::trunc)
KILN_LAZY_UNARY(rint, kiln::round)
KILN_LAZY_UNARY(abs, kiln::abs)
#undef KILN_LAZY_UNARY

template <class T, class D>
Lazy<T, D> Lazy<T, D>::lazy_atan2(const Lazy& a, const Lazy& b) {
  return {Tensor<T, D>(kiln::atan2(a.t, b.t))};
}
template <class T, class D>
Lazy<T, D> Lazy<T, D>::lazy_pow(const Lazy& a, const Lazy& b) {
  return {Tensor<T, D>(kiln::pow(a.t, b.t))};
}
template <class T, class D>
Lazy<T, D> Lazy<T, D>::lazy_fmod(const Lazy& a, const Lazy& b) {
  return {Tensor<T, D>(kiln::fmod(a.t, b.t))};
}

}  // namespace kiln::autograd::detail
