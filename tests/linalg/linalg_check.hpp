// SPDX-License-Identifier: BSD-3-Clause
// Plain-loop matrices in double for the linalg tests: read a tensor's matrices, multiply,
// transpose, compare, and reference determinants and solves written without Eigen.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "kiln/kiln.hpp"

namespace linalg_test {

/// A row-major matrix of doubles.
struct M {
  int64_t r = 0, c = 0;
  std::vector<double> v;
  M() = default;
  M(int64_t rows, int64_t cols) : r(rows), c(cols), v(static_cast<std::size_t>(rows * cols)) {}
  double& operator()(int64_t i, int64_t j) { return v[static_cast<std::size_t>(i * c + j)]; }
  double operator()(int64_t i, int64_t j) const { return v[static_cast<std::size_t>(i * c + j)]; }
};

inline M identity(int64_t n) {
  M m(n, n);
  for (int64_t i = 0; i < n; ++i) m(i, i) = 1;
  return m;
}
inline M matmul(const M& a, const M& b) {
  REQUIRE(a.c == b.r);
  M out(a.r, b.c);
  for (int64_t i = 0; i < a.r; ++i)
    for (int64_t j = 0; j < b.c; ++j) {
      double s = 0;
      for (int64_t k = 0; k < a.c; ++k) s += a(i, k) * b(k, j);
      out(i, j) = s;
    }
  return out;
}
inline M transpose(const M& a) {
  M out(a.c, a.r);
  for (int64_t i = 0; i < a.r; ++i)
    for (int64_t j = 0; j < a.c; ++j) out(j, i) = a(i, j);
  return out;
}
inline double max_abs(const M& a) {
  double m = 0;
  for (double x : a.v) m = std::max(m, std::abs(x));
  return m;
}
/// max |a - b|; infinity when the shapes differ.
inline double max_diff(const M& a, const M& b) {
  if (a.r != b.r || a.c != b.c) return std::numeric_limits<double>::infinity();
  double m = 0;
  for (std::size_t i = 0; i < a.v.size(); ++i) m = std::max(m, std::abs(a.v[i] - b.v[i]));
  return m;
}

/// Whether two lists have the same length and agree within atol + rtol |b| everywhere.
inline bool all_close(const std::vector<double>& a, const std::vector<double>& b, double atol,
                      double rtol = 0) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(std::abs(a[i] - b[i]) <= atol + rtol * std::abs(b[i]))) return false;
  return true;
}

/// Every element of a tensor (any layout), row-major, as double.
template <class T>
std::vector<double> values(const kiln::Tensor<T>& t) {
  const kiln::Tensor<T> c = t.contiguous();
  std::vector<double> out(static_cast<std::size_t>(c.numel()));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(c.data()[i]);
  return out;
}

/// The matrices of a tensor [..., r, c] (a 1-D tensor is one column), in batch order.
template <class T>
std::vector<M> matrices(const kiln::Tensor<T>& t) {
  const int64_t r = t.dim() >= 2 ? t.size(-2) : t.size(-1), c = t.dim() >= 2 ? t.size(-1) : 1;
  const std::vector<double> v = values(t);
  const int64_t per = r * c, count = per == 0 ? 0 : static_cast<int64_t>(v.size()) / per;
  std::vector<M> out;
  for (int64_t b = 0; b < count; ++b) {
    M m(r, c);
    for (int64_t i = 0; i < per; ++i) m.v[static_cast<std::size_t>(i)] = v[b * per + i];
    out.push_back(m);
  }
  return out;
}
/// The first (or only) matrix of t.
template <class T>
M matrix(const kiln::Tensor<T>& t) {
  return matrices(t).at(0);
}

/// A tensor [r, c] with the values of m.
template <class T>
kiln::Tensor<T> tensor_of(const M& m) {
  std::vector<T> v(m.v.size());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(m.v[i]);
  return kiln::from_vector<T>(v, kiln::Shape{m.r, m.c});
}

/// Determinant by cofactor expansion along the first row (small n only).
inline double cofactor_det(const M& a) {
  if (a.r == 0) return 1;
  if (a.r == 1) return a(0, 0);
  double d = 0;
  for (int64_t j = 0; j < a.c; ++j) {
    M minor(a.r - 1, a.c - 1);
    for (int64_t i = 1; i < a.r; ++i)
      for (int64_t k = 0, kk = 0; k < a.c; ++k)
        if (k != j) minor(i - 1, kk++) = a(i, k);
    d += (j % 2 ? -1.0 : 1.0) * a(0, j) * cofactor_det(minor);
  }
  return d;
}

/// x with a x = b by Gauss-Jordan elimination with partial pivoting (a square, regular).
inline M gauss_solve(M a, M b) {
  const int64_t n = a.r;
  for (int64_t k = 0; k < n; ++k) {
    int64_t p = k;
    for (int64_t i = k + 1; i < n; ++i)
      if (std::abs(a(i, k)) > std::abs(a(p, k))) p = i;
    for (int64_t j = 0; j < n; ++j) std::swap(a(k, j), a(p, j));
    for (int64_t j = 0; j < b.c; ++j) std::swap(b(k, j), b(p, j));
    for (int64_t i = 0; i < n; ++i) {
      if (i == k) continue;
      const double f = a(i, k) / a(k, k);
      for (int64_t j = 0; j < n; ++j) a(i, j) -= f * a(k, j);
      for (int64_t j = 0; j < b.c; ++j) b(i, j) -= f * b(k, j);
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < b.c; ++j) b(i, j) /= a(i, i);
  return b;
}

/// Tolerance for results of size ~1 computed in T from well-conditioned inputs.
template <class T>
constexpr double tol() {
  return std::is_same_v<T, float> ? 2e-4 : 1e-10;
}

/// Random matrices [..., n, n] that are well conditioned: N(0, 1) entries plus n on the
/// diagonal.
template <class T>
kiln::Tensor<T> well_conditioned(const kiln::Shape& shape) {
  kiln::Tensor<T> a = kiln::randn<T>(shape);
  const int64_t n = shape[shape.size() - 1];
  const kiln::Tensor<T> c = a.contiguous();
  for (int64_t b = 0; b < a.numel() / std::max<int64_t>(n * n, 1); ++b)
    for (int64_t i = 0; i < n; ++i) c.data()[b * n * n + i * n + i] += static_cast<T>(n);
  return c;
}

/// Random symmetric positive-definite matrices [..., n, n]: M M^T + n I.
template <class T>
kiln::Tensor<T> spd(const kiln::Shape& shape) {
  const int64_t n = shape[shape.size() - 1];
  const kiln::Tensor<T> m = kiln::randn<T>(shape);
  kiln::Tensor<T> out(shape);
  const auto ms = matrices(m);
  for (std::size_t b = 0; b < ms.size(); ++b) {
    M s = matmul(ms[b], transpose(ms[b]));
    for (int64_t i = 0; i < n; ++i) s(i, i) += static_cast<double>(n);
    for (int64_t i = 0; i < n * n; ++i)
      out.data()[static_cast<int64_t>(b) * n * n + i] = static_cast<T>(s.v[i]);
  }
  return out;
}

/// Random symmetric matrices [..., n, n].
template <class T>
kiln::Tensor<T> symmetric(const kiln::Shape& shape) {
  const kiln::Tensor<T> m = kiln::randn<T>(shape);
  return kiln::Tensor<T>((m + m.transpose(-2, -1)) * T(0.5));
}

}  // namespace linalg_test
