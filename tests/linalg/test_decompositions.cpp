// SPDX-License-Identifier: BSD-3-Clause
// kiln::linalg cholesky, qr, svd, svdvals, eigh, eigvalsh, lstsq: each result checked by
// the identities that define it, in plain double loops.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "kiln/kiln.hpp"
#include "linalg/linalg_check.hpp"
#include "support/throws.hpp"

using Catch::Matchers::Contains;
using kiln::Shape;
using kiln::Tensor;
using kiln_test::thrown_message;
namespace la = kiln::linalg;
using namespace linalg_test;

namespace {

// Q^T Q = I (orthonormal columns).
double orthonormality_error(const M& q) { return max_diff(matmul(transpose(q), q), identity(q.c)); }

bool is_upper(const M& r) {
  for (int64_t i = 0; i < r.r; ++i)
    for (int64_t j = 0; j < std::min(i, r.c); ++j)
      if (r(i, j) != 0) return false;
  return true;
}

// U[:, :k] diag(s) Vh[:k, :].
M usv(const M& u, const M& s, const M& vh) {
  const int64_t k = s.r;
  M out(u.r, vh.c);
  for (int64_t i = 0; i < u.r; ++i)
    for (int64_t j = 0; j < vh.c; ++j) {
      double acc = 0;
      for (int64_t l = 0; l < k; ++l) acc += u(i, l) * s(l, 0) * vh(l, j);
      out(i, j) = acc;
    }
  return out;
}

}  // namespace

// ---- cholesky ---------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("cholesky: L L^T = A, lower with a positive diagonal; upper = L^T", "[linalg]",
                   float, double) {
  using T = TestType;
  kiln::manual_seed(10);
  for (int64_t n : {1, 4, 20}) {
    const Tensor<T> A = spd<T>({3, n, n});
    const auto as = matrices(A);
    const auto ls = matrices(la::cholesky(A));
    const auto us = matrices(la::cholesky(A, /*upper=*/true));
    for (int i = 0; i < 3; ++i) {
      const M& l = ls[i];
      CHECK(is_upper(transpose(l)));
      for (int64_t j = 0; j < n; ++j) CHECK(l(j, j) > 0);
      CHECK(max_diff(matmul(l, transpose(l)), as[i]) < tol<T>() * n * n);
      CHECK(is_upper(us[i]));
      CHECK(max_diff(matmul(transpose(us[i]), us[i]), as[i]) < tol<T>() * n * n);
      CHECK(max_diff(us[i], transpose(l)) < tol<T>() * n);
    }
  }
}

TEMPLATE_TEST_CASE("cholesky reads one triangle; transposed and empty inputs", "[linalg]", float,
                   double) {
  using T = TestType;
  kiln::manual_seed(11);
  const int64_t n = 5;
  const Tensor<T> A = spd<T>({n, n});
  const M want = matrix(la::cholesky(A));
  // Garbage above the diagonal does not matter for upper=false ...
  Tensor<T> lower_only = A.clone();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) lower_only(i, j) = T(1000);
  CHECK(max_diff(matrix(la::cholesky(lower_only)), want) == 0);
  // ... and below it for upper=true, which reads the upper triangle.
  const Tensor<T> upper_only = lower_only.transpose(0, 1);  // a non-contiguous view
  CHECK(max_diff(matrix(la::cholesky(upper_only, true)), transpose(want)) < tol<T>());
  CHECK(max_diff(matrix(la::cholesky(A.transpose(0, 1))), want) == 0);  // A symmetric

  CHECK(la::cholesky(kiln::zeros<T>({0, 3, 3})).shape() == Shape{0, 3, 3});
  CHECK(la::cholesky(kiln::zeros<T>({2, 0, 0})).shape() == Shape{2, 0, 0});
  CHECK(values(la::cholesky(kiln::full<T>({1, 1}, T(9)))) == std::vector<double>{3});
}

