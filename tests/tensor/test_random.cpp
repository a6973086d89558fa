// SPDX-License-Identifier: BSD-3-Clause
// rand, randn, randint: reproducible per seed, independent of the thread count, the bits
// documented in Note [Random streams], and the right distributions.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"
#include "support/threads.hpp"
#include "support/throws.hpp"

using Catch::Matchers::Contains;
using kiln::Shape;
using kiln::Tensor;

namespace {

using kiln_test::ThreadsGuard;
using kiln_test::thrown_message;

template <class T>
bool bitwise_equal(const Tensor<T>& a, const Tensor<T>& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.numel()) * sizeof(T)) == 0;
}

template <class T>
double mean_of(const Tensor<T>& t) {
  double s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += static_cast<double>(t.data()[i]);
  return s / static_cast<double>(t.numel());
}

template <class T>
double variance_of(const Tensor<T>& t) {
  const double m = mean_of(t);
  double s = 0;
  for (int64_t i = 0; i < t.numel(); ++i)
    s += (static_cast<double>(t.data()[i]) - m) * (static_cast<double>(t.data()[i]) - m);
  return s / static_cast<double>(t.numel() - 1);
}

}  // namespace

TEST_CASE("the same seed gives the same values, another seed others", "[tensor][random]") {
  kiln::manual_seed(42);
  const auto a = kiln::rand({1000});
  const auto an = kiln::randn({1000});
  const auto ai = kiln::randint(0, 1000, {1000});
  kiln::manual_seed(42);
  const auto b = kiln::rand({1000});
  const auto bn = kiln::randn({1000});
  const auto bi = kiln::randint(0, 1000, {1000});
  CHECK(bitwise_equal(a, b));
  CHECK(bitwise_equal(an, bn));
  CHECK(bitwise_equal(ai, bi));
  CHECK(kiln::initial_seed() == 42);

  kiln::manual_seed(43);
  const auto c = kiln::rand({1000});
  int64_t same = 0;
  for (int64_t i = 0; i < 1000; ++i) same += a(i) == c(i);
  CHECK(same < 5);

  // Consecutive calls draw different streams.
  kiln::manual_seed(42);
  const auto d1 = kiln::rand({1000});
  const auto d2 = kiln::rand({1000});
  same = 0;
  for (int64_t i = 0; i < 1000; ++i) same += d1(i) == d2(i);
  CHECK(same < 5);
}

TEST_CASE("element i takes the bits of its own Philox block", "[tensor][random]") {
  // The layout of Note [Random streams], recomputed from philox_block directly.
  const uint64_t seed = 1234;
  kiln::manual_seed(seed);
  const auto f = kiln::rand({11});
  const auto d = kiln::rand<double>({5});
  const auto r = kiln::randint(-5, 5, {9});
  const kiln::PhiloxState s0{seed, 0}, s1{seed, 1}, s2{seed, 2};
  for (int64_t i = 0; i < 11; ++i) {
    const uint32_t w = kiln::detail::philox_block(
        s0, static_cast<uint64_t>(i / 4))[static_cast<std::size_t>(i % 4)];
    CHECK(f(i) == static_cast<float>(w >> 8) / 16777216.0f);
  }
  for (int64_t i = 0; i < 5; ++i) {
    const auto b = kiln::detail::philox_block(s1, static_cast<uint64_t>(i / 2));
    const auto k = static_cast<std::size_t>(2 * (i % 2));
    const uint64_t x = static_cast<uint64_t>(b[k + 1]) << 32 | b[k];
    CHECK(d(i) == static_cast<double>(x >> 11) / 9007199254740992.0);
  }
  for (int64_t i = 0; i < 9; ++i) {
    const uint32_t w = kiln::detail::philox_block(
        s2, static_cast<uint64_t>(i / 4))[static_cast<std::size_t>(i % 4)];
    CHECK(r(i) == -5 + static_cast<int64_t>((static_cast<uint64_t>(w) * 10) >> 32));
  }
}

TEST_CASE("results do not depend on the thread count", "[tensor][random]") {
  ThreadsGuard guard;
  const Shape shape{100003};  // not a multiple of a block
  auto draw = [&](int threads) {
    kiln::set_num_threads(threads);
    kiln::manual_seed(7);
    return std::tuple{kiln::rand(shape),
                      kiln::rand<double>(shape),
                      kiln::randn(shape),
                      kiln::randn<double>(shape),
                      kiln::randint(-50, 50, shape),
                      kiln::rand<kiln::half>(shape),
                      kiln::randint(int64_t{-1} << 40, int64_t{1} << 40, shape)};
  };
  const auto one = draw(1);
  const auto two = draw(2);
  const auto four = draw(4);
  CHECK(bitwise_equal(std::get<0>(one), std::get<0>(two)));
  CHECK(bitwise_equal(std::get<1>(one), std::get<1>(two)));
  CHECK(bitwise_equal(std::get<2>(one), std::get<2>(two)));
  CHECK(bitwise_equal(std::get<3>(one), std::get<3>(two)));
  CHECK(bitwise_equal(std::get<4>(one), std::get<4>(two)));
  CHECK(bitwise_equal(std::get<5>(one), std::get<5>(two)));
  CHECK(bitwise_equal(std::get<6>(one), std::get<6>(two)));
  CHECK(bitwise_equal(std::get<0>(one), std::get<0>(four)));
  CHECK(bitwise_equal(std::get<2>(one), std::get<2>(four)));
  CHECK(bitwise_equal(std::get<6>(one), std::get<6>(four)));
}

