// SPDX-License-Identifier: BSD-3-Clause
// softmax, log_softmax and their backward kernels against plain double loops.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "kiln/kiln.hpp"
#include "support/rows.hpp"
#include "support/throws.hpp"

namespace {

using kiln::Shape;
using kiln_test::check_close;
using kiln_test::map_rows;
using kiln_test::values_of;

std::vector<double> ref_softmax(const std::vector<double>& x) {
  double m = -INFINITY, s = 0;
  for (double v : x) m = std::max(m, v);
  for (double v : x) s += std::exp(v - m);
  std::vector<double> y;
  for (double v : x) y.push_back(std::exp(v - m) / s);
  return y;
}
std::vector<double> ref_log_softmax(const std::vector<double>& x) {
  double m = -INFINITY, s = 0;
  for (double v : x) m = std::max(m, v);
  for (double v : x) s += std::exp(v - m);
  std::vector<double> y;
  for (double v : x) y.push_back(v - m - std::log(s));
  return y;
}

// Maps each pair of rows (of g and of y, along dim d) through f, which gets them
// concatenated: [g row..., y row...].
std::vector<double> map_row_pairs(const std::vector<double>& g, const std::vector<double>& y,
                                  const Shape& s, int d, const kiln_test::RowFn& f) {
  std::vector<std::vector<double>> grows;
  map_rows(g, s, d, [&](const std::vector<double>& r) {
    grows.push_back(r);
    return r;
  });
  std::size_t i = 0;
  return map_rows(y, s, d, [&](const std::vector<double>& r) {
    std::vector<double> in = grows[i++];
    in.insert(in.end(), r.begin(), r.end());
    return f(in);
  });
}

}  // namespace

TEMPLATE_TEST_CASE("softmax and log_softmax match reference loops on every layout and dim",
                   "[ops][softmax]", float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-13;
  for (auto& [name, x] : kiln_test::row_layouts<T>()) {
    const auto v = values_of(x);
    for (int d = -std::max(x.dim(), 1); d < std::max(x.dim(), 1); ++d) {
      INFO(name << ", dim " << d);
      const int dd = x.dim() == 0 ? 0 : (d + x.dim()) % x.dim();
      const kiln::Tensor<T> y = kiln::softmax(x, d);
      CHECK(y.shape() == x.shape());
      CHECK(y.is_contiguous());
      check_close(y, map_rows(v, x.shape(), dd, ref_softmax), tol, tol);
      check_close(kiln::log_softmax(x, d), map_rows(v, x.shape(), dd, ref_log_softmax), tol, tol);
    }
  }
}

TEMPLATE_TEST_CASE("softmax down the columns of wide contiguous tensors", "[ops][softmax]", float,
                   double) {
  // Leading dims of contiguous tensors run down whole row segments at once (Note [Softmax
  // down columns]): widths beyond one segment, rows beyond one tile, rising maxima.
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-13;
  kiln::manual_seed(19);
  const kiln::Tensor<T> trend = kiln::arange<T>(0, 37).reshape({37, 1}) * T(0.25);
  for (const Shape& s : {Shape{37, 1100}, Shape{3, 37, 600}}) {
    kiln::Tensor<T> x = kiln::randn<T>(s) * T(3);
    if (s.size() == 2) x = x + trend;  // maxima rise tile after tile
    const auto v = values_of(x);
    const int d = s.size() - 2;
    INFO("shape " << s << ", dim " << d);
    check_close(kiln::softmax(x, d), map_rows(v, s, d, ref_softmax), tol, tol);
    check_close(kiln::log_softmax(x, d), map_rows(v, s, d, ref_log_softmax), tol, tol);
  }
  // A NaN late in one column poisons that column only; an all -inf column is NaN.
  kiln::Tensor<T> x = kiln::randn<T>({40, 530});
  x(35, 7) = std::numeric_limits<T>::quiet_NaN();
  x.select(1, 520).fill_(-std::numeric_limits<T>::infinity());
  const auto y = kiln::softmax(x, 0), ly = kiln::log_softmax(x, 0);
  for (int64_t k : {0, 20, 39}) {
    CHECK(std::isnan(y(k, 7)));
    CHECK(std::isnan(ly(k, 520)));
    CHECK_FALSE(std::isnan(y(k, 6)));
    CHECK_FALSE(std::isnan(ly(k, 521)));
  }
}

