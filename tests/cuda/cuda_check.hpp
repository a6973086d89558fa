// SPDX-License-Identifier: BSD-3-Clause
// What the CUDA tests share: skipping where no GPU is present, and comparing a result
// copied back from the device with the CPU's.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "kiln/cuda/runtime.hpp"
#include "kiln/kiln.hpp"

namespace kiln_test {

/// Whether a GPU is present; where none is, warns that `what` is skipped.
inline bool have_gpu(const char* what) {
  if (kiln::cuda::is_available()) return true;
  WARN("no CUDA device: " << what << " skipped");
  return false;
}

/// Largest |a - b| / max(1, |b|) over the elements (through any strides). A NaN matches a
/// NaN and equal infinities match; a NaN against a number counts as an infinite difference.
template <class T>
double max_rel_diff(const kiln::Tensor<T>& got, const kiln::Tensor<T>& want) {
  REQUIRE(got.shape() == want.shape());
  const auto g = got.contiguous(), w = want.contiguous();
  double m = 0;
  for (int64_t i = 0; i < g.numel(); ++i) {
    const double a = static_cast<double>(g.data()[i]), b = static_cast<double>(w.data()[i]);
    if (std::isnan(a) || std::isnan(b)) {
      if (std::isnan(a) != std::isnan(b)) return std::numeric_limits<double>::infinity();
      continue;
    }
    if (a == b) continue;
    m = std::max(m, std::abs(a - b) / std::max(1.0, std::abs(b)));
  }
  return m;
}

/// A tolerance by dtype: the rounding a comparison of T results allows.
template <class T>
double by_dtype(double half, double bfloat16, double single, double dbl) {
  if constexpr (std::is_same_v<T, kiln::half>) return half;
  if constexpr (std::is_same_v<T, kiln::bfloat16>) return bfloat16;
  if constexpr (std::is_same_v<T, float>) return single;
  return dbl;
}

}  // namespace kiln_test