TEST_CASE("cholesky: matrices that are not positive-definite", "[linalg]") {
  std::string msg = thrown_message<kiln::LinAlgError>([] {
    la::cholesky(kiln::tensor<double>({{1, 2}, {2, 1}}));
  });
  CHECK_THAT(msg, Contains("[linalg.cholesky]") && Contains("not positive-definite") &&
                      Contains("leading minor of order 2 is not positive") && Contains("[2, 2]"));
  msg = thrown_message<kiln::LinAlgError>([] {
    la::cholesky(kiln::tensor<float>({{4, 0, 0}, {0, 1, 0}, {0, 0, -1}}));
  });
  CHECK_THAT(msg, Contains("leading minor of order 3"));
  msg = thrown_message<kiln::LinAlgError>([] {
    la::cholesky(kiln::tensor<float>({{-1, 0}, {0, 1}}), /*upper=*/true);
  });
  CHECK_THAT(msg, Contains("leading minor of order 1"));
  // NaN is not positive either (as LAPACK).
  msg = thrown_message<kiln::LinAlgError>([] {
    la::cholesky(kiln::tensor<double>({{1, 0}, {0, std::nan("")}}));
  });
  CHECK_THAT(msg, Contains("leading minor of order 2"));
  // A batch names the first failing element.
  Tensor<double> batch = kiln::Tensor<double>(kiln::eye<double>(3).expand({3, 3, 3})).clone();
  batch(1, 1, 1) = -5;
  batch(2, 0, 0) = -5;
  msg = thrown_message<kiln::LinAlgError>([&] { la::cholesky(batch); });
  CHECK_THAT(msg, Contains("batch element 1") && Contains("order 2"));

  msg = thrown_message<kiln::ShapeError>([] { la::cholesky(kiln::zeros<float>({2, 3})); });
  CHECK_THAT(msg, Contains("[linalg.cholesky]") && Contains("[2, 3]"));
}

// ---- qr -----------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("qr: Q R = A with orthonormal Q and upper-triangular R", "[linalg]", float,
                   double) {
  using T = TestType;
  kiln::manual_seed(12);
  for (auto [m, n] : {std::pair<int64_t, int64_t>{5, 3}, {3, 5}, {4, 4}, {1, 1}, {30, 20}}) {
    const int64_t k = std::min(m, n);
    INFO(m << " x " << n);
    const Tensor<T> A = kiln::randn<T>({2, m, n});
    const auto as = matrices(A);

    const auto red = la::qr(A);
    REQUIRE(red.Q.shape() == Shape{2, m, k});
    REQUIRE(red.R.shape() == Shape{2, k, n});
    const auto comp = la::qr(A, "complete");
    REQUIRE(comp.Q.shape() == Shape{2, m, m});
    REQUIRE(comp.R.shape() == Shape{2, m, n});
    const auto ronly = la::qr(A, "r");
    CHECK(ronly.Q.numel() == 0);
    CHECK(values(ronly.R) == values(red.R));

    const auto rq = matrices(red.Q), rr = matrices(red.R);
    const auto cq = matrices(comp.Q), cr = matrices(comp.R);
    for (int i = 0; i < 2; ++i) {
      CHECK(orthonormality_error(rq[i]) < tol<T>() * m);
      CHECK(is_upper(rr[i]));
      CHECK(max_diff(matmul(rq[i], rr[i]), as[i]) < tol<T>() * m);
      CHECK(orthonormality_error(cq[i]) < tol<T>() * m);
      CHECK(orthonormality_error(transpose(cq[i])) < tol<T>() * m);
      CHECK(is_upper(cr[i]));
      CHECK(max_diff(matmul(cq[i], cr[i]), as[i]) < tol<T>() * m);
    }
  }
}

