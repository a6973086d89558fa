// SPDX-License-Identifier: BSD-3-Clause
// The create_graph path of a fused node: the functors' derivatives evaluated on whole
// tensors with recorded ops, so the backward is itself differentiable. Included at the end
// of tensor.hpp, after record.hpp (include tensor.hpp, not this).
#pragma once

#include <vector>

#include "kiln/expr/ops.hpp"

namespace kiln::autograd {

namespace detail {

// Lazy values are instantiated for CPU float/double/half/bfloat16 in
// src/autograd_lazy.cpp (their bodies are in lazy_ops.hpp): every op they run records a
// fused node, and compiling those in each user file would cost more than the rest of an
// expression's autograd support together.
template <class D>
struct LazyMask {
  Tensor<bool, D> t;
  static LazyMask logical_and_(const LazyMask& a, const LazyMask& b);
  static LazyMask logical_or_(const LazyMask& a, const LazyMask& b);
  static LazyMask logical_xor_(const LazyMask& a, const LazyMask& b);
  static LazyMask logical_not_(const LazyMask& a);
  friend LazyMask operator&(const LazyMask& a, const LazyMask& b) { return logical_and_(a, b); }
  friend LazyMask operator|(const LazyMask& a, const LazyMask& b) { return logical_or_(a, b); }
  friend LazyMask operator&&(const LazyMask& a, const LazyMask& b) { return logical_and_(a, b); }
  friend LazyMask operator||(const LazyMask& a, const LazyMask& b) { return logical_or_(a, b); }
  friend LazyMask operator!=(const LazyMask& a, const LazyMask& b) { return logical_xor_(a, b); }
  friend LazyMask operator!(const LazyMask& a) { return logical_not_(a); }
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

  enum class Arith { add, sub, mul, div };
  enum class Cmp { eq, ne, lt, le, gt, ge };
  static Lazy arith(Arith op, const Lazy& a, const Lazy& b);
  static LazyMask<D> compare(Cmp op, const Lazy& a, const Lazy& b);
  static Lazy negate(const Lazy& a);
  friend Lazy operator+(const Lazy& a, const Lazy& b) { return arith(Arith::add, a, b); }
  friend Lazy operator-(const Lazy& a, const Lazy& b) { return arith(Arith::sub, a, b); }
  friend Lazy operator*(const Lazy& a, const Lazy& b) { return arith(Arith::mul, a, b); }
  friend Lazy operator/(const Lazy& a, const Lazy& b) { return arith(Arith::div, a, b); }
  friend Lazy operator-(const Lazy& a) { return negate(a); }
  friend LazyMask<D> operator==(const Lazy& a, const Lazy& b) { return compare(Cmp::eq, a, b); }
  friend LazyMask<D> operator!=(const Lazy& a, const Lazy& b) { return compare(Cmp::ne, a, b); }
  friend LazyMask<D> operator<(const Lazy& a, const Lazy& b) { return compare(Cmp::lt, a, b); }
  friend LazyMask<D> operator<=(const Lazy& a, const Lazy& b) { return compare(Cmp::le, a, b); }
  friend LazyMask<D> operator>(const Lazy& a, const Lazy& b) { return compare(Cmp::gt, a, b); }
  friend LazyMask<D> operator>=(const Lazy& a, const Lazy& b) { return compare(Cmp::ge, a, b); }

