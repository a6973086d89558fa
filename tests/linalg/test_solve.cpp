// SPDX-License-Identifier: BSD-3-Clause
// kiln::linalg solve, inv, det, slogdet, matrix_power against plain-loop references.
#include <catch2/catch.hpp>
#include <cmath>

#include "kiln/kiln.hpp"
#include "linalg/linalg_check.hpp"
#include "support/throws.hpp"

using Catch::Matchers::Contains;
using kiln::Shape;
using kiln::Tensor;
using kiln_test::thrown_message;
namespace la = kiln::linalg;
using namespace linalg_test;

TEMPLATE_TEST_CASE("solve: A X = B for matrix and vector right-hand sides", "[linalg]", float,
                   double) {
  using T = TestType;
  kiln::manual_seed(1);
  for (int64_t n : {1, 3, 17}) {
    const Tensor<T> A = well_conditioned<T>({n, n});
    const Tensor<T> B = kiln::randn<T>({n, 4});
    const Tensor<T> X = la::solve(A, B);
    REQUIRE(X.shape() == Shape{n, 4});
    CHECK(max_diff(matmul(matrix(A), matrix(X)), matrix(B)) < tol<T>() * n);
    // Against an independent elimination in double.
    CHECK(max_diff(matrix(X), gauss_solve(matrix(A), matrix(B))) < tol<T>());

    const Tensor<T> b = kiln::randn<T>({n});
    const Tensor<T> x = la::solve(A, b);
    REQUIRE(x.shape() == Shape{n});
    CHECK(max_diff(matmul(matrix(A), matrix(x)), matrix(b)) < tol<T>() * n);
  }
}

TEMPLATE_TEST_CASE("solve: batches, broadcasting and vector batches", "[linalg]", float, double) {
  using T = TestType;
  kiln::manual_seed(2);
  const int64_t n = 4;
  // A [2, 1, n, n] with B [3, n, 2]: X [2, 3, n, 2], A broadcast over B's batch and back.
  const Tensor<T> A = well_conditioned<T>({2, 1, n, n});
  const Tensor<T> B = kiln::randn<T>({3, n, 2});
  const Tensor<T> X = la::solve(A, B);
  REQUIRE(X.shape() == Shape{2, 3, n, 2});
  const auto as = matrices(A), bs = matrices(B), xs = matrices(X);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) CHECK(max_diff(matmul(as[i], xs[i * 3 + j]), bs[j]) < tol<T>() * n);

  // A batch of vectors: B has A's shape without the last dim.
  const Tensor<T> A2 = well_conditioned<T>({5, n, n});
  const Tensor<T> b2 = kiln::randn<T>({5, n});
  const Tensor<T> x2 = la::solve(A2, b2);
  REQUIRE(x2.shape() == Shape{5, n});
  const auto a2s = matrices(A2);
  for (int i = 0; i < 5; ++i) {
    const Tensor<T> xi = x2.select(0, i), bi = b2.select(0, i);
    CHECK(max_diff(matmul(a2s[i], matrix(xi)), matrix(bi)) < tol<T>() * n);
  }
  // A 1-D B is one vector for every matrix of the batch.
  const Tensor<T> b1 = kiln::randn<T>({n});
  const Tensor<T> x1 = la::solve(A2, b1);
  REQUIRE(x1.shape() == Shape{5, n});
  for (int i = 0; i < 5; ++i)
    CHECK(max_diff(matmul(a2s[i], matrix(x1.select(0, i))), matrix(b1)) < tol<T>() * n);
  // B [5, n] with A [n, n] is a matrix with 5 rows, not a batch of vectors.
  CHECK_THROWS_AS(la::solve(A2.select(0, 0), b2), kiln::ShapeError);
}

