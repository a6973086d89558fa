// SPDX-License-Identifier: BSD-3-Clause
// Shape rules of flip, roll and repeat (include/kiln/ops/reorder.hpp).
#include "kiln/ops/reorder.hpp"

namespace kiln::detail {

uint32_t flip_mask(const Shape& shape, const Dims& dims) {
  uint32_t mask = 0;
  for (int64_t d : dims) {
    const int w = wrap_dim(d, shape.size(), "flip");
    KILN_CHECK(!(mask >> w & 1u), ValueError, "[flip] dim ", w,
               " appears multiple times in the list of dims ", dims, " (shape ", shape, ")");
    mask |= 1u << w;
  }
  return shape.size() == 0 ? 0u : mask;  // a 0-d tensor has nothing to reverse
}

Dims roll_shifts(const Shape& shape, const Dims& shifts, const Dims& dims) {
  KILN_CHECK(shifts.size() == dims.size(), ValueError, "[roll] shifts and dims must align: shifts ",
             shifts, ", dims ", dims, " (shape ", shape, ")");
  Dims out(shape.size(), 0);
  for (int i = 0; i < dims.size(); ++i) {
    const int d = wrap_dim(dims[i], shape.size(), "roll");
    if (shape.size() == 0 || shape[d] == 0) continue;
    const int64_t n = shape[d];
    out[d] = ((out[d] + shifts[i] % n) % n + n) % n;
  }
  return out;
}

Shape repeat_input_shape(const Shape& shape, const Dims& repeats, const char* op) {
  KILN_CHECK(repeats.size() >= shape.size(), ShapeError, "[", op, "] number of repeats ", repeats,
             " can not be smaller than the number of dimensions of the tensor (shape ", shape, ")");
  for (int64_t r : repeats)
    KILN_CHECK(r >= 0, ValueError, "[", op, "] repeats must be non-negative, got ", repeats,
               " (shape ", shape, ")");
  Shape out = shape;
  while (out.size() < repeats.size()) out.insert(0, 1);
  return out;
}

RepeatView repeat_view(const Shape& small, const Strides& small_st, const Dims& repeats,
                       const Strides& big_st) {
  RepeatView v;
  int entries = 0, split = -1;
  for (int d = 0; d < small.size(); ++d) {
    entries += (repeats[d] > 1) + (small[d] > 1);
    if (split < 0 && repeats[d] > 1 && small[d] > 1) split = d;
  }
  if (entries > kMaxDims) {
    v.fits = false;
    v.split_dim = split;
    return v;
  }
  for (int d = 0; d < small.size(); ++d) {
    if (repeats[d] > 1) {  // which copy: outer, read with stride 0
      v.rep_entries.push_back(v.shape.size());
      v.shape.push_back(repeats[d]);
      v.big_st.push_back(big_st[d] * small[d]);
      v.small_st.push_back(0);
    }
    if (small[d] > 1) {  // where in the copy
      v.shape.push_back(small[d]);
      v.big_st.push_back(big_st[d]);
      v.small_st.push_back(small_st[d]);
    }
  }
  return v;
}

}  // namespace kiln::detail