TEST_CASE("rand is uniform on [0, 1)", "[tensor][random]") {
  kiln::manual_seed(0);
  const int64_t n = 1000000;
  SECTION("float") {
    const auto t = kiln::rand({1000, 1000});
    CHECK(t.shape() == Shape{1000, 1000});
    const auto [lo, hi] = std::minmax_element(t.data(), t.data() + n);
    CHECK(*lo >= 0.0f);
    CHECK(*hi < 1.0f);
    CHECK(*lo < 1e-4f);
    CHECK(*hi > 1 - 1e-4f);
    // sd of the mean: sqrt(1/12 / n) ~ 2.9e-4; of the variance ~ 7.5e-5
    CHECK(mean_of(t) == Approx(0.5).margin(2e-3));
    CHECK(variance_of(t) == Approx(1.0 / 12).margin(6e-4));
    // Each tenth of [0, 1) holds 10% of the samples (sd 0.03%).
    std::vector<int64_t> bins(10, 0);
    for (int64_t i = 0; i < n; ++i) ++bins[static_cast<std::size_t>(t.data()[i] * 10)];
    for (int64_t b : bins) CHECK(static_cast<double>(b) / n == Approx(0.1).margin(2e-3));
  }
  SECTION("double") {
    const auto t = kiln::rand<double>({n});
    CHECK(*std::min_element(t.data(), t.data() + n) >= 0.0);
    CHECK(*std::max_element(t.data(), t.data() + n) < 1.0);
    CHECK(mean_of(t) == Approx(0.5).margin(2e-3));
    CHECK(variance_of(t) == Approx(1.0 / 12).margin(6e-4));
  }
  SECTION("half and bfloat16 never round up to 1") {
    const auto h = kiln::rand<kiln::half>({200000});
    const auto b = kiln::rand<kiln::bfloat16>({200000});
    float hmax = 0, bmax = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < 200000; ++i) {
      const float hv = h.data()[i], bv = b.data()[i];
      bad += !(hv >= 0 && hv < 1) || !(bv >= 0 && bv < 1);
      bad += hv * 2048 != std::floor(hv * 2048);  // multiples of 2^-11
      bad += bv * 256 != std::floor(bv * 256);    // multiples of 2^-8
      hmax = std::max(hmax, hv);
      bmax = std::max(bmax, bv);
    }
    CHECK(bad == 0);
    CHECK(hmax == 2047.0f / 2048);
    CHECK(bmax == 255.0f / 256);
    CHECK(mean_of(h) == Approx(0.5).margin(4e-3));
  }
}

TEST_CASE("randn is standard normal", "[tensor][random]") {
  kiln::manual_seed(1);
  const int64_t n = 1000000;
  auto check = [&](const auto& t) {
    // sd of the mean 1e-3, of the variance ~1.4e-3
    CHECK(mean_of(t) == Approx(0.0).margin(5e-3));
    CHECK(variance_of(t) == Approx(1.0).margin(8e-3));
    int64_t within1 = 0, within2 = 0, finite = 0;
    double m3 = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double v = static_cast<double>(t.data()[i]);
      finite += std::isfinite(v);
      within1 += std::fabs(v) < 1;
      within2 += std::fabs(v) < 2;
      m3 += v * v * v;
    }
    CHECK(finite == n);
    CHECK(static_cast<double>(within1) / n == Approx(0.682689).margin(3e-3));
    CHECK(static_cast<double>(within2) / n == Approx(0.954500).margin(2e-3));
    CHECK(m3 / n == Approx(0.0).margin(2e-2));  // symmetric
  };
  SECTION("float") { check(kiln::randn({n})); }
  SECTION("double") { check(kiln::randn<double>({1000, 1000})); }
  SECTION("bfloat16 and half via float") {
    const auto h = kiln::randn<kiln::half>({100000});
    CHECK(mean_of(h) == Approx(0.0).margin(2e-2));
    CHECK(variance_of(h) == Approx(1.0).margin(3e-2));
  }
}

