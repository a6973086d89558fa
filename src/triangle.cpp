// SPDX-License-Identifier: BSD-3-Clause
// tril/triu's zeroing loop and the shape rules of diagonal and diag
// (include/kiln/ops/triangle.hpp).
#include "kiln/ops/triangle.hpp"

#include <algorithm>
#include <cstring>

#include "kiln/core/parallel.hpp"

namespace kiln::detail {

void zero_triangle(void* data, std::size_t elem_size, int64_t batch, int64_t rows, int64_t cols,
                   int64_t k, bool lower) {
  auto* base = static_cast<unsigned char*>(data);
  k = std::clamp<int64_t>(k, -rows - 1, cols + 1);  // same result, and i + k cannot overflow
  const auto row_bytes = static_cast<int64_t>(elem_size) * cols;
  // One task per row; rows are independent, so the result does not depend on threads.
  const int64_t grain = std::max<int64_t>(kParallelGrain / std::max<int64_t>(cols, 1), 1);
  parallel_for(batch * rows, grain, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t i = r % rows;
      // lower keeps j <= i + k: zero [i + k + 1, cols). upper keeps j >= i + k: zero [0, i + k).
      const int64_t lo = lower ? std::clamp<int64_t>(i + k + 1, 0, cols) : 0;
      const int64_t hi = lower ? cols : std::clamp<int64_t>(i + k, 0, cols);
      if (lo < hi)
        std::memset(base + r * row_bytes + lo * static_cast<int64_t>(elem_size), 0,
                    static_cast<std::size_t>(hi - lo) * elem_size);
    }
  });
}

void check_matrix_batch(const Shape& shape, const char* op) {
  KILN_CHECK(shape.size() >= 2, ShapeError, "[", op,
             "] input tensor must have at least 2 dimensions, got shape ", shape);
}

void check_diag_input(const Shape& shape, const char* op) {
  KILN_CHECK(shape.size() == 1 || shape.size() == 2, ShapeError, "[", op,
             "] supports 1-D or 2-D tensors only, got shape ", shape);
}

int64_t diag_matrix_size(int64_t n, int64_t k, const char* op) {
  // Far beyond any allocation, and keeps -k, n + |k| and (n + |k|)^2 from overflowing.
  constexpr int64_t kLimit = int64_t{1} << 31;
  KILN_CHECK(k > -kLimit && k < kLimit, ValueError, "[", op, "] diagonal ", k,
             " is out of range for a vector of ", n, " elements");
  return n + (k < 0 ? -k : k);
}

DiagonalView diagonal_view(const Shape& shape, const Strides& strides, int64_t offset, int64_t dim1,
                           int64_t dim2) {
  const int nd = shape.size();
  const int d1 = wrap_dim(dim1, nd, "diagonal"), d2 = wrap_dim(dim2, nd, "diagonal");
  KILN_CHECK(d1 != d2, ValueError, "[diagonal] diagonal dimensions cannot be identical: ", dim1,
             ", ", dim2, " (shape ", shape, ")");
  const int64_t n1 = shape[d1], n2 = shape[d2];
  // Elements (i, i + offset): offset >= 0 starts at column offset, else at row -offset.
  const int64_t len = offset >= 0 ? std::max<int64_t>(std::min(n1, n2 - offset), 0)
                                  : std::max<int64_t>(std::min(n1 + offset, n2), 0);
  DiagonalView v{0, Shape(), Strides()};
  if (len > 0) v.offset = offset >= 0 ? offset * strides[d2] : -offset * strides[d1];
  for (int d = 0; d < nd; ++d)
    if (d != d1 && d != d2) {
      v.shape.push_back(shape[d]);
      v.strides.push_back(strides[d]);
    }
  v.shape.push_back(len);
  v.strides.push_back(strides[d1] + strides[d2]);
  return v;
}

}  // namespace kiln::detail
