// SPDX-License-Identifier: BSD-3-Clause
// Expression nodes (what users build) and their plans (what loops evaluate).
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

#include "kiln/core/config.hpp"
#include "kiln/core/dtype.hpp"
#include "kiln/core/shape.hpp"
#include "kiln/expr/functors/concepts.hpp"
#include "kiln/expr/math.hpp"
#include "kiln/expr/simd.hpp"

namespace kiln::expr {

// Note [Expressions and plans]
// A node owns its operands by value (a Tensor leaf is a cheap ref-counted handle), so
// `auto e = a * b + 1;` never dangles. Evaluating a node first asks it for a *plan*: a
// small trivially copyable struct holding raw pointers, strides and functor objects, and
// nothing else. The one CPU executor (eval_cpu.hpp) copies a plan per thread and calls
//   eval<Row>(i)              one element (Row=false: linear index into contiguous data;
//                             Row=true: index j within the current row)
//   packet<Row, Full>(i, n)   one SIMD packet (n valid lanes when !Full)
//   set_row(coords)           point every leaf at the row given by the outer coordinates
// A CUDA kernel receives the same plan by value. Op authors never write loops.

/// Tag base of every expression node, and of Tensor, which is the leaf.
struct ExprBase {};

template <class E>
concept Expr = std::is_base_of_v<ExprBase, std::remove_cvref_t<E>>;

template <class E>
using value_t = typename std::remove_cvref_t<E>::value_type;
template <class E>
using device_t = typename std::remove_cvref_t<E>::device_type;

/// How the output is walked: iteration dim k has extent `extent[k]` and takes its
/// strides from output dim `src[k]` (dims can be dropped, merged or reordered).
/// `linear` means every operand is contiguous in the output's shape: plans index by a
/// flat element index and ignore strides.
struct Layout {
  Shape out_shape;
  int nd = 0;
  int64_t extent[kMaxDims] = {};
  int src[kMaxDims] = {};
  bool linear = false;
};

/// Strides of an operand along each iteration dim of `l` (0 where src is -1).
inline void layout_strides(const Layout& l, const Strides& bstrides, int64_t* out) {
  for (int k = 0; k < l.nd; ++k) out[k] = l.src[k] < 0 ? 0 : bstrides[l.src[k]];
}

#if KILN_SIMD
template <class T>
using packet_t = simd::vec_t<T>;
#endif

// ---- leaf plans ------------------------------------------------------------------------------

template <class T>
struct LeafPlan {
  const T* base;
  const T* row;
  int64_t st[kMaxDims];
  int nd;

  KILN_HD void set_row(const int64_t* coords) {
    const T* p = base;
    for (int k = 0; k + 1 < nd; ++k) p += coords[k] * st[k];
    row = p;
  }
  KILN_HD int64_t inner_stride() const { return st[nd - 1]; }
  KILN_HD bool row_packetable() const { return st[nd - 1] == 0 || st[nd - 1] == 1; }

