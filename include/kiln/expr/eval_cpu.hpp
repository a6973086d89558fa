// SPDX-License-Identifier: BSD-3-Clause
// The CPU executor: the one place where elementwise loops are written.
#pragma once

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

/// The general path: any output strides, broadcast or strided operands. Iterates rows of
/// the innermost (coalesced) dim. Float/double trees still evaluate in packets: leaves
/// with stride 0 broadcast, stride 1 load, other strides gather.
template <class T, class E>
void run_strided(T* out, const Strides& out_strides, const Layout& l, const E& e) {
  int64_t ost[kMaxDims];
  layout_strides(l, out_strides, ost);
  const int nd = l.nd;
  const int64_t inner = l.extent[nd - 1];
  int64_t total = 1;
  for (int k = 0; k < nd; ++k) total *= l.extent[k];
  const auto plan = e.plan(l);

  parallel_for(total, kParallelGrain, 64, [&](int64_t b, int64_t end) {
    auto p = plan;
    int64_t coords[kMaxDims] = {};
    int64_t row = b / inner, j0 = b % inner;
    for (int k = nd - 2; k >= 0; --k) {
      coords[k] = row % l.extent[k];
      row /= l.extent[k];
    }
    while (b < end) {
      p.set_row(coords);
      T* o = out;
      for (int k = 0; k + 1 < nd; ++k) o += coords[k] * ost[k];
      const int64_t j1 = std::min(inner, j0 + (end - b));
      const int64_t os = ost[nd - 1];
#if KILN_SIMD
      if constexpr (root_packet_v<E>) {
        // Packets for every row: leaves gather when strided, and a strided output
        // scatters, so only one instantiation of the tree's math exists.
        constexpr int L = simd::lanes_v<T>;
        int64_t j = j0;
        if (os == 1) {
          for (; j + L <= j1; j += L) simd::storeu(o + j, p.template packet<true, true>(j, L));
        } else {
          for (; j + L <= j1; j += L) {
            const auto v = p.template packet<true, true>(j, L);
            for (int k = 0; k < L; ++k) o[(j + k) * os] = v[k];
          }
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
      b += j1 - j0;
      j0 = 0;
      for (int k = nd - 2; k >= 0; --k) {
        if (++coords[k] < l.extent[k]) break;
        coords[k] = 0;
      }
    }
  });
}

}  // namespace kiln::expr
