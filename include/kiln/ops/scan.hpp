// SPDX-License-Identifier: BSD-3-Clause
// Cumulative ops along a dim: cumsum, cumprod, and cumsum's backward (a reversed cumsum).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kiln/core/dtype.hpp"
#include "kiln/core/parallel.hpp"
#include "kiln/expr/math.hpp"
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

template <class E>
constexpr void require_scan_input() {
  static_assert(std::is_same_v<expr::device_t<E>, CPU>,
                "kiln: cumsum/cumprod on CUDA tensors need the CUDA backend (kiln::cuda), not "
                "built yet");
}
}  // namespace detail

/// Running sums along `dim`: out[..., i, ...] = sum of x[..., :i+1, ...]. bool and integer
/// inputs give int64 (as in torch, so no overflow at the input's width); half and bfloat16
/// accumulate in float, float in double.
template <expr::Expr E>
Tensor<detail::scan_out_t<expr::value_t<E>>, CPU> cumsum(const E& x, int64_t dim) {
  detail::require_scan_input<E>();
  using T = expr::value_t<E>;
  return detail::scan_impl<false, false>(Tensor<T, CPU>(x), dim, "cumsum");
}

/// Running products along `dim`, with cumsum's dtype rules (integers wrap in int64).
template <expr::Expr E>
Tensor<detail::scan_out_t<expr::value_t<E>>, CPU> cumprod(const E& x, int64_t dim) {
  detail::require_scan_input<E>();
  using T = expr::value_t<E>;
  return detail::scan_impl<true, false>(Tensor<T, CPU>(x), dim, "cumprod");
}

/// Gradient of cumsum along `dim`: the running sums of `grad_out` taken from the end.
template <class T>
Tensor<T, CPU> cumsum_backward(const Tensor<T, CPU>& grad_out, int64_t dim) {
  static_assert(is_floating_v<T>, "kiln: cumsum_backward needs a floating-point gradient");
  return detail::scan_impl<false, true>(grad_out, dim, "cumsum_backward");
}

}  // namespace kiln
