// SPDX-License-Identifier: BSD-3-Clause
// One node per materialised expression, with a fused backward (Note [Fused backward]):
// the per-expression node kept for the expressions a backward program cannot hold
// (program.hpp). Included at the end of tensor.hpp, after record.hpp and lazy.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/autograd/program.hpp"
#include "kiln/core/parallel.hpp"
#include "kiln/expr/eval_cpu.hpp"
#include "kiln/expr/node.hpp"

namespace kiln::autograd {

// Note [Fused backward]
// Most expressions are recorded as programs (Note [Backward programs]); this node is
// compiled for one expression type and serves the rest (a cast between floating dtypes
// inside the tree, a functor that program_ops.hpp does not list).
// `y = a*b + c*d - sin(e)` is evaluated in one pass and recorded as ONE node holding the
// expression (its leaves are the saved tensors). Its backward is one pass too: for each
// element, a forward sweep recomputes every interior value into a record (plain values
// on the stack, RecU/RecB/...), then a backward sweep walks the tree from the root,
// applying each functor's grad / grad_a / grad_b, and writes each leaf's gradient. So
// the pass reads the incoming gradient and the leaves once and writes each input
// gradient once, and needs no temporary per op. The same functor code serves scalars
// and SIMD packets. A leaf used twice (a * a) has one gradient slot: its first use in
// the tree writes, later uses add. A broadcast leaf gets a gradient of the output's
// shape that is then summed to its own (sum_to). With create_graph the backward is
// instead computed with differentiable tensor ops from the same functors (lazy.hpp).
// sum() and mean() of an expression record the same node with the gradient broadcast
// (and scaled by 1/n), so reductions fuse in backward as they do in forward.

namespace detail {

// Note [Values the backward reads]
// The forward sweep recomputes only the values some derivative reads. A functor says
// what its derivative ignores with `static constexpr bool grad_reads_output = false`
// (d sin(x) = cos(x) needs no sin(x)) or `grad_reads_inputs = false` (d exp(x) = exp(x)
// needs no x); saying nothing means it reads both. A node computes its own value when
// its parent or its own derivative reads it, and its operands' values when it computes
// its own or its derivative reads them; a value nobody reads is left as zero, and a leaf
// nobody reads is not loaded at all (the backward of `a + b` reads neither a nor b).
// Without this, `a*b + c*d - sin(e)` paid a vector sinf per element for nothing: the
// compiler cannot drop the call once the record holding its result lives in memory.
/// Whether a node whose parent needs its value (`need`) computes it, and whether it then
/// needs its operands' values.
template <class Op, bool Need>
inline constexpr bool computes_value_v = Need || op_grad_reads_output<Op>();
template <class Op, bool Need>
inline constexpr bool operands_needed_v = computes_value_v<Op, Need> || op_grad_reads_inputs<Op>();

template <class V>
struct RecL {
  V y;
};
template <class V, class A>
struct RecU {
  V y;
  A a;
};
template <class V, class A, class B>
struct RecB {
  V y;
  A a;
  B b;
};
template <class V, class C, class A, class B>
struct RecT {
  V y;
  C c;
  A a;
  B b;
};

using expr::detail::from_opmath;
using expr::detail::to_opmath;

template <class T, bool Need>
struct LeafBwd {
  expr::LeafPlan<T> v;
  T* g_base = nullptr;
  T* g_row = nullptr;
  int64_t gst[kMaxDims] = {};
  int nd = 1;
  bool on = false, acc = false;

