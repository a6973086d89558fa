// SPDX-License-Identifier: BSD-3-Clause
// The CPU executor: the one place where elementwise loops are written.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kiln/core/parallel.hpp"
#include "kiln/core/shape.hpp"
#include "kiln/expr/node.hpp"

namespace kiln::expr {

/// Whether the root of E takes the packet path (every node vectorisable, one lane type,
/// and the result is of that lane type, not a comparison mask).
template <class E>
inline constexpr bool root_packet_v =
    E::packet_ok&& std::is_same_v<value_t<E>, typename E::lane_type>;

/// Appends the dims of `shape` selected by `take(d)` to `l`, dropping size-1 dims and
/// merging adjacent ones that every operand walks as one (stride[outer] ==
/// stride[inner] * extent[inner] for all). `strides` holds each operand's strides
/// broadcast to `shape`. Returns how many iteration dims were appended.
template <class Take>
int append_coalesced(Layout& l, const Shape& shape, const std::vector<Strides>& strides,
                     Take take) {
  const int first = l.nd;
  for (int d = 0; d < shape.size(); ++d) {
    if (!take(d) || shape[d] == 1) continue;
    if (l.nd > first) {
      const int p = l.src[l.nd - 1];
      bool mergeable = true;
      for (const Strides& s : strides) mergeable = mergeable && s[p] == s[d] * shape[d];
      if (mergeable) {
        l.extent[l.nd - 1] *= shape[d];
        l.src[l.nd - 1] = d;
        continue;
      }
    }
    l.extent[l.nd] = shape[d];
    l.src[l.nd] = d;
    ++l.nd;
  }
  return l.nd - first;
}

/// Appends one iteration dim of extent 1 that no operand moves along.
inline void append_unit_dim(Layout& l) {
  l.extent[l.nd] = 1;
  l.src[l.nd] = -1;
  ++l.nd;
}

/// The layout of an elementwise loop over `shape`: all dims, coalesced.
inline Layout coalesce_layout(const Shape& shape, const std::vector<Strides>& strides) {
  Layout l;
  l.out_shape = shape;
  if (append_coalesced(l, shape, strides, [](int) { return true; }) == 0) append_unit_dim(l);
  return l;
}

/// out[i] = e[i] for every element of a contiguous output whose operands are all
/// contiguous in the same shape (or scalars).
template <class T, class E>
void run_linear(T* KILN_RESTRICT out, int64_t n, const E& e) {
  Layout l;
  l.out_shape = e.shape();
  l.linear = true;
  l.nd = 1;
  l.extent[0] = n;
  const auto plan = e.plan(l);
#if KILN_SIMD
  if constexpr (root_packet_v<E>) {
    constexpr int L = simd::lanes_v<T>;
    parallel_for(n, kParallelGrain, 64, [&](int64_t b, int64_t end) {
      // Locals, not captures: the SLEEF calls would otherwise force reloads every packet.
      const auto p = plan;
      T* const o = out;
      int64_t i = b;
      for (; i + L <= end; i += L) simd::storeu(o + i, p.template packet<false, true>(i, L));
      if (i < end) {
        const int rem = static_cast<int>(end - i);
        simd::store_partial(o + i, p.template packet<false, false>(i, rem), rem);
      }
    });
  } else
#endif
  {
    parallel_for(n, kParallelGrain, 64, [&](int64_t b, int64_t end) {
      const auto p = plan;
      T* KILN_RESTRICT const o = out;
      for (int64_t i = b; i < end; ++i) o[i] = p.template eval<false>(i);
    });
  }
}

// Note [Tiled strided rows]
// A row whose operand (or output) jumps far between neighbours — a transposed read — touches
// a new cache line and, past a few KiB of stride, a new page per element. Walking full rows
// then misses the TLB on every element (a 4096² transposed copy ran 14x slower than a
// straight one). With `tile`, blocks of kTileRows rows along the next-outer dim are walked
// kTileCols columns at a time, so the lines and pages one column segment touches are
// reused by the rows of the block. Each element is still computed once, by the same
// thread: only the visiting order changes.
inline constexpr int64_t kTileRows = 16, kTileCols = 256, kTileMinStride = 16;

/// Whether run_strided should tile: some operand moves by a large stride along the
/// innermost iteration dim and there are rows to block together.
inline bool wants_tiles(const Layout& l, const std::vector<Strides>& strides) {
  if (l.nd < 2 || l.extent[l.nd - 1] < 2 * kTileCols || l.extent[l.nd - 2] < 2) return false;
  const int d = l.src[l.nd - 1];
  if (d < 0) return false;
  for (const Strides& s : strides)
    if (s[d] > kTileMinStride) return true;
  return false;
}

/// The general path: any output strides, broadcast or strided operands. Iterates rows of
/// the innermost (coalesced) dim, in tiles when `tile` (Note [Tiled strided rows]).
/// Float/double trees still evaluate in packets: leaves with stride 0 broadcast, stride 1
/// load, other strides gather.
template <class T, class E>
void run_strided(T* out, const Strides& out_strides, const Layout& l, const E& e,
                 bool tile = false) {
  int64_t ost[kMaxDims];
  layout_strides(l, out_strides, ost);
  const int nd = l.nd;
  const int64_t inner = l.extent[nd - 1];
  int64_t total = 1;
  for (int k = 0; k < nd; ++k) total *= l.extent[k];
  const auto plan = e.plan(l);
  const int64_t os = ost[nd - 1];

  // Elements [j0, j1) of the row at `coords`. Out of line: it holds the tree's math, and
  // inlined into both of its call sites it doubled the machine code (and compile time) of
  // every strided expression for no measurable gain on rows of any length.
  auto segment = [&](auto& row_plan, const int64_t* coords, int64_t j0,
                     int64_t j1) __attribute__((noinline)) {
    row_plan.set_row(coords);
    const auto p = row_plan;  // a local copy, so calls inside the loop force no reloads
    T* o = out;
    for (int k = 0; k + 1 < nd; ++k) o += coords[k] * ost[k];
#if KILN_SIMD
    if constexpr (root_packet_v<E>) {
      // Packets for every row: leaves gather when strided, and a strided output
      // scatters, so only one instantiation of the tree's math exists.
      constexpr int L = simd::lanes_v<T>;
      int64_t j = j0;
      for (; j + L <= j1; j += L) {
        const auto v = p.template packet<true, true>(j, L);
        if (os == 1)
          simd::storeu(o + j, v);
        else
          for (int k = 0; k < L; ++k) o[(j + k) * os] = v[k];
      }
      if (j < j1) {
        const int rem = static_cast<int>(j1 - j);
        const auto v = p.template packet<true, false>(j, rem);
        for (int k = 0; k < rem; ++k) o[(j + k) * os] = v[k];
      }
    } else
#endif
    {
      for (int64_t j = j0; j < j1; ++j) o[j * os] = p.template eval<true>(j);
    }
  };

  parallel_for(total, kParallelGrain, 64, [&](int64_t b, int64_t end) {
    auto p = plan;
    int64_t coords[kMaxDims] = {};
    int64_t row = b / inner, j0 = b % inner;
    for (int k = nd - 2; k >= 0; --k) {
      coords[k] = row % l.extent[k];
      row /= l.extent[k];
    }
    auto next_row = [&] {
      for (int k = nd - 2; k >= 0; --k) {
        if (++coords[k] < l.extent[k]) break;
        coords[k] = 0;
      }
    };
    while (b < end) {
      // A block of whole rows that differ only in dim nd-2, inside this thread's range.
      const int64_t rows =
          tile && j0 == 0
              ? std::min({kTileRows, l.extent[nd - 2] - coords[nd - 2], (end - b) / inner})
              : 0;
      if (rows >= 2) {
        int64_t rc[kMaxDims];
        std::copy(coords, coords + nd, rc);
        for (int64_t c0 = 0; c0 < inner; c0 += kTileCols) {
          const int64_t c1 = std::min(inner, c0 + kTileCols);
          for (int64_t r = 0; r < rows; ++r) {
            rc[nd - 2] = coords[nd - 2] + r;
            segment(p, rc, c0, c1);
          }
        }
        b += rows * inner;
        for (int64_t r = 0; r < rows; ++r) next_row();
        continue;
      }
      const int64_t j1 = std::min(inner, j0 + (end - b));
      segment(p, coords, j0, j1);
      b += j1 - j0;
      j0 = 0;
      next_row();
    }
  });
}

}  // namespace kiln::expr
