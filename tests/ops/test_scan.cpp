// SPDX-License-Identifier: BSD-3-Clause
// cumsum, cumprod and cumsum_backward against plain loops, over layouts, dims and dtypes.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kiln/kiln.hpp"
#include "support/rows.hpp"
#include "support/throws.hpp"

namespace {

using kiln::Shape;
using kiln_test::check_close;
using kiln_test::map_rows;
using kiln_test::values_of;

std::vector<double> ref_cumsum(const std::vector<double>& x) {
  std::vector<double> y;
  double s = 0;
  for (double v : x) y.push_back(s += v);
  return y;
}
std::vector<double> ref_cumprod(const std::vector<double>& x) {
  std::vector<double> y;
  double p = 1;
  for (double v : x) y.push_back(p *= v);
  return y;
}
std::vector<double> ref_rev_cumsum(const std::vector<double>& x) {
  std::vector<double> y(x.size());
  double s = 0;
  for (std::size_t i = x.size(); i-- > 0;) y[i] = s += x[i];
  return y;
}

}  // namespace

TEMPLATE_TEST_CASE("cumsum and cumprod match reference loops on every layout and dim",
                   "[ops][scan]", float, double, int32_t) {
  using T = TestType;
  using O = std::conditional_t<std::is_integral_v<T>, int64_t, T>;
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-12;
  for (auto& [name, x] : kiln_test::row_layouts<T>(/*integral=*/std::is_integral_v<T>)) {
    const auto v = values_of(x);
    for (int d = -std::max(x.dim(), 1); d < std::max(x.dim(), 1); ++d) {
      INFO(name << ", dim " << d);
      const int dd = x.dim() == 0 ? 0 : (d + x.dim()) % x.dim();
      const kiln::Tensor<O> s = kiln::cumsum(x, d);  // int32 -> int64
      CHECK(s.shape() == x.shape());
      check_close(s, map_rows(v, x.shape(), dd, ref_cumsum), tol, tol);
      if (x.numel() < 100 || std::is_integral_v<T>) {  // long float products under/overflow
        const kiln::Tensor<O> p = kiln::cumprod(x, d);
        // Integer products wrap in int64 after ~40 factors of 2; compare short rows only.
        if (!std::is_integral_v<T> || x.dim() == 0 || x.shape()[dd] < 30)
          check_close(p, map_rows(v, x.shape(), dd, ref_cumprod), tol, tol);
      }
      if constexpr (kiln::is_floating_v<T>)
        check_close(kiln::cumsum_backward(x, d), map_rows(v, x.shape(), dd, ref_rev_cumsum), tol,
                    tol);
    }
  }
}

TEST_CASE("integer and bool scans give int64; float scans accumulate in double", "[ops][scan]") {
  auto big = kiln::full<int32_t>({3}, 2000000000);
  kiln::Tensor<int64_t> s = kiln::cumsum(big, 0);
  check_close(s, {2e9, 4e9, 6e9}, 0, 0);
  kiln::Tensor<int64_t> p = kiln::cumprod(kiln::tensor<int8_t>({100, 100, -3}), 0);
  check_close(p, {100, 10000, -30000}, 0, 0);
  kiln::Tensor<int64_t> b = kiln::cumsum(kiln::tensor<bool>({true, false, true, true}), 0);
  check_close(b, {1, 1, 2, 3}, 0, 0);
  // A million float 0.1s: a float running total would be off by ~1%.
  auto tenths = kiln::full<float>({1000000}, 0.1f);
  const float last = kiln::cumsum(tenths, 0).data()[999999];
  CHECK(std::abs(last - 1e6 * static_cast<double>(0.1f)) / 1e5 < 1e-7);
  // half accumulates in float: 4096 halves of 0.5 sum exactly.
  auto h = kiln::full<kiln::half>({4096}, kiln::half(0.5f));
  CHECK(static_cast<float>(kiln::cumsum(h, 0).data()[4095]) == 2048.0f);
}

TEST_CASE("scans over sizes 0 and 1, many strided rows, and expressions", "[ops][scan]") {
  CHECK(kiln::cumsum(kiln::zeros<float>({0, 3}), 0).shape() == Shape{0, 3});
  CHECK(kiln::cumprod(kiln::zeros<int32_t>({3, 0}), 0).shape() == Shape{3, 0});
  check_close(kiln::cumsum(kiln::scalar_tensor<double>(2.5), 0), {2.5}, 0, 0);
  check_close(kiln::cumprod(kiln::tensor<float>({{2}, {3}}), 1), {2, 3}, 0, 0);
  // dim 0 of [37, 21]: strided rows in lane blocks with a partial last block.
  kiln::manual_seed(4);
  auto x = kiln::randn<double>({37, 21});
  check_close(kiln::cumsum(x, 0), map_rows(values_of(x), x.shape(), 0, ref_cumsum), 1e-12, 1e-12);
  check_close(kiln::cumsum(x.t(), 1), map_rows(values_of(x.t()), Shape{21, 37}, 1, ref_cumsum),
              1e-12, 1e-12);
  kiln::Tensor<double> twice = x * 2.0;
  check_close(kiln::cumsum(x * 2.0, 1), map_rows(values_of(twice), x.shape(), 1, ref_cumsum), 1e-12,
              1e-12);
}

TEST_CASE("scans do not depend on the thread count", "[ops][scan]") {
  kiln::manual_seed(8);
  auto x = kiln::randn<float>({500, 300});
  const int saved = kiln::get_num_threads();
  kiln::set_num_threads(1);
  const kiln::Tensor<float> a0 = kiln::cumsum(x, 0), a1 = kiln::cumprod(x, 1);
  kiln::set_num_threads(2);
  const kiln::Tensor<float> b0 = kiln::cumsum(x, 0), b1 = kiln::cumprod(x, 1);
  kiln::set_num_threads(saved);
  CHECK(values_of(a0) == values_of(b0));
  CHECK(values_of(a1) == values_of(b1));
}

TEST_CASE("scan errors name the op, the dim and the rank", "[ops][scan][errors]") {
  auto x = kiln::zeros<float>({2, 3});
  auto msg = kiln_test::thrown_message<kiln::IndexError>([&] { (void)kiln::cumsum(x, 2); });
  CHECK_THAT(msg,
             Catch::Contains("[cumsum]") && Catch::Contains("got 2") && Catch::Contains("rank 2"));
  msg = kiln_test::thrown_message<kiln::IndexError>([&] { (void)kiln::cumprod(x, -3); });
  CHECK_THAT(msg, Catch::Contains("[cumprod]") && Catch::Contains("got -3"));
  msg = kiln_test::thrown_message<kiln::IndexError>([&] { (void)kiln::cumsum_backward(x, 7); });
  CHECK_THAT(msg, Catch::Contains("[cumsum_backward]") && Catch::Contains("[2, 3]"));
  CHECK_THROWS_AS(kiln::cumsum(kiln::scalar_tensor<float>(1), 1), kiln::IndexError);
}
