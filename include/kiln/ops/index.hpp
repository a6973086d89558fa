// SPDX-License-Identifier: BSD-3-Clause
// Indexing with integer tensors: index_select, gather, scatter(_), scatter_add(_),
// index_add(_), take_along_dim, index / index_put(_) (advanced indexing), one_hot,
// embedding, and the backward helpers of these ops.
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiln/ops/reduce.hpp"
#include "kiln/tensor.hpp"
#include "kiln/tensor/factories.hpp"

namespace kiln {

// Note [Index checks]
// Index tensors are Tensor<int64_t>. As in torch, these ops accept only indices in
// [0, size): a negative index is out of range, not counted from the end. Every index is
// checked before any element is read or written, so a bad one throws IndexError naming
// the op, the index, the dim and its size, and an in-place destination is left as it was.
// 0-d tensors index like 1-d tensors of one element (torch's "ensure nonempty" rule).
// When an index (or source) tensor shares storage with the destination of an in-place
// op, it is copied first; the destination itself may not be an expanded view.

// Note [Deterministic scatter]
// scatter_, scatter_add_ and index_add_ may write one destination element several times
// (duplicate indices). Two source elements can only meet when they share every coordinate
// but `dim`, so threads split those other coordinates and each walks `dim` in increasing
// order: for duplicates the last source element wins (scatter_), and sums are added in
// source order (scatter_add_, index_add_), whatever the number of threads.

// Note [Index backward]
// The gradient of each op here, for the autograd layer:
//   index_select(x, d, i)    -> x: index_select_backward (index_add_ into zeros)
//   gather(x, d, i)          -> x: gather_backward (scatter_add_ into zeros)
//   take_along_dim(x, i, d)  -> x: take_along_dim_backward (scatter_add_ + sum over broadcast)
//   embedding(w, ids)        -> w: embedding_backward (index_add_ into zeros, padding row zero)
//   scatter(x, d, i, src)    -> x: scatter(grad, d, i, 0); src: gather(grad, d, i)
//   scatter(x, d, i, value)  -> x: scatter(grad, d, i, 0)
//   scatter_add(x, d, i, s)  -> x: grad; s: gather(grad, d, i)
//   index_add(x, d, i, s, a) -> x: grad; s: index_select(grad, d, i) * a
//   index(x, idx)            -> x: index_put(zeros, idx, grad, accumulate=true)
//   index_put(x, idx, v, acc) -> x: grad (acc) or index_put(grad, idx, 0); v: index(grad, idx),
//                               summed over v's broadcast dims
//   masked_fill(x, m, v)     -> x: masked_fill(grad, m, 0), summed over broadcast dims
//   masked_select(x, m)      -> x: masked_select_backward (masked_scatter into zeros)
//   masked_scatter(x, m, s)  -> x: masked_fill(grad, m, 0); s: masked_select(grad, m), padded
//   where(c, a, b)           -> a: where(c, grad, 0); b: where(c, 0, grad) (both summed)
// one_hot and nonzero return integers and have no gradient.

// Note [Advanced indexing]
// index(x, indices) is numpy's and torch's x[i0, :, i2]: `indices` has one entry per
// leading dim of x, an int64 tensor of positions or nullopt for a whole dim (dims past
// the list are whole). The index tensors broadcast together to a shape B. When the indexed
// dims are adjacent, B replaces them in place: x [2, 5, 6, 7] indexed at dims 1 and 2 by
// tensors of shape [3] gives [2, 3, 7]; when a whole dim separates them, B comes first and
// the whole dims follow in order: indexed at dims 0 and 2 it gives [3, 5, 7]. Negative
// positions count from the end (unlike index_select's, see Note [Index checks]); every
// position is checked first. Internally the result is [P, B, Q]: P the whole dims before
// the indexed ones (adjacent case only), Q the whole dims after them (or all of them). One
// offset per position of B is computed once, then each [P, Q] slice is a strided copy.
// index_put_(x, indices, values) writes `values`, broadcast to index's result shape, to
// the same elements. With duplicate positions and accumulate = false the last one (in
// B's row-major order) wins; with accumulate = true they are summed in that order, so
// both are deterministic whatever the thread count (threads split P and Q, never B).

/// One entry per leading dim of the indexed tensor (Note [Advanced indexing]).
using IndexList = std::vector<std::optional<Tensor<int64_t, CPU>>>;

namespace detail {
// The implementations, defined in src/index.cpp for every dtype. `op` names the public
// op in error messages (embedding reports "[embedding]", not "[index_select]").
template <class T>
Tensor<T, CPU> index_select(const Tensor<T, CPU>& x, int64_t dim, const Tensor<int64_t, CPU>& index,
                            const char* op);
template <class T>
Tensor<T, CPU> gather(const Tensor<T, CPU>& x, int64_t dim, const Tensor<int64_t, CPU>& index,
                      const char* op);
template <class T>
void scatter_(const Tensor<T, CPU>& self, int64_t dim, const Tensor<int64_t, CPU>& index,
              const Tensor<T, CPU>& src, const char* op);
template <class T>
void scatter_value_(const Tensor<T, CPU>& self, int64_t dim, const Tensor<int64_t, CPU>& index,
                    T value, const char* op);
template <class T>
void scatter_add_(const Tensor<T, CPU>& self, int64_t dim, const Tensor<int64_t, CPU>& index,
                  const Tensor<T, CPU>& src, const char* op);
template <class T>
void index_add_(const Tensor<T, CPU>& self, int64_t dim, const Tensor<int64_t, CPU>& index,
                const Tensor<T, CPU>& src, T alpha, const char* op);
template <class T>
Tensor<T, CPU> index(const Tensor<T, CPU>& x, const IndexList& indices, const char* op);
template <class T>
void index_put_(const Tensor<T, CPU>& self, const IndexList& indices, const Tensor<T, CPU>& values,
                bool accumulate, const char* op);

/// The index tensors of `indices`, saved for a backward pass (version-checked).
using SavedIndexList = std::vector<std::optional<autograd::SavedTensor<int64_t, CPU>>>;
inline SavedIndexList save_indices(const IndexList& indices) {
  SavedIndexList r;
  for (const auto& i : indices) {
    if (i)
      r.emplace_back(autograd::save(*i));
    else
      r.emplace_back(std::nullopt);
  }
  return r;
}
inline IndexList unpack_indices(const SavedIndexList& saved) {
  IndexList r;
  for (const auto& s : saved) {
    if (s)
      r.emplace_back(s->unpack());
    else
      r.emplace_back(std::nullopt);
  }
  return r;
}

/// Throws ValueError naming `op` when an input (`what`) is an undefined tensor.
void check_defined(bool defined, const char* op, const char* what);

/// Throws ValueError when writing through (shape, strides) would write one address twice
/// (an expanded view), like torch's internal-overlap check.
inline void check_no_internal_overlap(const Shape& shape, const Strides& strides, const char* op) {
  for (int d = 0; d < shape.size(); ++d)
    KILN_CHECK(strides[d] != 0 || shape[d] <= 1, ValueError, "[", op,
               "] unsupported operation: more than one element of the written-to tensor (shape ",
               shape, ", strides ", strides,
               ") refers to a single memory location; call .clone() first");
}

/// Sums `t` over the dims along which `shape` was broadcast to t.shape(), giving `shape`
/// (the reverse of expand; what a backward pass does for a broadcast input).
template <class T>
Tensor<T, CPU> sum_to(const Tensor<T, CPU>& t, const Shape& shape) {
  KILN_CHECK(broadcasts_to(shape, t.shape()), ShapeError, "[sum_to] shape ", shape,
             " does not broadcast to ", t.shape());
  if (t.shape() == shape) return t;
  const int lead = t.dim() - shape.size();
  Dims dims;
  for (int d = 0; d < t.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && t.shape()[d] != 1)) dims.push_back(d);
  if (dims.empty()) return t.reshape(shape);
  return Tensor<T, CPU>(cast<T>(sum(t, dims, /*keepdim=*/true))).reshape(shape);
}

/// Shapes that take_along_dim broadcasts x and indices to (torch's _take_along_dim_helper).
inline std::pair<Shape, Shape> take_along_dim_shapes(const Shape& x, const Shape& indices, int d) {
  Shape xs = x, is = indices;
  xs[d] = indices[d];
  is[d] = x[d];
  return {broadcast_shapes(is, x, "take_along_dim"),
          broadcast_shapes(xs, indices, "take_along_dim")};
}

inline int64_t wrap_padding_idx(int64_t padding_idx, int64_t num_weights, const char* op) {
  KILN_CHECK(padding_idx >= -num_weights && padding_idx < num_weights, IndexError, "[", op,
             "] padding_idx ", padding_idx, " must be within num_embeddings ", num_weights);
  return padding_idx < 0 ? padding_idx + num_weights : padding_idx;
}

/// `g` (gathered at an index of shape `g.shape()`) as the gradient of a source of `shape`,
/// which may be larger in every dim: zeros past g's extent. Differentiable (autograd::embed).
template <class T>
Tensor<T, CPU> embed_leading(const Tensor<T, CPU>& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  if (g.numel() == numel_of(shape)) return g.reshape(shape);  // a 0-d index of a [1] source
  const Tensor<T, CPU> gv = g.dim() == shape.size() ? g : g.reshape(Shape(shape.size(), 1));
  const Shape part = gv.shape();
  return autograd::embed(gv, shape, [part](const Tensor<T, CPU>& z) {
    Tensor<T, CPU> v = z;
    for (int d = 0; d < part.size(); ++d) v = v.narrow(d, 0, part[d]);
    return v;
  });
}

/// gather, recorded for autograd (x gets scatter_add of the gradient into zeros); `op`
/// names the public op in errors.
template <class T>
Tensor<T, CPU> gather_recorded(const Tensor<T, CPU>& x, int64_t dim,
                               const Tensor<int64_t, CPU>& index, const char* op) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = gather(x, dim, index, op);
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x))
      autograd::record(
          "GatherBackward", out, autograd::collect_edges(x),
          [si = autograd::save(index), dim, in = x.shape()](std::vector<AnyTensor>& g) {
            return autograd::grads(scatter_add(zeros<T>(in), dim, si.unpack(), g[0].as<T, CPU>()));
          });
  return out;
}
}  // namespace detail

