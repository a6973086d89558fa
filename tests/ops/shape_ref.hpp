// SPDX-License-Identifier: BSD-3-Clause
// Reference arrays and input layouts for the shape-op tests: a plain row-major array read
// from a tensor element by element (through at(), so through its strides), built from an
// index function, and compared with a kiln result exactly.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kiln/kiln.hpp"

namespace shape_ref {

using kiln::Shape;
using kiln::Tensor;
using Index = std::vector<int64_t>;

template <class T>
struct Array {
  Shape shape;
  std::vector<T> v;
  T operator()(const Index& idx) const {
    int64_t flat = 0;
    for (int d = 0; d < shape.size(); ++d)
      flat = flat * shape[d] + idx[static_cast<std::size_t>(d)];
    return v[static_cast<std::size_t>(flat)];
  }
};

/// Calls f(idx) for every index of `s` in row-major order.
template <class F>
void for_each_index(const Shape& s, F&& f) {
  const int64_t n = kiln::numel_of(s);
  Index idx(static_cast<std::size_t>(s.size()), 0);
  for (int64_t k = 0; k < n; ++k) {
    f(static_cast<const Index&>(idx));
    for (int d = s.size() - 1; d >= 0; --d) {
      if (++idx[static_cast<std::size_t>(d)] < s[d]) break;
      idx[static_cast<std::size_t>(d)] = 0;
    }
  }
}

/// The array whose element idx is f(idx).
template <class T, class F>
Array<T> build(const Shape& s, F&& f) {
  Array<T> a{s, {}};
  for_each_index(s, [&](const Index& i) { a.v.push_back(static_cast<T>(f(i))); });
  return a;
}

template <class T>
Array<T> to_array(const Tensor<T>& t) {
  return build<T>(t.shape(), [&](const Index& i) {
    return t.at(std::span<const int64_t>(i.data(), i.size()));
  });
}

/// Exact equality of shape and every element (data movement never changes a value).
template <class T>
void check_equal(const Tensor<T>& got, const Array<T>& want) {
  REQUIRE(got.shape() == want.shape);
  const Array<T> g = to_array(got);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < g.v.size(); ++i)
    if (!(g.v[i] == want.v[i])) {
      if (bad++ < 5)
        FAIL_CHECK("element " << i << ": got " << static_cast<double>(g.v[i]) << ", want "
                              << static_cast<double>(want.v[i]));
    }
  CHECK(bad == 0);
}

/// Distinct-ish values for element i of a contiguous tensor (bool alternates irregularly).
template <class T>
T value_at(int64_t i, int seed) {
  if constexpr (std::is_same_v<T, bool>) {
    return (i * 7 + seed) % 3 == 0;
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(i * 3 - 50 + seed);
  } else {
    return static_cast<T>(static_cast<float>(i) * 0.25f - 7.5f + static_cast<float>(seed));
  }
}

template <class T>
Tensor<T> sample(const Shape& s, int seed = 0) {
  Tensor<T> t(s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = value_at<T>(i, seed);
  return t;
}

/// Tensors of shape `s` in several layouts: contiguous; permuted (dims reversed in
/// memory); stepped (every dim sliced with step 2 from a larger base); expanded (dim 0
/// broadcast from size 1, stride 0).
template <class T>
std::vector<std::pair<std::string, Tensor<T>>> layouts(const Shape& s, int seed = 0) {
  std::vector<std::pair<std::string, Tensor<T>>> out;
  out.emplace_back("contiguous", sample<T>(s, seed));
  if (s.size() >= 2) {
    Shape rs;
    kiln::Dims perm;
    for (int d = s.size() - 1; d >= 0; --d) {
      rs.push_back(s[d]);
      perm.push_back(d);
    }
    out.emplace_back("permuted", sample<T>(rs, seed).permute(perm));
  }
  if (s.size() >= 1) {
    Shape big;
    for (int64_t e : s) big.push_back(2 * e + 1);
    Tensor<T> t = sample<T>(big, seed);
    for (int d = 0; d < s.size(); ++d) t = t.slice(d, 1, 2 * s[d] + 1, 2);
    out.emplace_back("stepped", t);
    Shape one = s;
    one[0] = 1;
    out.emplace_back("expanded", sample<T>(one, seed).expand(s));
  }
  for (auto& [name, t] : out) REQUIRE(t.shape() == s);
  return out;
}

}  // namespace shape_ref
