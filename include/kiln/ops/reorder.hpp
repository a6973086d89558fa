// SPDX-License-Identifier: BSD-3-Clause
// Reordering and repeating elements: flip, roll, repeat, tile, and repeat's backward.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kiln/ops/join.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/tensor.hpp"
#include "kiln/tensor/factories.hpp"

namespace kiln {

namespace detail {
/// Bit mask of the dims to flip (ValueError on a repeated dim, IndexError on a bad one).
uint32_t flip_mask(const Shape& shape, const Dims& dims);
/// Per-dim shifts of roll, each in [0, size) (repeated dims add up, as rolling twice).
Dims roll_shifts(const Shape& shape, const Dims& shifts, const Dims& dims);
/// `shape` with leading 1s up to repeats.size(); checks the repeats.
Shape repeat_input_shape(const Shape& shape, const Dims& repeats, const char* op);

/// Above this many copies, repeat_backward sums them with the reduction engine.
inline constexpr int64_t kRepeatAddLimit = 16;

// Note [Repeat as one strided copy]
// repeat's output, with dim d of size r*s (r repeats of an input dim of size s), is read as
// the view [r0, s0, r1, s1, ...]: the r-entry has stride s * out_stride, the s-entry
// out_stride. The input read with stride 0 on every r-entry is that view's value, so the
// whole op is one copy_ (which coalesces and threads it). Entries of extent 1 are dropped.
// When the view would need more than kMaxDims dims, the caller loops over the repeats of
// `split_dim` and tries again with that dim unrepeated. The backward reads the gradient
// through the same view and sums over the r-entries (`rep_entries`): a few copies block
// by block with elementwise adds, many with the reduction (above kRepeatAddLimit).
struct RepeatView {
  bool fits = true;
  int split_dim = -1;
  Shape shape;
  Strides big_st, small_st;
  Dims rep_entries;
};
RepeatView repeat_view(const Shape& small, const Strides& small_st, const Dims& repeats,
                       const Strides& big_st);

/// x with the dims in `mask` reversed: a view with negative strides. Internal only: kiln's
/// public views never have negative strides (as in torch), but the evaluator walks them.
template <class T, class D>
Tensor<T, D> reversed(const Tensor<T, D>& x, uint32_t mask) {
  if (mask == 0 || x.numel() == 0) return x;
  int64_t off = x.storage_offset();
  Strides st = x.strides();
  for (int d = 0; d < x.dim(); ++d)
    if (mask >> d & 1u) {
      off += (x.shape()[d] - 1) * st[d];
      st[d] = -st[d];
    }
  return Tensor<T, D>(x.storage(), off, x.shape(), st);
}

template <class T, class D>
Tensor<T, D> restrided(const Tensor<T, D>& x, const Shape& shape, const Strides& strides) {
  return Tensor<T, D>(x.storage(), x.storage_offset(), shape, strides);
}

// out[..] = x repeated; x has out's rank (Note [Repeat as one strided copy]).
template <class T, class D>
void repeat_into(const Tensor<T, D>& out, const Tensor<T, D>& x, const Dims& repeats) {
  const RepeatView v = repeat_view(x.shape(), x.strides(), repeats, out.strides());
  if (v.fits) {
    restrided(out, v.shape, v.big_st).copy_(restrided(x, v.shape, v.small_st));
    return;
  }
  const int d = v.split_dim;
  const int64_t s = x.shape()[d];
  Dims rest = repeats;
  rest[d] = 1;
  for (int64_t j = 0; j < repeats[d]; ++j) repeat_into(out.narrow(d, j * s, s), x, rest);
}

// res (contiguous, the padded input shape) (+)= grad summed over the repeats.
template <class T, class D>
void repeat_sum_into(const Tensor<T, D>& res, const Tensor<T, D>& grad, const Dims& repeats,
                     bool accumulate) {
  const RepeatView v = repeat_view(res.shape(), res.strides(), repeats, grad.strides());
  if (v.fits) {
    // The entries left after summing are the input dims of size > 1, in order.
    const Tensor<T, D> r = res.squeeze();
    const Tensor<T, D> g = restrided(grad, v.shape, v.big_st);
    int64_t copies = 1;
    for (int64_t e : v.rep_entries) copies *= v.shape[e];
    if (copies > kRepeatAddLimit) {
      const Tensor<T, D> s = sum(g, v.rep_entries);
      if (accumulate) {
        r += s;
      } else {
        r.copy_(s);
      }
      return;
    }
    // Few copies: one elementwise pass per copy. The reduction pays a fixed cost per
    // output, which dominates when each output sums only a handful of values.
    for (int64_t c = 0; c < copies; ++c) {
      Tensor<T, D> block = g;
      int64_t rest = c;
      for (int k = v.rep_entries.size() - 1; k >= 0; --k) {  // last first: indices stay valid
        const int e = static_cast<int>(v.rep_entries[k]);
        block = block.select(e, rest % v.shape[e]);
        rest /= v.shape[e];
      }
      if (accumulate || c > 0) {
        r += block;
      } else {
        r.copy_(block);
      }
    }
    return;
  }
  const int d = v.split_dim;
  const int64_t s = res.shape()[d];
  Dims rest = repeats;
  rest[d] = 1;
  for (int64_t j = 0; j < repeats[d]; ++j)
    repeat_sum_into(res, grad.narrow(d, j * s, s), rest, accumulate || j > 0);
}

// out = x rolled by sh[d] (in [0, size)) along every dim d.
template <class T, class D>
void roll_into(const Tensor<T, D>& out, const Tensor<T, D>& x, const Dims& sh) {
  int rolled[kMaxDims], k = 0;
  for (int d = 0; d < x.dim(); ++d)
    if (sh[d] != 0) rolled[k++] = d;
  // Each rolled dim splits into two blocks that swap places: 2^k block copies.
  for (uint32_t combo = 0; combo < (1u << k); ++combo) {
    Tensor<T, D> dst = out, src = x;
    for (int j = 0; j < k; ++j) {
      const int d = rolled[j];
      const int64_t n = x.shape()[d], s = sh[d];
      if (combo >> j & 1u) {  // the last s elements wrap to the front
        dst = dst.narrow(d, 0, s);
        src = src.narrow(d, n - s, s);
      } else {
        dst = dst.narrow(d, s, n - s);
        src = src.narrow(d, 0, n - s);
      }
    }
    dst.copy_(src);
  }
}

/// repeat_backward as a differentiable op: recorded with repeat as its own backward (the
/// adjoint of the adjoint), so double backward through repeat and tile works.
template <class T, class D>
Tensor<T, D> repeat_grad(const Tensor<T, D>& grad, const Shape& input_shape, const Dims& repeats);
}  // namespace detail

/// A copy of `x` with the order of elements reversed along each of `dims` (torch.flip).
/// The backward of flip is flip of the gradient over the same dims.
template <class T, class D>
Tensor<T, D> flip(const Tensor<T, D>& x, const Dims& dims) {
  detail::require_cpu<D>();
  Tensor<T, D> out;
  {
    AutoGradMode off(false);
    out = detail::reversed(x, detail::flip_mask(x.shape(), dims)).clone();
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x))
      autograd::record("FlipBackward", out, autograd::collect_edges(x),
                       [dims](std::vector<AnyTensor>& g) {
                         return autograd::grads(flip(g[0].as<T, D>(), dims));
                       });
  return out;
}