TEST_CASE("softmax is stable for large inputs", "[ops][softmax]") {
  auto x = kiln::tensor<float>({{1000, -1000, 999}, {-1000, -1000, -1001}});
  const double e1 = std::exp(-1.0);
  check_close(kiln::softmax(x, 1),
              {1 / (1 + e1), 0, e1 / (1 + e1), 1 / (2 + e1), 1 / (2 + e1), e1 / (2 + e1)}, 1e-6,
              1e-7);
  // log_softmax stays finite where softmax underflows to 0.
  check_close(kiln::log_softmax(x, 1),
              {-std::log1p(e1), -2000 - std::log1p(e1), -1 - std::log1p(e1), -std::log(2 + e1),
               -std::log(2 + e1), -1 - std::log(2 + e1)},
              1e-6, 1e-5);
  auto xd = kiln::tensor<double>({1e300, -1e300, 1e300});
  check_close(kiln::softmax(xd, 0), {0.5, 0, 0.5}, 1e-15, 0);
  // -inf entries get probability 0 (and log-probability -inf).
  auto ninf = kiln::tensor<float>({-INFINITY, 0, 0});
  check_close(kiln::softmax(ninf, 0), {0, 0.5, 0.5}, 1e-7, 0);
  check_close(kiln::log_softmax(ninf, 0), {-INFINITY, -std::log(2), -std::log(2)}, 1e-7, 0);
}

TEST_CASE("softmax: NaN poisons its row only; an all -inf row is NaN", "[ops][softmax]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto x = kiln::tensor<float>({{1, NAN, 3}, {0, 0, 0}, {-INFINITY, -INFINITY, -INFINITY}});
  const double third = 1.0 / 3.0;
  check_close(kiln::softmax(x, 1), {nan, nan, nan, third, third, third, nan, nan, nan}, 1e-6, 0);
  check_close(kiln::log_softmax(x, 1),
              {nan, nan, nan, -std::log(3), -std::log(3), -std::log(3), nan, nan, nan}, 1e-6, 0);
  // A NaN in a long row's second block still reaches the first block's outputs.
  auto long_row = kiln::zeros<double>({1, 5000});
  long_row(0, 4500) = nan;
  const auto y = values_of(kiln::softmax(long_row, 1));
  CHECK(std::isnan(y[0]));
  CHECK(std::isnan(y[4999]));
}

TEST_CASE("softmax of rows and columns that start with a long -inf run", "[ops][softmax]") {
  // A masked prefix longer than the row block (2048) or the column tile (16) must give
  // zeros, not exp(-inf + inf) = NaN.
  auto row = kiln::full<float>({2, 5000}, -INFINITY);
  row.slice(1, 2500, 5000).copy_(kiln::randn<float>({2, 2500}));
  const auto vr = values_of(row);
  check_close(kiln::softmax(row, 1), map_rows(vr, row.shape(), 1, ref_softmax), 2e-6, 2e-6);
  check_close(kiln::log_softmax(row, 1), map_rows(vr, row.shape(), 1, ref_log_softmax), 2e-6, 2e-6);
  auto col = kiln::full<double>({40, 530}, -INFINITY);
  col.slice(0, 20, 40).copy_(kiln::randn<double>({20, 530}));
  const auto vc = values_of(col);
  check_close(kiln::softmax(col, 0), map_rows(vc, col.shape(), 0, ref_softmax), 1e-13, 1e-13);
  check_close(kiln::log_softmax(col, 0), map_rows(vc, col.shape(), 0, ref_log_softmax), 1e-13,
              1e-13);
  // A NaN after a -inf block still poisons the row.
  auto nan_row = kiln::full<float>({1, 5000}, -INFINITY);
  nan_row(0, 4000) = NAN;
  CHECK(std::isnan(kiln::softmax(nan_row, 1)(0, 0)));
  CHECK(std::isnan(kiln::log_softmax(nan_row, 1)(0, 4999)));
}

