// SPDX-License-Identifier: BSD-3-Clause
// kiln::linalg vector_norm, matrix_norm and norm against plain loops.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>

#include "kiln/kiln.hpp"
#include "linalg/linalg_check.hpp"
#include "support/throws.hpp"

using Catch::Matchers::Contains;
using kiln::Dims;
using kiln::Shape;
using kiln::Tensor;
using kiln_test::thrown_message;
namespace la = kiln::linalg;
using namespace linalg_test;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double ref_vector_norm(const std::vector<double>& x, double p) {
  if (p == kInf || p == -kInf) {
    double m = p > 0 ? 0 : kInf;
    for (double v : x) m = p > 0 ? std::max(m, std::abs(v)) : std::min(m, std::abs(v));
    return m;
  }
  double s = 0;
  for (double v : x) s += p == 0 ? (v != 0) : std::pow(std::abs(v), p);
  return p == 0 ? s : std::pow(s, 1 / p);
}

// Norm of each group of x [3, 4, 5] (row-major values v) over dims {1} -> [3, 5] or
// dims {0, 2} -> [4].
std::vector<double> ref_over(const std::vector<double>& v, bool middle, double p) {
  std::vector<double> out;
  if (middle) {
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 5; ++k) {
        std::vector<double> g;
        for (int j = 0; j < 4; ++j) g.push_back(v[(i * 4 + j) * 5 + k]);
        out.push_back(ref_vector_norm(g, p));
      }
  } else {
    for (int j = 0; j < 4; ++j) {
      std::vector<double> g;
      for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 5; ++k) g.push_back(v[(i * 4 + j) * 5 + k]);
      out.push_back(ref_vector_norm(g, p));
    }
  }
  return out;
}

// Matrix norms by plain loops; 2 / -2 / nuc from singular values given.
double ref_matrix_norm(const M& a, const la::NormOrd& ord, const std::vector<double>& sv) {
  if (ord.kind() == la::NormOrd::Kind::Fro) return ref_vector_norm(a.v, 2);
  if (ord.kind() == la::NormOrd::Kind::Nuc) {
    double s = 0;
    for (double x : sv) s += x;
    return s;
  }
  const double p = ord.p();
  if (std::abs(p) == 2) return p > 0 ? sv.front() : sv.back();
  const bool cols = std::abs(p) == 1;  // column sums for +-1, row sums for +-inf
  std::vector<double> sums;
  for (int64_t o = 0; o < (cols ? a.c : a.r); ++o) {
    double s = 0;
    for (int64_t i = 0; i < (cols ? a.r : a.c); ++i) s += std::abs(cols ? a(i, o) : a(o, i));
    sums.push_back(s);
  }
  return p > 0 ? *std::max_element(sums.begin(), sums.end())
               : *std::min_element(sums.begin(), sums.end());
}

}  // namespace

TEMPLATE_TEST_CASE("vector_norm against plain loops", "[linalg]", float, double) {
  using T = TestType;
  kiln::manual_seed(20);
  Tensor<T> x = kiln::randn<T>({3, 4, 5});
  x(1, 2, 3) = 0;  // for ord 0 and negative ords
  const Tensor<T> xt = x.permute({2, 0, 1}).contiguous().permute({1, 2, 0});  // same values
  REQUIRE_FALSE(xt.is_contiguous());
  const auto v = values(x);
  for (double p : {2.0, 1.0, kInf, -kInf, 0.0, 3.0, 0.5, -1.0}) {
    INFO("ord " << p);
    const double rt = std::is_same_v<T, float> ? 1e-5 : 1e-12;
    CHECK(all_close(values(la::vector_norm(x, p)), {ref_vector_norm(v, p)}, 0, rt));
    CHECK(all_close(values(la::vector_norm(xt, p, Dims{1})), ref_over(v, true, p), 0, rt));
    const Tensor<T> r = la::vector_norm(x, p, Dims{0, -1}, /*keepdim=*/true);
    CHECK(r.shape() == Shape{1, 4, 1});
    CHECK(all_close(values(r), ref_over(v, false, p), 0, rt));
  }
  CHECK(la::vector_norm(x, 2, Dims{}, true).shape() == Shape{1, 1, 1});
  // Empty inputs: sums have an identity (0), max/min and negative powers do not.
  CHECK(values(la::vector_norm(kiln::zeros<T>({0, 3}))) == std::vector<double>{0});
  CHECK(la::vector_norm(kiln::zeros<T>({0, 3}), kInf, Dims{1}).shape() == Shape{0});
  CHECK_THROWS_AS(la::vector_norm(kiln::zeros<T>({0, 3}), kInf, Dims{0}), kiln::ValueError);
}