TEMPLATE_TEST_CASE("qr: transposed input, empty matrices, bad mode", "[linalg]", float, double) {
  using T = TestType;
  kiln::manual_seed(13);
  const Tensor<T> At = kiln::randn<T>({3, 6}).transpose(0, 1);  // [6, 3], column-major
  const auto f = la::qr(At);
  CHECK(max_diff(matmul(matrix(f.Q), matrix(f.R)), matrix(At)) < tol<T>() * 6);

  // Empty: Q is (a slice of) the identity, R has no entries or zeros.
  const auto c = la::qr(kiln::zeros<T>({3, 0}), "complete");
  CHECK(max_diff(matrix(c.Q), identity(3)) == 0);
  CHECK(c.R.shape() == Shape{3, 0});
  CHECK(la::qr(kiln::zeros<T>({3, 0})).Q.shape() == Shape{3, 0});
  const auto w = la::qr(kiln::zeros<T>({0, 4}));
  CHECK(w.Q.shape() == Shape{0, 0});
  CHECK(w.R.shape() == Shape{0, 4});
  CHECK(la::qr(kiln::zeros<T>({0, 2, 2})).R.shape() == Shape{0, 2, 2});

  const std::string msg = thrown_message<kiln::ValueError>([] {
    la::qr(kiln::zeros<T>({2, 2}), "full");
  });
  CHECK_THAT(msg, Contains("[linalg.qr]") && Contains("'full'"));
  CHECK_THROWS_AS(la::qr(kiln::zeros<T>({2})), kiln::ShapeError);
}

// ---- svd ----------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("svd: U diag(S) Vh = A, orthonormal factors, S descending", "[linalg]", float,
                   double) {
  using T = TestType;
  kiln::manual_seed(14);
  // 20 x 18 is past Eigen's switch from Jacobi to divide and conquer.
  for (auto [m, n] : {std::pair<int64_t, int64_t>{5, 3}, {3, 5}, {4, 4}, {1, 1}, {20, 18}}) {
    const int64_t k = std::min(m, n);
    INFO(m << " x " << n);
    const Tensor<T> A = kiln::randn<T>({2, m, n});
    const auto as = matrices(A);
    for (bool full : {true, false}) {
      const auto r = la::svd(A, full);
      REQUIRE(r.U.shape() == Shape{2, m, full ? m : k});
      REQUIRE(r.S.shape() == Shape{2, k});
      REQUIRE(r.Vh.shape() == Shape{2, full ? n : k, n});
      const auto us = matrices(r.U), vs = matrices(r.Vh);
      for (int i = 0; i < 2; ++i) {
        const M s = matrix(r.S.select(0, i));
        for (int64_t j = 0; j < k; ++j) {
          CHECK(s(j, 0) >= 0);
          if (j > 0) CHECK(s(j, 0) <= s(j - 1, 0));
        }
        CHECK(orthonormality_error(us[i]) < tol<T>() * m);
        CHECK(orthonormality_error(transpose(vs[i])) < tol<T>() * n);
        CHECK(max_diff(usv(us[i], s, vs[i]), as[i]) < tol<T>() * m * n);
        // sum of S^2 is the squared Frobenius norm.
        double fro = 0, ss = 0;
        for (double x : as[i].v) fro += x * x;
        for (double x : s.v) ss += x * x;
        CHECK(ss == Approx(fro).epsilon(tol<T>() * 10));
      }
      CHECK(values(la::svdvals(A)) == values(r.S));
    }
  }
}

