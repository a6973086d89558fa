// SPDX-License-Identifier: BSD-3-Clause
// Helpers shared by the convolution and pooling tests: values in double, seeded inputs and
// the inner product that adjoint identities compare.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln_test {

/// Row-major values of any tensor (through its strides), as double.
template <class T>
std::vector<double> values_of(const kiln::Tensor<T>& t) {
  const kiln::Tensor<T> c = t.contiguous();
  std::vector<double> v(static_cast<std::size_t>(c.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(c.data()[i]);
  return v;
}

/// Standard normal values drawn in double from `seed`, then converted to T.
template <class T>
kiln::Tensor<T> random(const kiln::Shape& s, uint64_t seed) {
  kiln::manual_seed(seed);
  return kiln::randn<double>(s).to<T>();
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace kiln_test