  void set_row(const int64_t* c) {
    v.set_row(c);
    if (!on) return;
    T* p = g_base;
    for (int k = 0; k + 1 < nd; ++k) p += c[k] * gst[k];
    g_row = p;
  }
  bool need() const { return on; }
  KILN_INLINE auto rec(int64_t j) const {
    using Y = decltype(to_opmath(v.template eval<true>(j)));
    if constexpr (Need)
      return RecL<Y>{to_opmath(v.template eval<true>(j))};
    else
      return RecL<Y>{Y{}};
  }
  template <class Rc, class G>
  KILN_INLINE void back(int64_t j, const Rc&, G g) const {
    T* p = g_row + j * gst[nd - 1];
    *p = acc ? static_cast<T>(to_opmath(*p) + g) : static_cast<T>(g);
  }
#if KILN_SIMD
  template <bool Full>
  KILN_INLINE auto rec_p(int64_t j, int n) const {
    using Y = decltype(v.template packet<true, Full>(j, n));
    if constexpr (Need)
      return RecL<Y>{v.template packet<true, Full>(j, n)};
    else
      return RecL<Y>{Y{}};
  }
  template <bool Full, class Rc, class G>
  KILN_INLINE void back_p(int64_t j, int n, const Rc&, G g) const {
    const int64_t s = gst[nd - 1];
    T* p = g_row + j * s;
    if (s == 1) {
      if constexpr (Full) {
        simd::storeu(p, acc ? simd::loadu(p) + g : g);
      } else {
        simd::store_partial(p, acc ? simd::load_partial(p, n) + g : g, n);
      }
    } else {
      const int m = Full ? simd::lanes_v<T> : n;
      for (int k = 0; k < m; ++k) p[k * s] = acc ? p[k * s] + g[k] : g[k];
    }
  }
#endif
};

template <class T>
struct ScalarBwd {
  expr::ScalarPlan<T> v;
  void set_row(const int64_t*) {}
  bool need() const { return false; }
  KILN_INLINE auto rec(int64_t) const {
    const auto y = to_opmath(v.v);
    return RecL<decltype(y)>{y};
  }
  template <class Rc, class G>
  void back(int64_t, const Rc&, G) const {}
#if KILN_SIMD
  template <bool Full>
  KILN_INLINE auto rec_p(int64_t, int) const {
    const auto y = simd::splat<T>(v.v);
    return RecL<decltype(y)>{y};
  }
  template <bool Full, class Rc, class G>
  void back_p(int64_t, int, const Rc&, G) const {}
#endif
};

template <class Op, class R, class S, class A, bool Need>
struct UnaryBwd {
  Op op;
  A a;
  bool on = false;
  static constexpr bool kGrad =
      expr::is_differentiable_v<Op> && is_floating_v<R> && is_floating_v<S>;
  static constexpr bool kValue = computes_value_v<Op, Need>;

  void set_row(const int64_t* c) { a.set_row(c); }
  bool need() const { return on; }
  KILN_INLINE auto rec(int64_t j) const {
    const auto ra = a.rec(j);
    using Y = decltype(to_opmath(from_opmath<R>(op(ra.y))));
    if constexpr (kValue)
      return RecU<Y, decltype(ra)>{to_opmath(from_opmath<R>(op(ra.y))), ra};
    else
      return RecU<Y, decltype(ra)>{Y{}, ra};
  }
  template <class Rc, class G>
  KILN_INLINE void back(int64_t j, const Rc& r, G g) const {
    if constexpr (kGrad) a.back(j, r.a, op.grad(r.a.y, r.y, g));
  }
#if KILN_SIMD
  template <bool Full>
  KILN_INLINE auto rec_p(int64_t j, int n) const {
    const auto ra = a.template rec_p<Full>(j, n);
    using Y = decltype(op(ra.y));
    if constexpr (kValue)
      return RecU<Y, decltype(ra)>{op(ra.y), ra};
    else
      return RecU<Y, decltype(ra)>{Y{}, ra};
  }
  template <bool Full, class Rc, class G>
  KILN_INLINE void back_p(int64_t j, int n, const Rc& r, G g) const {
    if constexpr (kGrad) a.template back_p<Full>(j, n, r.a, op.grad(r.a.y, r.y, g));
  }
#endif
};

template <class Op, class R, class S, class A, class B, bool Need>
struct BinaryBwd {
  Op op;
  A a;
  B b;
  bool on = false;
  static constexpr bool kGrad =
      expr::is_differentiable_v<Op> && is_floating_v<R> && is_floating_v<S>;
  static constexpr bool kValue = computes_value_v<Op, Need>;

