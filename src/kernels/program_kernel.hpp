// SPDX-License-Identifier: BSD-3-Clause
// The body of program_kernel_{default,avx2,avx512}.cpp (include one of those, not this).
// The inner loops of a backward program (Note [Backward programs]): one tile of values and
// gradients, computed instruction by instruction with the functors' own SIMD code. Built once per instruction set (KILN_KERNEL_NS names it; see CMakeLists.txt) and
// picked at run time, since the library itself is built for the baseline ISA.
//
// Only code on packets may live here. A scalar inline function compiled with AVX-512 in
// this file could be the copy the linker keeps for the whole program; packet types carry
// their width in their mangled names, so those instantiations are only shared with code
// of the same width (optimised builds inline them all; the kernel_objects test checks).
// The one caveat: in an unoptimised build, a user file compiled for AVX without AVX2
// shares 32-byte packet code with the AVX2+FMA kernels.
#pragma once

#include "kiln/autograd/program_ops.hpp"

#ifndef KILN_KERNEL_NS
#error "define KILN_KERNEL_NS (the ISA's namespace) before including program_kernel.hpp"
#endif

namespace kiln::autograd::detail::KILN_KERNEL_NS {
namespace {

#if KILN_SIMD
template <class C>
using V = simd::vec_t<C>;
template <class C>
inline constexpr int kLanes = simd::lanes_v<C>;
template <class C>
KILN_INLINE V<C> ld(const C* p) {
  return simd::loadu(p);
}
template <class C>
KILN_INLINE void st(C* p, V<C> v) {
  simd::storeu(p, v);
}
template <class C>
KILN_INLINE V<C> splat(C s) {
  return simd::splat<C>(s);
}
#else
template <class C>
using V = C;
template <class C>
inline constexpr int kLanes = 1;
template <class C>
KILN_INLINE C ld(const C* p) {
  return *p;
}
template <class C>
KILN_INLINE void st(C* p, C v) {
  *p = v;
}
template <class C>
KILN_INLINE C splat(C s) {
  return s;
}
#endif

// Each loop runs over whole packets: the driver pads a tile to a multiple of the widest
// packet, and the padding lanes are never stored back.
// A comparison's mask becomes 1 or 0 in the program's dtype.
template <class C, class Op, class... X>
KILN_INLINE V<C> apply(const Op& op, X... x) {
  if constexpr (expr::is_differentiable_v<Op>)
    return op(x...);
  else
    return math::select(op(x...), splat<C>(1), splat<C>(0));
}
template <class C, class Op>
void unary_fwd(const Op& op, const C* x, C* y, int n) {
  for (int k = 0; k < n; k += kLanes<C>) st(y + k, apply<C>(op, ld(x + k)));
}
template <class C, class Op>
void unary_bwd(const Op& op, const C* x, const C* y, const C* g, C* gx, int n) {
  if constexpr (expr::is_differentiable_v<Op>)
    for (int k = 0; k < n; k += kLanes<C>) st(gx + k, op.grad(ld(x + k), ld(y + k), ld(g + k)));
}
template <class C, class Op>
void binary_fwd(const Op& op, const C* a, const C* b, C* y, int n) {
  for (int k = 0; k < n; k += kLanes<C>) st(y + k, apply<C>(op, ld(a + k), ld(b + k)));
}
template <class C, class Op>
void binary_bwd(const Op& op, const KInstr& in, C* const* val, C* const* adj, const C* y,
                const C* g, int n) {
  if constexpr (expr::is_differentiable_v<Op>) {
    const C* a = val[in.a];
    const C* b = val[in.b];
    if (in.ga) {
      C* ga = adj[in.a];
      for (int k = 0; k < n; k += kLanes<C>)
        st(ga + k, op.grad_a(ld(a + k), ld(b + k), ld(y + k), ld(g + k)));
    }
    if (in.gb) {
      C* gb = adj[in.b];
      for (int k = 0; k < n; k += kLanes<C>)
        st(gb + k, op.grad_b(ld(a + k), ld(b + k), ld(y + k), ld(g + k)));
    }
  }
}

template <class C>
void where_fwd(const C* c, const C* a, const C* b, C* y, int n) {
  const expr::op::Where op;
  for (int k = 0; k < n; k += kLanes<C>)
    st(y + k, op(ld(c + k) != splat<C>(0), ld(a + k), ld(b + k)));
}
template <class C>
void where_bwd(const KInstr& in, C* const* val, C* const* adj, const C* g, int n) {
  const expr::op::Where op;
  const C* c = val[in.c];
  const V<C> z = splat<C>(0);
  if (in.ga) {
    C* ga = adj[in.a];
    for (int k = 0; k < n; k += kLanes<C>)
      st(ga + k, op.grad_a(ld(c + k) != z, z, z, z, ld(g + k)));
  }
  if (in.gb) {
    C* gb = adj[in.b];
    for (int k = 0; k < n; k += kLanes<C>)
      st(gb + k, op.grad_b(ld(c + k) != z, z, z, z, ld(g + k)));
  }
}

template <class C>
void run_tile(const KInstr* code, int count, C* const* val, C* const* adj, int n) {
  // Forward sweep: the values some derivative reads, leaves first (postorder).
  for (int i = 0; i < count; ++i) {
    const KInstr& in = code[i];
    if (!in.fwd) continue;
    C* y = val[i];
    switch (in.op) {
      case Opc::leaf:
      case Opc::constant:
      case Opc::identity:
        break;
      case Opc::scalar: {
        const V<C> s = splat<C>(static_cast<C>(in.scalar));
        for (int k = 0; k < n; k += kLanes<C>) st(y + k, s);
        break;
      }
      case Opc::where:
        where_fwd(val[in.c], val[in.a], val[in.b], y, n);
        break;
      default:
        visit_op(
            in.op, in.state, [&](const auto& op) { unary_fwd(op, val[in.a], y, n); },
            [&](const auto& op) { binary_fwd(op, val[in.a], val[in.b], y, n); });
    }
  }
  // Backward sweep from the root, whose gradient the driver has loaded. Each instruction
  // has one parent (the program is a tree), so every gradient is written exactly once.
  for (int i = count - 1; i >= 0; --i) {
    const KInstr& in = code[i];
    if (!in.ga && !in.gb) continue;
    const C* g = adj[i];
    switch (in.op) {
      case Opc::leaf:
      case Opc::constant:
      case Opc::scalar:
      case Opc::identity:
        break;
      case Opc::where:
        where_bwd(in, val, adj, g, n);
        break;
      default:
        visit_op(
            in.op, in.state,
            [&](const auto& op) { unary_bwd(op, val[in.a], val[i], g, adj[in.a], n); },
            [&](const auto& op) { binary_bwd(op, in, val, adj, val[i], g, n); });
    }
  }
}

}  // namespace

void program_tile(const KInstr* code, int count, float* const* val, float* const* adj, int n) {
  run_tile<float>(code, count, val, adj, n);
}
void program_tile(const KInstr* code, int count, double* const* val, double* const* adj, int n) {
  run_tile<double>(code, count, val, adj, n);
}

}  // namespace kiln::autograd::detail::KILN_KERNEL_NS
