// SPDX-License-Identifier: BSD-3-Clause
// The create_graph path of a fused node: the functors' derivatives evaluated on whole
// tensors with recorded ops, so the backward is itself differentiable. Included at the end
// of tensor.hpp, after record.hpp (include tensor.hpp, not this).
#pragma once

#include <vector>

#include "kiln/expr/ops.hpp"

namespace kiln::autograd {

namespace detail {

template <class D>
struct LazyMask {
  Tensor<bool, D> t;
  friend LazyMask operator&(const LazyMask& a, const LazyMask& b) {
    return {Tensor<bool, D>(logical_and(a.t, b.t))};
  }
  friend LazyMask operator|(const LazyMask& a, const LazyMask& b) {
    return {Tensor<bool, D>(logical_or(a.t, b.t))};
  }
  friend LazyMask operator&&(const LazyMask& a, const LazyMask& b) { return a & b; }
  friend LazyMask operator||(const LazyMask& a, const LazyMask& b) { return a | b; }
  friend LazyMask operator!(const LazyMask& a) { return {Tensor<bool, D>(logical_not(a.t))}; }
};

// Note [Lazy values]
// A functor's grad(x, y, g) is written once with kiln::math helpers. Called with Lazy
// operands, every helper and operator runs the matching recorded tensor op (math::exp
// becomes kiln::exp, select becomes where, lit a 0-d constant), so the derivative is
// computed as a graph of differentiable ops: the gradient of a gradient comes from the
// same functors, with no second-derivative code anywhere.
template <class T, class D>
struct Lazy {
  using kiln_lazy_value = void;
  Tensor<T, D> t;

#define KILN_LAZY_ARITH(sym)                                   \
  friend Lazy operator sym(const Lazy& a, const Lazy& b) {     \
    return {Tensor<T, D>(a.t sym b.t)};                        \
  }
  KILN_LAZY_ARITH(+)
  KILN_LAZY_ARITH(-)
  KILN_LAZY_ARITH(*)
  KILN_LAZY_ARITH(/)
#undef KILN_LAZY_ARITH
#define KILN_LAZY_CMP(sym)                                       \
  friend LazyMask<D> operator sym(const Lazy& a, const Lazy& b) { \
    return {Tensor<bool, D>(a.t sym b.t)};                       \
  }
  KILN_LAZY_CMP(==)
  KILN_LAZY_CMP(!=)
  KILN_LAZY_CMP(<)
  KILN_LAZY_CMP(<=)
  KILN_LAZY_CMP(>)
  KILN_LAZY_CMP(>=)
#undef KILN_LAZY_CMP
  friend Lazy operator-(const Lazy& a) { return {Tensor<T, D>(neg(a.t))}; }

