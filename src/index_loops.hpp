// SPDX-License-Identifier: BSD-3-Clause
// Private loop helpers for the indexing and masking ops (src/index.cpp, src/mask.cpp):
// strided walks over several operands, the index range check, the dtype list.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "kiln/core/parallel.hpp"
#include "kiln/core/shape.hpp"
#include "kiln/tensor.hpp"

namespace kiln::detail {

/// Every dtype a Tensor can hold; X(T) is expanded once per dtype (explicit instantiations).
#define KILN_INDEX_FOR_EACH_DTYPE(X) \
  X(bool)                            \
  X(std::uint8_t)                    \
  X(std::int8_t)                     \
  X(std::int16_t)                    \
  X(std::int32_t)                    \
  X(std::int64_t)                    \
  X(::kiln::half)                    \
  X(::kiln::bfloat16)                \
  X(float)                           \
  X(double)

template <std::size_t N>
using Offsets = std::array<int64_t, N>;

/// Walks elements [b, e) of `shape` in row-major order for N operands with strides `st`
/// (in elements), calling f(off, inner, run) once per piece of a row: element j < run of
/// the piece sits at off[k] + j * inner[k] in operand k. A 0-d shape is one element.
template <std::size_t N, class F>
void walk(const Shape& shape, const std::array<Strides, N>& st, int64_t b, int64_t e, F&& f) {
  if (b >= e) return;
  const int nd = shape.size();
  Offsets<N> off{}, inner{};
  if (nd == 0) {
    f(off, inner, int64_t{1});
    return;
  }
  int64_t coord[kMaxDims] = {};
  int64_t rem = b;
  for (int d = nd - 1; d >= 0; --d) {
    coord[d] = rem % shape[d];
    rem /= shape[d];
    for (std::size_t k = 0; k < N; ++k) off[k] += coord[d] * st[k][d];
  }
  for (std::size_t k = 0; k < N; ++k) inner[k] = st[k][nd - 1];
  const int64_t row = shape[nd - 1];
  for (int64_t i = b;;) {
    const int64_t run = std::min(e - i, row - coord[nd - 1]);
    f(off, inner, run);
    i += run;
    if (i >= e) return;
    // The row is finished: back to its start, then carry into the outer dims.
    for (std::size_t k = 0; k < N; ++k) off[k] -= coord[nd - 1] * inner[k];
    coord[nd - 1] = 0;
    for (int d = nd - 2; d >= 0; --d) {
      ++coord[d];
      for (std::size_t k = 0; k < N; ++k) off[k] += st[k][d];
      if (coord[d] < shape[d]) break;
      for (std::size_t k = 0; k < N; ++k) off[k] -= shape[d] * st[k][d];
      coord[d] = 0;
    }
  }
}

/// walk() over the whole shape, split across threads. f runs concurrently on disjoint
/// element ranges and must not throw.
template <std::size_t N, class F>
void parallel_walk(const Shape& shape, const std::array<Strides, N>& st, F&& f) {
  parallel_for(numel_of(shape), kParallelGrain, 1,
               [&](int64_t b, int64_t e) { walk<N>(shape, st, b, e, f); });
}

/// Throws IndexError naming `op`, the first bad value (in row-major order), `dim` and
/// `size` unless every element of `index` lies in [0, size) (Note [Index checks]).
void check_index_range(const Tensor<int64_t, CPU>& index, int64_t size, int dim, const char* op);

/// Whether two tensors (of any dtypes) are views of one buffer.
template <class A, class B>
bool shares_storage(const Tensor<A, CPU>& a, const Tensor<B, CPU>& b) {
  return a.storage().impl() == b.storage().impl();
}

/// Strides of `st` with entry `d` removed.
inline Strides erase_dim(Strides st, int d) {
  st.erase(d);
  return st;
}

}  // namespace kiln::detail