TEMPLATE_TEST_CASE("svd: known values, transposed and empty inputs, non-finite input", "[linalg]",
                   float, double) {
  using T = TestType;
  const Tensor<T> D = kiln::tensor<T>({{0, -3, 0}, {2, 0, 0}});  // singular values 3, 2
  const auto sv = values(la::svdvals(D));
  REQUIRE(sv.size() == 2);
  CHECK(sv[0] == Approx(3));
  CHECK(sv[1] == Approx(2));
  CHECK(values(la::svdvals(D.transpose(0, 1))) == sv);

  const auto e = la::svd(kiln::zeros<T>({0, 3}));
  CHECK(e.U.shape() == Shape{0, 0});
  CHECK(e.S.shape() == Shape{0});
  CHECK(max_diff(matrix(e.Vh), identity(3)) == 0);
  const auto et = la::svd(kiln::zeros<T>({0, 3}), false);
  CHECK(et.Vh.shape() == Shape{0, 3});
  CHECK(la::svdvals(kiln::zeros<T>({4, 0, 2})).shape() == Shape{4, 0});
  const auto eb = la::svd(kiln::zeros<T>({0, 3, 2}), false);  // an empty batch
  CHECK(eb.U.shape() == Shape{0, 3, 2});
  CHECK(eb.S.shape() == Shape{0, 2});
  CHECK(eb.Vh.shape() == Shape{0, 2, 2});

  Tensor<T> bad = kiln::eye<T>(3);
  bad(1, 2) = std::numeric_limits<T>::quiet_NaN();
  std::string msg = thrown_message<kiln::LinAlgError>([&] { la::svd(bad); });
  CHECK_THAT(msg, Contains("[linalg.svd]") && Contains("NaN"));
  msg = thrown_message<kiln::LinAlgError>([&] { la::svdvals(bad); });
  CHECK_THAT(msg, Contains("[linalg.svdvals]"));
  CHECK_THROWS_AS(la::svd(kiln::zeros<T>({3})), kiln::ShapeError);
}

// ---- eigh ---------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("eigh: A V = V diag(w), V orthogonal, w ascending", "[linalg]", float, double) {
  using T = TestType;
  kiln::manual_seed(15);
  for (int64_t n : {1, 3, 20}) {
    const Tensor<T> A = symmetric<T>({3, n, n});
    const auto r = la::eigh(A);
    REQUIRE(r.eigenvalues.shape() == Shape{3, n});
    REQUIRE(r.eigenvectors.shape() == Shape{3, n, n});
    const auto as = matrices(A), vs = matrices(r.eigenvectors);
    for (int i = 0; i < 3; ++i) {
      const M w = matrix(r.eigenvalues.select(0, i));
      M vw = vs[i];
      for (int64_t a = 0; a < n; ++a)
        for (int64_t b = 0; b < n; ++b) vw(a, b) *= w(b, 0);
      CHECK(max_diff(matmul(as[i], vs[i]), vw) < tol<T>() * n * 4);
      CHECK(orthonormality_error(vs[i]) < tol<T>() * n);
      for (int64_t j = 1; j < n; ++j) CHECK(w(j, 0) >= w(j - 1, 0));
    }
    CHECK(all_close(values(la::eigvalsh(A)), values(r.eigenvalues), tol<T>() * n));
  }
}

TEMPLATE_TEST_CASE("eigh: known values, one triangle read, errors", "[linalg]", float, double) {
  using T = TestType;
  const Tensor<T> A = kiln::tensor<T>({{2, 1}, {1, 2}});
  const auto w = values(la::eigvalsh(A));
  CHECK(w[0] == Approx(1));
  CHECK(w[1] == Approx(3));
  // 'L' reads the lower triangle, 'U' the upper one: junk in the other does not matter.
  const Tensor<T> lower = kiln::tensor<T>({{2, 99}, {1, 2}});
  const Tensor<T> upper = kiln::tensor<T>({{2, 1}, {99, 2}});
  CHECK(all_close(values(la::eigvalsh(lower, 'L')), w, tol<T>()));
  CHECK(all_close(values(la::eigvalsh(upper, 'U')), w, tol<T>()));
  CHECK(all_close(values(la::eigh(upper.transpose(0, 1), 'L').eigenvalues), w, tol<T>()));

  CHECK(la::eigh(kiln::zeros<T>({0, 4, 4})).eigenvectors.shape() == Shape{0, 4, 4});
  CHECK(la::eigvalsh(kiln::zeros<T>({2, 0, 0})).shape() == Shape{2, 0});

  std::string msg = thrown_message<kiln::ValueError>([&] { la::eigh(A, 'X'); });
  CHECK_THAT(msg, Contains("[linalg.eigh]") && Contains("'X'"));
  msg = thrown_message<kiln::ShapeError>([] { la::eigvalsh(kiln::zeros<T>({2, 3})); });
  CHECK_THAT(msg, Contains("[linalg.eigvalsh]") && Contains("[2, 3]"));
  Tensor<T> bad = kiln::eye<T>(3);
  bad(2, 1) = std::numeric_limits<T>::quiet_NaN();
  msg = thrown_message<kiln::LinAlgError>([&] { la::eigh(bad); });
  CHECK_THAT(msg, Contains("[linalg.eigh]") && Contains("converge"));
}