// ---- selecting ----------------------------------------------------------------------------------
/// The slices of `x` at positions `index` (0-d or 1-d) along `dim`:
/// out.select(dim, j) == x.select(dim, index[j]). See Note [Index checks].
/// Differentiable in x: its gradient is the output's index-added into zeros.
template <class T>
Tensor<T, CPU> index_select(const Tensor<T, CPU>& x, int64_t dim,
                            const Tensor<int64_t, CPU>& index) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = detail::index_select(x, dim, index, "index_select");
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x))
      autograd::record(
          "IndexSelectBackward", out, autograd::collect_edges(x),
          [si = autograd::save(index), dim, in = x.shape()](std::vector<AnyTensor>& g) {
            return autograd::grads(
                index_add(zeros<T>(in), dim, si.unpack(), g[0].as<T, CPU>(), T(1)));
          });
  return out;
}

/// out[i][j][k] = x[i][index[i][j][k]][k] for dim = 1 (likewise for any rank and dim).
/// index has x's rank, index.size(d) <= x.size(d) for d != dim; out has index's shape.
/// Differentiable in x: its gradient is the output's scatter-added into zeros.
template <class T>
Tensor<T, CPU> gather(const Tensor<T, CPU>& x, int64_t dim, const Tensor<int64_t, CPU>& index) {
  return detail::gather_recorded(x, dim, index, "gather");
}