  void set_row(const int64_t* c) {
    a.set_row(c);
    b.set_row(c);
  }
  bool need() const { return on; }
  KILN_INLINE auto rec(int64_t j) const {
    const auto ra = a.rec(j);
    const auto rb = b.rec(j);
    using Y = decltype(to_opmath(from_opmath<R>(op(ra.y, rb.y))));
    if constexpr (kValue)
      return RecB<Y, decltype(ra), decltype(rb)>{to_opmath(from_opmath<R>(op(ra.y, rb.y))), ra, rb};
    else
      return RecB<Y, decltype(ra), decltype(rb)>{Y{}, ra, rb};
  }
  template <class Rc, class G>
  KILN_INLINE void back(int64_t j, const Rc& r, G g) const {
    if constexpr (kGrad) {
      if (a.need()) a.back(j, r.a, op.grad_a(r.a.y, r.b.y, r.y, g));
      if (b.need()) b.back(j, r.b, op.grad_b(r.a.y, r.b.y, r.y, g));
    }
  }
#if KILN_SIMD
  template <bool Full>
  KILN_INLINE auto rec_p(int64_t j, int n) const {
    const auto ra = a.template rec_p<Full>(j, n);
    const auto rb = b.template rec_p<Full>(j, n);
    using Y = decltype(op(ra.y, rb.y));
    if constexpr (kValue)
      return RecB<Y, decltype(ra), decltype(rb)>{op(ra.y, rb.y), ra, rb};
    else
      return RecB<Y, decltype(ra), decltype(rb)>{Y{}, ra, rb};
  }
  template <bool Full, class Rc, class G>
  KILN_INLINE void back_p(int64_t j, int n, const Rc& r, G g) const {
    if constexpr (kGrad) {
      if (a.need()) a.template back_p<Full>(j, n, r.a, op.grad_a(r.a.y, r.b.y, r.y, g));
      if (b.need()) b.template back_p<Full>(j, n, r.b, op.grad_b(r.a.y, r.b.y, r.y, g));
    }
  }
#endif
};

template <class Op, class R, class C, class A, class B, bool Need>
struct TernaryBwd {
  Op op;
  C c;
  A a;
  B b;
  bool on = false;
  static constexpr bool kGrad = is_floating_v<R>;
  static constexpr bool kValue = computes_value_v<Op, Need>;

  void set_row(const int64_t* k) {
    c.set_row(k);
    a.set_row(k);
    b.set_row(k);
  }
  bool need() const { return on; }
  KILN_INLINE auto rec(int64_t j) const {
    const auto rc = c.rec(j);
    const auto ra = a.rec(j);
    const auto rb = b.rec(j);
    using Y = decltype(to_opmath(from_opmath<R>(op(rc.y, ra.y, rb.y))));
    using Rec = RecT<Y, decltype(rc), decltype(ra), decltype(rb)>;
    if constexpr (kValue)
      return Rec{to_opmath(from_opmath<R>(op(rc.y, ra.y, rb.y))), rc, ra, rb};
    else
      return Rec{Y{}, rc, ra, rb};
  }
  template <class Rc, class G>
  KILN_INLINE void back(int64_t j, const Rc& r, G g) const {
    if constexpr (kGrad) {
      if (a.need()) a.back(j, r.a, op.grad_a(r.c.y, r.a.y, r.b.y, r.y, g));
      if (b.need()) b.back(j, r.b, op.grad_b(r.c.y, r.a.y, r.b.y, r.y, g));
    }
  }
#if KILN_SIMD
  template <bool Full>
  KILN_INLINE auto rec_p(int64_t j, int n) const {
    const auto rc = c.template rec_p<Full>(j, n);
    const auto ra = a.template rec_p<Full>(j, n);
    const auto rb = b.template rec_p<Full>(j, n);
    using Y = decltype(op(rc.y, ra.y, rb.y));
    using Rec = RecT<Y, decltype(rc), decltype(ra), decltype(rb)>;
    if constexpr (kValue)
      return Rec{op(rc.y, ra.y, rb.y), rc, ra, rb};
    else
      return Rec{Y{}, rc, ra, rb};
  }
  template <bool Full, class Rc, class G>
  KILN_INLINE void back_p(int64_t j, int n, const Rc& r, G g) const {
    if constexpr (kGrad) {
      if (a.need()) a.template back_p<Full>(j, n, r.a, op.grad_a(r.c.y, r.a.y, r.b.y, r.y, g));
      if (b.need()) b.template back_p<Full>(j, n, r.b, op.grad_b(r.c.y, r.a.y, r.b.y, r.y, g));
    }
  }
#endif
};

template <class U, class S, class A>
struct CastBwd {
  A a;
  bool on = false;
  static constexpr bool kGrad = is_floating_v<U> && is_floating_v<S>;