TEMPLATE_TEST_CASE("solve, inv, det: non-contiguous and broadcast inputs", "[linalg]", float,
                   double) {
  using T = TestType;
  kiln::manual_seed(3);
  const int64_t n = 5;
  const Tensor<T> base = well_conditioned<T>({2, n, n});
  const Tensor<T> At = base.transpose(-2, -1);  // column-major views
  REQUIRE_FALSE(At.is_contiguous());
  const Tensor<T> Bs = kiln::randn<T>({2, 2 * n, 3}).slice(1, 0, 2 * n, 2);  // row step 2
  REQUIRE_FALSE(Bs.is_contiguous());
  const Tensor<T> X = la::solve(At, Bs);
  const auto as = matrices(At), bs = matrices(Bs), xs = matrices(X);
  for (int i = 0; i < 2; ++i) CHECK(max_diff(matmul(as[i], xs[i]), bs[i]) < tol<T>() * n);

  const auto is = matrices(la::inv(At));
  for (int i = 0; i < 2; ++i) CHECK(max_diff(matmul(as[i], is[i]), identity(n)) < tol<T>() * n);

  // det(A^T) = det(A); an expanded batch gives one value per (repeated) matrix.
  const auto d = values(la::det(base)), dt = values(la::det(At));
  for (int i = 0; i < 2; ++i) CHECK(dt[i] == Approx(d[i]).epsilon(tol<T>() * 10));
  const Tensor<T> rep = base.select(0, 0).expand({3, n, n});
  for (double v : values(la::det(rep))) CHECK(v == Approx(d[0]).epsilon(tol<T>() * 10));
}

TEMPLATE_TEST_CASE("solve, inv, det, slogdet: empty batches, 0x0 and 1x1 matrices", "[linalg]",
                   float, double) {
  using T = TestType;
  const Tensor<T> A0 = kiln::zeros<T>({0, 3, 3});
  CHECK(la::solve(A0, kiln::zeros<T>({0, 3, 2})).shape() == Shape{0, 3, 2});
  CHECK(la::solve(A0, kiln::zeros<T>({0, 3})).shape() == Shape{0, 3});
  CHECK(la::inv(A0).shape() == Shape{0, 3, 3});
  CHECK(la::det(A0).shape() == Shape{0});
  CHECK(la::slogdet(A0).sign.shape() == Shape{0});
  CHECK(la::matrix_power(A0, 3).shape() == Shape{0, 3, 3});

  // 0 x 0 matrices: det 1, inverse empty, a 0 x k solution.
  const Tensor<T> E = kiln::zeros<T>({2, 0, 0});
  CHECK(values(la::det(E)) == std::vector<double>{1, 1});
  CHECK(values(la::slogdet(E).logabsdet) == std::vector<double>{0, 0});
  CHECK(la::inv(E).shape() == Shape{2, 0, 0});
  CHECK(la::solve(E, kiln::zeros<T>({2, 0, 4})).shape() == Shape{2, 0, 4});
  CHECK(la::matrix_power(E, -2).shape() == Shape{2, 0, 0});

  // 1 x 1: plain division.
  const Tensor<T> a = kiln::full<T>({1, 1}, T(4));
  CHECK(values(la::solve(a, kiln::full<T>({1, 1}, T(2)))) == std::vector<double>{0.5});
  CHECK(values(la::inv(a)) == std::vector<double>{0.25});
  CHECK(values(la::det(a)) == std::vector<double>{4});
  const auto sl = la::slogdet(kiln::full<T>({1, 1}, T(-4)));
  CHECK(values(sl.sign) == std::vector<double>{-1});
  CHECK(values(sl.logabsdet)[0] == Approx(std::log(4.0)).epsilon(1e-6));
}

TEMPLATE_TEST_CASE("det and slogdet against cofactor expansion", "[linalg]", float, double) {
  using T = TestType;
  kiln::manual_seed(4);
  for (int64_t n : {1, 2, 3, 4, 5}) {
    const Tensor<T> A = kiln::randn<T>({3, n, n});
    const auto as = matrices(A);
    const auto d = values(la::det(A));
    const auto sl = la::slogdet(A);
    const auto sign = values(sl.sign), logabs = values(sl.logabsdet);
    for (int i = 0; i < 3; ++i) {
      const double want = cofactor_det(as[static_cast<std::size_t>(i)]);
      INFO("n = " << n << ", matrix " << i << ": det " << d[i] << ", want " << want);
      CHECK(std::abs(d[i] - want) <= tol<T>() * 10 * std::max(1.0, std::abs(want)));
      CHECK(sign[i] == (want > 0 ? 1.0 : -1.0));
      CHECK(logabs[i] == Approx(std::log(std::abs(want))).margin(tol<T>() * 10));
    }
  }
  // A permutation matrix (an odd one): det -1 exactly.
  const Tensor<T> P = kiln::tensor<T>({{0, 1, 0}, {1, 0, 0}, {0, 0, 1}});
  CHECK(values(la::det(P)) == std::vector<double>{-1});
  CHECK(values(la::slogdet(P).sign) == std::vector<double>{-1});
}