  static Lazy lazy_lit(double v);
  static Lazy lazy_select(const LazyMask<D>& c, const Lazy& a, const Lazy& b);
  static Lazy lazy_sin(const Lazy& x);
  static Lazy lazy_cos(const Lazy& x);
  static Lazy lazy_tan(const Lazy& x);
  static Lazy lazy_asin(const Lazy& x);
  static Lazy lazy_acos(const Lazy& x);
  static Lazy lazy_atan(const Lazy& x);
  static Lazy lazy_sinh(const Lazy& x);
  static Lazy lazy_cosh(const Lazy& x);
  static Lazy lazy_tanh(const Lazy& x);
  static Lazy lazy_exp(const Lazy& x);
  static Lazy lazy_exp2(const Lazy& x);
  static Lazy lazy_expm1(const Lazy& x);
  static Lazy lazy_log(const Lazy& x);
  static Lazy lazy_log2(const Lazy& x);
  static Lazy lazy_log1p(const Lazy& x);
  static Lazy lazy_erf(const Lazy& x);
  static Lazy lazy_sqrt(const Lazy& x);
  static Lazy lazy_floor(const Lazy& x);
  static Lazy lazy_ceil(const Lazy& x);
  static Lazy lazy_trunc(const Lazy& x);
  static Lazy lazy_rint(const Lazy& x);
  static Lazy lazy_abs(const Lazy& x);
  static Lazy lazy_atan2(const Lazy& a, const Lazy& b);
  static Lazy lazy_pow(const Lazy& a, const Lazy& b);
  static Lazy lazy_fmod(const Lazy& a, const Lazy& b);
};

extern template struct LazyMask<CPU>;
extern template struct Lazy<float, CPU>;
extern template struct Lazy<double, CPU>;
extern template struct Lazy<half, CPU>;
extern template struct Lazy<bfloat16, CPU>;

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

// Declared first: each overload recurses into the others.
template <class T, class D>
Lazy<T, D> lazy_fwd(const Tensor<T, D>& t);
template <class T, class D>
Lazy<T, D> lazy_fwd(const expr::ScalarNode<T, D>& n);
template <class Op, class E>
auto lazy_fwd(const expr::UnaryNode<Op, E>& n);
template <class Op, class A, class B>
auto lazy_fwd(const expr::BinaryNode<Op, A, B>& n);
template <class Op, class C, class A, class B>
auto lazy_fwd(const expr::TernaryNode<Op, C, A, B>& n);
template <class U, class E>
auto lazy_fwd(const expr::CastNode<U, E>& n);
template <class T, class D>
void lazy_back(const Tensor<T, D>& leaf, const Tensor<T, D>& g, LazyCtx& ctx);
template <class T, class D, class G>
void lazy_back(const expr::ScalarNode<T, D>&, const G&, LazyCtx&);
template <class Op, class E, class G>
void lazy_back(const expr::UnaryNode<Op, E>& n, const G& g, LazyCtx& ctx);
template <class Op, class A, class B, class G>
void lazy_back(const expr::BinaryNode<Op, A, B>& n, const G& g, LazyCtx& ctx);
template <class Op, class C, class A, class B, class G>
void lazy_back(const expr::TernaryNode<Op, C, A, B>& n, const G& g, LazyCtx& ctx);
template <class U, class E, class G>
void lazy_back(const expr::CastNode<U, E>& n, const G& g, LazyCtx& ctx);

/// A subtree that carries no gradient, evaluated without recording (and without
/// instantiating a fused node for its type).
template <class E>
auto plain_value(const E& e) {
  Tensor<expr::value_t<E>, expr::device_t<E>> t(e.shape());
  AutoGradMode off(false);
  t.copy_(e);
  return t;
}

// The value of a floating subtree as a lazy value: computed by the functors themselves on
// lazy operands, so no fused node is instantiated per subtree type (compile time).
template <class T, class D>
Lazy<T, D> lazy_fwd(const Tensor<T, D>& t) {
  return {t};
}
template <class T, class D>
Lazy<T, D> lazy_fwd(const expr::ScalarNode<T, D>& n) {
  return Lazy<T, D>::lazy_lit(static_cast<double>(n.value()));
}
template <class Op, class E>
auto lazy_fwd(const expr::UnaryNode<Op, E>& n) {
  using N = expr::UnaryNode<Op, E>;
  using L = Lazy<typename N::value_type, expr::device_t<E>>;
  if constexpr (std::is_same_v<typename N::value_type, typename N::operand_type>)
    return L{n.op()(lazy_fwd(n.operand())).t};
  else
    return L{plain_value(n)};
}
template <class Op, class A, class B>
auto lazy_fwd(const expr::BinaryNode<Op, A, B>& n) {
  using N = expr::BinaryNode<Op, A, B>;
  using L = Lazy<typename N::value_type, expr::device_t<A>>;
  if constexpr (std::is_same_v<typename N::value_type, typename N::operand_type>)
    return L{n.op()(lazy_fwd(n.lhs()), lazy_fwd(n.rhs())).t};
  else
    return L{plain_value(n)};
}
template <class Op, class C, class A, class B>
auto lazy_fwd(const expr::TernaryNode<Op, C, A, B>& n) {
  using Dv = expr::device_t<A>;
  return Lazy<expr::value_t<A>, Dv>::lazy_select(LazyMask<Dv>{plain_value(n.cond())},
                                                 lazy_fwd(n.lhs()), lazy_fwd(n.rhs()));
}
template <class U, class E>
auto lazy_fwd(const expr::CastNode<U, E>& n) {
  if constexpr (is_floating_v<U> && is_floating_v<expr::value_t<E>>)
    return Lazy<U, expr::device_t<E>>{lazy_fwd(n.operand()).t.template to<U>()};
  else
    return Lazy<U, expr::device_t<E>>{plain_value(n)};
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
      const L x = lazy_fwd(n.operand());
      const L y = n.op()(x);
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
      const L a = lazy_fwd(n.lhs()), b = lazy_fwd(n.rhs());
      const L y = n.op()(a, b);
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
      const LazyMask<Dv> c{plain_value(n.cond())};
      const L a = lazy_fwd(n.lhs()), b = lazy_fwd(n.rhs());
      const L y = L::lazy_select(c, a, b);
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