  void set_row(const int64_t* c) { a.set_row(c); }
  bool need() const { return on; }
  KILN_INLINE auto rec(int64_t j) const {
    const auto ra = a.rec(j);
    U u;
    if constexpr (std::is_same_v<U, bool>)
      u = ra.y != decltype(ra.y)(0);
    else
      u = static_cast<U>(ra.y);
    const auto y = to_opmath(u);
    return RecU<decltype(y), decltype(ra)>{y, ra};
  }
  template <class Rc, class G>
  KILN_INLINE void back(int64_t j, const Rc& r, G g) const {
    if constexpr (kGrad) a.back(j, r.a, static_cast<decltype(r.a.y)>(g));
  }
#if KILN_SIMD
  // Only same-type casts take the packet path: the identity.
  template <bool Full>
  KILN_INLINE auto rec_p(int64_t j, int n) const {
    const auto ra = a.template rec_p<Full>(j, n);
    return RecU<decltype(ra.y), decltype(ra)>{ra.y, ra};
  }
  template <bool Full, class Rc, class G>
  KILN_INLINE void back_p(int64_t j, int n, const Rc& r, G g) const {
    if constexpr (kGrad) a.template back_p<Full>(j, n, r.a, g);
  }
#endif
};

/// One gradient slot per distinct input that requires grad.
struct Slot {
  const AutogradMeta* key = nullptr;
  Shape leaf_shape;
  AnyTensor buf;
  void* data = nullptr;
};

struct BwdCtx {
  const expr::Layout* layout;
  const std::vector<int>* leaf_slot;  // slot of each leaf in for_each_leaf order, or -1
  std::vector<Slot>* slots;
  size_t cursor = 0;
  // Whether the subtree being built is reached by the backward sweep. Leaves under a
  // non-differentiable op or in where's condition never are: they must not claim a
  // slot's first write (see make_bwd for Tensor), or the slot keeps garbage.
  bool reached = true;
};

/// Builds `make()` with ctx.reached narrowed to `on`.
template <class F>
auto reached_if(BwdCtx& ctx, bool on, F make) {
  const bool prev = ctx.reached;
  ctx.reached = prev && on;
  auto r = make();
  ctx.reached = prev;
  return r;
}

template <bool Need, class T, class D>
LeafBwd<T, Need> make_bwd(const Tensor<T, D>& t, BwdCtx& ctx) {
  const expr::Layout& l = *ctx.layout;
  LeafBwd<T, Need> b;
  b.v = t.plan(l);
  b.nd = l.nd;
  const int slot = (*ctx.leaf_slot)[ctx.cursor++];
  if constexpr (is_floating_v<T>) {
    if (slot >= 0 && ctx.reached) {
      Slot& s = (*ctx.slots)[slot];
      b.on = true;
      b.acc = s.buf.defined();
      if (!b.acc) {
        Tensor<T, D> buf(l.out_shape);
        s.data = buf.data();
        s.buf = std::move(buf);
      }
      b.g_base = b.g_row = static_cast<T*>(s.data);
      expr::layout_strides(l, contiguous_strides(l.out_shape), b.gst);
    }
  }
  return b;
}
template <bool Need, class T, class D>
ScalarBwd<T> make_bwd(const expr::ScalarNode<T, D>& n, BwdCtx& ctx) {
  return {n.plan(*ctx.layout)};
}
template <bool Need, class Op, class E>
auto make_bwd(const expr::UnaryNode<Op, E>& n, BwdCtx& ctx) {
  using N = expr::UnaryNode<Op, E>;
  constexpr bool kGrad = expr::is_differentiable_v<Op> && is_floating_v<typename N::value_type> &&
                         is_floating_v<typename N::operand_type>;
  constexpr bool kOperands = operands_needed_v<Op, Need>;
  auto a = reached_if(ctx, kGrad, [&] { return make_bwd<kOperands>(n.operand(), ctx); });
  UnaryBwd<Op, typename N::value_type, typename N::operand_type, decltype(a), Need> b{n.op(), a};
  b.on = b.kGrad && a.need();
  return b;
}
template <bool Need, class Op, class A, class B>
auto make_bwd(const expr::BinaryNode<Op, A, B>& n, BwdCtx& ctx) {
  using N = expr::BinaryNode<Op, A, B>;
  constexpr bool kGrad = expr::is_differentiable_v<Op> && is_floating_v<typename N::value_type> &&
                         is_floating_v<typename N::operand_type>;
  constexpr bool kOperands = operands_needed_v<Op, Need>;
  auto a = reached_if(ctx, kGrad, [&] { return make_bwd<kOperands>(n.lhs(), ctx); });
  auto bb = reached_if(ctx, kGrad, [&] { return make_bwd<kOperands>(n.rhs(), ctx); });
  BinaryBwd<Op, typename N::value_type, typename N::operand_type, decltype(a), decltype(bb), Need>
      b{n.op(), a, bb};
  b.on = b.kGrad && (a.need() || bb.need());
  return b;
}
// where's condition is always read: it picks the branch that gets the gradient.
template <bool Need, class Op, class C, class A, class B>
auto make_bwd(const expr::TernaryNode<Op, C, A, B>& n, BwdCtx& ctx) {
  using N = expr::TernaryNode<Op, C, A, B>;
  constexpr bool kGrad = is_floating_v<typename N::value_type>;
  constexpr bool kOperands = operands_needed_v<Op, Need>;
  auto c = reached_if(ctx, false, [&] { return make_bwd<true>(n.cond(), ctx); });
  auto a = reached_if(ctx, kGrad, [&] { return make_bwd<kOperands>(n.lhs(), ctx); });
  auto bb = reached_if(ctx, kGrad, [&] { return make_bwd<kOperands>(n.rhs(), ctx); });
  TernaryBwd<Op, typename N::value_type, decltype(c), decltype(a), decltype(bb), Need> b{n.op(), c,
                                                                                         a, bb};
  b.on = b.kGrad && (a.need() || bb.need());
  return b;
}
template <bool Need, class U, class E>
auto make_bwd(const expr::CastNode<U, E>& n, BwdCtx& ctx) {
  auto a = reached_if(ctx, is_floating_v<U> && is_floating_v<expr::value_t<E>>,
                      [&] { return make_bwd<Need>(n.operand(), ctx); });
  CastBwd<U, expr::value_t<E>, decltype(a)> b{a};
  b.on = b.kGrad && a.need();
  return b;
}

/// Runs the backward sweep of plan `p` over layout `l`, the root's gradient read
/// through `gp` and multiplied by `scale`.
template <bool Packets, class P, class R>
void run_fused_backward(const expr::Layout& l, const P& plan, const expr::LeafPlan<R>& gplan,
                        double scale) {
  const int nd = l.nd;
  const int64_t inner = l.extent[nd - 1];
  int64_t total = 1;
  for (int k = 0; k < nd; ++k) total *= l.extent[k];
  parallel_for(total, kParallelGrain / 2, 64, [&](int64_t b, int64_t end) {
    auto p = plan;
    auto gp = gplan;
    int64_t coords[kMaxDims] = {};
    int64_t row = b / inner, j0 = b % inner;
    for (int k = nd - 2; k >= 0; --k) {
      coords[k] = row % l.extent[k];
      row /= l.extent[k];
    }
    while (b < end) {
      const int64_t j1 = std::min(inner, j0 + (end - b));
      p.set_row(coords);
      gp.set_row(coords);
      int64_t j = j0;
#if KILN_SIMD
      if constexpr (Packets) {
        constexpr int L = simd::lanes_v<R>;
        const auto s = simd::splat<R>(static_cast<R>(scale));
        for (; j + L <= j1; j += L) {
          const auto r = p.template rec_p<true>(j, L);
          p.template back_p<true>(j, L, r, gp.template packet<true, true>(j, L) * s);
        }
        if (j < j1) {
          const int rem = static_cast<int>(j1 - j);
          const auto r = p.template rec_p<false>(j, rem);
          p.template back_p<false>(j, rem, r, gp.template packet<true, false>(j, rem) * s);
          j = j1;
        }
      }
#endif
      // With packets the partial packet above has finished the row: instantiating the
      // scalar sweep too would only cost compile time.
      if constexpr (!Packets || !KILN_SIMD) {
        using G = decltype(to_opmath(R()));
        for (; j < j1; ++j) {
          const auto r = p.rec(j);
          p.back(j, r,
                 static_cast<G>(to_opmath(gp.template eval<true>(j)) * static_cast<G>(scale)));
        }
      }
      b += j1 - j0;
      j0 = 0;
      for (int k = nd - 2; k >= 0; --k) {
        if (++coords[k] < l.extent[k]) break;
        coords[k] = 0;
      }
    }
  });
}

// A readable name for the node: "MulBackward" for one op, "FusedBackward[add(mul, sin)]".
// Each expression type only emits calls that append pieces; the strings are built by
// compiled code (src/autograd_fused.cpp), which keeps a node's name cheap to compile.
void name_piece(std::string& s, std::string_view piece);
std::string fused_node_name(const char* prefix, const std::string& expr);
[[noreturn]] void throw_freed(const std::string& name);
[[noreturn]] void throw_modified(const std::string& name, const Shape& shape, uint64_t now,
                                 uint64_t then);

template <class E>
struct ExprName {
  static void put(std::string& s) { name_piece(s, "x"); }
};
template <class T, class D>
struct ExprName<expr::ScalarNode<T, D>> {
  static void put(std::string& s) { name_piece(s, "scalar"); }
};
template <class Op, class E>
struct ExprName<expr::UnaryNode<Op, E>> {
  static void put(std::string& s) {
    name_piece(s, Op::name);
    name_piece(s, "(");
    ExprName<E>::put(s);
    name_piece(s, ")");
  }
};
template <class Op, class A, class B>
struct ExprName<expr::BinaryNode<Op, A, B>> {
  static void put(std::string& s) {
    name_piece(s, Op::name);
    name_piece(s, "(");
    ExprName<A>::put(s);
    name_piece(s, ", ");
    ExprName<B>::put(s);
    name_piece(s, ")");
  }
};
template <class Op, class C, class A, class B>
struct ExprName<expr::TernaryNode<Op, C, A, B>> {
  static void put(std::string& s) {
    name_piece(s, Op::name);
    name_piece(s, "(");
    ExprName<C>::put(s);
    name_piece(s, ", ");
    ExprName<A>::put(s);
    name_piece(s, ", ");
    ExprName<B>::put(s);
    name_piece(s, ")");
  }
};
template <class U, class E>
struct ExprName<expr::CastNode<U, E>> {
  static void put(std::string& s) {
    name_piece(s, "to_");
    name_piece(s, dtype_name_v<U>);
    name_piece(s, "(");
    ExprName<E>::put(s);
    name_piece(s, ")");
  }
};
template <class E>
std::string op_node_name(const char* prefix) {
  if (prefix) return prefix;
  std::string s;
  ExprName<E>::put(s);
  return fused_node_name(prefix, s);
}

}  // namespace detail

/// The node recorded for a materialised expression (or a sum/mean of one).
template <class E>
class FusedNode final : public Node {
 public:
  using R = expr::value_t<E>;
  using D = expr::device_t<E>;

