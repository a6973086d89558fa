// SPDX-License-Identifier: BSD-3-Clause
// Non-template shape helpers behind Tensor's views (include/kiln/tensor.hpp).
#include <algorithm>

#include "kiln/tensor.hpp"

namespace kiln::detail {

std::optional<Strides> view_strides(const Shape& shape_in, const Strides& strides_in,
                                    const Shape& new_shape) {
  // A 0-d tensor behaves as [1] with stride 1.
  const Shape shape = shape_in.empty() ? Shape{1} : shape_in;
  const Strides strides = strides_in.empty() ? Strides{1} : strides_in;
  Strides out(new_shape.size());
  if (numel_of(shape) == 0) return contiguous_strides(new_shape);
  if (new_shape.empty()) return out;

  int view_d = new_shape.size() - 1;
  int64_t chunk_base_stride = strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int tensor_d = shape.size() - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= shape[tensor_d];
    // A chunk ends where the next-outer dim is not laid out right after this one.
    if (tensor_d == 0 ||
        (shape[tensor_d - 1] != 1 && strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

Shape infer_shape(const Shape& requested, int64_t numel, const char* op, const Shape& from) {
  Shape s = requested;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      KILN_CHECK(infer < 0, ShapeError, "[", op, "] only one dimension can be inferred (-1) in ",
                 requested);
      infer = i;
    } else {
      KILN_CHECK(s[i] >= 0, ShapeError, "[", op, "] invalid shape dimension ", s[i], " in ",
                 requested);
      known *= s[i];
    }
  }
  if (infer >= 0) {
    KILN_CHECK(known != 0 && numel % known == 0, ShapeError, "[", op, "] shape ", requested,
               " is invalid for input of size ", numel, " (shape ", from, ")");
    s[infer] = numel / known;
  }
  KILN_CHECK(numel_of(s) == numel, ShapeError, "[", op, "] shape ", requested,
             " is invalid for input of size ", numel, " (shape ", from, ")");
  return s;
}

namespace {
void byte_range(int64_t offset, const Shape& shape, const Strides& strides, std::size_t elem,
                int64_t& lo, int64_t& hi) {
  lo = hi = offset;
  for (int d = 0; d < shape.size(); ++d) {
    const int64_t span = (shape[d] - 1) * strides[d];
    (span < 0 ? lo : hi) += span;
  }
  lo *= static_cast<int64_t>(elem);
  hi = (hi + 1) * static_cast<int64_t>(elem);  // exclusive
}
}  // namespace

bool may_overlap(int64_t a_offset, const Shape& a_shape, const Strides& a_strides,
                 std::size_t a_elem, int64_t b_offset, const Shape& b_shape,
                 const Strides& b_strides, std::size_t b_elem) {
  int64_t alo, ahi, blo, bhi;
  byte_range(a_offset, a_shape, a_strides, a_elem, alo, ahi);
  byte_range(b_offset, b_shape, b_strides, b_elem, blo, bhi);
  return alo < bhi && blo < ahi;
}

}  // namespace kiln::detail
