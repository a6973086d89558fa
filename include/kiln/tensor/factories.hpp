// SPDX-License-Identifier: BSD-3-Clause
// Tensor factories: empty, zeros, ones, full, arange, linspace, eye, tensor, from_blob.
#pragma once

#include <cmath>
#include <functional>
#include <initializer_list>
#include <vector>

#include "kiln/tensor.hpp"

namespace kiln {

/// A new contiguous tensor with uninitialised contents.
template <class T = float, class D = CPU>
Tensor<T, D> empty(const Shape& shape) {
  return Tensor<T, D>(shape);
}
template <class T = float, class D = CPU>
Tensor<T, D> full(const Shape& shape, T value) {
  Tensor<T, D> t(shape);
  t.fill_(value);
  return t;
}
template <class T = float, class D = CPU>
Tensor<T, D> zeros(const Shape& shape) {
  return full<T, D>(shape, T(0));
}
template <class T = float, class D = CPU>
Tensor<T, D> ones(const Shape& shape) {
  return full<T, D>(shape, T(1));
}
template <class T, class D>
Tensor<T, D> empty_like(const Tensor<T, D>& t) {
  return Tensor<T, D>(t.shape());
}
template <class T, class D>
Tensor<T, D> zeros_like(const Tensor<T, D>& t) {
  return zeros<T, D>(t.shape());
}
template <class T, class D>
Tensor<T, D> ones_like(const Tensor<T, D>& t) {
  return ones<T, D>(t.shape());
}
template <class T, class D>
Tensor<T, D> full_like(const Tensor<T, D>& t, T value) {
  return full<T, D>(t.shape(), value);
}

/// Values start, start + step, ... up to (not including) end, like torch.arange.
template <class T = int64_t, class D = CPU>
Tensor<T, D> arange(double start, double end, double step = 1) {
  KILN_CHECK(step != 0, ValueError, "[arange] step must be nonzero");
  KILN_CHECK(std::isfinite(start) && std::isfinite(end), ValueError,
             "[arange] unsupported range: ", start, " -> ", end);
  KILN_CHECK((step > 0 && end >= start) || (step < 0 && end <= start), ValueError,
             "[arange] upper bound and larger bound inconsistent with step sign (start ", start,
             ", end ", end, ", step ", step, ")");
  const double len = std::ceil((end - start) / step);
  KILN_CHECK(len < 9.2e18, ValueError, "[arange] invalid size, possible overflow (start ", start,
             ", end ", end, ", step ", step, ")");
  const auto n = static_cast<int64_t>(len);
  Tensor<T, D> t(Shape{n});
  T* p = t.data();
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  return t;
}
template <class T = int64_t, class D = CPU>
Tensor<T, D> arange(double end) {
  return arange<T, D>(0, end, 1);
}

/// `steps` values evenly spaced from start to end inclusive, like torch.linspace.
template <class T = float, class D = CPU>
Tensor<T, D> linspace(double start, double end, int64_t steps) {
  KILN_CHECK(steps >= 0, ValueError, "[linspace] number of steps must be non-negative, got ",
             steps);
  Tensor<T, D> t(Shape{steps});
  T* p = t.data();
  if (steps == 1) p[0] = static_cast<T>(start);
  if (steps > 1) {
    const double step = (end - start) / static_cast<double>(steps - 1);
    // Both halves count from their own end so the last value is exactly `end` (as torch).
    for (int64_t i = 0; i < steps; ++i)
      p[i] = static_cast<T>(i < steps / 2 ? start + step * static_cast<double>(i)
                                          : end - step * static_cast<double>(steps - 1 - i));
  }
  return t;
}

/// An n x m matrix with ones on the diagonal (m = n when negative).
template <class T = float, class D = CPU>
Tensor<T, D> eye(int64_t n, int64_t m = -1) {
  if (m == -1) m = n;
  KILN_CHECK(n >= 0, ValueError, "[eye] n must be non-negative, got ", n);
  KILN_CHECK(m >= 0, ValueError, "[eye] m must be non-negative, got ", m);
  Tensor<T, D> t = zeros<T, D>({n, m});
  for (int64_t i = 0; i < std::min(n, m); ++i) t.data()[i * m + i] = T(1);
  return t;
}

/// A copy of `values` shaped as `shape` (1-D when shape is omitted).
template <class T, class D = CPU>
Tensor<T, D> from_vector(const std::vector<T>& values, const Shape& shape) {
  KILN_CHECK(numel_of(shape) == static_cast<int64_t>(values.size()), ShapeError, "[from_vector] ",
             values.size(), " values cannot fill shape ", shape);
  Tensor<T, D> t(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}
template <class T, class D = CPU>
Tensor<T, D> from_vector(const std::vector<T>& values) {
  return from_vector<T, D>(values, Shape{static_cast<int64_t>(values.size())});
}
/// kiln::tensor<float>({1, 2, 3}) and kiln::tensor<float>({{1, 2}, {3, 4}}).
template <class T, class D = CPU>
Tensor<T, D> tensor(std::initializer_list<T> values) {
  return from_vector<T, D>(std::vector<T>(values));
}
template <class T, class D = CPU>
Tensor<T, D> tensor(std::initializer_list<std::initializer_list<T>> rows) {
  std::vector<T> v;
  const int64_t cols = rows.size() ? static_cast<int64_t>(rows.begin()->size()) : 0;
  for (const auto& r : rows) {
    KILN_CHECK(static_cast<int64_t>(r.size()) == cols, ShapeError,
               "[tensor] rows have different lengths: expected ", cols, ", got ", r.size());
    v.insert(v.end(), r.begin(), r.end());
  }
  return from_vector<T, D>(v, Shape{static_cast<int64_t>(rows.size()), cols});
}
/// A 0-d tensor holding `value`.
template <class T, class D = CPU>
Tensor<T, D> scalar_tensor(T value) {
  return full<T, D>(Shape{}, value);
}

/// Wraps user memory without copying. The tensor (and its views) read and write `data`
/// directly; `deleter`, if given, runs when the last of them is gone.
template <class T, class D = CPU>
Tensor<T, D> from_blob(T* data, const Shape& shape, const Strides& strides,
                       std::function<void(void*)> deleter = {}) {
  KILN_CHECK(data != nullptr, ValueError, "[from_blob] data pointer is null (shape ", shape, ")");
  KILN_CHECK(shape.size() == strides.size(), ShapeError, "[from_blob] shape ", shape,
             " and strides ", strides, " have different ranks");
  int64_t extent = 1;
  for (int d = 0; d < shape.size(); ++d) {
    KILN_CHECK(shape[d] >= 0 && strides[d] >= 0, ShapeError,
               "[from_blob] negative size or stride in shape ", shape, " strides ", strides);
    if (shape[d] == 0) extent = 0;
    if (extent) extent += (shape[d] - 1) * strides[d];
  }
  auto storage =
      Storage<D>::from_blob(data, static_cast<std::size_t>(extent) * sizeof(T), std::move(deleter));
  return Tensor<T, D>(std::move(storage), 0, shape, strides);
}
template <class T, class D = CPU>
Tensor<T, D> from_blob(T* data, const Shape& shape, std::function<void(void*)> deleter = {}) {
  return from_blob<T, D>(data, shape, contiguous_strides(shape), std::move(deleter));
}

}  // namespace kiln