  /// `keep_shape`/`scale`: for reductions, the incoming gradient is viewed with this
  /// shape (the keepdim shape), broadcast to the expression's, and scaled.
  FusedNode(const E& e, const char* name, Shape keep_shape = {}, double scale = 1.0,
            bool reduction = false)
      : e_(e),
        name_(name),
        keep_shape_(std::move(keep_shape)),
        scale_(scale),
        reduction_(reduction) {
    e.for_each_leaf([&](const auto& leaf) {
      versions_.push_back(leaf.storage().version());
      int slot = -1;
      if (leaf.requires_grad()) {
        const AutogradMeta* key = leaf.autograd_meta().get();
        for (size_t s = 0; s < slots_.size(); ++s)
          if (slots_[s].key == key) slot = static_cast<int>(s);
        if (slot < 0) {
          slot = static_cast<int>(slots_.size());
          slots_.push_back({key, leaf.shape(), {}, nullptr});
          next_edges().push_back(gradient_edge(leaf));
        }
      }
      leaf_slot_.push_back(slot);
    });
  }

  std::string name() const override { return detail::op_node_name<E>(name_); }
  void release_variables() override { e_.reset(); }

  std::vector<AnyTensor> apply(std::vector<AnyTensor>&& grads) override {
    if (!e_) detail::throw_freed(name());
    check_versions();
    const E& e = *e_;
    Tensor<R, D> g = grads[0].as<R, D>();
    if (reduction_) g = g.reshape(keep_shape_).expand(e.shape());
    if (GradMode::is_enabled()) return lazy_backward(e, g, scale_, leaf_slot_, slots_.size());

    std::vector<detail::Slot> slots = slots_;
    const Shape& out_shape = e.shape();
    std::vector<Strides> all{contiguous_strides(out_shape),
                             broadcast_strides(g.shape(), g.strides(), out_shape)};
    e.for_each_leaf([&](const auto& leaf) {
      all.push_back(broadcast_strides(leaf.shape(), leaf.strides(), out_shape));
    });
    const expr::Layout l = expr::coalesce_layout(out_shape, all);
    detail::BwdCtx ctx{&l, &leaf_slot_, &slots};
    const auto plan = detail::make_bwd</*Need=*/false>(e, ctx);
    if (numel_of(out_shape) > 0) {
      const auto gplan = g.plan(l);
      detail::run_fused_backward<expr::root_packet_v<E>>(l, plan, gplan, scale_);
    }
    // Broadcast inputs: sum the output-shaped gradient down to the input's shape.
    std::vector<AnyTensor> out(slots.size());
    size_t k = 0;
    e.for_each_leaf([&](const auto& leaf) {
      using L = std::remove_cvref_t<decltype(leaf)>;
      const int s = leaf_slot_[k++];
      if constexpr (is_floating_v<typename L::value_type>) {
        // A slot whose every use is unreached has no buffer: no gradient.
        if (s < 0 || out[s].defined() || !slots[s].buf.defined()) return;
        using LT = typename L::value_type;
        const auto& buf = slots[s].buf.template as<LT, D>();
        out[s] = slots[s].leaf_shape == out_shape ? buf : sum_to(buf, slots[s].leaf_shape);
      }
    });
    return out;
  }

