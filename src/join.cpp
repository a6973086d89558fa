// SPDX-License-Identifier: BSD-3-Clause
// Shape rules of cat, stack, split and chunk (include/kiln/ops/join.hpp).
#include "kiln/ops/join.hpp"

#include <algorithm>
#include <sstream>

namespace kiln::detail {

namespace {
bool legacy_empty(const Shape& s) { return s == Shape{0}; }
// A list of any length (Dims holds at most kMaxDims entries), printed like a Shape.
std::string list_str(std::span<const int64_t> v) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ']';
  return os.str();
}
}  // namespace

int wrap_dim_nonscalar(const Shape& shape, int64_t dim, const char* op) {
  KILN_CHECK(shape.size() > 0, ShapeError, "[", op,
             "] expects a tensor with at least one dimension, got shape ", shape);
  return wrap_dim(dim, shape.size(), op);
}

Shape cat_shape(std::span<const Shape> shapes, int64_t dim_in, int& dim) {
  KILN_CHECK(!shapes.empty(), ValueError, "[cat] expected a non-empty list of tensors");
  const Shape* first = nullptr;
  std::size_t first_i = 0;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    KILN_CHECK(shapes[i].size() > 0, ShapeError, "[cat] zero-dimensional tensor (at position ", i,
               ") cannot be concatenated");
    if (!first && !legacy_empty(shapes[i])) {
      first = &shapes[i];
      first_i = i;
    }
  }
  if (!first) {  // every input is [0]: torch returns [0] without looking at dim
    dim = -1;
    return Shape{0};
  }
  dim = wrap_dim(dim_in, first->size(), "cat");
  Shape out = *first;
  out[dim] = 0;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const Shape& s = shapes[i];
    if (legacy_empty(s)) continue;
    KILN_CHECK(s.size() == first->size(), ShapeError,
               "[cat] tensors must have the same number of dimensions: tensor ", first_i,
               " has shape ", *first, " but tensor ", i, " has shape ", s, " (dim ", dim, ")");
    for (int d = 0; d < s.size(); ++d)
      KILN_CHECK(d == dim || s[d] == (*first)[d], ShapeError,
                 "[cat] sizes of tensors must match except in dimension ", dim, ": tensor ",
                 first_i, " has shape ", *first, " but tensor ", i, " has shape ", s,
                 " (mismatch in dimension ", d, ")");
    out[dim] += s[dim];
  }
  return out;
}

Shape stack_shape(std::span<const Shape> shapes, int64_t dim_in, int& dim) {
  KILN_CHECK(!shapes.empty(), ValueError, "[stack] expected a non-empty list of tensors");
  const Shape& s0 = shapes[0];
  dim = wrap_dim(dim_in, s0.size() + 1, "stack");
  for (std::size_t i = 1; i < shapes.size(); ++i)
    KILN_CHECK(shapes[i] == s0, ShapeError,
               "[stack] expects each tensor to be equal size, but got ", s0, " at entry 0 and ",
               shapes[i], " at entry ", i, " (dim ", dim, ")");
  Shape out = s0;
  out.insert(dim, static_cast<int64_t>(shapes.size()));
  return out;
}

// ceil(n / d) for n >= 0, d > 0, without the overflow of (n + d - 1) / d.
int64_t ceil_div(int64_t n, int64_t d) { return n / d + (n % d != 0); }

std::vector<int64_t> split_lengths(const Shape& shape, int64_t split_size, int dim) {
  const int64_t n = shape[dim];
  KILN_CHECK(split_size >= 0, ValueError, "[split] split_size must be non-negative, got ",
             split_size, " (shape ", shape, ", dim ", dim, ")");
  KILN_CHECK(split_size > 0 || n == 0, ValueError,
             "[split] split_size can only be 0 if dimension size is 0, but got dimension ", dim,
             " of size ", n, " (shape ", shape, ")");
  // At least one piece, so that an empty dim still splits into [empty] as in torch.
  const int64_t count = split_size == 0 ? 1 : std::max<int64_t>(ceil_div(n, split_size), 1);
  std::vector<int64_t> out(static_cast<std::size_t>(count), split_size);
  out.back() = n - split_size * (count - 1);
  return out;
}

void check_split_sizes(const Shape& shape, std::span<const int64_t> sizes, int dim) {
  int64_t total = 0;
  for (int64_t s : sizes) {
    KILN_CHECK(s >= 0, ValueError, "[split_with_sizes] split sizes must be non-negative, got ",
               list_str(sizes), " (shape ", shape, ", dim ", dim, ")");
    // Huge sizes must not wrap around to the right total.
    KILN_CHECK(!__builtin_add_overflow(total, s, &total), ValueError,
               "[split_with_sizes] split sizes ", list_str(sizes), " overflow int64 when summed",
               " (shape ", shape, ", dim ", dim, ")");
  }
  KILN_CHECK(total == shape[dim], ValueError, "[split_with_sizes] split sizes ", list_str(sizes),
             " sum to ", total, " but dimension ", dim, " of the tensor has size ", shape[dim],
             " (shape ", shape, ")");
}

std::vector<int64_t> chunk_lengths(const Shape& shape, int64_t chunks, int dim) {
  KILN_CHECK(chunks > 0, ValueError, "[chunk] chunks must be greater than 0, got ", chunks,
             " (shape ", shape, ")");
  const int64_t n = shape[dim];
  // torch: an empty dim gives `chunks` empty pieces; otherwise pieces of ceil(n / chunks).
  if (n == 0) return std::vector<int64_t>(static_cast<std::size_t>(chunks), 0);
  return split_lengths(shape, ceil_div(n, chunks), dim);
}

}  // namespace kiln::detail