/// A copy of `x` rolled by `shifts[i]` along `dims[i]` (torch.roll): element i moves to
/// (i + shift) mod size. With `dims` empty, `shifts` must have one entry and the tensor
/// is rolled as if flattened. The backward of roll is roll of the gradient by the negated
/// shifts over the same dims.
template <class T, class D>
Tensor<T, D> roll(const Tensor<T, D>& x, const Dims& shifts, const Dims& dims) {
  detail::require_cpu<D>();
  if (dims.empty()) {
    KILN_CHECK(shifts.size() == 1, ValueError,
               "[roll] without dims, shifts must have exactly one entry, got ", shifts, " (shape ",
               x.shape(), ")");
    return roll(x.reshape({x.numel()}), shifts, Dims{0}).view(x.shape());
  }
  const Dims sh = detail::roll_shifts(x.shape(), shifts, dims);
  Tensor<T, D> out(x.shape());
  if (out.numel() > 0) {
    AutoGradMode off(false);
    detail::roll_into(out, x, sh);
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x))
      autograd::record("RollBackward", out, autograd::collect_edges(x),
                       [sh](std::vector<AnyTensor>& g) {
                         // Roll back by size - shift along every rolled dim.
                         const Tensor<T, D>& go = g[0].as<T, D>();
                         Dims back, dims;
                         for (int d = 0; d < go.dim(); ++d)
                           if (sh[d] != 0) {
                             back.push_back(go.shape()[d] - sh[d]);
                             dims.push_back(d);
                           }
                         return autograd::grads(dims.empty() ? go : roll(go, back, dims));
                       });
  return out;
}

