// SPDX-License-Identifier: BSD-3-Clause
// tril, triu, diag, diagonal (a view) and their backward helpers against index
// arithmetic on plain arrays; every error.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "kiln/kiln.hpp"
#include "shape_ref.hpp"
#include "support/throws.hpp"

using Catch::Matchers::Contains;
using kiln::Shape;
using kiln::Tensor;
using kiln_test::thrown_message;
using shape_ref::Array;
using shape_ref::Index;

namespace {

std::size_t u(int64_t i) { return static_cast<std::size_t>(i); }

template <class T>
Array<T> ref_tri(const Array<T>& a, int64_t k, bool lower) {
  const int r = a.shape.size();
  return shape_ref::build<T>(a.shape, [&](const Index& i) {
    const int64_t row = i[u(r - 2)], col = i[u(r - 1)];
    const bool keep = lower ? col <= row + k : col >= row + k;
    return keep ? a(i) : T(0);
  });
}

// diagonal(a, off, d1, d2): other dims in order, then the diagonal index.
template <class T>
Array<T> ref_diagonal(const Array<T>& a, int64_t off, int d1, int d2) {
  Shape s;
  for (int d = 0; d < a.shape.size(); ++d)
    if (d != d1 && d != d2) s.push_back(a.shape[d]);
  int64_t len = 0;
  while (true) {
    const int64_t i = off >= 0 ? len : len - off, j = off >= 0 ? len + off : len;
    if (i >= a.shape[d1] || j >= a.shape[d2]) break;
    ++len;
  }
  s.push_back(len);
  return shape_ref::build<T>(s, [&](const Index& o) {
    Index i(u(a.shape.size()));
    std::size_t k = 0;
    for (int d = 0; d < a.shape.size(); ++d)
      if (d != d1 && d != d2) i[u(d)] = o[k++];
    const int64_t t = o.back();
    i[u(d1)] = off >= 0 ? t : t - off;
    i[u(d2)] = off >= 0 ? t + off : t;
    return a(i);
  });
}

}  // namespace

TEMPLATE_TEST_CASE("tril and triu match a reference", "[ops][shapeops][tril]", float, int64_t,
                   bool) {
  using T = TestType;
  for (const Shape& s :
       {Shape{4, 6}, Shape{6, 4}, Shape{2, 3, 5}, Shape{0, 3}, Shape{3, 1}, Shape{2, 0, 4}}) {
    for (auto& [name, x] : shape_ref::layouts<T>(s)) {
      const Array<T> a = shape_ref::to_array(x);
      for (int64_t k : {0, 1, -1, 2, -3, 10, -10}) {
        INFO(name << " " << s << " diagonal " << k);
        const Tensor<T> lo = kiln::tril(x, k), up = kiln::triu(x, k);
        CHECK(lo.is_contiguous());
        CHECK_FALSE(lo.is_alias_of(x));
        shape_ref::check_equal(lo, ref_tri(a, k, true));
        shape_ref::check_equal(up, ref_tri(a, k, false));
      }
    }
  }
  // Large batched input: the row loop runs on several threads.
  const Tensor<T> big = shape_ref::sample<T>({8, 130, 70});
  shape_ref::check_equal(kiln::tril(big, 3), ref_tri(shape_ref::to_array(big), 3, true));
  shape_ref::check_equal(kiln::triu(big, -2), ref_tri(shape_ref::to_array(big), -2, false));
  // Extreme diagonals do not overflow.
  shape_ref::check_equal(kiln::tril(big, INT64_MAX), shape_ref::to_array(big));
  shape_ref::check_equal(kiln::triu(big, INT64_MIN), shape_ref::to_array(big));
}

TEMPLATE_TEST_CASE("diagonal is a view matching a reference", "[ops][shapeops][diagonal]", float,
                   int64_t, bool) {
  using T = TestType;
  for (const Shape& s : {Shape{4, 6}, Shape{5, 3}, Shape{2, 3, 4}, Shape{0, 3}}) {
    for (auto& [name, x] : shape_ref::layouts<T>(s)) {
      const Array<T> a = shape_ref::to_array(x);
      const int r = s.size();
      for (int d1 = 0; d1 < r; ++d1)
        for (int d2 = 0; d2 < r; ++d2) {
          if (d1 == d2) continue;
          for (int64_t off : {0, 1, -1, 2, -2, 7, -7}) {
            INFO(name << " " << s << " offset " << off << " dims " << d1 << ", " << d2);
            const Tensor<T> v = kiln::diagonal(x, off, d1, d2);
            shape_ref::check_equal(v, ref_diagonal(a, off, d1, d2));
            if (v.numel() > 0) CHECK(v.is_alias_of(x));
          }
        }
      shape_ref::check_equal(kiln::diagonal(x, 1, -1, -2), ref_diagonal(a, 1, r - 1, r - 2));
    }
  }
}