/// gather() after broadcasting x and indices against each other in every dim but `dim`
/// (torch.take_along_dim); both need the same rank.
template <class T>
Tensor<T, CPU> take_along_dim(const Tensor<T, CPU>& x, const Tensor<int64_t, CPU>& indices,
                              int64_t dim) {
  KILN_CHECK(x.dim() == indices.dim(), ShapeError,
             "[take_along_dim] input and indices should have the same number of dimensions, got "
             "input ",
             x.shape(), " and indices ", indices.shape());
  const int d = wrap_dim(dim, x.dim(), "take_along_dim");
  if (x.dim() == 0) return detail::gather_recorded(x, d, indices, "take_along_dim");
  const auto [xs, is] = detail::take_along_dim_shapes(x.shape(), indices.shape(), d);
  // Differentiable as gather of an expanded view: the view's backward sums over broadcast.
  return detail::gather_recorded(x.expand(xs), d, indices.expand(is), "take_along_dim");
}
/// take_along_dim over the flattened x with flattened indices (torch's dim=None); 1-d.
template <class T>
Tensor<T, CPU> take_along_dim(const Tensor<T, CPU>& x, const Tensor<int64_t, CPU>& indices) {
  return detail::gather_recorded(x.reshape({-1}), 0, indices.reshape({-1}), "take_along_dim");
}

