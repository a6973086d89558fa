// SPDX-License-Identifier: BSD-3-Clause
// How a CUDA reduction splits its work (which kernel, how many pieces per output) and the
// per-thread walk over a piece, written for host and device: the CPU tests run the same
// walk to check the index arithmetic that the kernels in reduce_cuda.cuh rely on.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kiln/core/config.hpp"
#include "kiln/core/shape.hpp"
#include "kiln/expr/node.hpp"
#include "kiln/expr/reduce_cpu.hpp"

namespace kiln::expr::cuda {

// Note [CUDA reductions]
// A reduction of an expression is one kernel that evaluates the expression as it reads
// it (sum(a * b, 1) reads a and b once and writes only the sums), plus, when an output's
// range is split, a small kernel that combines the pieces. The iteration order is the
// CPU's (kept dims, then reduced dims, each coalesced: make_reduce_layout). Two shapes:
// - Block per piece: the threads of a block stride over one output's piece, then combine
//   with a block reduction (CUB). Used when the innermost reduced dim is contiguous and
//   long (row sums: adjacent threads read adjacent elements) or when there are too few
//   outputs to occupy the GPU otherwise.
// - Thread per piece: each thread walks its own piece in order. Used for many outputs
//   whose reduced elements are far apart in memory (column sums: adjacent threads take
//   adjacent outputs, so their loads coalesce) or very short ranges.
// Pieces: an output's reduced range is cut into `pieces` equal ranges when there are too
// few outputs to fill the GPU; pieces are combined in order by a second kernel. Every
// decision depends on the shapes only, never on the GPU, and each thread's order of
// accumulation is fixed, so a reduction gives the same bits on every run and device.

inline constexpr int kReduceThreads = 256;

/// What the kernels need to walk the iteration space (trivially copyable).
struct ReduceDims {
  int nd = 0;
  int n_kept = 0;
  int64_t extent[kMaxDims] = {};
};

struct ReduceGeometry {
  ReduceLayout rl;
  ReduceDims dims;
  bool per_thread = false;  // thread per piece (else block per piece)
  int64_t pieces = 1;       // pieces per output
  int64_t piece = 0;        // reduced elements per piece (the last may be shorter)
};

/// Decides how to reduce an expression of `shape` over `mask`, its leaves having
/// `strides` (broadcast to `shape`).
inline ReduceGeometry reduce_geometry(const Shape& shape, uint32_t mask,
                                      const std::vector<Strides>& strides) {
  ReduceGeometry g;
  g.rl = make_reduce_layout(shape, mask, strides);
  const Layout& l = g.rl.layout;
  g.dims.nd = l.nd;
  g.dims.n_kept = g.rl.n_kept;
  for (int k = 0; k < l.nd; ++k) g.dims.extent[k] = l.extent[k];
  const int64_t n_out = g.rl.n_out, n_red = g.rl.n_red;
  const int64_t inner = l.extent[l.nd - 1];
  const bool rows_contiguous =
      g.rl.n_kept < l.nd && unit_or_broadcast(strides, l.src[l.nd - 1]) && inner >= 32;
  // Enough outputs to occupy a GPU with one thread each (64K threads, a few waves of a
  // big GPU's 2048 threads per SM), and ranges that are not contiguous rows.
  g.per_thread = n_red < 64 || (!rows_contiguous && n_out >= 1024);
  auto ceil_div = [](int64_t a, int64_t b) { return (a + b - 1) / b; };
  if (n_red > 0 && n_out > 0) {
    if (g.per_thread)
      g.pieces = std::clamp<int64_t>(ceil_div(65536, n_out), 1, ceil_div(n_red, 64));
    else
      g.pieces = std::clamp<int64_t>(ceil_div(4096, n_out), 1, ceil_div(n_red, 4096));
    g.piece = ceil_div(n_red, g.pieces);
    g.pieces = ceil_div(n_red, g.piece);  // no empty piece
  }
  return g;
}

namespace detail {

/// An element converted to the accumulator (half/bfloat16 via float, as elsewhere).
template <class A, class V>
KILN_HD KILN_INLINE A to_acc_hd(V v) {
  return static_cast<A>(kiln::expr::detail::to_opmath(v));
}

/// Element r (with value v) of an output's range as an accumulator: the value converted,
/// and for indexed reductions (argmax) paired with r.
template <class A, class RF, class V>
KILN_HD KILN_INLINE A element(V v, int64_t r) {
  if constexpr (requires { RF::indexed; })
    return A{to_acc_hd<typename A::value_type>(v), r};
  else
    return to_acc_hd<A>(v);
}

/// Coordinates of output `o` in the kept dims.
KILN_HD inline void kept_coords(const ReduceDims& d, int64_t o, int64_t* coords) {
  for (int k = d.n_kept - 1; k >= 0; --k) {
    coords[k] = o % d.extent[k];
    o /= d.extent[k];
  }
}

/// Reduced coordinates of element r of an output's range (the innermost one returned).
KILN_HD inline int64_t reduced_coords(const ReduceDims& d, int64_t r, int64_t* coords) {
  const int64_t inner = d.extent[d.nd - 1];
  int64_t row = r / inner;
  for (int k = d.nd - 2; k >= d.n_kept; --k) {
    coords[k] = row % d.extent[k];
    row /= d.extent[k];
  }
  return r % inner;
}

}  // namespace detail

/// Accumulates elements r0, r0 + step, r0 + 2 step, ... (< r1) of output o's reduced
/// range, in that order. `p` is the caller's copy of the plan.
template <class A, class RF, class P>
KILN_HD A reduce_strided(P& p, const ReduceDims& d, int64_t o, int64_t r0, int64_t r1, int64_t step,
                         RF rf) {
  int64_t coords[kMaxDims] = {};
  detail::kept_coords(d, o, coords);
  A acc = RF::template identity<A>();
  if (d.nd - d.n_kept == 1) {  // one reduced dim: a single row, set once
    p.set_row(coords);
    int64_t r = r0;
    // Four loads in flight per thread; accumulated in the same order as one at a time.
    for (; r + 3 * step < r1; r += 4 * step) {
      const A v0 = detail::element<A, RF>(p.template eval<true>(r), r);
      const A v1 = detail::element<A, RF>(p.template eval<true>(r + step), r + step);
      const A v2 = detail::element<A, RF>(p.template eval<true>(r + 2 * step), r + 2 * step);
      const A v3 = detail::element<A, RF>(p.template eval<true>(r + 3 * step), r + 3 * step);
      acc = rf(rf(rf(rf(acc, v0), v1), v2), v3);
    }
    for (; r < r1; r += step) acc = rf(acc, detail::element<A, RF>(p.template eval<true>(r), r));
    return acc;
  }
  for (int64_t r = r0; r < r1; r += step) {
    const int64_t j = detail::reduced_coords(d, r, coords);
    p.set_row(coords);
    acc = rf(acc, detail::element<A, RF>(p.template eval<true>(j), r));
  }
  return acc;
}

/// Accumulates elements [r0, r1) of output o's reduced range in order, stepping the
/// coordinates like an odometer (no division per element).
template <class A, class RF, class P>
KILN_HD A reduce_run(P& p, const ReduceDims& d, int64_t o, int64_t r0, int64_t r1, RF rf) {
  int64_t coords[kMaxDims] = {};
  detail::kept_coords(d, o, coords);
  int64_t j = detail::reduced_coords(d, r0, coords);
  const int64_t inner = d.extent[d.nd - 1];
  A acc = RF::template identity<A>();
  while (r0 < r1) {
    p.set_row(coords);
    const int64_t j1 = j + (r1 - r0) < inner ? j + (r1 - r0) : inner;
    for (int64_t k = j; k < j1; ++k)
      acc = rf(acc, detail::element<A, RF>(p.template eval<true>(k), r0 + (k - j)));
    r0 += j1 - j;
    j = 0;
    for (int k = d.nd - 2; k >= d.n_kept; --k) {
      if (++coords[k] < d.extent[k]) break;
      coords[k] = 0;
    }
  }
  return acc;
}

}  // namespace kiln::expr::cuda
