// SPDX-License-Identifier: BSD-3-Clause
// Padding (torch.nn.functional.pad): constant, reflect, replicate and circular modes, and
// the backward of each.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "kiln/ops/join.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/reorder.hpp"
#include "kiln/tensor.hpp"
#include "kiln/tensor/factories.hpp"

namespace kiln {

/// How pad fills the new border.
enum class PadMode {
  Constant,   ///< a fixed value; negative pads crop
  Reflect,    ///< mirror around the edge element, which is not repeated (pad < size)
  Replicate,  ///< repeat the edge element
  Circular,   ///< wrap around from the other end (pad <= size)
};

/// "constant", "reflect", "replicate" or "circular"; ValueError otherwise.
PadMode pad_mode_from_string(std::string_view mode);

namespace detail {
/// Checked padding: the output shape and, for each input dim, the pad before (lo) and
/// after (hi) it; zero for dims that are not padded (src/pad.cpp).
struct PadPlan {
  Shape out;
  Dims lo, hi;
};
PadPlan pad_plan(const Shape& in, std::span<const int64_t> pads, PadMode mode, double value,
                 const char* op);

// Note [Padding by regions]
// For reflect, replicate and circular, each padded dim splits the output into three
// segments: the left border, the input, the right border. Each of the 3^k combinations
// (k padded dims, usually 1-3) is a block of the output whose values are one view of the
// input: the input itself along a middle segment, and along a border segment the
// reversed slice next to the edge (reflect), the edge slice of size 1 broadcast by copy_
// (replicate), or the slice at the other end (circular). So the forward is one strided
// copy per block, read straight from the input (corners included), and the backward adds
// each block of the gradient into the same view of a zero gradient, summing over the
// broadcast dims for replicate. `bcast` marks those dims.
template <class T, class D, class F>
void for_each_pad_region(const Tensor<T, D>& big, const Tensor<T, D>& small, const PadPlan& p,
                         PadMode mode, F&& f) {
  int padded[kMaxDims], k = 0;
  for (int d = 0; d < small.dim(); ++d)
    if (p.lo[d] != 0 || p.hi[d] != 0) padded[k++] = d;
  int64_t combos = 1;
  for (int j = 0; j < k; ++j) combos *= 3;
  for (int64_t c = 0; c < combos; ++c) {
    Tensor<T, D> b = big, s = small;
    Dims bcast;
    bool empty = false;
    int64_t rest = c;
    for (int j = 0; j < k && !empty; ++j, rest /= 3) {
      const int d = padded[j];
      const int64_t n = small.shape()[d], l = p.lo[d], r = p.hi[d];
      switch (rest % 3) {
        case 0:  // left border
          empty = l == 0;
          if (empty) break;
          b = b.narrow(d, 0, l);
          if (mode == PadMode::Reflect) {
            s = reversed(s.narrow(d, 1, l), 1u << d);
          } else if (mode == PadMode::Replicate) {
            s = s.narrow(d, 0, 1);
            bcast.push_back(d);
          } else {
            s = s.narrow(d, n - l, l);
          }
          break;
        case 1:
          b = b.narrow(d, l, n);
          break;
        default:  // right border
          empty = r == 0;
          if (empty) break;
          b = b.narrow(d, l + n, r);
          if (mode == PadMode::Reflect) {
            s = reversed(s.narrow(d, n - 1 - r, r), 1u << d);
          } else if (mode == PadMode::Replicate) {
            s = s.narrow(d, n - 1, 1);
            bcast.push_back(d);
          } else {
            s = s.narrow(d, 0, r);
          }
      }
    }
    if (!empty) f(b, s, bcast);
  }
}

// The part of the input that survives constant padding (negative pads crop), and the
// block of the output it lands in.
template <class T, class D>
void constant_pad_interior(const PadPlan& p, Tensor<T, D>& in, Tensor<T, D>& out) {
  for (int d = 0; d < in.dim(); ++d) {
    const int64_t l = p.lo[d], r = p.hi[d];
    if (l == 0 && r == 0) continue;
    const int64_t keep = in.shape()[d] + std::min<int64_t>(l, 0) + std::min<int64_t>(r, 0);
    in = in.narrow(d, std::max<int64_t>(-l, 0), keep);
    out = out.narrow(d, std::max<int64_t>(l, 0), keep);
  }
}

// out = x padded (the body of pad).
template <class T, class D>
void pad_into(const Tensor<T, D>& out, const Tensor<T, D>& x, const PadPlan& p, PadMode mode,
              double value) {
  if (out.numel() == 0) return;
  if (mode == PadMode::Constant) {
    const T v = static_cast<T>(value);
    // The border slabs of each padded dim (corners are filled twice: they are small),
    // then the input into the middle.
    for (int d = 0; d < x.dim(); ++d) {
      if (p.lo[d] > 0) out.narrow(d, 0, p.lo[d]).fill_(v);
      if (p.hi[d] > 0) out.narrow(d, p.out[d] - p.hi[d], p.hi[d]).fill_(v);
    }
    Tensor<T, D> in = x, mid = out;
    constant_pad_interior(p, in, mid);
    mid.copy_(in);
  } else {
    for_each_pad_region(out, x, p, mode,
                        [](const Tensor<T, D>& dst, const Tensor<T, D>& src, const Dims&) {
                          dst.copy_(src);  // size-1 replicate slices broadcast
                        });
  }
}

/// pad_backward as a differentiable op: recorded with pad as its own backward (the
/// adjoint of the adjoint), so double backward through pad works in every mode.
template <class T, class D>
Tensor<T, D> pad_grad(const Tensor<T, D>& grad, const std::vector<int64_t>& pads, PadMode mode,
                      const Shape& input_shape);
}  // namespace detail

/// Pads `x` as torch.nn.functional.pad: `pads` lists (before, after) pairs starting from
/// the LAST dim ({left, right, top, bottom, front, back, ...}) and may cover any number
/// of trailing dims up to x's rank. Constant mode fills with `value` (converted to T) and
/// crops where a pad is negative; the other modes need non-negative pads, reflect needs
/// pad < size and circular pad <= size. Returns a new contiguous tensor.
/// (torch limits reflect/replicate/circular to 1-3 padded dims of 2-D to 5-D inputs; kiln
/// allows any.) Throws ValueError on a bad pad. Differentiable in x (pad_backward).
template <class T, class D>
Tensor<T, D> pad(const Tensor<T, D>& x, const std::vector<int64_t>& pads,
                 PadMode mode = PadMode::Constant, double value = 0) {
  detail::require_cpu<D>();
  const detail::PadPlan p = detail::pad_plan(x.shape(), pads, mode, value, "pad");
  Tensor<T, D> out(p.out);
  {
    AutoGradMode off(false);
    detail::pad_into(out, x, p, mode, value);
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(x))
      autograd::record("PadBackward", out, autograd::collect_edges(x),
                       [pads, mode, in = x.shape()](std::vector<AnyTensor>& g) {
                         return autograd::grads(detail::pad_grad(g[0].as<T, D>(), pads, mode, in));
                       });
  return out;
}

/// pad with the mode given by name: "constant", "reflect", "replicate" or "circular".
template <class T, class D>
Tensor<T, D> pad(const Tensor<T, D>& x, const std::vector<int64_t>& pads, std::string_view mode,
                 double value = 0) {
  return pad(x, pads, pad_mode_from_string(mode), value);
}

/// Gradient of pad(x, pads, mode) with respect to x, for x of `input_shape`. Constant:
/// the middle block of `grad` (zeros where the forward cropped). Reflect, replicate,
/// circular: every output element's gradient is added to the input element it was read
/// from (Note [Padding by regions]).
template <class T, class D>
Tensor<T, D> pad_backward(const Tensor<T, D>& grad, const std::vector<int64_t>& pads, PadMode mode,
                          const Shape& input_shape) {
  detail::require_cpu<D>();
  static_assert(is_floating_v<T>, "kiln: pad_backward needs a floating-point gradient");
  const detail::PadPlan p = detail::pad_plan(input_shape, pads, mode, 0.0, "pad_backward");
  KILN_CHECK(grad.shape() == p.out, ShapeError, "[pad_backward] gradient of shape ", grad.shape(),
             " does not match pad's output ", p.out, " (input ", input_shape, ")");
  Tensor<T, D> res = zeros<T, D>(input_shape);
  if (grad.numel() == 0) return res;
  if (mode == PadMode::Constant) {
    Tensor<T, D> in = res, mid = grad;
    detail::constant_pad_interior(p, in, mid);
    in.copy_(mid);
  } else {
    detail::for_each_pad_region(grad, res, p, mode,
                                [](const Tensor<T, D>& g, const Tensor<T, D>& r, const Dims& bc) {
                                  if (bc.empty()) {
                                    r += g;
                                  } else {
                                    r += sum(g, bc, /*keepdim=*/true);
                                  }
                                });
  }
  return res;
}

namespace detail {
template <class T, class D>
Tensor<T, D> pad_grad(const Tensor<T, D>& grad, const std::vector<int64_t>& pads, PadMode mode,
                      const Shape& input_shape) {
  Tensor<T, D> res;
  {
    AutoGradMode off(false);
    res = pad_backward(grad, pads, mode, input_shape);
  }
  if (autograd::needs_grad(grad))
    autograd::record("PadBackwardBackward", res, autograd::collect_edges(grad),
                     [pads, mode](std::vector<AnyTensor>& g) {
                       return autograd::grads(pad(g[0].as<T, D>(), pads, mode));
                     });
  return res;
}
}  // namespace detail

}  // namespace kiln