  static Lazy lazy_lit(double v) {
    Tensor<T, D> s{Shape{}};
    s.fill_(static_cast<T>(v));
    return {s};
  }
  static Lazy lazy_select(const LazyMask<D>& c, const Lazy& a, const Lazy& b) {
    return {Tensor<T, D>(where(c.t, a.t, b.t))};
  }
#define KILN_LAZY_UNARY(name, fn) \
  static Lazy lazy_##name(const Lazy& x) { return {Tensor<T, D>(fn(x.t))}; }
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
  static Lazy lazy_atan2(const Lazy& a, const Lazy& b) {
    return {Tensor<T, D>(kiln::atan2(a.t, b.t))};
  }
  static Lazy lazy_pow(const Lazy& a, const Lazy& b) { return {Tensor<T, D>(kiln::pow(a.t, b.t))}; }
  static Lazy lazy_fmod(const Lazy& a, const Lazy& b) {
    return {Tensor<T, D>(kiln::fmod(a.t, b.t))};
  }
};

template <class E>
size_t leaf_count(const E& e) {
  size_t n = 0;
  e.for_each_leaf([&](const auto&) { ++n; });
  return n;
}

struct LazyCtx {
  const std::vector<int>* leaf_slot;
  std::vector<AnyTensor>* out;
  const Shape* out_shape;
  size_t cursor = 0;
  /// Whether the next `n` leaves (a subtree) include one that needs a gradient.
  bool any_grad(size_t n) const {
    for (size_t k = cursor; k < cursor + n; ++k)
      if ((*leaf_slot)[k] >= 0) return true;
    return false;
  }
};

/// The value of a subtree as a (recorded) tensor.
template <class T, class D>
const Tensor<T, D>& lazy_value(const Tensor<T, D>& t) {
  return t;
}
template <class E>
requires(!std::is_same_v<E, Tensor<expr::value_t<E>, expr::device_t<E>>>) auto lazy_value(
    const E& e) {
  return Tensor<expr::value_t<E>, expr::device_t<E>>(e);
}

template <class T, class D>
void lazy_back(const Tensor<T, D>& leaf, const Tensor<T, D>& g, LazyCtx& ctx) {
  const int slot = (*ctx.leaf_slot)[ctx.cursor++];
  if (slot < 0) return;
  Tensor<T, D> gg = g;
  if (gg.shape() != leaf.shape()) gg = sum_to(gg.expand(*ctx.out_shape), leaf.shape());
  AnyTensor& o = (*ctx.out)[slot];
  o = o.defined() ? AnyTensor(Tensor<T, D>(o.as<T, D>() + gg)) : AnyTensor(gg);
}
template <class T, class D, class G>
void lazy_back(const expr::ScalarNode<T, D>&, const G&, LazyCtx&) {}

template <class Op, class E, class G>
void lazy_back(const expr::UnaryNode<Op, E>& n, const G& g, LazyCtx& ctx) {
  using N = expr::UnaryNode<Op, E>;
  using R = typename N::value_type;
  using S = typename N::operand_type;
  const size_t leaves = leaf_count(n);
  if constexpr (expr::is_differentiable_v<Op> && is_floating_v<R> && is_floating_v<S>) {
    if (ctx.any_grad(leaves)) {
      using L = Lazy<R, expr::device_t<E>>;
      const L x{lazy_value(n.operand())}, y{lazy_value(n)};
      lazy_back(n.operand(), n.op().grad(x, y, L{g}).t, ctx);
      return;
    }
  }
  ctx.cursor += leaves;
}
template <class Op, class A, class B, class G>
void lazy_back(const expr::BinaryNode<Op, A, B>& n, const G& g, LazyCtx& ctx) {
  using N = expr::BinaryNode<Op, A, B>;
  using R = typename N::value_type;
  using S = typename N::operand_type;
  const size_t la = leaf_count(n.lhs()), lb = leaf_count(n.rhs());
  if constexpr (expr::is_differentiable_v<Op> && is_floating_v<R> && is_floating_v<S>) {
    if (ctx.any_grad(la + lb)) {
      using L = Lazy<R, expr::device_t<A>>;
      const L a{lazy_value(n.lhs())}, b{lazy_value(n.rhs())}, y{lazy_value(n)};
      if (ctx.any_grad(la))
        lazy_back(n.lhs(), n.op().grad_a(a, b, y, L{g}).t, ctx);
      else
        ctx.cursor += la;
      if (ctx.any_grad(lb))
        lazy_back(n.rhs(), n.op().grad_b(a, b, y, L{g}).t, ctx);
      else
        ctx.cursor += lb;
      return;
    }
  }
  ctx.cursor += la + lb;
}
template <class Op, class C, class A, class B, class G>
void lazy_back(const expr::TernaryNode<Op, C, A, B>& n, const G& g, LazyCtx& ctx) {
  using R = expr::value_t<A>;
  using Dv = expr::device_t<A>;
  const size_t lc = leaf_count(n.cond()), la = leaf_count(n.lhs()), lb = leaf_count(n.rhs());
  ctx.cursor += lc;
  if constexpr (is_floating_v<R>) {
    if (ctx.any_grad(la + lb)) {
      using L = Lazy<R, Dv>;
      const LazyMask<Dv> c{lazy_value(n.cond())};
      const L a{lazy_value(n.lhs())}, b{lazy_value(n.rhs())}, y{lazy_value(n)};
      if (ctx.any_grad(la))
        lazy_back(n.lhs(), n.op().grad_a(c, a, b, y, L{g}).t, ctx);
      else
        ctx.cursor += la;
      if (ctx.any_grad(lb))
        lazy_back(n.rhs(), n.op().grad_b(c, a, b, y, L{g}).t, ctx);
      else
        ctx.cursor += lb;
      return;
    }
  }
  ctx.cursor += la + lb;
}
template <class U, class E, class G>
void lazy_back(const expr::CastNode<U, E>& n, const G& g, LazyCtx& ctx) {
  using S = expr::value_t<E>;
  if constexpr (is_floating_v<U> && is_floating_v<S>) {
    lazy_back(n.operand(), g.template to<S>(), ctx);
  } else {
    ctx.cursor += leaf_count(n);
  }
}

}  // namespace detail

/// Gradients of every slot of a fused node, computed with recorded ops (create_graph).
template <class E, class R, class D>
std::vector<AnyTensor> lazy_backward(const E& e, const Tensor<R, D>& g, double scale,
                                     const std::vector<int>& leaf_slot, size_t nslots) {
  std::vector<AnyTensor> out(nslots);
  const Shape out_shape = e.shape();
  detail::LazyCtx ctx{&leaf_slot, &out, &out_shape};
  if (scale == 1.0)
    detail::lazy_back(e, g, ctx);
  else
    detail::lazy_back(e, Tensor<R, D>(g * static_cast<R>(scale)), ctx);
  return out;
}

}  // namespace kiln::autograd
