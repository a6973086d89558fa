// SPDX-License-Identifier: BSD-3-Clause
// kiln::linalg under autograd, beyond the gradcheck table: backward errors (what is not
// differentiable), outputs without a gradient, saved-tensor version checks, repeated
// eigenvalues, float.
#include <catch2/catch.hpp>
#include <cmath>

#include "kiln/kiln.hpp"
#include "support/throws.hpp"

using kiln::Tensor;
namespace k = kiln;
namespace la = kiln::linalg;
using kiln_test::thrown_message;

namespace {
Tensor<double> mat(std::initializer_list<double> v, const kiln::Shape& s) {
  Tensor<double> t(s);
  int64_t i = 0;
  for (double x : v) t.data()[i++] = x;
  return t;
}
}  // namespace

TEST_CASE("linalg autograd: qr without Q, and complete tall qr, throw on backward",
          "[autograd][linalg]") {
  const Tensor<double> A = mat({2, 1, 0, 1, 3, 1}, {3, 2}).requires_grad_();
  const auto r = la::qr(A, "r");
  CHECK(r.R.requires_grad());
  CHECK_FALSE(r.Q.requires_grad());
  const Tensor<double> lr = k::sum(r.R);
  CHECK(thrown_message<kiln::AutogradError>([&] { lr.backward(); }).find("mode='r'") !=
        std::string::npos);
  const Tensor<double> lc = k::sum(la::qr(A, "complete").Q);
  CHECK(thrown_message<kiln::AutogradError>([&] { lc.backward(); }).find("LinalgQrBackward") !=
        std::string::npos);
}

TEST_CASE("linalg autograd: svd with full_matrices uses only the first min(m, n) vectors",
          "[autograd][linalg]") {
  const Tensor<double> A = mat({2, 1, 0, 1, 3, 1}, {3, 2}).requires_grad_();
  // A loss of S (or of the first k columns of U) is fine...
  k::sum(la::svd(A).S).backward();
  REQUIRE(A.grad().defined());
  // ...but U's third column is not unique.
  const Tensor<double> u = k::sum(la::svd(A).U.narrow(1, 2, 1));
  CHECK(thrown_message<kiln::AutogradError>([&] { u.backward(); }).find("full_matrices") !=
        std::string::npos);
}

TEST_CASE("linalg autograd: double backward through det of a singular matrix throws",
          "[autograd][linalg]") {
  const Tensor<double> A = mat({1, 2, 2, 4}, {2, 2}).requires_grad_();
  const Tensor<double> d = la::det(A);
  // First order: the cofactor matrix [[4, -2], [-2, 1]].
  const auto g = k::autograd::grad<double, k::CPU>({d}, {A});
  CHECK(g[0].at({0, 0}) == Approx(4));
  CHECK(g[0].at({0, 1}) == Approx(-2));
  CHECK(g[0].at({1, 1}) == Approx(1));
  const Tensor<double> d2 = la::det(A);
  CHECK(thrown_message<kiln::AutogradError>([&] {
          k::autograd::grad<double, k::CPU>({d2}, {A}, {}, true, /*create_graph=*/true);
        }).find("LinalgDetBackward") != std::string::npos);
}

TEST_CASE("linalg autograd: slogdet's sign has no gradient", "[autograd][linalg]") {
  const Tensor<double> A = mat({0, 1, 1, 0}, {2, 2}).requires_grad_();
  const auto r = la::slogdet(A);
  CHECK_FALSE(r.sign.requires_grad());
  REQUIRE(r.logabsdet.requires_grad());
  r.logabsdet.backward();
  // d log|det A| / dA = A^-T = [[0, 1], [1, 0]].
  CHECK(A.grad().at({0, 1}) == Approx(1));
  CHECK(A.grad().at({0, 0}) == Approx(0).margin(1e-12));
}

TEST_CASE("linalg autograd: a saved input modified in place makes backward throw",
          "[autograd][linalg]") {
  const Tensor<double> A = mat({3, 1, 1, 2}, {2, 2});
  const Tensor<double> B = mat({1, 2}, {2}).requires_grad_();
  const Tensor<double> loss = k::sum(la::solve(A, B));
  A.fill_(1.0);
  CHECK(thrown_message<kiln::AutogradError>([&] { loss.backward(); }).find("LinalgSolveBackward") !=
        std::string::npos);
}

TEST_CASE("linalg autograd: eigenvalue gradients stay finite for repeated eigenvalues",
          "[autograd][linalg]") {
  // I has one eigenvalue three times: the eigenvector term (1 / (l_j - l_i)) must be
  // skipped when the loss does not use the eigenvectors.
  const Tensor<double> A = k::eye<double>(3).requires_grad_();
  k::sum(la::eigh(A).eigenvalues).backward();
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j)
      CHECK(A.grad().at({i, j}) == Approx(i == j ? 1.0 : 0.0).margin(1e-12));
  const Tensor<double> B = k::eye<double>(2).requires_grad_();
  k::sum(la::svdvals(B)).backward();
  CHECK(std::isfinite(B.grad().at({0, 1})));
  CHECK(B.grad().at({0, 0}) == Approx(1));
}

TEST_CASE("linalg autograd: float inputs", "[autograd][linalg]") {
  Tensor<float> A({2, 2});
  A.data()[0] = 2, A.data()[1] = 1, A.data()[2] = 1, A.data()[3] = 3;
  A.requires_grad_();
  k::sum(la::inv(A)).backward();
  // d sum(inv(A)) / dA = -inv(A)^T 1 1^T inv(A)^T; inv(A) = [[3, -1], [-1, 2]] / 5.
  // Row and column sums of inv(A) are 2/5 and 1/5: the gradient is -(c_i r_j).
  CHECK(A.grad().at({0, 0}) == Approx(-0.4f * 0.4f));
  CHECK(A.grad().at({1, 1}) == Approx(-0.2f * 0.2f));
  const Tensor<float> X = la::cholesky(A);
  CHECK(X.requires_grad());
  REQUIRE(X.grad_fn());
  CHECK(X.grad_fn()->name() == "LinalgCholeskyBackward");
}

TEST_CASE("linalg autograd: eigh's and cholesky's gradients are symmetric", "[autograd][linalg]") {
  const Tensor<double> A = mat({4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2}, {3, 3}).requires_grad_();
  const Tensor<double> W = mat({1, -2, 0.5, 0.3, 2, -1, 1.5, 0.7, -0.4}, {3, 3});
  const auto e = la::eigh(A);
  k::sum(e.eigenvectors * W + e.eigenvalues * e.eigenvalues).backward();
  const Tensor<double> ge = A.grad();
  A.zero_grad(true);
  k::sum(la::cholesky(A) * W).backward();
  const Tensor<double> gc = A.grad();
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < i; ++j) {
      CHECK(ge.at({i, j}) == Approx(ge.at({j, i})).margin(1e-12));
      CHECK(gc.at({i, j}) == Approx(gc.at({j, i})).margin(1e-12));
    }
}