/// roll along one dim.
template <class T, class D>
Tensor<T, D> roll(const Tensor<T, D>& x, int64_t shift, int64_t dim) {
  return roll(x, Dims{shift}, Dims{dim});
}
/// roll of the flattened tensor, reshaped back.
template <class T, class D>
Tensor<T, D> roll(const Tensor<T, D>& x, int64_t shift) {
  return roll(x, Dims{shift}, Dims{});
}

/// `x` repeated `repeats[i]` times along dim i (torch.Tensor.repeat). When `repeats` has
/// more entries than x has dims, x is first viewed with leading size-1 dims. Throws
/// ShapeError when it has fewer, ValueError on a negative repeat. Differentiable: the
/// gradient is summed over the repeats (repeat_backward).
template <class T, class D>
Tensor<T, D> repeat(const Tensor<T, D>& x, const Dims& repeats) {
  detail::require_cpu<D>();
  const Shape xs = detail::repeat_input_shape(x.shape(), repeats, "repeat");
  Shape out_shape = xs;
  for (int d = 0; d < xs.size(); ++d) out_shape[d] *= repeats[d];
  Tensor<T, D> out(out_shape);
  {
    AutoGradMode off(false);
    Tensor<T, D> xv = x;
    while (xv.dim() < xs.size()) xv = xv.unsqueeze(0);
    if (out.numel() > 0) detail::repeat_into(out, xv, repeats);
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x))
      autograd::record("RepeatBackward", out, autograd::collect_edges(x),
                       [in = x.shape(), repeats](std::vector<AnyTensor>& g) {
                         return autograd::grads(detail::repeat_grad(g[0].as<T, D>(), in, repeats));
                       });
  return out;
}

/// torch.tile: repeat, where `reps` shorter than x's rank is padded with leading 1s.
template <class T, class D>
Tensor<T, D> tile(const Tensor<T, D>& x, const Dims& reps) {
  Dims r = reps;
  while (r.size() < x.dim()) r.insert(0, 1);
  return repeat(x, r);
}

/// Gradient of repeat(x, repeats) with respect to x, for x of `input_shape`: `grad`
/// summed over the repeats. (tile's backward is this with tile's padded repeats.)
template <class T, class D>
Tensor<T, D> repeat_backward(const Tensor<T, D>& grad, const Shape& input_shape,
                             const Dims& repeats) {
  detail::require_cpu<D>();
  static_assert(is_floating_v<T>, "kiln: repeat_backward needs a floating-point gradient");
  const Shape xs = detail::repeat_input_shape(input_shape, repeats, "repeat_backward");
  Shape out_shape = xs;
  for (int d = 0; d < xs.size(); ++d) out_shape[d] *= repeats[d];
  KILN_CHECK(grad.shape() == out_shape, ShapeError, "[repeat_backward] gradient of shape ",
             grad.shape(), " does not match repeat's output ", out_shape, " (input ", input_shape,
             ", repeats ", repeats, ")");
  Tensor<T, D> res(xs);
  if (grad.numel() == 0) {
    res.zero_();  // no repeat (or an empty input): nothing flows back
  } else {
    detail::repeat_sum_into(res, grad, repeats, false);
  }
  return res.view(input_shape);
}

namespace detail {
template <class T, class D>
Tensor<T, D> repeat_grad(const Tensor<T, D>& grad, const Shape& input_shape, const Dims& repeats) {
  Tensor<T, D> res;
  {
    AutoGradMode off(false);
    res = repeat_backward(grad, input_shape, repeats);
  }
  if (autograd::needs_grad(grad))
    autograd::record("RepeatBackwardBackward", res, autograd::collect_edges(grad),
                     [repeats](std::vector<AnyTensor>& g) {
                       return autograd::grads(repeat(g[0].as<T, D>(), repeats));
                     });
  return res;
}
}  // namespace detail

}  // namespace kiln