// ---- advanced indexing --------------------------------------------------------------------------
template <class T>
Tensor<T, CPU> index_put(const Tensor<T, CPU>& x, const IndexList& indices,
                         const Tensor<T, CPU>& values, bool accumulate = false);

/// x[indices] with numpy's and torch's rules for several index tensors (Note [Advanced
/// indexing]); e.g. index(x, {rows, std::nullopt, cols}) is torch's x[rows, :, cols].
/// A copy, not a view. Differentiable in x: the gradient is index-put (accumulated) into
/// zeros.
template <class T>
Tensor<T, CPU> index(const Tensor<T, CPU>& x, const IndexList& indices) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = detail::index(x, indices, "index");
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x))
      autograd::record(
          "IndexBackward", out, autograd::collect_edges(x),
          [si = detail::save_indices(indices), in = x.shape()](std::vector<AnyTensor>& g) {
            return autograd::grads(
                index_put(zeros<T>(in), detail::unpack_indices(si), g[0].as<T, CPU>(), true));
          });
  return out;
}

/// In place: self[indices] = values (or += with accumulate), values broadcast to the
/// shape of index(self, indices). Duplicate positions: the last one wins, or all are
/// summed with accumulate, deterministically (Note [Advanced indexing]). Returns self.
template <class T>
Tensor<T, CPU> index_put_(const Tensor<T, CPU>& self, const IndexList& indices,
                          const Tensor<T, CPU>& values, bool accumulate = false) {
  autograd::check_inplace(self, "index_put_", values.requires_grad());
  detail::index_put_(self, indices, values, accumulate, "index_put_");
  return self;
}

/// A copy of x with values put (or, with accumulate, added) at indices (see index_put_).
/// Differentiable in x (the gradient, with the written positions zeroed unless
/// accumulate) and in values (the gradient at the written positions, summed over the
/// dims along which values was broadcast).
template <class T>
Tensor<T, CPU> index_put(const Tensor<T, CPU>& x, const IndexList& indices,
                         const Tensor<T, CPU>& values, bool accumulate) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = x.clone();
    detail::index_put_(out, indices, values, accumulate, "index_put");
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x, values))
      autograd::record(
          "IndexPutBackward", out, autograd::collect_edges(x, values),
          [si = detail::save_indices(indices), accumulate, nx = x.requires_grad(),
           nv = values.requires_grad(), vs = values.shape()](std::vector<AnyTensor>& g) {
            const Tensor<T, CPU>& go = g[0].as<T, CPU>();
            const IndexList idx = detail::unpack_indices(si);
            Tensor<T, CPU> gx, gv;
            if (nx) gx = accumulate ? go : index_put(go, idx, zeros<T>(Shape{}));
            if (nv) gv = autograd::sum_to(index(go, idx), vs);
            return autograd::grads(gx, gv);
          });
  return out;
}