TEST_CASE("diagonal writes through to its input", "[ops][shapeops][diagonal]") {
  Tensor<float> x = kiln::zeros<float>({3, 4});
  kiln::diagonal(x, 1).fill_(5.0f);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) CHECK(x(i, j) == (j == i + 1 ? 5.0f : 0.0f));
  // A diagonal of a transposed, stepped view.
  Tensor<float> y = kiln::zeros<float>({6, 5});
  kiln::diagonal(y.slice(0, 0, 6, 2).t()).fill_(1.0f);  // (j, 2j) of y for j < 3
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 5; ++j) CHECK(y(i, j) == (i == 2 * j && j < 3 ? 1.0f : 0.0f));
}

TEMPLATE_TEST_CASE("diag builds and reads diagonals", "[ops][shapeops][diag]", float, int64_t,
                   bool) {
  using T = TestType;
  for (int64_t k : {0, 1, -2, 5, -5}) {
    for (const Shape& s : {Shape{4}, Shape{0}, Shape{1}}) {
      for (auto& [name, x] : shape_ref::layouts<T>(s)) {
        INFO(name << " " << s << " diagonal " << k);
        const Array<T> a = shape_ref::to_array(x);
        const int64_t n = s[0] + (k < 0 ? -k : k);
        const Tensor<T> m = kiln::diag(x, k);
        shape_ref::check_equal(m, shape_ref::build<T>(Shape{n, n}, [&](const Index& i) {
                                 const int64_t t = k >= 0 ? i[0] : i[1];
                                 return i[1] - i[0] == k ? a({t}) : T(0);
                               }));
      }
    }
    for (auto& [name, x] : shape_ref::layouts<T>({4, 3})) {
      INFO(name << " diagonal " << k);
      const Tensor<T> d = kiln::diag(x, k);
      CHECK_FALSE(d.is_alias_of(x));
      shape_ref::check_equal(d, ref_diagonal(shape_ref::to_array(x), k, 0, 1));
    }
  }
}

TEMPLATE_TEST_CASE("diagonal_backward and diag_backward scatter the gradient",
                   "[ops][shapeops][diagonal]", float, double) {
  using T = TestType;
  const Shape in{3, 4, 5};
  for (int64_t off : {0, 2, -1}) {
    const Tensor<T> g = shape_ref::sample<T>(kiln::diagonal(Tensor<T>(in), off, 2, 0).shape(), 1);
    const Tensor<T> r = kiln::diagonal_backward(g, in, off, 2, 0);
    const Array<T> ga = shape_ref::to_array(g);
    // Reference: zeros, plus g at the diagonal positions (index i[1], then t).
    shape_ref::check_equal(r, shape_ref::build<T>(in, [&](const Index& i) {
                             const int64_t t = off >= 0 ? i[2] : i[2] + off;
                             const bool on = i[0] - i[2] == off && t >= 0;
                             return on ? ga({i[1], t}) : T(0);
                           }));
  }
  // diag of a matrix: backward puts g back on the diagonal; diag of a vector: reads it.
  const Tensor<T> g1 = shape_ref::sample<T>({2});
  const Tensor<T> b1 = kiln::diag_backward(g1, Shape{3, 4}, 2);
  shape_ref::check_equal(b1, shape_ref::build<T>(Shape{3, 4}, [&](const Index& i) {
                           return i[1] - i[0] == 2 ? g1(i[0]) : T(0);
                         }));
  const Tensor<T> g2 = shape_ref::sample<T>({5, 5}).t();
  shape_ref::check_equal(kiln::diag_backward(g2, Shape{4}, -1),
                         ref_diagonal(shape_ref::to_array(g2), -1, 0, 1));
}

TEST_CASE("tril, triu, diag and diagonal errors", "[ops][shapeops][tril][diag][diagonal]") {
  const Tensor<float> v(Shape{3}), m(Shape{3, 4}), c(Shape{2, 3, 4});
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] { kiln::tril(v); }),
             Contains("[tril]") && Contains("at least 2 dimensions") && Contains("[3]"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] { kiln::triu(v, 1); }), Contains("[triu]"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] { kiln::diag(c); }),
             Contains("[diag]") && Contains("[2, 3, 4]"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] { kiln::diag(Tensor<float>(Shape{})); }),
             Contains("[diag]"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] { kiln::diag(v, INT64_MIN); }),
             Contains("[diag]") && Contains("out of range"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] { kiln::diagonal(m, 0, 1, -1); }),
             Contains("[diagonal]") && Contains("identical") && Contains("[3, 4]"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { kiln::diagonal(v); }),
             Contains("[diagonal]") && Contains("out of range"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { kiln::diagonal(c, 0, 0, 3); }),
             Contains("[diagonal]"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
               kiln::diagonal_backward(Tensor<float>(Shape{4}), Shape{3, 4});
             }),
             Contains("[diagonal_backward]") && Contains("[4]") && Contains("[3]"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
               kiln::diag_backward(Tensor<float>(Shape{3, 3}), Shape{3}, 1);
             }),
             Contains("[diag_backward]") && Contains("[4, 4]"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
               kiln::diag_backward(m, Shape{2, 3, 4});
             }),
             Contains("[diag_backward]"));
}
