// SPDX-License-Identifier: BSD-3-Clause
// Triangles and diagonals of matrices: tril, triu, diag, diagonal (a view), and the
// backward helpers of diag and diagonal.
#pragma once

#include <cstdint>

#include "kiln/ops/join.hpp"
#include "kiln/tensor.hpp"
#include "kiln/tensor/factories.hpp"

namespace kiln {

namespace detail {
/// Zeroes, in each of `batch` contiguous rows x cols matrices, the elements above
/// (lower = true: j > i + k) or below (j < i + k) diagonal k. Zero is all-bits-zero in
/// every dtype, so this is one byte-level routine (src/triangle.cpp).
void zero_triangle(void* data, std::size_t elem_size, int64_t batch, int64_t rows, int64_t cols,
                   int64_t k, bool lower);
/// Checks tril/triu's input rank.
void check_matrix_batch(const Shape& shape, const char* op);

/// The layout of diagonal(x, offset, dim1, dim2) (torch's rule): the two dims are removed,
/// a last dim of the diagonal's length appended with stride st1 + st2.
struct DiagonalView {
  int64_t offset;
  Shape shape;
  Strides strides;
};
DiagonalView diagonal_view(const Shape& shape, const Strides& strides, int64_t offset, int64_t dim1,
                           int64_t dim2);
/// Checks diag's input rank (1 or 2).
void check_diag_input(const Shape& shape, const char* op);
/// The side n + |k| of diag's matrix for a vector of n elements (checked for overflow).
int64_t diag_matrix_size(int64_t n, int64_t k, const char* op);

template <class T, class D>
Tensor<T, D> triangle(const Tensor<T, D>& x, int64_t k, bool lower, const char* op) {
  require_cpu<D>();
  check_matrix_batch(x.shape(), op);
  Tensor<T, D> out;
  {
    AutoGradMode off(false);
    out = x.clone();  // then zero the other side in place: rows stay in cache
  }
  const int64_t rows = x.size(-2), cols = x.size(-1);
  if (out.numel() > 0)
    zero_triangle(out.data(), sizeof(T), out.numel() / (rows * cols), rows, cols, k, lower);
  return out;
}
}  // namespace detail

/// The lower triangle of the last two dims (torch.tril): elements with j <= i + diagonal
/// are kept, the rest zeroed. Leading dims are batch dims. The backward is tril of the
/// gradient with the same diagonal.
template <class T, class D>
Tensor<T, D> tril(const Tensor<T, D>& x, int64_t diagonal = 0) {
  Tensor<T, D> out = detail::triangle(x, diagonal, true, "tril");
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x))
      autograd::record("TrilBackward", out, autograd::collect_edges(x),
                       [diagonal](std::vector<AnyTensor>& g) {
                         return autograd::grads(tril(g[0].as<T, D>(), diagonal));
                       });
  return out;
}
/// The upper triangle (j >= i + diagonal) of the last two dims (torch.triu). The backward
/// is triu of the gradient with the same diagonal.
template <class T, class D>
Tensor<T, D> triu(const Tensor<T, D>& x, int64_t diagonal = 0) {
  Tensor<T, D> out = detail::triangle(x, diagonal, false, "triu");
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x))
      autograd::record("TriuBackward", out, autograd::collect_edges(x),
                       [diagonal](std::vector<AnyTensor>& g) {
                         return autograd::grads(triu(g[0].as<T, D>(), diagonal));
                       });
  return out;
}

/// A view of the diagonal `offset` of the (dim1, dim2) planes (torch.diagonal): those dims
/// are removed and the diagonal becomes the last dim. offset > 0 is above the main
/// diagonal; an offset past the edge gives a last dim of size 0. Shares x's storage.
/// Recorded as a view: the gradient is written onto the same diagonal of zeros.
template <class T, class D>
Tensor<T, D> diagonal(const Tensor<T, D>& x, int64_t offset = 0, int64_t dim1 = 0,
                      int64_t dim2 = 1) {
  const detail::DiagonalView v = detail::diagonal_view(x.shape(), x.strides(), offset, dim1, dim2);
  Tensor<T, D> r(x.storage(), x.storage_offset() + v.offset, v.shape, v.strides);
  if constexpr (is_floating_v<T>)
    autograd::record_view(
        x, r, "DiagonalBackward", [in = x.shape(), offset, dim1, dim2](const Tensor<T, D>& g) {
          return autograd::embed(
              g, in, [=](const Tensor<T, D>& z) { return kiln::diagonal(z, offset, dim1, dim2); });
        });
  return r;
}

/// torch.diag: a 1-D x becomes a square matrix with x on diagonal `diagonal`, zeros
/// elsewhere; a 2-D x gives a copy of that diagonal (1-D). ShapeError for other ranks.
/// Differentiable: the gradient of the 2-D form is that of diagonal() (a recorded view
/// and clone); the 1-D form's is the diagonal of the gradient.
template <class T, class D>
Tensor<T, D> diag(const Tensor<T, D>& x, int64_t diagonal = 0) {
  detail::require_cpu<D>();
  detail::check_diag_input(x.shape(), "diag");
  if (x.dim() == 2) return kiln::diagonal(x, diagonal).clone();
  const int64_t n = detail::diag_matrix_size(x.size(0), diagonal, "diag");
  Tensor<T, D> out = zeros<T, D>({n, n});
  {
    AutoGradMode off(false);
    kiln::diagonal(out, diagonal).copy_(x);
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x))
      autograd::record("DiagBackward", out, autograd::collect_edges(x),
                       [diagonal](std::vector<AnyTensor>& g) {
                         return autograd::grads(kiln::diagonal(g[0].as<T, D>(), diagonal));
                       });
  return out;
}

/// Gradient of diagonal(x, offset, dim1, dim2) for x of `input_shape`: zeros with `grad`
/// written on that diagonal.
template <class T, class D>
Tensor<T, D> diagonal_backward(const Tensor<T, D>& grad, const Shape& input_shape,
                               int64_t offset = 0, int64_t dim1 = 0, int64_t dim2 = 1) {
  detail::require_cpu<D>();
  Tensor<T, D> res = zeros<T, D>(input_shape);
  const Tensor<T, D> d = kiln::diagonal(res, offset, dim1, dim2);
  KILN_CHECK(grad.shape() == d.shape(), ShapeError, "[diagonal_backward] gradient of shape ",
             grad.shape(), " does not match the diagonal's shape ", d.shape(), " (input ",
             input_shape, ", offset ", offset, ", dims ", dim1, ", ", dim2, ")");
  d.copy_(grad);
  return res;
}

/// Gradient of diag(x, diagonal) for x of `input_shape`: the diagonal of `grad` for a
/// 1-D x, diagonal_backward for a 2-D x.
template <class T, class D>
Tensor<T, D> diag_backward(const Tensor<T, D>& grad, const Shape& input_shape,
                           int64_t diagonal = 0) {
  detail::require_cpu<D>();
  detail::check_diag_input(input_shape, "diag_backward");
  if (input_shape.size() == 2) return diagonal_backward(grad, input_shape, diagonal, 0, 1);
  const int64_t n = detail::diag_matrix_size(input_shape[0], diagonal, "diag_backward");
  KILN_CHECK(grad.shape() == (Shape{n, n}), ShapeError, "[diag_backward] gradient of shape ",
             grad.shape(), " does not match diag's output [", n, ", ", n, "] (input ", input_shape,
             ", diagonal ", diagonal, ")");
  return kiln::diagonal(grad, diagonal).clone();
}

}  // namespace kiln