// ---- scattering ---------------------------------------------------------------------------------
/// In place: self[i][index[i][j][k]][k] = src[i][j][k] for dim = 1, for every position of
/// index. index and src have self's rank, index.size(d) <= src.size(d) for every d and
/// index.size(d) <= self.size(d) for d != dim. With duplicate indices the last source
/// element (in index order along dim) wins (Note [Deterministic scatter]). Returns self.
template <class T>
Tensor<T, CPU> scatter_(const Tensor<T, CPU>& self, int64_t dim, const Tensor<int64_t, CPU>& index,
                        const Tensor<T, CPU>& src) {
  autograd::check_inplace(self, "scatter_", src.requires_grad());
  detail::scatter_(self, dim, index, src, "scatter_");
  return self;
}
/// In place: self[...index...] = value at every position of index.
template <class T>
Tensor<T, CPU> scatter_(const Tensor<T, CPU>& self, int64_t dim, const Tensor<int64_t, CPU>& index,
                        std::type_identity_t<T> value) {
  autograd::check_inplace(self, "scatter_");
  detail::scatter_value_(self, dim, index, value, "scatter_");
  return self;
}
/// A copy of x with src scattered into it (see scatter_). Differentiable in x (the
/// gradient with the scattered positions zeroed) and in src (the gradient gathered).
template <class T>
Tensor<T, CPU> scatter(const Tensor<T, CPU>& x, int64_t dim, const Tensor<int64_t, CPU>& index,
                       const Tensor<T, CPU>& src) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = x.clone();
    detail::scatter_(out, dim, index, src, "scatter");
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x, src))
      autograd::record("ScatterBackward", out, autograd::collect_edges(x, src),
                       [si = autograd::save(index), dim, nx = x.requires_grad(),
                        ns = src.requires_grad(), ss = src.shape()](std::vector<AnyTensor>& g) {
                         const Tensor<T, CPU>& go = g[0].as<T, CPU>();
                         const Tensor<int64_t, CPU> idx = si.unpack();
                         Tensor<T, CPU> gx, gs;
                         if (nx) gx = scatter(go, dim, idx, T(0));
                         if (ns) gs = detail::embed_leading(gather(go, dim, idx), ss);
                         return autograd::grads(gx, gs);
                       });
  return out;
}
/// A copy of x with `value` scattered into it. Differentiable in x (the gradient with the
/// scattered positions zeroed).
template <class T>
Tensor<T, CPU> scatter(const Tensor<T, CPU>& x, int64_t dim, const Tensor<int64_t, CPU>& index,
                       std::type_identity_t<T> value) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = x.clone();
    detail::scatter_value_(out, dim, index, value, "scatter");
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x))
      autograd::record("ScatterBackward", out, autograd::collect_edges(x),
                       [si = autograd::save(index), dim](std::vector<AnyTensor>& g) {
                         return autograd::grads(scatter(g[0].as<T, CPU>(), dim, si.unpack(), T(0)));
                       });
  return out;
}

/// In place: self[i][index[i][j][k]][k] += src[i][j][k] for dim = 1 (shape rules of
/// scatter_). Duplicates accumulate in index order whatever the thread count; half and
/// bfloat16 add in float, integers wrap, bool ORs. Returns self.
template <class T>
Tensor<T, CPU> scatter_add_(const Tensor<T, CPU>& self, int64_t dim,
                            const Tensor<int64_t, CPU>& index, const Tensor<T, CPU>& src) {
  autograd::check_inplace(self, "scatter_add_", src.requires_grad());
  detail::scatter_add_(self, dim, index, src, "scatter_add_");
  return self;
}
/// A copy of x with src scatter-added into it. Differentiable in x (the gradient) and in
/// src (the gradient gathered).
template <class T>
Tensor<T, CPU> scatter_add(const Tensor<T, CPU>& x, int64_t dim, const Tensor<int64_t, CPU>& index,
                           const Tensor<T, CPU>& src) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = x.clone();
    detail::scatter_add_(out, dim, index, src, "scatter_add");
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x, src))
      autograd::record("ScatterAddBackward", out, autograd::collect_edges(x, src),
                       [si = autograd::save(index), dim, nx = x.requires_grad(),
                        ns = src.requires_grad(), ss = src.shape()](std::vector<AnyTensor>& g) {
                         const Tensor<T, CPU>& go = g[0].as<T, CPU>();
                         Tensor<T, CPU> gx, gs;
                         if (nx) gx = go;
                         if (ns) gs = detail::embed_leading(gather(go, dim, si.unpack()), ss);
                         return autograd::grads(gx, gs);
                       });
  return out;
}

