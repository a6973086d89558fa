// SPDX-License-Identifier: BSD-3-Clause
// Helpers shared by the indexing and mask tests: coordinate loops over any layout,
// elementwise comparison, random tensors in several layouts.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln_test {

using Coord = std::vector<int64_t>;

/// Calls f(coord) for every coordinate of `s` in row-major order (once for a 0-d shape).
template <class F>
void for_each_coord(const kiln::Shape& s, F&& f) {
  const int64_t n = kiln::numel_of(s);
  Coord c(static_cast<std::size_t>(s.size()), 0);
  for (int64_t i = 0; i < n; ++i) {
    f(c);
    for (int d = s.size() - 1; d >= 0; --d) {
      if (++c[static_cast<std::size_t>(d)] < s[d]) break;
      c[static_cast<std::size_t>(d)] = 0;
    }
  }
}

/// The element at `c`, read through the tensor's strides.
template <class T>
T& el(const kiln::Tensor<T>& t, const Coord& c) {
  return t.at(std::span<const int64_t>(c.data(), c.size()));
}

template <class T>
double to_double(T v) {
  if constexpr (kiln::is_reduced_float_v<T>)
    return static_cast<double>(static_cast<float>(v));
  else
    return static_cast<double>(v);
}

template <class T>
bool same_value(T a, T b) {
  if constexpr (kiln::is_reduced_float_v<T>)
    return a.bits == b.bits;
  else
    return a == b;
}

/// Requires equal shapes and elementwise identical values (bitwise for half/bfloat16).
template <class T>
void check_equal(const kiln::Tensor<T>& got, const kiln::Tensor<T>& want) {
  REQUIRE(got.shape() == want.shape());
  int bad = 0;
  for_each_coord(want.shape(), [&](const Coord& c) {
    if (!same_value(el(got, c), el(want, c)) && bad++ < 5)
      FAIL_CHECK("at element " << kiln::Shape(c) << ": got " << to_double(el(got, c)) << ", want "
                               << to_double(el(want, c)));
  });
  CHECK(bad == 0);
}

/// Small random integers as dtype T (exact in every dtype, so sums do not round).
template <class T>
kiln::Tensor<T> random_values(const kiln::Shape& s) {
  if constexpr (std::is_same_v<T, bool>)
    return kiln::randint<bool>(0, 2, s);
  else if constexpr (std::is_unsigned_v<T>)
    return kiln::randint<T>(0, 20, s);
  else
    return kiln::randint<T>(-9, 10, s);
}

/// A tensor of shape s (rank 3) in several layouts: contiguous, permuted (transposed),
/// sliced with steps; plus expanded (stride 0) when `expanded` (read-only inputs).
template <class T>
std::vector<std::pair<std::string, kiln::Tensor<T>>> layouts3(const kiln::Shape& s,
                                                              bool expanded = false) {
  std::vector<std::pair<std::string, kiln::Tensor<T>>> out;
  out.emplace_back("contiguous", random_values<T>(s));
  out.emplace_back("permuted", random_values<T>({s[2], s[1], s[0]}).permute({2, 1, 0}));
  out.emplace_back("stepped", random_values<T>({2 * s[0], s[1], 3 * s[2] + 1})
                                  .slice(0, 0, 2 * s[0], 2)
                                  .slice(2, 1, 3 * s[2] + 1, 3));
  if (expanded) out.emplace_back("expanded", random_values<T>({s[0], 1, s[2]}).expand(s));
  return out;
}

/// Random indices in [0, hi) of shape s, contiguous or read through a transposed view.
inline kiln::Tensor<int64_t> random_index(const kiln::Shape& s, int64_t hi, bool transposed) {
  if (!transposed || s.size() < 2) return kiln::randint<int64_t>(0, hi, s);
  kiln::Shape r = s;
  std::swap(r[0], r[r.size() - 1]);
  return kiln::randint<int64_t>(0, hi, r).transpose(0, r.size() - 1);
}

}  // namespace kiln_test
