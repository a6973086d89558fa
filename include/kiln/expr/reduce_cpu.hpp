// SPDX-License-Identifier: BSD-3-Clause
// The CPU reduction executor: reduces an expression over a set of dims without
// materialising it (`sum(a * b, 1)` reads a and b once and writes only the result).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "kiln/core/parallel.hpp"
#include "kiln/core/shape.hpp"
#include "kiln/expr/eval_cpu.hpp"
#include "kiln/expr/functors/concepts.hpp"
#include "kiln/expr/functors/reduce.hpp"

namespace kiln::expr {

// Note [Deterministic reductions]
// The reduced range of each output is cut into fixed blocks of kReduceBlock elements
// (boundaries independent of the thread count). Each block is reduced with several
// accumulators (SIMD lanes x 4), and block results are combined by pairwise cascade
// in block order. So results are identical for any number of threads, and float sums
// carry O(log n) rounding error growth instead of O(n).
inline constexpr int64_t kReduceBlock = 4096;

/// Pairwise combination of a stream of values, like a binary counter.
template <class A, class RF>
struct Cascade {
  explicit Cascade(RF r) : rf(r) {}
  RF rf;
  A stack[64];
  int top = 0;
  uint64_t count = 0;
  void push(A v) {
    for (uint64_t k = count++; k & 1; k >>= 1) v = rf(stack[--top], v);
    stack[top++] = v;
  }
  A result() const {
    if (top == 0) return RF::template identity<A>();
    A r = stack[top - 1];
    for (int i = top - 2; i >= 0; --i) r = rf(stack[i], r);
    return r;
  }
};

/// Iteration order of a reduction: kept dims first, then reduced dims, each group
/// coalesced on its own. `shape` is the expression's shape; bit d of `mask` marks dim d
/// as reduced.
struct ReduceLayout {
  Layout layout;
  int n_kept = 0;     // leading iteration dims that index the output
  int64_t n_out = 1;  // outputs
  int64_t n_red = 1;  // elements reduced into each output
};

inline ReduceLayout make_reduce_layout(const Shape& shape, uint32_t mask,
                                       const std::vector<Strides>& strides) {
  ReduceLayout r;
  Layout& l = r.layout;
  l.out_shape = shape;
  r.n_kept = append_coalesced(l, shape, strides, [&](int d) { return !(mask >> d & 1u); });
  if (append_coalesced(l, shape, strides, [&](int d) { return bool(mask >> d & 1u); }) == 0)
    append_unit_dim(l);  // nothing left to reduce: one element per output
  for (int k = 0; k < r.n_kept; ++k) r.n_out *= l.extent[k];
  for (int k = r.n_kept; k < l.nd; ++k) r.n_red *= l.extent[k];
  return r;
}

/// Each leaf's strides broadcast to `shape`, in for_each_leaf order.
template <class E>
std::vector<Strides> leaf_strides(const E& e, const Shape& shape) {
  std::vector<Strides> strides;
  e.for_each_leaf([&](const auto& leaf) {
    strides.push_back(broadcast_strides(leaf.shape(), leaf.strides(), shape));
  });
  return strides;
}

/// Whether every operand moves by 0 or 1 element along output dim `src` (-1: none).
inline bool unit_or_broadcast(const std::vector<Strides>& strides, int src) {
  for (const Strides& s : strides)
    if (src >= 0 && s[src] != 0 && s[src] != 1) return false;
  return true;
}

namespace detail {

/// An element converted to the accumulator type (half/bfloat16 via float, as in the
/// elementwise plans).
template <class A, class V>
KILN_INLINE A to_acc(V v) {
  return static_cast<A>(detail::to_opmath(v));
}

/// Reduces elements [j0, j1) of the current row (Row) or of the flat range (!Row).
template <bool Row, bool Packets, class A, class RF, class P>
KILN_INLINE A reduce_run(const P& p, int64_t j0, int64_t j1, RF rf) {
  A acc = RF::template identity<A>();
  int64_t j = j0;
#if KILN_SIMD
  if constexpr (Packets) {
    constexpr int L = simd::lanes_v<A>;
    using V = simd::vec_t<A>;
    if (j1 - j0 >= 4 * L) {
      V a0 = simd::splat<A>(RF::template identity<A>()), a1 = a0, a2 = a0, a3 = a0;
      for (; j + 4 * L <= j1; j += 4 * L) {
        a0 = rf(a0, p.template packet<Row, true>(j, L));
        a1 = rf(a1, p.template packet<Row, true>(j + L, L));
        a2 = rf(a2, p.template packet<Row, true>(j + 2 * L, L));
        a3 = rf(a3, p.template packet<Row, true>(j + 3 * L, L));
      }
      const V v = rf(rf(a0, a1), rf(a2, a3));
      for (int k = 0; k < L; ++k) acc = rf(acc, v[k]);
    }
  }
#endif
  for (; j < j1; ++j) acc = rf(acc, to_acc<A>(p.template eval<Row>(j)));
  return acc;
}

/// logsumexp of elements [j0, j1): the maximum, then the sum of exp(x - max) over the
/// same (cache-resident) elements. The producer expression is evaluated twice.
template <bool Row, bool Packets, class A, class P>
A lse_run(const P& p, int64_t j0, int64_t j1) {
  using T = decltype(A::m);
  T m = -std::numeric_limits<T>::infinity();
  int64_t j = j0;
#if KILN_SIMD
  constexpr int L = simd::lanes_v<T>;
  if constexpr (Packets) {
    auto vm = simd::splat<T>(m);
    for (; j + L <= j1; j += L) vm = math::max(vm, p.template packet<Row, true>(j, L));
    for (int k = 0; k < L; ++k) m = math::max(m, vm[k]);
  }
#endif
  for (; j < j1; ++j) m = math::max(m, to_acc<T>(p.template eval<Row>(j)));
  if (!(m > -std::numeric_limits<T>::infinity() && m < std::numeric_limits<T>::infinity()))
    return A(m, T(m != m || m > 0 ? 1 : 0));  // NaN, +inf or an all -inf range
  T sum = 0;
  j = j0;
#if KILN_SIMD
  if constexpr (Packets) {
    const auto vmax = simd::splat<T>(m);
    auto vs = simd::splat<T>(T(0));
    for (; j + L <= j1; j += L) vs += math::exp(p.template packet<Row, true>(j, L) - vmax);
    for (int k = 0; k < L; ++k) sum += vs[k];
  }
#endif
  for (; j < j1; ++j) sum += math::exp(to_acc<T>(p.template eval<Row>(j)) - m);
  return A(m, sum);
}

}  // namespace detail

// Note [Column reductions]
// Layout `lc` orders iteration dims as: kept dims but the last (n_outer of them), then
// the reduced dims, then the last kept dim (extent K, contiguous or broadcast in every
// operand). Each work item accumulates kColumnBlock reduced rows into K accumulators;
// block results are combined by pairwise cascade in block order, so the result is
// deterministic for any thread count, as for row reductions.
inline constexpr int64_t kColumnBlock = 128;

template <class A, bool PacketCapable, class RF, class O, class P, class Fin>
void reduce_columns(const P& plan, const Layout& lc, int n_outer, int64_t n_out, int64_t n_red,
                    O* out, RF rf, Fin fin) {
  const int nd = lc.nd;
  const int64_t K = lc.extent[nd - 1];
  const int64_t n_rows_out = n_out / K;
  const int64_t nb = (n_red + kColumnBlock - 1) / kColumnBlock;
  // Not std::vector: vector<bool> packs bits, and threads write neighbouring entries.
  std::unique_ptr<A[]> partial(new A[static_cast<std::size_t>(n_out * nb)]);
  [[maybe_unused]] constexpr bool packets = PacketCapable;

  parallel_for(n_rows_out * nb, 2, 1, [&](int64_t b, int64_t end) {
    auto p = plan;
    for (int64_t item = b; item < end; ++item) {
      const int64_t orow = item / nb, blk = item % nb;
      A* acc = partial.get() + (orow * nb + blk) * K;
      for (int64_t j = 0; j < K; ++j) acc[j] = RF::template identity<A>();
      int64_t coords[kMaxDims] = {};
      int64_t rem = orow;
      for (int k = n_outer - 1; k >= 0; --k) {
        coords[k] = rem % lc.extent[k];
        rem /= lc.extent[k];
      }
      const int64_t r0 = blk * kColumnBlock, r1 = std::min(n_red, r0 + kColumnBlock);
      rem = r0;
      for (int k = nd - 2; k >= n_outer; --k) {
        coords[k] = rem % lc.extent[k];
        rem /= lc.extent[k];
      }
      for (int64_t r = r0; r < r1; ++r) {
        p.set_row(coords);
        int64_t j = 0;
#if KILN_SIMD
        if constexpr (packets) {
          constexpr int L = simd::lanes_v<A>;
          for (; j + L <= K; j += L)
            simd::storeu(acc + j, rf(simd::loadu(acc + j), p.template packet<true, true>(j, L)));
        }
#endif
        for (; j < K; ++j) acc[j] = rf(acc[j], detail::to_acc<A>(p.template eval<true>(j)));
        for (int k = nd - 2; k >= n_outer; --k) {
          if (++coords[k] < lc.extent[k]) break;
          coords[k] = 0;
        }
      }
    }
  });
  parallel_for(n_out, std::max<int64_t>(1, 4096 / nb), 1, [&](int64_t b, int64_t end) {
    for (int64_t o = b; o < end; ++o) {
      const int64_t orow = o / K, j = o % K;
      Cascade<A, RF> c(rf);
      for (int64_t k = 0; k < nb; ++k)
        c.push(partial[static_cast<std::size_t>((orow * nb + k) * K + j)]);
      out[o] = fin(c.result(), n_red);
    }
  });
}

/// out[o] = fin(reduction over the reduced dims of e, n_red) for each output o, with
/// `out` contiguous over the kept dims. RF: a reduction functor; A: accumulator dtype.
template <class A, class RF, class O, class E, class Fin>
void reduce_cpu(const E& e, uint32_t mask, O* out, RF rf, Fin fin) {
  const Shape& shape = e.shape();
  const std::vector<Strides> strides = leaf_strides(e, shape);
  const ReduceLayout rl = make_reduce_layout(shape, mask, strides);
  const Layout& l = rl.layout;
  const int nd = l.nd;
  const int64_t inner = l.extent[nd - 1];
  const int64_t n_out = rl.n_out, n_red = rl.n_red;
  if (n_out == 0) return;
  const auto plan = e.plan(l);

  constexpr bool packet_capable = [] {
#if KILN_SIMD
    return root_packet_v<E> && std::is_same_v<A, value_t<E>> && is_vectorizable_v<RF>;
#else
    return false;
#endif
  }();

  // Reduces the reduced-range elements [r0, r1) of output o. Out of line: it holds the
  // tree's math (packet and scalar forms), and inlined into both of its callers it
  // doubled the machine code and compile time of every reduction.
  auto reduce_range = [&](auto& p, int64_t o, int64_t r0, int64_t r1) __attribute__((noinline))->A {
    int64_t coords[kMaxDims] = {};
    for (int k = rl.n_kept - 1; k >= 0; --k) {
      coords[k] = o % l.extent[k];
      o /= l.extent[k];
    }
    int64_t row = r0 / inner, j = r0 % inner;
    for (int k = nd - 2; k >= rl.n_kept; --k) {
      coords[k] = row % l.extent[k];
      row /= l.extent[k];
    }
    [[maybe_unused]] const bool packets = inner >= 64 && p.row_packetable();
    A acc = RF::template identity<A>();
    while (r0 < r1) {
      p.set_row(coords);
      const int64_t j1 = std::min(inner, j + (r1 - r0));
      if constexpr (std::is_same_v<RF, op::LogSumExpReduce>) {
        if constexpr (root_packet_v<E>) {
          acc = rf(acc, packets ? detail::lse_run<true, true, A>(p, j, j1)
                                : detail::lse_run<true, false, A>(p, j, j1));
        } else {
          acc = rf(acc, detail::lse_run<true, false, A>(p, j, j1));
        }
      } else if constexpr (packet_capable) {
        acc = rf(acc, packets ? detail::reduce_run<true, true, A>(p, j, j1, rf)
                              : detail::reduce_run<true, false, A>(p, j, j1, rf));
      } else {
        acc = rf(acc, detail::reduce_run<true, false, A>(p, j, j1, rf));
      }
      r0 += j1 - j;
      j = 0;
      for (int k = nd - 2; k >= rl.n_kept; --k) {
        if (++coords[k] < l.extent[k]) break;
        coords[k] = 0;
      }
    }
    return acc;
  };

  if (n_red == 0) {
    for (int64_t o = 0; o < n_out; ++o) out[o] = fin(RF::template identity<A>(), int64_t{0});
    return;
  }

  // Column path (Note [Column reductions]): the reduced dims are strided but the last
  // kept dim is contiguous (sum(x, 0) of a row-major matrix). Walking each output's
  // column would touch a cache line per element; instead whole rows are accumulated
  // into a row of accumulators.
  // Does the row path read whole rows with unit stride?
  const bool rows_contiguous = unit_or_broadcast(strides, l.src[nd - 1]);
  if (rl.n_kept >= 1 && n_red > 1 && l.extent[rl.n_kept - 1] >= 16 &&
      (!rows_contiguous || inner < 16) && unit_or_broadcast(strides, l.src[rl.n_kept - 1])) {
    // Move the last kept dim innermost (Note [Column reductions]).
    Layout lc = l;
    const int last_kept = rl.n_kept - 1;
    for (int k = last_kept; k + 1 < nd; ++k) {
      lc.extent[k] = l.extent[k + 1];
      lc.src[k] = l.src[k + 1];
    }
    lc.extent[nd - 1] = l.extent[last_kept];
    lc.src[nd - 1] = l.src[last_kept];
    reduce_columns<A, packet_capable>(e.plan(lc), lc, last_kept, n_out, n_red, out, rf, fin);
    return;
  }
  const int64_t nb = (n_red + kReduceBlock - 1) / kReduceBlock;
  if (nb == 1) {
    parallel_for(n_out, std::max<int64_t>(1, kParallelGrain / n_red), 1,
                 [&](int64_t b, int64_t end) {
                   auto p = plan;
                   for (int64_t o = b; o < end; ++o)
                     out[o] = fin(reduce_range(p, o, 0, n_red), n_red);
                 });
    return;
  }
  // Several blocks per output: reduce blocks in parallel, then cascade each output's
  // blocks in order (Note [Deterministic reductions]).
  std::unique_ptr<A[]> partial(new A[static_cast<std::size_t>(n_out * nb)]);
  parallel_for(n_out * nb, 2, 1, [&](int64_t b, int64_t end) {
    auto p = plan;
    for (int64_t item = b; item < end; ++item) {
      const int64_t o = item / nb, blk = item % nb;
      partial[item] =
          reduce_range(p, o, blk * kReduceBlock, std::min(n_red, (blk + 1) * kReduceBlock));
    }
  });
  parallel_for(n_out, std::max<int64_t>(1, 4096 / nb), 1, [&](int64_t b, int64_t end) {
    for (int64_t o = b; o < end; ++o) {
      Cascade<A, RF> c(rf);
      for (int64_t k = 0; k < nb; ++k) c.push(partial[o * nb + k]);
      out[o] = fin(c.result(), n_red);
    }
  });
}

/// Index (in row-major order over the reduced dims) of the first maximum (Greater) or
/// minimum (Less) of each output's reduced range; NaN counts as the extreme, as in torch.
template <bool Max, class E>
void arg_reduce_cpu(const E& e, uint32_t mask, int64_t* out) {
  const Shape& shape = e.shape();
  const std::vector<Strides> strides = leaf_strides(e, shape);
  const ReduceLayout rl = make_reduce_layout(shape, mask, strides);
  const Layout& l = rl.layout;
  const int nd = l.nd;
  const int64_t inner = l.extent[nd - 1];
  const auto plan = e.plan(l);
  using V = decltype(detail::to_acc<opmath_t<value_t<E>>>(plan.template eval<true>(0)));
  parallel_for(rl.n_out, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(rl.n_red, 1)), 1,
               [&](int64_t b, int64_t end) {
                 auto p = plan;
                 for (int64_t o = b; o < end; ++o) {
                   int64_t coords[kMaxDims] = {};
                   int64_t oo = o;
                   for (int k = rl.n_kept - 1; k >= 0; --k) {
                     coords[k] = oo % l.extent[k];
                     oo /= l.extent[k];
                   }
                   V best{};
                   int64_t best_i = 0;
                   bool best_nan = false;
                   for (int64_t r = 0; r < rl.n_red; r += inner) {
                     p.set_row(coords);
                     for (int64_t j = 0; j < inner; ++j) {
                       const V v = detail::to_acc<V>(p.template eval<true>(j));
                       const int64_t idx = r + j;
                       if (best_nan) break;
                       if (idx == 0 || v != v || (Max ? v > best : v < best)) {
                         best = v;
                         best_i = idx;
                         best_nan = v != v;
                       }
                     }
                     for (int k = nd - 2; k >= rl.n_kept; --k) {
                       if (++coords[k] < l.extent[k]) break;
                       coords[k] = 0;
                     }
                   }
                   out[o] = best_i;
                 }
               });
}

}  // namespace kiln::expr
