// SPDX-License-Identifier: BSD-3-Clause
// Joining and splitting along a dim: cat, stack (copies); split, split_with_sizes, chunk,
// unbind (views).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <type_traits>
#include <vector>

#include "kiln/tensor.hpp"

namespace kiln {

namespace detail {
/// Shape checks of cat (src/join.cpp). Returns the output shape and sets `dim` to the
/// wrapped concatenation dim (-1 when every input is a legacy empty [0] tensor).
Shape cat_shape(std::span<const Shape> shapes, int64_t dim_in, int& dim);
/// Shape checks of stack; returns the output shape and sets `dim`.
Shape stack_shape(std::span<const Shape> shapes, int64_t dim_in, int& dim);
/// The piece lengths of split(x, split_size, dim) (checked).
std::vector<int64_t> split_lengths(const Shape& shape, int64_t split_size, int dim);
/// Checks the lengths of split_with_sizes against `shape[dim]`.
void check_split_sizes(const Shape& shape, std::span<const int64_t> sizes, int dim);
/// The piece lengths of chunk(x, chunks, dim) (checked).
std::vector<int64_t> chunk_lengths(const Shape& shape, int64_t chunks, int dim);
/// wrap_dim for ops that need at least one dim: a 0-d input throws ShapeError.
int wrap_dim_nonscalar(const Shape& shape, int64_t dim, const char* op);

template <class D>
constexpr void require_cpu() {
  static_assert(
      std::is_same_v<D, CPU>,
      "kiln: shape ops on CUDA tensors need the CUDA backend (kiln::cuda), not built yet");
}

template <class T, class D>
std::vector<Shape> shapes_of(std::span<const Tensor<T, D>> ts) {
  std::vector<Shape> s;
  s.reserve(ts.size());
  for (const auto& t : ts) s.push_back(t.shape());
  return s;
}

/// Views of `x` along `dim` with the given (checked) lengths.
template <class T, class D>
std::vector<Tensor<T, D>> pieces(const Tensor<T, D>& x, std::span<const int64_t> lengths, int dim) {
  std::vector<Tensor<T, D>> out;
  out.reserve(lengths.size());
  int64_t start = 0;
  for (int64_t n : lengths) {
    out.push_back(x.narrow(dim, start, n));
    start += n;
  }
  return out;
}

// Note [Join backward]
// cat and stack record one node with an edge per input; the gradient of input i is the
// view of the output's gradient that the input was copied into (narrow for cat, select
// for stack), so the backward is made of views and double backward works. Inputs that
// need no gradient (and cat's skipped legacy [0] inputs) get none.
template <class T, class D, class V>
void record_join(const char* name, Tensor<T, D>& out, std::span<const Tensor<T, D>> ts,
                 std::vector<V> views) {
  if constexpr (is_floating_v<T>) {
    if (!autograd::GradMode::is_enabled()) return;
    std::vector<autograd::Edge> edges;
    bool any = false;
    for (std::size_t i = 0; i < ts.size(); ++i) {
      edges.push_back(autograd::gradient_edge(ts[i]));
      if (!ts[i].requires_grad()) views[i].skip = true;
      any = any || ts[i].requires_grad();
    }
    if (!any) return;
    autograd::record(name, out, std::move(edges),
                     [views = std::move(views)](std::vector<AnyTensor>& g) {
                       const Tensor<T, D>& go = g[0].as<T, D>();
                       std::vector<AnyTensor> r(views.size());
                       for (std::size_t i = 0; i < views.size(); ++i)
                         if (!views[i].skip) r[i] = AnyTensor(views[i](go));
                       return r;
                     });
  }
}

// Which part of cat's output input i is (or skip, for a legacy [0] input).
struct CatPiece {
  int dim = 0;
  int64_t start = 0, length = 0;
  bool skip = false;
  template <class T, class D>
  Tensor<T, D> operator()(const Tensor<T, D>& g) const {
    return g.narrow(dim, start, length);
  }
};
// Which part of stack's output input i is.
struct StackPiece {
  int dim = 0;
  int64_t index = 0;
  bool skip = false;
  template <class T, class D>
  Tensor<T, D> operator()(const Tensor<T, D>& g) const {
    return g.select(dim, index);
  }
};

template <class T, class D>
Tensor<T, D> cat_impl(std::span<const Tensor<T, D>> ts, int64_t dim_in) {
  require_cpu<D>();
  int dim = 0;
  const std::vector<Shape> shapes = shapes_of(ts);
  Tensor<T, D> out(cat_shape(shapes, dim_in, dim));
  std::vector<CatPiece> pieces(ts.size(), CatPiece{dim, 0, 0, true});
  {
    AutoGradMode off(false);
    int64_t at = 0;
    for (std::size_t i = 0; i < ts.size() && dim >= 0; ++i) {  // dim < 0: only legacy empties
      const Tensor<T, D>& t = ts[i];
      if (t.shape() == Shape{0}) continue;  // torch's legacy rule: [0] joins anything
      const int64_t n = t.shape()[dim];
      // Each input lands in its slab of the output; copy_ picks the contiguous or strided
      // path and splits large copies across threads.
      out.narrow(dim, at, n).copy_(t);
      pieces[i] = CatPiece{dim, at, n, false};
      at += n;
    }
  }
  record_join("CatBackward", out, ts, std::move(pieces));
  return out;
}

template <class T, class D>
Tensor<T, D> stack_impl(std::span<const Tensor<T, D>> ts, int64_t dim_in) {
  require_cpu<D>();
  int dim = 0;
  const std::vector<Shape> shapes = shapes_of(ts);
  Tensor<T, D> out(stack_shape(shapes, dim_in, dim));
  std::vector<StackPiece> pieces;
  {
    AutoGradMode off(false);
    for (std::size_t i = 0; i < ts.size(); ++i) {
      out.select(dim, static_cast<int64_t>(i)).copy_(ts[i]);
      pieces.push_back(StackPiece{dim, static_cast<int64_t>(i), false});
    }
  }
  record_join("StackBackward", out, ts, std::move(pieces));
  return out;
}
}  // namespace detail

/// Concatenates tensors along `dim` (torch.cat): all have the same rank and the same sizes
/// except along `dim`. 1-D tensors of shape [0] are skipped whatever their rank (torch's
/// legacy rule). Returns a new contiguous tensor.
/// Throws ValueError on an empty list, ShapeError on a 0-d input or mismatched shapes,
/// IndexError on a bad dim. Differentiable in every input (Note [Join backward]).
template <class T, class D>
Tensor<T, D> cat(const std::vector<Tensor<T, D>>& tensors, int64_t dim = 0) {
  return detail::cat_impl(std::span<const Tensor<T, D>>(tensors), dim);
}
template <class T, class D>
Tensor<T, D> cat(std::initializer_list<Tensor<T, D>> tensors, int64_t dim = 0) {
  return detail::cat_impl(std::span<const Tensor<T, D>>(tensors.begin(), tensors.size()), dim);
}

/// Joins tensors of one shape along a new dim inserted at `dim` (torch.stack);
/// `dim` may be in [-(rank + 1), rank]. Returns a new contiguous tensor. Differentiable in
/// every input (Note [Join backward]).
template <class T, class D>
Tensor<T, D> stack(const std::vector<Tensor<T, D>>& tensors, int64_t dim = 0) {
  return detail::stack_impl(std::span<const Tensor<T, D>>(tensors), dim);
}
template <class T, class D>
Tensor<T, D> stack(std::initializer_list<Tensor<T, D>> tensors, int64_t dim = 0) {
  return detail::stack_impl(std::span<const Tensor<T, D>>(tensors.begin(), tensors.size()), dim);
}

// split, split_with_sizes, chunk and unbind return views (narrow, select), which record
// their own backward.

/// Views of consecutive pieces of `split_size` along `dim` (the last may be shorter),
/// like torch.split. split_size may be 0 only when the dim has size 0.
/// Note: `split(x, {2}, d)` picks this overload (a braced scalar); use split_with_sizes
/// for a one-element list of sizes.
template <class T, class D>
std::vector<Tensor<T, D>> split(const Tensor<T, D>& x, int64_t split_size, int64_t dim = 0) {
  const int d = detail::wrap_dim_nonscalar(x.shape(), dim, "split");
  return detail::pieces(x, detail::split_lengths(x.shape(), split_size, d), d);
}

/// Views of pieces with the given lengths along `dim` (torch.split_with_sizes); the
/// lengths must be non-negative and sum to the size of `dim` (ValueError otherwise).
template <class T, class D>
std::vector<Tensor<T, D>> split_with_sizes(const Tensor<T, D>& x, const std::vector<int64_t>& sizes,
                                           int64_t dim = 0) {
  const int d = detail::wrap_dim_nonscalar(x.shape(), dim, "split_with_sizes");
  detail::check_split_sizes(x.shape(), sizes, d);
  return detail::pieces(x, sizes, d);
}
template <class T, class D>
std::vector<Tensor<T, D>> split(const Tensor<T, D>& x, const std::vector<int64_t>& sizes,
                                int64_t dim = 0) {
  return split_with_sizes(x, sizes, dim);
}

/// Views of `chunks` pieces of ceil(size / chunks) along `dim` (torch.chunk); fewer pieces
/// when the size runs out first, and `chunks` empty pieces when the dim has size 0.
/// Throws ValueError when chunks <= 0.
template <class T, class D>
std::vector<Tensor<T, D>> chunk(const Tensor<T, D>& x, int64_t chunks, int64_t dim = 0) {
  const int d = detail::wrap_dim_nonscalar(x.shape(), dim, "chunk");
  return detail::pieces(x, detail::chunk_lengths(x.shape(), chunks, d), d);
}

/// Views of every index along `dim`, with that dim removed (torch.unbind; inverse of stack).
template <class T, class D>
std::vector<Tensor<T, D>> unbind(const Tensor<T, D>& x, int64_t dim = 0) {
  const int d = detail::wrap_dim_nonscalar(x.shape(), dim, "unbind");
  std::vector<Tensor<T, D>> out;
  out.reserve(static_cast<std::size_t>(x.shape()[d]));
  for (int64_t i = 0; i < x.shape()[d]; ++i) out.push_back(x.select(d, i));
  return out;
}

}  // namespace kiln
