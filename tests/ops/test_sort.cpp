// SPDX-License-Identifier: BSD-3-Clause
// sort, argsort, topk and unique against plain loops, with ties, NaN and every layout.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "kiln/kiln.hpp"
#include "support/rows.hpp"
#include "support/throws.hpp"

namespace {

using kiln::Shape;
using kiln_test::check_close;
using kiln_test::map_rows;
using kiln_test::values_of;

// Positions 0..n-1 of a row ordered by value, NaN largest, equal values in input order.
std::vector<double> ref_order(const std::vector<double>& x, bool descending) {
  std::vector<double> idx(x.size());
  std::iota(idx.begin(), idx.end(), 0.0);
  auto rank = [&](double i) {  // NaN above +inf
    const double v = x[static_cast<std::size_t>(i)];
    return std::isnan(v) ? std::numeric_limits<double>::max() : v;
  };
  std::stable_sort(idx.begin(), idx.end(), [&](double a, double b) {
    const double ra = rank(a), rb = rank(b);
    const bool na = std::isnan(x[static_cast<std::size_t>(a)]),
               nb = std::isnan(x[static_cast<std::size_t>(b)]);
    if (na != nb) return descending ? na : nb;  // NaN last ascending, first descending
    return descending ? ra > rb : ra < rb;
  });
  return idx;
}
std::vector<double> gather(const std::vector<double>& x, const std::vector<double>& idx) {
  std::vector<double> r;
  for (double i : idx) r.push_back(x[static_cast<std::size_t>(i)]);
  return r;
}
int dim_index(int d, int nd) { return nd == 0 ? 0 : (d + nd) % nd; }

}  // namespace

TEMPLATE_TEST_CASE("sort and argsort match a stable reference on every layout and dim",
                   "[ops][sort]", float, double, int32_t) {
  using T = TestType;
  // Integer-valued data: many ties, which must come out in input order.
  for (auto& [name, x] : kiln_test::row_layouts<T>(/*integral=*/true)) {
    const auto v = values_of(x);
    for (int d = -std::max(x.dim(), 1); d < std::max(x.dim(), 1); ++d) {
      const int dd = dim_index(d, x.dim());
      for (bool desc : {false, true}) {
        const auto want_idx =
            map_rows(v, x.shape(), dd, [&](const auto& r) { return ref_order(r, desc); });
        const auto want_values = map_rows(
            v, x.shape(), dd, [&](const auto& r) { return gather(r, ref_order(r, desc)); });
        for (bool stable : {false, true}) {
          INFO(name << ", dim " << d << ", descending " << desc << ", stable " << stable);
          const auto [values, indices] = kiln::sort(x, d, desc, stable);
          CHECK(values.shape() == x.shape());
          CHECK(indices.shape() == x.shape());
          check_close(indices, want_idx, 0, 0);
          check_close(values, want_values, 0, 0);
          check_close(kiln::argsort(x, d, desc, stable), want_idx, 0, 0);
        }
      }
    }
  }
}

TEST_CASE("sort puts NaN last ascending and first descending", "[ops][sort]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto x = kiln::tensor<float>({3, NAN, 1, -INFINITY, NAN, 2, INFINITY});
  auto up = kiln::sort(x);
  check_close(up.values, {-INFINITY, 1, 2, 3, INFINITY, nan, nan}, 0, 0);
  check_close(up.indices, {3, 2, 5, 0, 6, 1, 4}, 0, 0);
  auto down = kiln::sort(x, 0, /*descending=*/true);
  check_close(down.values, {nan, nan, INFINITY, 3, 2, 1, -INFINITY}, 0, 0);
  check_close(down.indices, {1, 4, 6, 0, 5, 2, 3}, 0, 0);
  // -0 and 0 are equal: input order.
  auto z = kiln::tensor<double>({0.0, -0.0, 0.0});
  check_close(kiln::sort(z, 0, false, false).indices, {0, 1, 2}, 0, 0);
  check_close(kiln::sort(z, 0, true, true).indices, {0, 1, 2}, 0, 0);
}