TEST_CASE("softmax of size-0 and size-1 dims", "[ops][softmax]") {
  CHECK(kiln::softmax(kiln::zeros<float>({0, 3}), 1).shape() == Shape{0, 3});
  CHECK(kiln::softmax(kiln::zeros<float>({3, 0}), 1).shape() == Shape{3, 0});
  CHECK(kiln::log_softmax(kiln::zeros<double>({0}), 0).numel() == 0);
  check_close(kiln::softmax(kiln::tensor<float>({{5}, {-7}}), 1), {1, 1}, 0, 0);
  check_close(kiln::log_softmax(kiln::tensor<float>({{5}, {-7}}), 1), {0, 0}, 0, 0);
  check_close(kiln::softmax(kiln::scalar_tensor<double>(-3.0), 0), {1}, 0, 0);
  check_close(kiln::log_softmax(kiln::scalar_tensor<double>(-3.0), -1), {0}, 0, 0);
}

TEST_CASE("softmax takes expressions, half and bfloat16", "[ops][softmax]") {
  kiln::manual_seed(5);
  auto x = kiln::randn<float>({6, 33});
  const auto want = map_rows(values_of(kiln::Tensor<float>(x * 2.0f)), x.shape(), 1, ref_softmax);
  check_close(kiln::softmax(x * 2.0f, 1), want, 2e-6, 2e-6);
  // half/bfloat16 compute in float and round once.
  const auto vh = values_of(x.to<kiln::half>());
  check_close(kiln::softmax(x.to<kiln::half>(), 1), map_rows(vh, x.shape(), 1, ref_softmax), 1e-3,
              1e-4);
  const auto vb = values_of(x.to<kiln::bfloat16>().t());
  check_close(kiln::log_softmax(x.to<kiln::bfloat16>().t(), 0),
              map_rows(vb, Shape{33, 6}, 0, ref_log_softmax), 1e-2, 1e-2);
}

TEST_CASE("softmax results do not depend on the thread count", "[ops][softmax]") {
  kiln::manual_seed(9);
  auto x = kiln::randn<float>({64, 3000});
  const int saved = kiln::get_num_threads();
  kiln::set_num_threads(1);
  const kiln::Tensor<float> a = kiln::softmax(x, 1), la = kiln::log_softmax(x, 0);
  kiln::set_num_threads(2);
  const kiln::Tensor<float> b = kiln::softmax(x, 1), lb = kiln::log_softmax(x, 0);
  kiln::set_num_threads(saved);
  CHECK(values_of(a) == values_of(b));
  CHECK(values_of(la) == values_of(lb));
}