  template <bool Row>
  KILN_HD KILN_INLINE T eval(int64_t i) const {
    if constexpr (Row)
      return row[i * st[nd - 1]];
    else
      return base[i];
  }
#if KILN_SIMD
  template <bool Row, bool Full>
  KILN_INLINE auto packet(int64_t i, int n) const {
    if constexpr (Row) {
      const int64_t s = st[nd - 1];
      if (s == 0) return simd::splat<T>(row[0]);
      if (s == 1) {
        if constexpr (Full)
          return simd::loadu(row + i);
        else
          return simd::load_partial(row + i, n);
      }
      // Any other stride: gather, so strided operands still get the packet math (and
      // the same results as contiguous ones).
      T buf[simd::lanes_v<T>] = {};
      const int m = Full ? simd::lanes_v<T> : n;
      for (int k = 0; k < m; ++k) buf[k] = row[(i + k) * s];
      return simd::loadu(buf);
    } else {
      if constexpr (Full)
        return simd::loadu(base + i);
      else
        return simd::load_partial(base + i, n);
    }
  }
#endif
};

template <class T>
struct ScalarPlan {
  T v;
  KILN_HD void set_row(const int64_t*) {}
  KILN_HD bool row_packetable() const { return true; }
  template <bool Row>
  KILN_HD KILN_INLINE T eval(int64_t) const {
    return v;
  }
#if KILN_SIMD
  template <bool Row, bool Full>
  KILN_INLINE auto packet(int64_t, int) const {
    return simd::splat<T>(v);
  }
#endif
};

namespace detail {
// half/bfloat16 operands are computed in float and rounded once per op.
template <class T>
KILN_HD KILN_INLINE auto to_opmath(T x) {
  if constexpr (is_reduced_float_v<T>)
    return static_cast<float>(x);
  else
    return x;
}
template <class R, class V>
KILN_HD KILN_INLINE R from_opmath(V v) {
  if constexpr (std::is_same_v<R, bool> && !std::is_same_v<V, bool>)
    return static_cast<bool>(v);
  else
    return static_cast<R>(v);
}
}  // namespace detail

template <class Op, class R, class P>
struct UnaryPlan {
  Op op;
  P a;
  KILN_HD void set_row(const int64_t* c) { a.set_row(c); }
  KILN_HD bool row_packetable() const { return a.row_packetable(); }
  template <bool Row>
  KILN_HD KILN_INLINE R eval(int64_t i) const {
    return detail::from_opmath<R>(op(detail::to_opmath(a.template eval<Row>(i))));
  }
#if KILN_SIMD
  template <bool Row, bool Full>
  KILN_INLINE auto packet(int64_t i, int n) const {
    return op(a.template packet<Row, Full>(i, n));
  }
#endif
};

template <class Op, class R, class PA, class PB>
struct BinaryPlan {
  Op op;
  PA a;
  PB b;
  KILN_HD void set_row(const int64_t* c) {
    a.set_row(c);
    b.set_row(c);
  }
  KILN_HD bool row_packetable() const { return a.row_packetable() && b.row_packetable(); }
  template <bool Row>
  KILN_HD KILN_INLINE R eval(int64_t i) const {
    return detail::from_opmath<R>(
        op(detail::to_opmath(a.template eval<Row>(i)), detail::to_opmath(b.template eval<Row>(i))));
  }
#if KILN_SIMD
  template <bool Row, bool Full>
  KILN_INLINE auto packet(int64_t i, int n) const {
    return op(a.template packet<Row, Full>(i, n), b.template packet<Row, Full>(i, n));
  }
#endif
};

template <class Op, class R, class PC, class PA, class PB>
struct TernaryPlan {
  Op op;
  PC c;
  PA a;
  PB b;
  KILN_HD void set_row(const int64_t* k) {
    c.set_row(k);
    a.set_row(k);
    b.set_row(k);
  }
  KILN_HD bool row_packetable() const {
    return c.row_packetable() && a.row_packetable() && b.row_packetable();
  }
  template <bool Row>
  KILN_HD KILN_INLINE R eval(int64_t i) const {
    return detail::from_opmath<R>(op(c.template eval<Row>(i),
                                     detail::to_opmath(a.template eval<Row>(i)),
                                     detail::to_opmath(b.template eval<Row>(i))));
  }
#if KILN_SIMD
  template <bool Row, bool Full>
  KILN_INLINE auto packet(int64_t i, int n) const {
    return op(c.template packet<Row, Full>(i, n), a.template packet<Row, Full>(i, n),
              b.template packet<Row, Full>(i, n));
  }
#endif
};

template <class U, class P>
struct CastPlan {
  P a;
  KILN_HD void set_row(const int64_t* c) { a.set_row(c); }
  KILN_HD bool row_packetable() const { return a.row_packetable(); }
  template <bool Row>
  KILN_HD KILN_INLINE U eval(int64_t i) const {
    using S = decltype(a.template eval<Row>(i));
    const S x = a.template eval<Row>(i);
    if constexpr (std::is_same_v<U, bool>)
      return detail::to_opmath(x) != decltype(detail::to_opmath(x))(0);  // NaN -> true
    else if constexpr (is_reduced_float_v<S> || is_reduced_float_v<U>)
      return static_cast<U>(static_cast<float>(x));
    else
      return static_cast<U>(x);
  }
#if KILN_SIMD
  template <bool Row, bool Full>
  KILN_INLINE auto packet(int64_t i, int n) const {
    return a.template packet<Row, Full>(i, n);  // only same-type casts take the packet path
  }
#endif
};

// ---- packet eligibility ----------------------------------------------------------------

/// Whether node type E can be evaluated with packets of lane type E::lane_type.
template <class E>
inline constexpr bool packet_ok_v = std::remove_cvref_t<E>::packet_ok;

template <class T>
inline constexpr bool has_packets_v =
#if KILN_SIMD
    simd::has_vec_v<T>;
#else
    false;
#endif

// ---- nodes ------------------------------------------------------------------------------------

/// A constant broadcast to any shape (the `2` in `a * 2`).
template <class T, class D>
class ScalarNode : public ExprBase {
 public:
  using value_type = T;
  using device_type = D;
  using lane_type = T;
  static constexpr bool packet_ok = has_packets_v<T>;

  explicit ScalarNode(T v) : v_(v) {}
  const Shape& shape() const {
    static const Shape scalar_shape{};
    return scalar_shape;
  }
  bool leaves_contiguous(const Shape&) const { return true; }
  template <class F>
  void for_each_leaf(F&&) const {}
  ScalarPlan<T> plan(const Layout&) const { return {v_}; }
  T value() const { return v_; }

 private:
  T v_;
};

template <class Op, class E>
class UnaryNode : public ExprBase {
 public:
  using operand_type = value_t<E>;
  using value_type = functor_result_t<Op, operand_type>;
  using device_type = device_t<E>;
  using lane_type = typename E::lane_type;
  static constexpr bool packet_ok =
      E::packet_ok && is_vectorizable_v<Op> && std::is_same_v<operand_type, lane_type>;

