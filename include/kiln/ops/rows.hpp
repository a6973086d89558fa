// SPDX-License-Identifier: BSD-3-Clause
// The 1-D rows of a tensor along one dim, for ops that work row by row (softmax, sort,
// cumsum): where each row starts in the input and in a new contiguous output.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kiln/core/config.hpp"
#include "kiln/core/error.hpp"
#include "kiln/core/parallel.hpp"
#include "kiln/core/shape.hpp"

namespace kiln::detail {

/// Wraps `dim` for a tensor of `shape` (a 0-d tensor takes 0 and -1, as in torch). The
/// IndexError names the op, the dim and the rank.
inline int wrap_row_dim(int64_t dim, const Shape& shape, const char* op) {
  const int nd = shape.size();
  const int64_t lo = nd == 0 ? -1 : -nd, hi = nd == 0 ? 0 : nd - 1;
  KILN_CHECK(dim >= lo && dim <= hi, IndexError, "[", op,
             "] dimension out of range (expected to be in [", lo, ", ", hi, "], but got ", dim,
             ") for a tensor of rank ", nd, " and shape ", shape);
  return static_cast<int>(dim < 0 ? dim + std::max(nd, 1) : dim);
}

/// The rows along dim d of a view: every other dim indexes one row, and rows are numbered
/// in row-major order of those dims (the order of a contiguous output).
struct DimRows {
  int64_t n = 1;      // row length: the size of dim d (1 for a 0-d tensor)
  int64_t step = 0;   // input stride along d
  int64_t rows = 1;   // number of rows
  int64_t inner = 1;  // product of the sizes after d: a contiguous output's stride along d
  // The other dims, size-1 dims dropped and neighbours that step as one merged.
  int nd = 0;
  int64_t extent[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};

  /// Offset (in elements from data()) of row r's first element in the input.
  int64_t in_offset(int64_t r) const {
    int64_t off = 0;
    for (int k = nd - 1; k >= 0; --k) {
      off += (r % extent[k]) * stride[k];
      r /= extent[k];
    }
    return off;
  }
  /// Offset of row r's first element in a contiguous output whose dim d has length len.
  int64_t out_offset(int64_t r, int64_t len) const { return r / inner * len * inner + r % inner; }
};

inline DimRows dim_rows(const Shape& shape, const Strides& strides, int d) {
  DimRows r;
  if (shape.size() == 0) return r;
  r.n = shape[d];
  r.step = strides[d];
  for (int k = 0; k < shape.size(); ++k) {
    if (k == d) continue;
    r.rows *= shape[k];
    if (k > d) r.inner *= shape[k];
    if (shape[k] == 1) continue;
    if (r.nd > 0 && r.stride[r.nd - 1] == shape[k] * strides[k]) {
      r.extent[r.nd - 1] *= shape[k];  // row index i * e + j walks i * (e * s) + j * s
      r.stride[r.nd - 1] = strides[k];
    } else {
      r.extent[r.nd] = shape[k];
      r.stride[r.nd] = strides[k];
      ++r.nd;
    }
  }
  return r;
}

/// Rows per thread chunk so that one chunk holds at least kParallelGrain elements.
inline int64_t row_grain(int64_t n) {
  return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1));
}

}  // namespace kiln::detail