 private:
  void check_versions() const {
    size_t k = 0;
    e_->for_each_leaf([&](const auto& leaf) {
      const uint64_t now = leaf.storage().version(), then = versions_[k++];
      if (now != then) detail::throw_modified(name(), leaf.shape(), now, then);
    });
  }

  std::optional<E> e_;
  const char* name_;
  Shape keep_shape_;
  double scale_;
  bool reduction_;
  std::vector<uint64_t> versions_;
  std::vector<int> leaf_slot_;
  std::vector<detail::Slot> slots_;
};

template <class E>
bool expr_needs_grad(const E& e) {
  if (!GradMode::is_enabled()) return false;
  bool any = false;
  e.for_each_leaf([&](const auto& leaf) { any = any || leaf.requires_grad(); });
  return any;
}

template <class T, class D, class E>
void record_fused(Tensor<T, D>& out, const E& e) {
  if constexpr (std::is_same_v<D, CUDA>)
    detail::cuda_autograd_unavailable("a fused expression", out.shape());
  else if constexpr (detail::programmable_v<E>)
    detail::record_program(out, e, nullptr, {}, 1.0, false);
  else
    set_history(out, std::make_shared<FusedNode<E>>(e, nullptr));
}

/// Records `out = sum(e, dims)` (scale 1) or mean (scale 1/n) as a fused node.
template <class T, class D, class E>
void record_fused_reduction(Tensor<T, D>& out, const E& e, Shape keep_shape, double scale,
                            const char* name) {
  if constexpr (std::is_same_v<D, CUDA>)
    detail::cuda_autograd_unavailable(name, out.shape());
  else if constexpr (detail::programmable_v<E>)
    detail::record_program(out, e, name, std::move(keep_shape), scale, true);
  else
    set_history(out, std::make_shared<FusedNode<E>>(e, name, std::move(keep_shape), scale, true));
}

}  // namespace kiln::autograd