  UnaryNode(Op op, E e) : op_(op), e_(std::move(e)) {}
  const Shape& shape() const { return e_.shape(); }
  bool leaves_contiguous(const Shape& s) const { return e_.leaves_contiguous(s); }
  template <class F>
  void for_each_leaf(F&& f) const {
    e_.for_each_leaf(f);
  }
  auto plan(const Layout& l) const {
    using P = decltype(e_.plan(l));
    return UnaryPlan<Op, value_type, P>{op_, e_.plan(l)};
  }
  const Op& op() const { return op_; }
  const E& operand() const { return e_; }

 private:
  Op op_;
  E e_;
};

template <class Op, class A, class B>
class BinaryNode : public ExprBase {
 public:
  using operand_type = value_t<A>;
  using value_type = functor_result_t<Op, operand_type>;
  using device_type = device_t<A>;
  using lane_type = typename A::lane_type;
  static constexpr bool packet_ok = A::packet_ok && B::packet_ok && is_vectorizable_v<Op> &&
                                    std::is_same_v<typename A::lane_type, typename B::lane_type> &&
                                    std::is_same_v<value_t<A>, lane_type> &&
                                    std::is_same_v<value_t<B>, lane_type>;

  BinaryNode(Op op, A a, B b)
      : op_(op),
        a_(std::move(a)),
        b_(std::move(b)),
        shape_(broadcast_shapes(a_.shape(), b_.shape(), Op::name)) {}
  const Shape& shape() const { return shape_; }
  bool leaves_contiguous(const Shape& s) const {
    return a_.leaves_contiguous(s) && b_.leaves_contiguous(s);
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    a_.for_each_leaf(f);
    b_.for_each_leaf(f);
  }
  auto plan(const Layout& l) const {
    using PA = decltype(a_.plan(l));
    using PB = decltype(b_.plan(l));
    return BinaryPlan<Op, value_type, PA, PB>{op_, a_.plan(l), b_.plan(l)};
  }
  const Op& op() const { return op_; }
  const A& lhs() const { return a_; }
  const B& rhs() const { return b_; }

 private:
  Op op_;
  A a_;
  B b_;
  Shape shape_;
};

template <class Op, class C, class A, class B>
class TernaryNode : public ExprBase {
 public:
  using value_type = value_t<A>;
  using device_type = device_t<A>;
  using lane_type = typename A::lane_type;
  static constexpr bool packet_ok =
      C::packet_ok && A::packet_ok && B::packet_ok &&
      std::is_same_v<typename C::lane_type, lane_type> &&
      std::is_same_v<typename B::lane_type, lane_type> && std::is_same_v<value_t<A>, lane_type> &&
      std::is_same_v<value_t<B>, lane_type> && std::is_same_v<value_t<C>, bool>;

  TernaryNode(Op op, C c, A a, B b)
      : op_(op),
        c_(std::move(c)),
        a_(std::move(a)),
        b_(std::move(b)),
        shape_(broadcast_shapes(broadcast_shapes(c_.shape(), a_.shape(), Op::name), b_.shape(),
                                Op::name)) {}
  const Shape& shape() const { return shape_; }
  bool leaves_contiguous(const Shape& s) const {
    return c_.leaves_contiguous(s) && a_.leaves_contiguous(s) && b_.leaves_contiguous(s);
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    c_.for_each_leaf(f);
    a_.for_each_leaf(f);
    b_.for_each_leaf(f);
  }
  auto plan(const Layout& l) const {
    using PC = decltype(c_.plan(l));
    using PA = decltype(a_.plan(l));
    using PB = decltype(b_.plan(l));
    return TernaryPlan<Op, value_type, PC, PA, PB>{op_, c_.plan(l), a_.plan(l), b_.plan(l)};
  }
  const Op& op() const { return op_; }
  const C& cond() const { return c_; }
  const A& lhs() const { return a_; }
  const B& rhs() const { return b_; }

 private:
  Op op_;
  C c_;
  A a_;
  B b_;
  Shape shape_;
};

/// Elementwise conversion to U (what `.to<U>()` builds on an expression).
template <class U, class E>
class CastNode : public ExprBase {
 public:
  using value_type = U;
  using device_type = device_t<E>;
  using lane_type = std::conditional_t<std::is_same_v<U, value_t<E>>, typename E::lane_type, U>;
  static constexpr bool packet_ok =
      E::packet_ok && std::is_same_v<U, value_t<E>> && std::is_same_v<U, typename E::lane_type>;

  explicit CastNode(E e) : e_(std::move(e)) {}
  const Shape& shape() const { return e_.shape(); }
  bool leaves_contiguous(const Shape& s) const { return e_.leaves_contiguous(s); }
  template <class F>
  void for_each_leaf(F&& f) const {
    e_.for_each_leaf(f);
  }
  auto plan(const Layout& l) const {
    using P = decltype(e_.plan(l));
    return CastPlan<U, P>{e_.plan(l)};
  }
  const E& operand() const { return e_; }

 private:
  E e_;
};

}  // namespace kiln::expr