TEMPLATE_TEST_CASE("matrix_norm against plain loops", "[linalg]", float, double) {
  using T = TestType;
  kiln::manual_seed(21);
  const Tensor<T> A = kiln::randn<T>({2, 3, 4});
  const auto as = matrices(A);
  const Tensor<T> sv = la::svdvals(A);
  const double rt = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  for (const la::NormOrd ord :
       {la::NormOrd("fro"), la::NormOrd("nuc"), la::NormOrd(kInf), la::NormOrd(-kInf),
        la::NormOrd(1), la::NormOrd(-1), la::NormOrd(2), la::NormOrd(-2)}) {
    INFO("ord " << ord);
    std::vector<double> want;
    for (int i = 0; i < 2; ++i)
      want.push_back(ref_matrix_norm(as[i], ord, values(sv.select(0, i))));
    CHECK(all_close(values(la::matrix_norm(A, ord)), want, 0, rt));
    // The same matrices seen through dims {2, 1} of the transposed batch [2, 4, 3] ...
    CHECK(all_close(values(la::matrix_norm(A.transpose(1, 2), ord, Dims{2, 1})), want, 0, rt));
    // ... and through dims {0, 2} of [3, 2, 4], with keepdim.
    const Tensor<T> r = la::matrix_norm(A.permute({1, 0, 2}), ord, Dims{0, 2}, true);
    CHECK(r.shape() == Shape{1, 2, 1});
    CHECK(all_close(values(r), want, 0, rt));
    CHECK(la::matrix_norm(A, ord, Dims{-2, -1}, true).shape() == Shape{2, 1, 1});
  }
  // Singular values known: nuc = 3 + 2, 2-norm 3, -2-norm 2.
  const Tensor<T> D = kiln::tensor<T>({{0, -3, 0}, {2, 0, 0}});
  CHECK(values(la::matrix_norm(D, "nuc"))[0] == Approx(5));
  CHECK(values(la::matrix_norm(D, 2))[0] == Approx(3));
  CHECK(values(la::matrix_norm(D, -2))[0] == Approx(2));
  // Empty matrices: 'fro' and 'nuc' are 0; the others have no identity.
  CHECK(values(la::matrix_norm(kiln::zeros<T>({0, 3}))) == std::vector<double>{0});
  CHECK(values(la::matrix_norm(kiln::zeros<T>({0, 3}), "nuc")) == std::vector<double>{0});
  CHECK(la::matrix_norm(kiln::zeros<T>({0, 2, 3}), 2).shape() == Shape{0});
  const std::string msg = thrown_message<kiln::ValueError>([] {
    la::matrix_norm(kiln::zeros<T>({0, 3}), 1);
  });
  CHECK_THAT(msg, Contains("[linalg.matrix_norm]") && Contains("empty") && Contains("[0, 3]"));
}

TEMPLATE_TEST_CASE("norm dispatches to vector and matrix norms as torch", "[linalg]", float,
                   double) {
  using T = TestType;
  kiln::manual_seed(22);
  const Tensor<T> A = kiln::randn<T>({3, 4});
  const auto v = values(A);
  const double rt = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  // No ord, no dims: the 2-norm of everything, whatever the rank.
  CHECK(all_close(values(la::norm(A)), {ref_vector_norm(v, 2)}, 0, rt));
  CHECK(all_close(values(la::norm(A.view({2, 2, 3}))), {ref_vector_norm(v, 2)}, 0, rt));
  // A 2-D input with an ord is a matrix norm: 1 is the largest column sum, not sum |a|.
  CHECK(values(la::norm(A, 1)) == values(la::matrix_norm(A, 1)));
  CHECK(values(la::norm(A, "nuc")) == values(la::matrix_norm(A, "nuc")));
  // A 1-D input with an ord is a vector norm.
  const Tensor<T> row = A.select(0, 1);
  CHECK(values(la::norm(row, 1)) == values(la::vector_norm(row, 1)));
  // dims with one entry: a vector norm; two: a matrix norm.
  CHECK(values(la::norm(A, 3, Dims{1})) == values(la::vector_norm(A, 3, Dims{1})));
  CHECK(values(la::norm(A, std::nullopt, Dims{0})) == values(la::vector_norm(A, 2, Dims{0})));
  CHECK(values(la::norm(A, kInf, Dims{1, 0})) == values(la::matrix_norm(A, kInf, Dims{1, 0})));
  CHECK(la::norm(A, std::nullopt, Dims{0, 1}, true).shape() == Shape{1, 1});

  std::string msg = thrown_message<kiln::ValueError>([&] { la::norm(A, "max"); });
  CHECK_THAT(msg, Contains("'max'"));
  msg = thrown_message<kiln::ValueError>([&] { la::norm(A, 3); });
  CHECK_THAT(msg, Contains("[linalg.matrix_norm]") && Contains("order 3"));
  msg = thrown_message<kiln::ValueError>([&] { la::norm(A, "fro", Dims{0}); });
  CHECK_THAT(msg, Contains("[linalg.norm]") && Contains("'fro'"));
  msg = thrown_message<kiln::ValueError>([&] { la::norm(row, "nuc"); });
  CHECK_THAT(msg, Contains("[linalg.norm]") && Contains("[4]"));
  msg = thrown_message<kiln::ValueError>([&] { la::norm(A.view({2, 2, 3}), 2); });
  CHECK_THAT(msg, Contains("[linalg.norm]") && Contains("[2, 2, 3]"));
  msg = thrown_message<kiln::ValueError>([&] { la::norm(A, 2, Dims{0, 1, 0}); });
  CHECK_THAT(msg, Contains("[linalg.norm]"));
  msg = thrown_message<kiln::ValueError>([&] { la::matrix_norm(A, "fro", Dims{1, 1}); });
  CHECK_THAT(msg, Contains("[linalg.matrix_norm]") && Contains("different"));
  CHECK_THROWS_AS(la::matrix_norm(A, "fro", Dims{0, 2}), kiln::IndexError);
  CHECK_THROWS_AS(la::matrix_norm(row), kiln::ShapeError);
  CHECK_THROWS_AS(la::vector_norm(A, 2, Dims{2}), kiln::IndexError);
  msg = thrown_message<kiln::ValueError>([] {
    la::vector_norm(kiln::zeros<T>({3, 0}), -kInf, Dims{1});
  });
  CHECK_THAT(msg, Contains("[linalg.vector_norm]") && Contains("empty"));
}