TEST_CASE("slogdet stays finite where det overflows; singular matrices", "[linalg]") {
  // det(10 I) of size 60 is 1e60: beyond float, but its log is not.
  const Tensor<float> A = kiln::Tensor<float>(kiln::eye<float>(60) * 10.0f);
  CHECK(std::isinf(values(la::det(A))[0]));
  const auto sl = la::slogdet(A);
  CHECK(values(sl.sign)[0] == 1);
  CHECK(values(sl.logabsdet)[0] == Approx(60 * std::log(10.0)).epsilon(1e-5));

  // An exactly singular matrix: det 0, sign 0, logabsdet -inf (no error, as torch).
  const Tensor<double> S = kiln::tensor<double>({{1, 2}, {0, 0}});
  CHECK(values(la::det(S))[0] == 0);
  const auto ss = la::slogdet(S);
  CHECK(values(ss.sign)[0] == 0);
  CHECK(values(ss.logabsdet)[0] == -std::numeric_limits<double>::infinity());
}

TEMPLATE_TEST_CASE("matrix_power against repeated products", "[linalg]", float, double) {
  using T = TestType;
  kiln::manual_seed(5);
  const int64_t n = 4;
  // Entries ~ 1/n so powers stay of size ~1.
  const Tensor<T> A = kiln::Tensor<T>(well_conditioned<T>({2, n, n}) * T(0.2));
  const auto as = matrices(A);
  for (int64_t p : {0, 1, 2, 3, 5, 6}) {
    const auto got = matrices(la::matrix_power(A, p));
    for (int i = 0; i < 2; ++i) {
      M want = identity(n);
      for (int64_t k = 0; k < p; ++k) want = matmul(want, as[i]);
      INFO("power " << p);
      CHECK(max_diff(got[i], want) < tol<T>() * 10 * std::max(1.0, max_abs(want)));
    }
  }
  // Negative powers: A^2 A^-2 = I.
  const auto inv2 = matrices(la::matrix_power(A, -2));
  for (int i = 0; i < 2; ++i)
    CHECK(max_diff(matmul(matmul(as[i], as[i]), inv2[i]), identity(n)) < tol<T>() * 100);
  // Transposed input: (A^T)^3 = (A^3)^T.
  const auto t3 = matrices(la::matrix_power(A.transpose(-2, -1), 3));
  const auto a3 = matrices(la::matrix_power(A, 3));
  for (int i = 0; i < 2; ++i) CHECK(max_diff(t3[i], transpose(a3[i])) < tol<T>() * 10);
}

TEST_CASE("solve/inv/matrix_power: singular matrices throw LinAlgError", "[linalg]") {
  // Singular only up to rounding: LU leaves a pivot of order eps (Note [Singular pivots]).
  const Tensor<double> S = kiln::tensor<double>({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}});
  std::string msg = thrown_message<kiln::LinAlgError>([&] { la::inv(S); });
  CHECK_THAT(msg, Contains("[linalg.inv]") && Contains("singular") && Contains("[3, 3]"));
  msg = thrown_message<kiln::LinAlgError>([&] { la::solve(S, kiln::ones<double>({3})); });
  CHECK_THAT(msg, Contains("[linalg.solve]") && Contains("singular"));
  msg = thrown_message<kiln::LinAlgError>([&] { la::matrix_power(S, -1); });
  CHECK_THAT(msg, Contains("[linalg.matrix_power]") && Contains("singular"));
  CHECK(la::matrix_power(S, 2).shape() == Shape{3, 3});  // positive powers need no inverse

  // Float, exactly singular, and a zero matrix.
  CHECK_THROWS_AS(la::inv(kiln::tensor<float>({{1, 2}, {2, 4}})), kiln::LinAlgError);
  CHECK_THROWS_AS(la::inv(kiln::zeros<float>({2, 2})), kiln::LinAlgError);
  // LinAlgError is a ValueError, as the error hierarchy documents.
  CHECK_THROWS_AS(la::inv(kiln::zeros<float>({1, 1})), kiln::ValueError);

  // NaN is not a singularity: it propagates, as in torch.
  const auto nan_x =
      values(la::solve(kiln::tensor<double>({{1, 0}, {0, std::nan("")}}), kiln::ones<double>({2})));
  CHECK(std::isnan(nan_x[1]));

  // Tiny but regular matrices are fine: the test is relative to the matrix's scale.
  const Tensor<double> tiny = kiln::Tensor<double>(kiln::eye<double>(3) * 1e-30);
  CHECK(values(la::inv(tiny))[0] == Approx(1e30));

  // In a batch the message names the (lowest) failing element.
  Tensor<double> batch = kiln::Tensor<double>(kiln::eye<double>(2).expand({4, 2, 2}));
  batch = batch.clone();
  batch.select(0, 2).zero_();
  batch.select(0, 3).zero_();
  msg = thrown_message<kiln::LinAlgError>([&] { la::inv(batch); });
  CHECK_THAT(msg, Contains("batch element 2") && Contains("[4, 2, 2]"));
}