TEMPLATE_TEST_CASE("softmax_backward and log_softmax_backward match reference loops",
                   "[ops][softmax]", float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  kiln::manual_seed(13);
  for (const Shape& s : {Shape{4, 7}, Shape{3, 1, 5}, Shape{6}}) {
    const kiln::Tensor<T> x = kiln::randn<T>(s);
    const kiln::Tensor<T> g = kiln::randn<T>(s);
    for (int d = 0; d < s.size(); ++d) {
      INFO("shape " << s << ", dim " << d);
      const auto vg = values_of(g);
      const kiln::Tensor<T> y = kiln::softmax(x, d), ly = kiln::log_softmax(x, d);
      const auto want = map_row_pairs(vg, values_of(y), s, d, [](const std::vector<double>& gy) {
        const std::size_t n = gy.size() / 2;
        double dot = 0;
        for (std::size_t i = 0; i < n; ++i) dot += gy[i] * gy[n + i];
        std::vector<double> r;
        for (std::size_t i = 0; i < n; ++i) r.push_back(gy[n + i] * (gy[i] - dot));
        return r;
      });
      check_close(kiln::softmax_backward(g, y, d), want, tol, tol);
      const auto want_log =
          map_row_pairs(vg, values_of(ly), s, d, [](const std::vector<double>& gy) {
            const std::size_t n = gy.size() / 2;
            double total = 0;
            for (std::size_t i = 0; i < n; ++i) total += gy[i];
            std::vector<double> r;
            for (std::size_t i = 0; i < n; ++i) r.push_back(gy[i] - std::exp(gy[n + i]) * total);
            return r;
          });
      // Non-contiguous gradients take the same path.
      check_close(
          kiln::log_softmax_backward(g.transpose(0, -1).contiguous().transpose(0, -1), ly, d),
          want_log, tol, tol);
    }
  }
}

TEST_CASE("softmax_backward agrees with finite differences", "[ops][softmax]") {
  // d/dx_j sum_i g_i softmax(x)_i, by central differences in double.
  kiln::manual_seed(17);
  const kiln::Tensor<double> x = kiln::randn<double>({3, 4});
  const kiln::Tensor<double> g = kiln::randn<double>({3, 4});
  for (bool log : {false, true}) {
    auto f = [&](const kiln::Tensor<double>& xx) {
      const kiln::Tensor<double> y = log ? kiln::log_softmax(xx, 1) : kiln::softmax(xx, 1);
      return kiln::sum(y * g).item();
    };
    const kiln::Tensor<double> y = log ? kiln::log_softmax(x, 1) : kiln::softmax(x, 1);
    const auto got =
        values_of(log ? kiln::log_softmax_backward(g, y, 1) : kiln::softmax_backward(g, y, 1));
    const double h = 1e-6;
    for (int64_t i = 0; i < 12; ++i) {
      kiln::Tensor<double> xp = x.clone(), xm = x.clone();
      xp.data()[i] += h;
      xm.data()[i] -= h;
      INFO("log " << log << ", element " << i);
      CHECK(got[static_cast<std::size_t>(i)] == Approx((f(xp) - f(xm)) / (2 * h)).margin(1e-8));
    }
  }
}

TEST_CASE("softmax errors name the op, the dim and the rank", "[ops][softmax][errors]") {
  auto x = kiln::zeros<float>({2, 3});
  auto msg = kiln_test::thrown_message<kiln::IndexError>([&] { (void)kiln::softmax(x, 2); });
  CHECK_THAT(msg, Catch::Contains("[softmax]") && Catch::Contains("got 2") &&
                      Catch::Contains("rank 2") && Catch::Contains("[2, 3]"));
  msg = kiln_test::thrown_message<kiln::IndexError>([&] { (void)kiln::log_softmax(x, -3); });
  CHECK_THAT(msg, Catch::Contains("[log_softmax]") && Catch::Contains("got -3"));
  CHECK_THROWS_AS(kiln::softmax(kiln::scalar_tensor<float>(1), 1), kiln::IndexError);
  msg = kiln_test::thrown_message<kiln::ShapeError>([&] {
    (void)kiln::softmax_backward(kiln::zeros<float>({3, 2}), x, 1);
  });
  CHECK_THAT(msg, Catch::Contains("[softmax_backward]") && Catch::Contains("[3, 2]") &&
                      Catch::Contains("[2, 3]"));
  msg = kiln_test::thrown_message<kiln::IndexError>(
      [&] { (void)kiln::log_softmax_backward(x, x, 5); });
  CHECK_THAT(msg, Catch::Contains("[log_softmax_backward]") && Catch::Contains("got 5"));
}
