// SPDX-License-Identifier: BSD-3-Clause
// The library's compiled reductions of plain tensors (Note [Compiled reductions of plain
// tensors]). Only files built for the baseline ISA call them, so CMake builds this file
// with -mno-avx on x86-64; the results are checked against plain loops in double.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "kiln/kiln.hpp"

namespace {

using kiln::Dims;
using kiln::Shape;
using kiln::Tensor;

#if defined(__x86_64__) && !defined(__AVX__)
static_assert(kiln::detail::precompiled_reduction_v<Tensor<float>> &&
                  kiln::detail::precompiled_reduction_v<Tensor<double>>,
              "this file must exercise the compiled reductions");
#endif

// Row reductions of a [R, C] matrix given as a plain (possibly transposed) tensor.
template <class T, class F>
std::vector<double> rows_ref(const Tensor<T>& x, F f) {
  std::vector<double> out;
  for (int64_t i = 0; i < x.size(0); ++i) {
    std::vector<double> row;
    for (int64_t j = 0; j < x.size(1); ++j) row.push_back(double(x(i, j)));
    out.push_back(f(row));
  }
  return out;
}

template <class T>
void require_rows(const Tensor<T>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.shape() == Shape{static_cast<int64_t>(want.size())});
  for (int64_t i = 0; i < got.numel(); ++i) {
    INFO("row " << i);
    REQUIRE(std::abs(double(got(i)) - want[std::size_t(i)]) <=
            tol * (1 + std::abs(want[std::size_t(i)])));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("compiled reductions of plain tensors match loops", "[reduce]", float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  kiln::manual_seed(21);
  const Tensor<T> base = kiln::randn<T>({70, 33});
  for (const Tensor<T>& x : {base, Tensor<T>(kiln::randn<T>({33, 70})).t()}) {
    const auto sum = [](const std::vector<double>& r) {
      double s = 0;
      for (double v : r) s += v;
      return s;
    };
    const auto mean = [&](const std::vector<double>& r) { return sum(r) / double(r.size()); };
    const auto var = [&](const std::vector<double>& r, int c) {
      const double m = mean(r);
      double s = 0;
      for (double v : r) s += (v - m) * (v - m);
      return s / double(int64_t(r.size()) - c);
    };
    require_rows(kiln::sum(x, 1), rows_ref(x, sum), tol);
    require_rows(kiln::mean(x, 1), rows_ref(x, mean), tol);
    require_rows(kiln::prod(x, 1),
                 rows_ref(x,
                          [](const std::vector<double>& r) {
                            double p = 1;
                            for (double v : r) p *= v;
                            return p;
                          }),
                 tol * 10);
    require_rows(
        kiln::amax(x, {1}),
        rows_ref(
            x, [](const std::vector<double>& r) { return *std::max_element(r.begin(), r.end()); }),
        0);
    require_rows(
        kiln::amin(x, {1}),
        rows_ref(
            x, [](const std::vector<double>& r) { return *std::min_element(r.begin(), r.end()); }),
        0);
    require_rows(kiln::var(x, {1}), rows_ref(x, [&](const auto& r) { return var(r, 1); }), tol);
    require_rows(kiln::std(x, {1}, 0),
                 rows_ref(x, [&](const auto& r) { return std::sqrt(var(r, 0)); }), tol);
    require_rows(kiln::logsumexp(x, 1),
                 rows_ref(x,
                          [](const std::vector<double>& r) {
                            double m = *std::max_element(r.begin(), r.end()), s = 0;
                            for (double v : r) s += std::exp(v - m);
                            return m + std::log(s);
                          }),
                 tol);
    require_rows(kiln::norm(x, 3.0, {1}),
                 rows_ref(x,
                          [](const std::vector<double>& r) {
                            double s = 0;
                            for (double v : r) s += std::pow(std::abs(v), 3.0);
                            return std::cbrt(s);
                          }),
                 tol);
    // Over every dim, and over the other dim (the column path).
    double total = 0;
    for (double v : rows_ref(x, sum)) total += v;
    REQUIRE(std::abs(double(kiln::sum(x).item()) - total) <= tol * 10 * (1 + std::abs(total)));
    const Tensor<T> cols = kiln::sum(x, 0, /*keepdim=*/true);
    REQUIRE(cols.shape() == Shape{1, x.size(1)});
    for (int64_t j = 0; j < x.size(1); ++j) {
      double s = 0;
      for (int64_t i = 0; i < x.size(0); ++i) s += double(x(i, j));
      REQUIRE(std::abs(double(cols(0, j)) - s) <= tol * (1 + std::abs(s)));
    }
  }
}

TEST_CASE("compiled reductions record their backward", "[reduce][autograd]") {
  const Tensor<double> x = kiln::arange<double>(0, 6).reshape({2, 3}).requires_grad_();
  Tensor<double> loss = kiln::sum(kiln::mean(x, 1)) + kiln::sum(kiln::amax(x, {0}));
  loss.backward();
  // d/dx of sum(mean(x, 1)) is 1/3 everywhere; amax over dim 0 picks row 1.
  const double want[2][3] = {{1.0 / 3, 1.0 / 3, 1.0 / 3}, {4.0 / 3, 4.0 / 3, 4.0 / 3}};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) REQUIRE(std::abs(x.grad()(i, j) - want[i][j]) < 1e-15);
  REQUIRE_THROWS_AS(kiln::amax(Tensor<float>({0, 3}), {0}), kiln::ValueError);
  REQUIRE(kiln::sum(Tensor<float>({0, 3}), 0).shape() == Shape{3});
}