TEST_CASE("solve/inv/det/slogdet/matrix_power: shape errors", "[linalg]") {
  const Tensor<float> rect = kiln::zeros<float>({2, 3});
  const Tensor<float> vec = kiln::zeros<float>({3});
  std::string msg = thrown_message<kiln::ShapeError>([&] { la::inv(rect); });
  CHECK_THAT(msg, Contains("[linalg.inv]") && Contains("square") && Contains("[2, 3]"));
  msg = thrown_message<kiln::ShapeError>([&] { la::det(vec); });
  CHECK_THAT(msg, Contains("[linalg.det]") && Contains("at least 2 dimensions") && Contains("[3]"));
  msg = thrown_message<kiln::ShapeError>([&] { la::slogdet(rect); });
  CHECK_THAT(msg, Contains("[linalg.slogdet]") && Contains("[2, 3]"));
  msg = thrown_message<kiln::ShapeError>([&] { la::matrix_power(rect, 2); });
  CHECK_THAT(msg, Contains("[linalg.matrix_power]") && Contains("[2, 3]"));
  msg = thrown_message<kiln::ShapeError>([&] { la::solve(rect, vec); });
  CHECK_THAT(msg, Contains("[linalg.solve]") && Contains("square"));

  const Tensor<float> A = kiln::eye<float>(3);
  // Wrong number of rows in B.
  msg = thrown_message<kiln::ShapeError>([&] { la::solve(A, kiln::zeros<float>({4, 2})); });
  CHECK_THAT(msg, Contains("[linalg.solve]") && Contains("[3, 3]") && Contains("[4, 2]"));
  msg = thrown_message<kiln::ShapeError>([&] { la::solve(A, kiln::zeros<float>({4})); });
  CHECK_THAT(msg, Contains("[linalg.solve]") && Contains("[4]"));
  msg = thrown_message<kiln::ShapeError>([&] { la::solve(A, kiln::zeros<float>({})); });
  CHECK_THAT(msg, Contains("[linalg.solve]"));
  // Batch dims that do not broadcast.
  msg = thrown_message<kiln::ShapeError>([&] {
    la::solve(kiln::zeros<float>({2, 3, 3}), kiln::zeros<float>({4, 3, 1}));
  });
  CHECK_THAT(msg, Contains("[linalg.solve]") && Contains("[2, 3, 3]") && Contains("[4, 3, 1]") &&
                      Contains("broadcast"));
}

TEST_CASE("linalg results do not depend on the thread count", "[linalg]") {
  kiln::manual_seed(6);
  const Tensor<double> A = well_conditioned<double>({3000, 4, 4});
  const Tensor<double> B = kiln::randn<double>({3000, 4, 2});
  const int saved = kiln::get_num_threads();
  kiln::set_num_threads(1);
  const auto x1 = values(la::solve(A, B));
  const auto d1 = values(la::det(A));
  const auto s1 = values(la::svdvals(A));
  kiln::set_num_threads(4);
  const auto x4 = values(la::solve(A, B));
  const auto d4 = values(la::det(A));
  const auto s4 = values(la::svdvals(A));
  kiln::set_num_threads(saved);
  CHECK(x1 == x4);
  CHECK(d1 == d4);
  CHECK(s1 == s4);
}