TEST_CASE("sort of other dtypes, sizes 0 and 1, and expressions", "[ops][sort]") {
  // Five elements, not four: g++ 12.2 at -O2 -mavx512f miscompiles some lone
  // std::vector<double>{1, 1, 0, 0} literals into {1, 1, 1, 1} (a broadcast constant).
  auto b = kiln::tensor<bool>({true, false, true, false, false});
  auto sb = kiln::sort(b, 0, true);
  check_close(sb.values, {1, 1, 0, 0, 0}, 0, 0);
  check_close(sb.indices, {0, 2, 1, 3, 4}, 0, 0);
  auto h = kiln::tensor<float>({0.5f, -1.5f, 2.0f}).to<kiln::half>();
  check_close(kiln::sort(h).values, {-1.5, 0.5, 2.0}, 0, 0);
  auto u = kiln::tensor<uint8_t>({200, 3, 255, 0});
  check_close(kiln::sort(u, -1, true).values, {255, 200, 3, 0}, 0, 0);
  auto i64 = kiln::tensor<int64_t>({int64_t{1} << 60, -(int64_t{1} << 60), 0});
  CHECK(kiln::sort(i64).values(0) == -(int64_t{1} << 60));

  auto empty = kiln::zeros<float>({3, 0});
  CHECK(kiln::sort(empty, 1).values.shape() == Shape{3, 0});
  CHECK(kiln::sort(empty, 0).indices.shape() == Shape{3, 0});
  auto s0 = kiln::sort(kiln::scalar_tensor<float>(4.0f));
  CHECK(s0.values.dim() == 0);
  CHECK(s0.values.item() == 4.0f);
  CHECK(s0.indices.item() == 0);
  check_close(kiln::sort(kiln::tensor<float>({{2}, {1}}), 1).indices, {0, 0}, 0, 0);
  // An expression is evaluated first.
  auto x = kiln::tensor<float>({1, 2, 3});
  check_close(kiln::sort(x * -1.0f).values, {-3, -2, -1}, 0, 0);
}

TEST_CASE("sort splits rows across threads with the same result", "[ops][sort]") {
  kiln::manual_seed(21);
  kiln::Tensor<float> x = kiln::round(kiln::randn<float>({300, 500}) * 3.0f);
  const int saved = kiln::get_num_threads();
  kiln::set_num_threads(1);
  const auto a = kiln::sort(x, 0);
  kiln::set_num_threads(2);
  const auto b = kiln::sort(x, 0);
  kiln::set_num_threads(saved);
  CHECK(values_of(a.indices) == values_of(b.indices));
  check_close(
      a.indices,
      map_rows(values_of(x), x.shape(), 0, [](const auto& r) { return ref_order(r, false); }), 0,
      0);
}

TEMPLATE_TEST_CASE("topk matches the head of a stable sort", "[ops][sort][topk]", float, int32_t) {
  using T = TestType;
  for (auto& [name, x] : kiln_test::row_layouts<T>(/*integral=*/true)) {
    if (x.dim() == 0) continue;
    const auto v = values_of(x);
    for (int d = 0; d < x.dim(); ++d) {
      const int64_t n = x.shape()[d];
      for (int64_t k : {int64_t{0}, int64_t{1}, n / 2, n}) {
        for (bool largest : {true, false}) {
          INFO(name << ", dim " << d << ", k " << k << ", largest " << largest);
          auto head = [&](const std::vector<double>& r) {
            auto o = ref_order(r, largest);
            o.resize(static_cast<std::size_t>(k));
            return o;
          };
          const auto [values, indices] = kiln::topk(x, k, d, largest);
          Shape s = x.shape();
          s[d] = k;
          CHECK(values.shape() == s);
          CHECK(indices.shape() == s);
          if (k == 0) continue;
          const auto want_idx = map_rows(v, x.shape(), d, head);
          check_close(indices, want_idx, 0, 0);
          check_close(values,
                      map_rows(v, x.shape(), d, [&](const auto& r) { return gather(r, head(r)); }),
                      0, 0);
          // Unsorted: the same elements, in some order.
          const auto u = kiln::topk(x, k, d, largest, /*sorted=*/false);
          const auto us = kiln::sort(u.values, d, largest);
          check_close(us.values, values_of(values), 0, 0);
          // and the indices point at those values.
          const auto uv = values_of(u.values);
          for (int64_t i = 0; i < u.indices.numel(); ++i) {
            int64_t rem = i, off = 0;
            for (int e = x.dim() - 1; e >= 0; --e) {
              const int64_t c = rem % s[e];
              rem /= s[e];
              off += (e == d ? u.indices.data()[i] : c) * x.strides()[e];
            }
            REQUIRE(uv[static_cast<std::size_t>(i)] == static_cast<double>(x.data()[off]));
          }
        }
      }
    }
  }
}

