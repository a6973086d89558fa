// SPDX-License-Identifier: BSD-3-Clause
// Cumulative ops along a dim: cumsum, cumprod, and cumsum's backward (a reversed cumsum),
// all differentiable.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kiln/core/dtype.hpp"
#include "kiln/core/parallel.hpp"
#include "kiln/expr/math.hpp"
#include "kiln/expr/ops.hpp"
#include "kiln/ops/rows.hpp"
#include "kiln/tensor.hpp"

namespace kiln {

namespace detail {
/// Output dtype of cumsum/cumprod: int64 for bool and integer inputs (as in torch), else T.
template <class T>
using scan_out_t = std::conditional_t<std::is_integral_v<T>, int64_t, T>;
/// Running total: acc_t<T> (float for half/bfloat16, int64 for integers), but double for
/// float, as torch's CPU scans do: a float total drifts visibly over long rows.
template <class T>
using scan_acc_t = std::conditional_t<std::is_same_v<T, float>, double, acc_t<T>>;

// Rows strided in the input (a scan over a leading dim) are walked kScanLanes at a time,
// one element of each per step: neighbouring rows are neighbours in memory, so each cache
// line read serves all of them.
inline constexpr int kScanLanes = 16;

/// Inclusive scan (Prod: product, else sum) along dim; Reverse scans from the end.
template <bool Prod, bool Reverse, class T>
Tensor<scan_out_t<T>, CPU> scan_impl(const Tensor<T, CPU>& x, int64_t dim, const char* op) {
  using O = scan_out_t<T>;
  using A = scan_acc_t<T>;
  const int d = wrap_row_dim(dim, x.shape(), op);
  Tensor<O, CPU> out(x.shape());
  if (out.numel() == 0) return out;
  const DimRows rr = dim_rows(x.shape(), x.strides(), d);
  const int64_t n = rr.n;
  const int lanes = rr.step == 1 ? 1 : kScanLanes;
  const T* xd = x.data();
  O* od = out.data();
  const int64_t n_blocks = (rr.rows + lanes - 1) / lanes;
  parallel_for(n_blocks, row_grain(n * lanes), 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r0 = b * lanes;
      const int nl = static_cast<int>(std::min<int64_t>(lanes, rr.rows - r0));
      const T* xr[kScanLanes];
      O* yr[kScanLanes];
      A acc[kScanLanes];
      for (int l = 0; l < nl; ++l) {
        xr[l] = xd + rr.in_offset(r0 + l);
        yr[l] = od + rr.out_offset(r0 + l, n);
        acc[l] = A(Prod ? 1 : 0);
      }
      for (int64_t i = 0; i < n; ++i) {
        const int64_t k = Reverse ? n - 1 - i : i;
        for (int l = 0; l < nl; ++l) {
          const A v = static_cast<A>(xr[l][k * rr.step]);
          acc[l] = Prod ? math::mul(acc[l], v) : math::add(acc[l], v);
          yr[l][k * rr.inner] = static_cast<O>(acc[l]);
        }
      }
    }
  });
  return out;
}

/// The CUDA scans (cuda/scan.cu, Note [CUDA scans]); not recorded by autograd yet.
template <bool Prod, class T>
Tensor<scan_out_t<T>, CUDA> scan_cuda(const Tensor<T, CUDA>& x, int64_t dim);

template <class T>
Tensor<T, CPU> reverse_cumsum(const Tensor<T, CPU>& g, int64_t dim);
template <class T>
Tensor<T, CPU> cumprod_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x,
                                const Tensor<T, CPU>& y, int64_t dim);
}  // namespace detail

/// Running sums along `dim`: out[..., i, ...] = sum of x[..., :i+1, ...]. bool and integer
/// inputs give int64 (as in torch, so no overflow at the input's width); half and bfloat16
/// accumulate in float, float in double.
template <expr::Expr E>
Tensor<detail::scan_out_t<expr::value_t<E>>, expr::device_t<E>> cumsum(const E& x, int64_t dim) {
  using T = expr::value_t<E>;
  if constexpr (std::is_same_v<expr::device_t<E>, CUDA>) {
    return detail::scan_cuda<false>(Tensor<T, CUDA>(x), dim);
  } else {
    const Tensor<T, CPU> xt(x);
    Tensor<detail::scan_out_t<T>, CPU> out;
    {
      AutoGradMode off(false);
      out = detail::scan_impl<false, false>(xt, dim, "cumsum");
    }
    if constexpr (is_floating_v<T>)
      if (autograd::needs_grad(xt))
        autograd::record("CumsumBackward", out, autograd::collect_edges(xt),
                         [dim](std::vector<AnyTensor>& g) {
                           return autograd::grads(detail::reverse_cumsum(g[0].as<T, CPU>(), dim));
                         });
    return out;
  }
}

