// SPDX-License-Identifier: BSD-3-Clause
// kiln::linalg::detail backward formulas against central finite differences in double.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>

#include "kiln/kiln.hpp"
#include "linalg/linalg_check.hpp"
#include "support/throws.hpp"

using kiln::Shape;
using kiln::Tensor;
namespace la = kiln::linalg;
using namespace linalg_test;

namespace {

using Loss = std::function<double(const Tensor<double>&)>;

// sum(g * y) over all elements.
double dot(const Tensor<double>& g, const Tensor<double>& y) {
  const auto a = values(g), b = values(y);
  REQUIRE(a.size() == b.size());
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// d loss / d x[flat] (and x[flat2] moved along with it, when given), by central differences.
double central_diff(const Tensor<double>& x, int64_t flat, const Loss& loss, int64_t flat2 = -1) {
  const double h = 1e-6;
  Tensor<double> p = x.clone(), m = x.clone();
  p.data()[flat] += h;
  m.data()[flat] -= h;
  if (flat2 >= 0 && flat2 != flat) {
    p.data()[flat2] += h;
    m.data()[flat2] -= h;
  }
  return (loss(p) - loss(m)) / (2 * h);
}

// Every entry of `grad` against finite differences of `loss` at x (contiguous).
void check_gradient(const Tensor<double>& x, const Tensor<double>& grad, const Loss& loss,
                    double tol = 1e-6) {
  REQUIRE(grad.shape() == x.shape());
  const auto g = values(grad);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double fd = central_diff(x, i, loss);
    INFO("element " << i << ": analytic " << g[i] << ", finite difference " << fd);
    CHECK(std::abs(g[i] - fd) <= tol * std::max(1.0, std::abs(fd)));
  }
}

}  // namespace

TEST_CASE("inv_backward matches finite differences", "[linalg]") {
  kiln::manual_seed(30);
  const Tensor<double> A = well_conditioned<double>({2, 3, 3});
  const Tensor<double> G = kiln::randn<double>({2, 3, 3});
  const Tensor<double> gA = la::detail::inv_backward(G, la::inv(A));
  check_gradient(A, gA, [&](const Tensor<double>& a) { return dot(G, la::inv(a)); });
}

TEST_CASE("det_backward matches finite differences, singular matrices included", "[linalg]") {
  kiln::manual_seed(31);
  const Tensor<double> A = kiln::randn<double>({2, 4, 4});
  const Tensor<double> g = kiln::randn<double>({2});
  const Loss loss = [&](const Tensor<double>& a) { return dot(g, la::det(a)); };
  check_gradient(A, la::detail::det_backward(g, A, la::det(A)), loss);

  // Rank 2 of 3 (third row = first + second): det is 0 but its gradient is not.
  const Tensor<double> S = kiln::tensor<double>({{1, 2, 3}, {0, 1, 4}, {1, 3, 7}});
  const Tensor<double> one = kiln::ones<double>({});
  const Tensor<double> gS = la::detail::det_backward(one, S, la::det(S));
  check_gradient(S, gS, [&](const Tensor<double>& a) { return la::det(a).item(); });
  double norm = 0;
  for (double v : values(gS)) norm += std::abs(v);
  CHECK(norm > 1);
  // Rank 1: every cofactor is 0.
  const Tensor<double> R = kiln::tensor<double>({{1, 2, 3}, {2, 4, 6}, {3, 6, 9}});
  for (double v : values(la::detail::det_backward(one, R, la::det(R)))) CHECK(std::abs(v) < 1e-12);
}

TEST_CASE("slogdet_backward matches finite differences", "[linalg]") {
  kiln::manual_seed(32);
  const Tensor<double> A = kiln::randn<double>({3, 3, 3});
  const Tensor<double> g = kiln::randn<double>({3});
  check_gradient(A, la::detail::slogdet_backward(g, A),
                 [&](const Tensor<double>& a) { return dot(g, la::slogdet(a).logabsdet); });
}

TEST_CASE("solve_backward matches finite differences, with broadcasting", "[linalg]") {
  kiln::manual_seed(33);
  {  // A [2, 1, 3, 3] broadcast against B [4, 3, 2]: gradients summed back to each shape.
    const Tensor<double> A = well_conditioned<double>({2, 1, 3, 3});
    const Tensor<double> B = kiln::randn<double>({4, 3, 2});
    const Tensor<double> X = la::solve(A, B);
    const Tensor<double> G = kiln::randn_like(X);
    const auto grads = la::detail::solve_backward(G, A, B, X);
    check_gradient(A, grads.grad_A,
                   [&](const Tensor<double>& a) { return dot(G, la::solve(a, B)); });
    check_gradient(B, grads.grad_B,
                   [&](const Tensor<double>& b) { return dot(G, la::solve(A, b)); });
  }
  {  // A batch of matrices with one shared vector.
    const Tensor<double> A = well_conditioned<double>({3, 4, 4});
    const Tensor<double> b = kiln::randn<double>({4});
    const Tensor<double> X = la::solve(A, b);
    const Tensor<double> G = kiln::randn_like(X);
    const auto grads = la::detail::solve_backward(G, A, b, X);
    check_gradient(A, grads.grad_A,
                   [&](const Tensor<double>& a) { return dot(G, la::solve(a, b)); });
    check_gradient(b, grads.grad_B,
                   [&](const Tensor<double>& v) { return dot(G, la::solve(A, v)); });
  }
  CHECK_THROWS_AS(
      la::detail::solve_backward(kiln::zeros<double>({3}), kiln::eye<double>(3),
                                 kiln::ones<double>({3, 1}), kiln::ones<double>({3, 1})),
      kiln::ShapeError);
}

TEST_CASE("cholesky_backward matches finite differences along symmetric perturbations",
          "[linalg]") {
  kiln::manual_seed(34);
  const int64_t n = 4;
  const Tensor<double> A = spd<double>({2, n, n});
  const Tensor<double> G = kiln::randn<double>({2, n, n});
  for (bool upper : {false, true}) {
    INFO("upper " << upper);
    const Tensor<double> gA = la::detail::cholesky_backward(G, la::cholesky(A, upper), upper);
    const auto g = values(gA);
    const Loss loss = [&](const Tensor<double>& a) { return dot(G, la::cholesky(a, upper)); };
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j <= i; ++j) {
          const int64_t ij = (b * n + i) * n + j, ji = (b * n + j) * n + i;
          CHECK(g[ij] == Approx(g[ji]).margin(1e-12));  // symmetric
          // Moving a_ij and a_ji together changes the loss by gA_ij + gA_ji.
          const double fd = central_diff(A, ij, loss, ji);
          const double want = i == j ? g[ij] : g[ij] + g[ji];
          INFO("batch " << b << " (" << i << ", " << j << ")");
          CHECK(std::abs(fd - want) <= 1e-6 * std::max(1.0, std::abs(fd)));
        }
  }
}

TEST_CASE("linalg backward helpers check their shapes", "[linalg]") {
  const Tensor<double> I = kiln::eye<double>(3);
  CHECK_THROWS_AS(la::detail::inv_backward(kiln::zeros<double>({2, 2}), I), kiln::ShapeError);
  CHECK_THROWS_AS(la::detail::det_backward(kiln::zeros<double>({2}), I, la::det(I)),
                  kiln::ShapeError);
  CHECK_THROWS_AS(la::detail::cholesky_backward(I, kiln::zeros<double>({3, 2}), false),
                  kiln::ShapeError);
  CHECK_THROWS_AS(la::detail::slogdet_backward(kiln::ones<double>({}), kiln::zeros<double>({3, 3})),
                  kiln::LinAlgError);
}
