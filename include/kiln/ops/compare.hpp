// SPDX-License-Identifier: BSD-3-Clause
// Whole-tensor comparisons: equal and allclose (torch.equal, torch.allclose).
#pragma once

#include <cmath>
#include <type_traits>

#include "kiln/tensor.hpp"

namespace kiln {

namespace detail {
template <class T>
double as_double(T v) {
  if constexpr (is_reduced_float_v<T>)
    return static_cast<double>(static_cast<float>(v));
  else
    return static_cast<double>(v);
}
}  // namespace detail

/// Whether a and b have the same shape and equal elements (NaN never equals NaN).
template <class T>
bool equal(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b) {
  if (a.shape() != b.shape()) return false;
  const Tensor<T, CPU> ca = a.contiguous(), cb = b.contiguous();
  for (int64_t i = 0; i < ca.numel(); ++i)
    if (!(ca.data()[i] == cb.data()[i])) return false;
  return true;
}

/// |a - b| <= atol + rtol * |b| elementwise, with b broadcast to a's shape, as
/// torch.allclose; NaNs compare equal only with equal_nan. Throws ShapeError when the
/// shapes do not broadcast.
template <class T>
bool allclose(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b, double rtol = 1e-5,
              double atol = 1e-8, bool equal_nan = false) {
  const Shape s = broadcast_shapes(a.shape(), b.shape(), "allclose");
  const Tensor<T, CPU> ca = a.expand(s).contiguous(), cb = b.expand(s).contiguous();
  for (int64_t i = 0; i < ca.numel(); ++i) {
    const double x = detail::as_double(ca.data()[i]), y = detail::as_double(cb.data()[i]);
    if (std::isnan(x) || std::isnan(y)) {
      if (equal_nan && std::isnan(x) && std::isnan(y)) continue;
      return false;
    }
    if (x == y) continue;  // equal infinities
    if (!(std::abs(x - y) <= atol + rtol * std::abs(y))) return false;
  }
  return true;
}

}  // namespace kiln