/// In place: self.select(dim, index[j]) += alpha * src.select(dim, j) for every j.
/// index is 0-d or 1-d with src.size(dim) entries; src has self's shape except at dim.
/// Duplicates accumulate in index order whatever the thread count. Returns self.
template <class T>
Tensor<T, CPU> index_add_(const Tensor<T, CPU>& self, int64_t dim,
                          const Tensor<int64_t, CPU>& index, const Tensor<T, CPU>& src,
                          std::type_identity_t<T> alpha = T(1)) {
  autograd::check_inplace(self, "index_add_", src.requires_grad());
  detail::index_add_(self, dim, index, src, alpha, "index_add_");
  return self;
}
/// A copy of x with alpha * src index-added into it. Differentiable in x (the gradient)
/// and in src (alpha times the gradient index-selected).
template <class T>
Tensor<T, CPU> index_add(const Tensor<T, CPU>& x, int64_t dim, const Tensor<int64_t, CPU>& index,
                         const Tensor<T, CPU>& src, std::type_identity_t<T> alpha = T(1)) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = x.clone();
    detail::index_add_(out, dim, index, src, alpha, "index_add");
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x, src))
      autograd::record("IndexAddBackward", out, autograd::collect_edges(x, src),
                       [si = autograd::save(index), dim, alpha, nx = x.requires_grad(),
                        ns = src.requires_grad(), ss = src.shape()](std::vector<AnyTensor>& g) {
                         const Tensor<T, CPU>& go = g[0].as<T, CPU>();
                         Tensor<T, CPU> gx, gs;
                         if (nx) gx = go;
                         if (ns) {
                           gs = index_select(go, dim, si.unpack());
                           if (gs.shape() != ss) gs = gs.reshape(ss);  // a 0-d index
                           if (alpha != T(1)) gs = Tensor<T, CPU>(gs * alpha);
                         }
                         return autograd::grads(gx, gs);
                       });
  return out;
}

// ---- encodings and lookups ----------------------------------------------------------------------
/// [..., num_classes] int64 with a 1 at each class value of idx (torch's
/// nn.functional.one_hot). num_classes = -1 takes max(idx) + 1. Values outside
/// [0, num_classes) throw IndexError.
Tensor<int64_t, CPU> one_hot(const Tensor<int64_t, CPU>& idx, int64_t num_classes = -1);

/// Rows of weight [V, D] looked up by ids of any shape: out [..., D] with
/// out[p] = weight[ids[p]]. padding_idx (may be negative) only affects the gradient (see
/// embedding_backward), as in torch. Differentiable in weight.
template <class T>
Tensor<T, CPU> embedding(const Tensor<T, CPU>& weight, const Tensor<int64_t, CPU>& ids,
                         std::optional<int64_t> padding_idx = std::nullopt) {
  KILN_CHECK(weight.dim() == 2, ShapeError,
             "[embedding] weight must be 2-D [num_embeddings, embedding_dim], got shape ",
             weight.shape());
  std::optional<int64_t> pad;
  if (padding_idx) pad = detail::wrap_padding_idx(*padding_idx, weight.size(0), "embedding");
  Shape s = ids.shape();
  s.push_back(weight.size(1));
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = detail::index_select(weight, 0, ids.reshape({ids.numel()}), "embedding").view(s);
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(weight))
      autograd::record(
          "EmbeddingBackward", out, autograd::collect_edges(weight),
          [si = autograd::save(ids), pad, ws = weight.shape()](std::vector<AnyTensor>& g) {
            // go: [..., D] -> weight [V, D]: rows summed per id (embedding_backward, written
            // with differentiable ops); the padding row is set to zero (not multiplied, so an
            // infinite gradient there gives no NaN).
            const Tensor<int64_t, CPU> ids = si.unpack();
            const int64_t n = ids.numel();
            Tensor<T, CPU> gw = index_add(zeros<T>(ws), 0, ids.reshape({n}),
                                          g[0].as<T, CPU>().reshape({n, ws[1]}), T(1));
            if (pad) {
              const Tensor<bool, CPU> row = zeros<bool>({ws[0], 1});
              row(*pad, 0) = true;
              gw = Tensor<T, CPU>(where(row, T(0), gw));
            }
            return autograd::grads(gw);
          });
  return out;
}

// ---- backward helpers (Note [Index backward]) ---------------------------------------------------
/// Gradient of gather(x, dim, index) w.r.t. x of shape self_shape: grad (index's shape)
/// scatter-added into zeros.
template <class T>
Tensor<T, CPU> gather_backward(const Tensor<T, CPU>& grad, int64_t dim,
                               const Tensor<int64_t, CPU>& index, const Shape& self_shape) {
  KILN_CHECK(grad.shape() == index.shape(), ShapeError, "[gather_backward] grad of shape ",
             grad.shape(), " must have the index's shape ", index.shape());
  Tensor<T, CPU> out = zeros<T>(self_shape);
  detail::scatter_add_(out, dim, index, grad, "gather_backward");
  return out;
}