/// Running products along `dim`, with cumsum's dtype rules (integers wrap in int64).
/// The gradient is exact also where the input has zeros; second derivatives
/// (create_graph) are supported only for inputs without zeros (AutogradError otherwise).
template <expr::Expr E>
Tensor<detail::scan_out_t<expr::value_t<E>>, expr::device_t<E>> cumprod(const E& x, int64_t dim) {
  using T = expr::value_t<E>;
  if constexpr (std::is_same_v<expr::device_t<E>, CUDA>) {
    return detail::scan_cuda<true>(Tensor<T, CUDA>(x), dim);
  } else {
    const Tensor<T, CPU> xt(x);
    Tensor<detail::scan_out_t<T>, CPU> out;
    {
      AutoGradMode off(false);
      out = detail::scan_impl<true, false>(xt, dim, "cumprod");
    }
    if constexpr (is_floating_v<T>)
      if (autograd::needs_grad(xt))
        autograd::record_with_output(
            "CumprodBackward", out, autograd::collect_edges(xt),
            [dim, sx = autograd::save(xt)](std::vector<AnyTensor>& g, const Tensor<T, CPU>& y) {
              return autograd::grads(
                  detail::cumprod_backward(g[0].as<T, CPU>(), sx.unpack(), y, dim));
            });
    return out;
  }
}

/// Gradient of cumsum along `dim`: the running sums of `grad_out` taken from the end
/// (differentiable: its backward is cumsum).
template <class T>
Tensor<T, CPU> cumsum_backward(const Tensor<T, CPU>& grad_out, int64_t dim) {
  static_assert(is_floating_v<T>, "kiln: cumsum_backward needs a floating-point gradient");
  return detail::reverse_cumsum(grad_out, dim);
}

namespace detail {
template <class T>
Tensor<T, CPU> reverse_cumsum(const Tensor<T, CPU>& g, int64_t dim) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = scan_impl<false, true>(g, dim, "cumsum_backward");
  }
  if (autograd::needs_grad(g))
    autograd::record("CumsumBackwardBackward", out, autograd::collect_edges(g),
                     [dim](std::vector<AnyTensor>& gs) {
                       return autograd::grads(cumsum(gs[0].as<T, CPU>(), dim));
                     });
  return out;
}

// Note [Cumprod backward]
// d y_i / d x_j = prod_{k <= i, k != j} x_k for i >= j. Without zeros that is y_i / x_j,
// so g_x = reverse_cumsum(g * y) / x, written with differentiable ops (create_graph works).
// With zeros, let z be the first zero of a row: for j < z the same formula holds (y_i = 0
// for i >= z adds nothing); for j = z the gradient is reverse_cumsum(g * y') at z, y' the
// cumprod of the row with x_z set to 1; for j > z it is 0. That is exact to first order
// but its second derivative would miss terms through x_z, so with create_graph an input
// with zeros throws instead.
template <class T>
Tensor<T, CPU> cumprod_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x,
                                const Tensor<T, CPU>& y, int64_t dim) {
  bool has_zero = false;
  {
    AutoGradMode off(false);
    const Tensor<T, CPU> xd = x.detach().contiguous();
    for (int64_t i = 0; i < xd.numel() && !has_zero; ++i) has_zero = xd.data()[i] == T(0);
  }
  if (!has_zero) return Tensor<T, CPU>(reverse_cumsum(Tensor<T, CPU>(g * y), dim) / x);
  KILN_CHECK(!autograd::GradMode::is_enabled(), AutogradError,
             "[CumprodBackward] double backward through cumprod of an input with zeros is not "
             "supported (shape ",
             x.shape(), ")");
  const Tensor<int64_t, CPU> nz = cumsum(x == T(0), dim);         // zeros up to here
  const Tensor<bool, CPU> first = x == T(0) && nz == int64_t(1);  // a row's first zero
  const Tensor<T, CPU> y1 = cumprod(where(first, T(1), x), dim);
  const Tensor<T, CPU> before = reverse_cumsum(Tensor<T, CPU>(g * y), dim);
  const Tensor<T, CPU> at = reverse_cumsum(Tensor<T, CPU>(g * y1), dim);
  return Tensor<T, CPU>(where(nz == int64_t(0), before / x, where(first, at, T(0))));
}
}  // namespace detail

}  // namespace kiln