// ---- lstsq --------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("lstsq: overdetermined problems satisfy the normal equations", "[linalg]", float,
                   double) {
  using T = TestType;
  kiln::manual_seed(16);
  const Tensor<T> A = kiln::randn<T>({2, 8, 3});
  const Tensor<T> B = kiln::randn<T>({2, 8, 2});
  const auto r = la::lstsq(A, B);
  REQUIRE(r.solution.shape() == Shape{2, 3, 2});
  CHECK(values(r.rank) == std::vector<double>{3, 3});
  REQUIRE(r.residuals.shape() == Shape{2, 2});
  CHECK(r.singular_values.numel() == 0);
  const auto as = matrices(A), bs = matrices(B), xs = matrices(r.solution);
  const auto res = values(r.residuals);
  for (int i = 0; i < 2; ++i) {
    // A^T A x = A^T b, solved independently.
    const M at = transpose(as[i]);
    CHECK(max_diff(xs[i], gauss_solve(matmul(at, as[i]), matmul(at, bs[i]))) < tol<T>() * 10);
    M resid = matmul(as[i], xs[i]);
    for (std::size_t j = 0; j < resid.v.size(); ++j) resid.v[j] -= bs[i].v[j];
    for (int64_t c = 0; c < 2; ++c) {
      double s = 0;
      for (int64_t row = 0; row < 8; ++row) s += resid(row, c) * resid(row, c);
      CHECK(res[i * 2 + c] == Approx(s).epsilon(tol<T>() * 10));
    }
  }
}

TEMPLATE_TEST_CASE("lstsq: underdetermined and rank-deficient problems get minimum-norm solutions",
                   "[linalg]", float, double) {
  using T = TestType;
  kiln::manual_seed(17);
  // Underdetermined, full row rank: x = A^T (A A^T)^-1 b.
  const Tensor<T> A = kiln::randn<T>({3, 5});
  const Tensor<T> b = kiln::randn<T>({3});
  const auto r = la::lstsq(A, b);
  REQUIRE(r.solution.shape() == Shape{5});
  CHECK(values(r.rank) == std::vector<double>{3});
  CHECK(r.residuals.numel() == 0);  // m <= n: no residuals
  const M a = matrix(A), at = transpose(a);
  const M want = matmul(at, gauss_solve(matmul(a, at), matrix(b)));
  CHECK(max_diff(matrix(r.solution), want) < tol<T>() * 10);

  // Two equal columns: rank 2, and the minimum-norm solution splits their weight evenly.
  Tensor<T> D = kiln::randn<T>({6, 3});
  D.select(1, 2).copy_(D.select(1, 1));
  const auto rd = la::lstsq(D, kiln::randn<T>({6, 1}));
  CHECK(values(rd.rank) == std::vector<double>{2});
  CHECK(rd.residuals.numel() == 0);  // not every A has full rank
  const auto x = values(rd.solution);
  CHECK(x[1] == Approx(x[2]).epsilon(tol<T>() * 10));
  // rcond decides the rank: a tiny third singular value counts only below it.
  Tensor<T> E = kiln::tensor<T>({{1, 0, 0}, {0, 1, 0}, {0, 0, T(1e-3)}, {0, 0, 0}});
  CHECK(values(la::lstsq(E, kiln::ones<T>({4, 1})).rank) == std::vector<double>{3});
  CHECK(values(la::lstsq(E, kiln::ones<T>({4, 1}), 1e-2).rank) == std::vector<double>{2});
}