TEST_CASE("topk takes NaN as the largest value", "[ops][sort][topk]") {
  auto x = kiln::tensor<float>({{1, NAN, 5, 3}, {2, 2, 2, 2}});
  auto t = kiln::topk(x, 2);
  CHECK(std::isnan(t.values(0, 0)));
  CHECK(t.values(0, 1) == 5.0f);
  check_close(t.indices, {1, 2, 0, 1}, 0, 0);
  auto lo = kiln::topk(x, 2, 1, /*largest=*/false);
  check_close(lo.values, {1, 3, 2, 2}, 0, 0);
  check_close(lo.indices, {0, 3, 0, 1}, 0, 0);
  // A 0-d tensor has one element: k = 1.
  auto s = kiln::topk(kiln::scalar_tensor<double>(2.5), 1);
  CHECK(s.values.item() == 2.5);
  CHECK(s.indices.item() == 0);
}

TEMPLATE_TEST_CASE("unique matches a reference loop", "[ops][sort][unique]", float, int32_t) {
  using T = TestType;
  for (auto& [name, x] : kiln_test::row_layouts<T>(/*integral=*/true)) {
    INFO(name);
    const auto v = values_of(x);
    std::vector<double> want = v;
    std::sort(want.begin(), want.end());
    want.erase(std::unique(want.begin(), want.end()), want.end());
    auto [values, inverse, counts] = kiln::unique(x, true, true, true);
    CHECK(values.shape() == Shape{static_cast<int64_t>(want.size())});
    check_close(values, want, 0, 0);
    CHECK(inverse.shape() == x.shape());
    std::vector<double> want_inv, want_counts(want.size(), 0);
    for (double e : v) {
      const auto it = std::lower_bound(want.begin(), want.end(), e);
      want_inv.push_back(static_cast<double>(it - want.begin()));
      want_counts[static_cast<std::size_t>(it - want.begin())] += 1;
    }
    check_close(inverse, want_inv, 0, 0);
    check_close(counts, want_counts, 0, 0);
    // Only what is asked for is computed.
    auto plain = kiln::unique(x);
    CHECK(plain.values.numel() == static_cast<int64_t>(want.size()));
    CHECK_FALSE(plain.inverse.defined());
    CHECK_FALSE(plain.counts.defined());
  }
}

TEST_CASE("unique: every NaN is distinct; empty and bool inputs", "[ops][sort][unique]") {
  auto x = kiln::tensor<float>({2, NAN, 1, 2, NAN, -0.0f, 0.0f});
  auto u = kiln::unique(x, false, true, true);
  check_close(u.values, {0, 1, 2, NAN, NAN}, 0, 0);
  check_close(u.counts, {2, 1, 2, 1, 1}, 0, 0);
  check_close(u.inverse, {2, 3, 1, 2, 4, 0, 0}, 0, 0);
  auto e = kiln::unique(kiln::zeros<double>({0, 4}), true, true, true);
  CHECK(e.values.shape() == Shape{0});
  CHECK(e.counts.shape() == Shape{0});
  CHECK(e.inverse.shape() == Shape{0, 4});
  auto b = kiln::unique(kiln::tensor<bool>({true, true, false}), true, false, true);
  check_close(b.values, {0, 1}, 0, 0);
  check_close(b.counts, {1, 2}, 0, 0);
}

TEST_CASE("sort and topk errors name the op, k and the sizes", "[ops][sort][errors]") {
  auto x = kiln::zeros<float>({2, 3});
  auto msg = kiln_test::thrown_message<kiln::IndexError>([&] { (void)kiln::sort(x, 2); });
  CHECK_THAT(msg,
             Catch::Contains("[sort]") && Catch::Contains("got 2") && Catch::Contains("rank 2"));
  msg = kiln_test::thrown_message<kiln::IndexError>([&] { (void)kiln::argsort(x, -3); });
  CHECK_THAT(msg, Catch::Contains("[argsort]") && Catch::Contains("got -3"));
  msg = kiln_test::thrown_message<kiln::IndexError>([&] { (void)kiln::topk(x, 1, 4); });
  CHECK_THAT(msg, Catch::Contains("[topk]") && Catch::Contains("got 4"));
  msg = kiln_test::thrown_message<kiln::ValueError>([&] { (void)kiln::topk(x, 4); });
  CHECK_THAT(msg, Catch::Contains("[topk]") && Catch::Contains("k = 4") &&
                      Catch::Contains("size 3") && Catch::Contains("[2, 3]"));
  msg = kiln_test::thrown_message<kiln::ValueError>([&] { (void)kiln::topk(x, -1, 0); });
  CHECK_THAT(msg, Catch::Contains("k = -1") && Catch::Contains("size 2"));
  CHECK_THROWS_AS(kiln::topk(kiln::scalar_tensor<float>(1), 2), kiln::ValueError);
}