/// Gradient of index_select(x, dim, index) w.r.t. x of shape self_shape: grad index-added
/// into zeros.
template <class T>
Tensor<T, CPU> index_select_backward(const Tensor<T, CPU>& grad, int64_t dim,
                                     const Tensor<int64_t, CPU>& index, const Shape& self_shape) {
  Tensor<T, CPU> out = zeros<T>(self_shape);
  detail::index_add_(out, dim, index, grad, T(1), "index_select_backward");
  return out;
}

/// Gradient of take_along_dim(x, indices, dim) w.r.t. x of shape self_shape.
template <class T>
Tensor<T, CPU> take_along_dim_backward(const Tensor<T, CPU>& grad,
                                       const Tensor<int64_t, CPU>& indices, int64_t dim,
                                       const Shape& self_shape) {
  KILN_CHECK(self_shape.size() == indices.dim(), ShapeError,
             "[take_along_dim_backward] input of shape ", self_shape, " and indices ",
             indices.shape(), " should have the same number of dimensions");
  const int d = wrap_dim(dim, indices.dim(), "take_along_dim_backward");
  if (indices.dim() == 0) return gather_backward(grad, d, indices, self_shape);
  const auto [xs, is] = detail::take_along_dim_shapes(self_shape, indices.shape(), d);
  KILN_CHECK(grad.shape() == is, ShapeError, "[take_along_dim_backward] grad of shape ",
             grad.shape(), " must have the output's shape ", is);
  Tensor<T, CPU> g = zeros<T>(xs);
  detail::scatter_add_(g, d, indices.expand(is), grad, "take_along_dim_backward");
  return detail::sum_to(g, self_shape);
}
/// Gradient of the flattened take_along_dim(x, indices) w.r.t. x of shape self_shape.
template <class T>
Tensor<T, CPU> take_along_dim_backward(const Tensor<T, CPU>& grad,
                                       const Tensor<int64_t, CPU>& indices,
                                       const Shape& self_shape) {
  KILN_CHECK(grad.numel() == indices.numel(), ShapeError,
             "[take_along_dim_backward] grad of shape ", grad.shape(),
             " must have as many elements as indices ", indices.shape());
  Tensor<T, CPU> g = zeros<T>({numel_of(self_shape)});
  detail::scatter_add_(g, 0, indices.reshape({-1}), grad.reshape({-1}), "take_along_dim_backward");
  return g.view(self_shape);
}

/// Gradient of embedding(weight, ids, padding_idx) w.r.t. weight [num_weights, D]: the
/// rows of grad [..., D] summed per id; the padding_idx row gets no gradient.
template <class T>
Tensor<T, CPU> embedding_backward(const Tensor<T, CPU>& grad, const Tensor<int64_t, CPU>& ids,
                                  int64_t num_weights,
                                  std::optional<int64_t> padding_idx = std::nullopt) {
  KILN_CHECK(num_weights >= 0, ValueError,
             "[embedding_backward] num_weights must be non-negative, got ", num_weights);
  bool ok = grad.dim() == ids.dim() + 1;
  for (int d = 0; ok && d < ids.dim(); ++d) ok = grad.shape()[d] == ids.shape()[d];
  KILN_CHECK(ok, ShapeError, "[embedding_backward] grad of shape ", grad.shape(),
             " must be the ids' shape ", ids.shape(), " plus one embedding dim");
  const int64_t dim = grad.shape().back();
  Tensor<T, CPU> out = zeros<T>({num_weights, dim});
  detail::index_add_(out, 0, ids.reshape({ids.numel()}), grad.reshape({ids.numel(), dim}), T(1),
                     "embedding_backward");
  // Zeroing the row afterwards drops exactly the contributions of ids == padding_idx.
  if (padding_idx)
    out.select(0, detail::wrap_padding_idx(*padding_idx, num_weights, "embedding_backward"))
        .zero_();
  return out;
}

}  // namespace kiln