TEMPLATE_TEST_CASE("lstsq: broadcasting, transposed, empty inputs and errors", "[linalg]", float,
                   double) {
  using T = TestType;
  kiln::manual_seed(18);
  // A [2, 1, 6, 3] with B [1, 4, 6, 2], each piece checked by A^T (A x - b) = 0. (B with
  // one dim fewer than A would be a batch of vectors, as in torch.)
  const Tensor<T> A = kiln::randn<T>({2, 1, 3, 6}).transpose(-2, -1);
  const Tensor<T> B = kiln::randn<T>({1, 4, 6, 2});
  const auto r = la::lstsq(A, B);
  REQUIRE(r.solution.shape() == Shape{2, 4, 3, 2});
  REQUIRE(r.rank.shape() == Shape{2, 4});
  const auto as = matrices(A), bs = matrices(B), xs = matrices(r.solution);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) {
      M resid = matmul(as[i], xs[i * 4 + j]);
      for (std::size_t e = 0; e < resid.v.size(); ++e) resid.v[e] -= bs[j].v[e];
      CHECK(max_abs(matmul(transpose(as[i]), resid)) < tol<T>() * 20);
    }

  CHECK(la::lstsq(kiln::zeros<T>({0, 4, 3}), kiln::zeros<T>({0, 4, 2})).solution.shape() ==
        Shape{0, 3, 2});
  const auto z = la::lstsq(kiln::zeros<T>({0, 3}), kiln::zeros<T>({0, 2}));
  CHECK(values(z.solution) == std::vector<double>(6, 0.0));
  CHECK(values(z.rank) == std::vector<double>{0});

  std::string msg = thrown_message<kiln::ShapeError>([] {
    la::lstsq(kiln::zeros<T>({4, 3}), kiln::zeros<T>({5, 2}));
  });
  CHECK_THAT(msg, Contains("[linalg.lstsq]") && Contains("[4, 3]") && Contains("[5, 2]"));
  msg = thrown_message<kiln::ShapeError>([] {
    la::lstsq(kiln::zeros<T>({2, 4, 3}), kiln::zeros<T>({4}));
  });
  CHECK_THAT(msg, Contains("[linalg.lstsq]") && Contains("[4]"));
  msg = thrown_message<kiln::ShapeError>([] {
    la::lstsq(kiln::zeros<T>({2, 4, 3}), kiln::zeros<T>({3, 4, 1}));
  });
  CHECK_THAT(msg, Contains("[linalg.lstsq]") && Contains("broadcast"));
  // [4, 6, 2] against A [2, 1, 6, 3] is a batch of vectors of length 2, not 6 rows.
  msg = thrown_message<kiln::ShapeError>([] {
    la::lstsq(kiln::zeros<T>({2, 1, 6, 3}), kiln::zeros<T>({4, 6, 2}));
  });
  CHECK_THAT(msg, Contains("[linalg.lstsq]") && Contains("[4, 6, 2]"));
  CHECK_THROWS_AS(la::lstsq(kiln::zeros<T>({4}), kiln::zeros<T>({4})), kiln::ShapeError);
  msg = thrown_message<kiln::ValueError>(
      [] { la::lstsq(kiln::eye<T>(2), kiln::ones<T>({2}), std::nan("")); });
  CHECK_THAT(msg, Contains("[linalg.lstsq]") && Contains("rcond"));
}