TEST_CASE("randint covers [low, high) uniformly", "[tensor][random]") {
  kiln::manual_seed(2);
  SECTION("small range: every value, equally often") {
    const int64_t n = 70000;
    const auto t = kiln::randint(-3, 4, {n});
    STATIC_REQUIRE(std::is_same_v<decltype(t), const Tensor<int64_t>>);
    std::vector<int64_t> counts(7, 0);
    int64_t outside = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = t(i);
      if (v >= -3 && v < 4)
        ++counts[static_cast<std::size_t>(v + 3)];
      else
        ++outside;
    }
    CHECK(outside == 0);
    for (int64_t c : counts) CHECK(c == Approx(10000).margin(500));  // sd ~93
  }
  SECTION("one value") {
    const auto t = kiln::randint(5, 6, {100});
    CHECK(std::count(t.data(), t.data() + 100, int64_t{5}) == 100);
  }
  SECTION("high only, and other dtypes") {
    const auto t = kiln::randint<int32_t>(10, {1000});
    const auto b = kiln::randint<bool>(0, 2, {1000});
    const auto f = kiln::randint<float>(-2, 3, {1000});
    const auto u = kiln::randint<uint8_t>(250, 256, {1000});
    int64_t trues = 0, bad = 0;
    std::vector<int64_t> seen(10, 0);
    for (int64_t i = 0; i < 1000; ++i) {
      bad += !(t(i) >= 0 && t(i) < 10);
      if (t(i) >= 0 && t(i) < 10) ++seen[static_cast<std::size_t>(t(i))];
      trues += b(i);
      bad += !(f(i) >= -2 && f(i) < 3 && f(i) == std::floor(f(i)));
      bad += u(i) < 250;
    }
    CHECK(bad == 0);
    CHECK(std::count(seen.begin(), seen.end(), 0) == 0);
    CHECK((trues > 400 && trues < 600));
  }
  SECTION("ranges wider than 32 bits") {
    const int64_t lo = -(int64_t{1} << 40), hi = int64_t{1} << 41;
    const auto t = kiln::randint(lo, hi, {20000});
    int64_t mn = hi, mx = lo;
    double s = 0;
    int64_t outside = 0;
    for (int64_t i = 0; i < 20000; ++i) {
      outside += !(t(i) >= lo && t(i) < hi);
      mn = std::min(mn, t(i));
      mx = std::max(mx, t(i));
      s += static_cast<double>(t(i));
    }
    CHECK(outside == 0);
    CHECK(mn < lo + (hi - lo) / 1000);
    CHECK(mx > hi - (hi - lo) / 1000);
    CHECK(s / 20000 ==
          Approx(static_cast<double>(lo + hi) / 2).margin(static_cast<double>(hi - lo) / 100));
    // The full int64 range.
    const auto all = kiln::randint(std::numeric_limits<int64_t>::min(),
                                   std::numeric_limits<int64_t>::max(), {1000});
    int64_t negative = 0;
    for (int64_t i = 0; i < 1000; ++i) negative += all(i) < 0;
    CHECK((negative > 400 && negative < 600));
  }
}

TEST_CASE("random factories: shapes, *_like and errors", "[tensor][random]") {
  CHECK(kiln::rand({0, 3}).numel() == 0);
  CHECK(kiln::randn(Shape{}).dim() == 0);
  CHECK(std::isfinite(kiln::randn(Shape{}).item()));
  const auto base = kiln::zeros<double>({2, 5});
  CHECK(kiln::rand_like(base).shape() == Shape{2, 5});
  CHECK(kiln::randn_like(base).dtype() == kiln::ScalarType::Double);
  const auto ri = kiln::randint_like(kiln::zeros<int32_t>({4}), 3, 5);
  for (int64_t i = 0; i < 4; ++i) CHECK((ri(i) == 3 || ri(i) == 4));

  CHECK_THAT(thrown_message<kiln::ValueError>([] { (void)kiln::randint(5, 5, {3}); }),
             Contains("[randint]") && Contains("low=5") && Contains("high=5"));
  CHECK_THAT(thrown_message<kiln::ValueError>([] { (void)kiln::randint(0, {3}); }),
             Contains("[randint]"));
  CHECK_THAT(thrown_message<kiln::ValueError>([] { (void)kiln::randint<uint8_t>(0, 257, {3}); }),
             Contains("[randint]") && Contains("uint8"));
  CHECK_THAT(
      thrown_message<kiln::ValueError>([] { (void)kiln::randint<kiln::half>(0, 5000, {3}); }),
      Contains("[randint]") && Contains("float16"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([] {
               (void)kiln::rand({2, -3});
             }),
             Contains("[rand]") && Contains("[2, -3]"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([] { (void)kiln::randn({-1}); }),
             Contains("[randn]"));
}
