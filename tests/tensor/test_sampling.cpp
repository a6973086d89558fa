// SPDX-License-Identifier: BSD-3-Clause
// uniform_, normal_, normal, bernoulli, multinomial, randperm and dropout: the layouts of
// Note [Random streams], independence from the thread count, the right distributions
// (fixed seeds, bounds of several standard errors) and every error path.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <set>
#include <tuple>
#include <utility>
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

// Compares values in logical order, so views of any layout can be compared.
template <class T>
bool bitwise_equal(const Tensor<T>& a, const Tensor<T>& b) {
  if (a.shape() != b.shape()) return false;
  const Tensor<T> x = a.contiguous(), y = b.contiguous();
  return std::memcmp(x.data(), y.data(), static_cast<std::size_t>(x.numel()) * sizeof(T)) == 0;
}

template <class T>
double mean_of(const Tensor<T>& t) {
  const Tensor<T> c = t.contiguous();
  double s = 0;
  for (int64_t i = 0; i < c.numel(); ++i) s += static_cast<double>(c.data()[i]);
  return s / static_cast<double>(c.numel());
}

template <class T>
double variance_of(const Tensor<T>& t) {
  const Tensor<T> c = t.contiguous();
  const double m = mean_of(c);
  double s = 0;
  for (int64_t i = 0; i < c.numel(); ++i) {
    const double d = static_cast<double>(c.data()[i]) - m;
    s += d * d;
  }
  return s / static_cast<double>(c.numel() - 1);
}

// Pearson's statistic of observed counts against expected probabilities (all > 0).
double chi_square(const std::vector<int64_t>& counts, const std::vector<double>& probs) {
  const double total =
      static_cast<double>(std::accumulate(counts.begin(), counts.end(), int64_t{0}));
  double chi2 = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double e = total * probs[i];
    chi2 += (static_cast<double>(counts[i]) - e) * (static_cast<double>(counts[i]) - e) / e;
  }
  return chi2;
}

// Element i's words in the layouts of Note [Random streams].
uint32_t word32(kiln::PhiloxState st, int64_t i) {
  return kiln::detail::philox_block(st,
                                    static_cast<uint64_t>(i / 4))[static_cast<std::size_t>(i % 4)];
}
uint64_t word64(kiln::PhiloxState st, int64_t i) {
  const auto b = kiln::detail::philox_block(st, static_cast<uint64_t>(i / 2));
  const auto k = static_cast<std::size_t>(2 * (i % 2));
  return static_cast<uint64_t>(b[k + 1]) << 32 | b[k];
}
double unit53(uint64_t w) { return static_cast<double>(w >> 11) / 9007199254740992.0; }

}  // namespace

// ---- uniform_ / normal_ / normal ----------------------------------------------------------------

TEST_CASE("uniform_(t, 0, 1) and normal_(t, 0, 1) give rand's and randn's numbers",
          "[tensor][random]") {
  auto same_as = [](auto factory, auto fill) {
    kiln::manual_seed(11);
    const auto a = factory();
    kiln::manual_seed(11);
    auto b = kiln::empty_like(a);
    fill(b);
    return bitwise_equal(a, b);
  };
  CHECK(same_as([] { return kiln::rand({1001}); }, [](auto& t) { kiln::uniform_(t); }));
  CHECK(same_as(
      [] {
        return kiln::rand<double>({7, 11});
      },
      [](auto& t) { kiln::uniform_(t, 0.0, 1.0); }));
  CHECK(same_as([] { return kiln::rand<kiln::half>({99}); }, [](auto& t) { kiln::uniform_(t); }));
  CHECK(same_as([] { return kiln::randn({1001}); }, [](auto& t) { kiln::normal_(t); }));
  CHECK(same_as([] { return kiln::randn<double>({3, 5, 7}); }, [](auto& t) { kiln::normal_(t); }));
  CHECK(same_as([] { return kiln::randn<kiln::bfloat16>({64}); },
                [](auto& t) { kiln::normal_(t, 0, 1); }));
  CHECK(same_as([] { return kiln::randn({333}); },
                [](auto& t) { t = kiln::normal<float>(0, 1, t.shape()); }));
  // And a mapped fill is from + (to - from) * u of the same u.
  kiln::manual_seed(12);
  const auto u = kiln::rand<double>({500});
  kiln::manual_seed(12);
  const auto v = kiln::empty<double>({500});
  kiln::uniform_(v, -3, 5);
  int64_t bad = 0;
  for (int64_t i = 0; i < 500; ++i) bad += v(i) != -3 + 8 * u(i);
  CHECK(bad == 0);
}

TEST_CASE("uniform_ is uniform on [from, to)", "[tensor][random]") {
  kiln::manual_seed(3);
  const int64_t n = 1000000;
  auto check = [&](const auto& t, double from, double to) {
    const auto c = t.contiguous();
    const auto [lo, hi] = std::minmax_element(c.data(), c.data() + n);
    CHECK(static_cast<double>(*lo) >= from);
    CHECK(static_cast<double>(*hi) < to);
    const double w = to - from;
    CHECK(static_cast<double>(*lo) < from + w * 1e-4);
    CHECK(static_cast<double>(*hi) > to - w * 1e-4);
    // sd of the mean w / sqrt(12 n) ~ 1.4e-3 for w = 5; of the variance ~ 1.9e-3
    CHECK(mean_of(t) == Approx((from + to) / 2).margin(w * 1.5e-3));
    CHECK(variance_of(t) == Approx(w * w / 12).margin(w * w * 4e-4));
  };
  SECTION("float") { check(kiln::uniform_(kiln::empty({1000, 1000}), -2, 3), -2, 3); }
  SECTION("double") { check(kiln::uniform_(kiln::empty<double>({n}), 10, 15), 10, 15); }
  SECTION("from == to gives from") {
    const auto t = kiln::uniform_(kiln::empty({100}), 2.5, 2.5);
    CHECK(std::count(t.data(), t.data() + 100, 2.5f) == 100);
  }
  SECTION("values that round up to `to` stay below it") {
    // Near 1000 half's spacing is 0.5: [1000.75, 1001) rounds to 1001 itself and must
    // give 1000.5 instead, which then takes 3/4 of the samples.
    const auto h = kiln::uniform_(kiln::empty<kiln::half>({200000}), 1000, 1001);
    float mx = 0;
    int64_t at_top = 0;
    for (int64_t i = 0; i < 200000; ++i) {
      mx = std::max(mx, static_cast<float>(h(i)));
      at_top += static_cast<float>(h(i)) == 1000.5f;
    }
    CHECK(mx == 1000.5f);
    CHECK(static_cast<double>(at_top) / 200000 == Approx(0.75).margin(6e-3));
    // float: [1, 1 + 2^-23) holds only 1.0f; the upper half of the range rounds to `to`.
    const auto f = kiln::uniform_(kiln::empty({1000}), 1.0, 1.0 + std::ldexp(1.0, -23));
    CHECK(std::count(f.data(), f.data() + 1000, 1.0f) == 1000);
  }
}

TEST_CASE("normal_ and normal have the requested mean and standard deviation", "[tensor][random]") {
  kiln::manual_seed(4);
  const int64_t n = 1000000;
  auto check = [&](const auto& t, double mean, double std) {
    // sd of the mean std / 1000; of the variance std^2 * sqrt(2 / n) ~ 1.4e-3 std^2
    CHECK(mean_of(t) == Approx(mean).margin(5e-3 * std));
    CHECK(variance_of(t) == Approx(std * std).margin(8e-3 * std * std));
    const auto c = t.contiguous();
    int64_t within = 0;
    for (int64_t i = 0; i < n; ++i)
      within += std::fabs(static_cast<double>(c.data()[i]) - mean) < std;
    CHECK(static_cast<double>(within) / n == Approx(0.682689).margin(3e-3));
  };
  SECTION("normal_ float") { check(kiln::normal_(kiln::empty({n}), 3, 2), 3, 2); }
  SECTION("normal_ double") {
    check(kiln::normal_(kiln::empty<double>({1000, 1000}), -1, 0.5), -1, 0.5);
  }
  SECTION("normal factory") {
    const auto t = kiln::normal<double>(10, 3, {n});
    CHECK(t.shape() == Shape{n});
    check(t, 10, 3);
    CHECK(kiln::normal(0, 1, {2, 0}).numel() == 0);
  }
  SECTION("std = 0 gives the mean") {
    const auto t = kiln::normal(1.5, 0, {50});
    CHECK(std::count(t.data(), t.data() + 50, 1.5f) == 50);
  }
}

TEST_CASE("in-place fills of views follow logical order and leave the rest alone",
          "[tensor][random]") {
  SECTION("transposed view, uniform_") {
    auto base = kiln::zeros({300, 400});
    const auto view = base.t();  // [400, 300], strides [1, 400]
    kiln::manual_seed(5);
    kiln::uniform_(view, -1, 1);
    kiln::manual_seed(5);
    const auto ref = kiln::uniform_(kiln::empty({400, 300}), -1, 1);
    CHECK(bitwise_equal(view, ref));
  }
  SECTION("strided slice, normal_ and bernoulli_; other elements untouched") {
    auto base = kiln::zeros<double>({10, 1000});
    const auto view = base.slice(1, 0, 1000, 3);  // [10, 334]
    kiln::manual_seed(6);
    kiln::normal_(view, 2, 3);
    kiln::manual_seed(6);
    CHECK(bitwise_equal(view, kiln::normal_(kiln::empty<double>({10, 334}), 2, 3)));
    int64_t touched = 0;
    for (int64_t r = 0; r < 10; ++r)
      for (int64_t c = 0; c < 1000; ++c)
        if (c % 3 != 0) touched += base(r, c) != 0.0;
    CHECK(touched == 0);

    auto ints = kiln::full<int32_t>({8, 64}, 7);
    const auto col = ints.slice(1, 1, 64, 2);
    kiln::manual_seed(7);
    kiln::bernoulli_(col, 0.5);
    kiln::manual_seed(7);
    CHECK(bitwise_equal(col, kiln::bernoulli<int32_t>({8, 32}, 0.5)));
    int64_t sevens = 0;
    for (int64_t i = 0; i < 8; ++i)
      for (int64_t j = 0; j < 64; j += 2) sevens += ints(i, j) == 7;
    CHECK(sevens == 8 * 32);
  }
  SECTION("writes bump the version") {
    const auto t = kiln::zeros({10});
    const uint64_t v0 = t.storage().version();
    kiln::uniform_(t);
    CHECK(t.storage().version() > v0);
  }
}

// ---- bernoulli ---------------------------------------------------------------------------------

TEST_CASE("bernoulli: element i is 1 iff its word is below p * 2^32", "[tensor][random]") {
  const uint64_t seed = 99;
  kiln::manual_seed(seed);
  auto p = kiln::rand<double>({37});  // call 0
  const auto b = kiln::bernoulli(p);  // call 1
  CHECK(b.dtype() == kiln::ScalarType::Double);
  const kiln::PhiloxState st{seed, 1};
  int64_t bad = 0;
  for (int64_t i = 0; i < 37; ++i)
    bad += b(i) != (static_cast<double>(word32(st, i)) < p(i) * 4294967296.0 ? 1.0 : 0.0);
  CHECK(bad == 0);
  // A tensor of equal, exactly representable p gives the scalar form's numbers.
  kiln::manual_seed(8);
  const auto t1 = kiln::bernoulli(kiln::full({1000}, 0.25f));
  kiln::manual_seed(8);
  const auto t2 = kiln::bernoulli<float>({1000}, 0.25);
  CHECK(bitwise_equal(t1, t2));
}

TEST_CASE("bernoulli has the requested frequencies", "[tensor][random]") {
  kiln::manual_seed(9);
  const int64_t n = 200000;
  SECTION("per-element p, broadcast input, float and double") {
    const auto col = kiln::tensor<float>({0.f, 0.1f, 0.5f, 0.9f, 1.f}).view({5, 1});
    const auto b = kiln::bernoulli(col.expand({5, n}));
    STATIC_REQUIRE(std::is_same_v<decltype(b), const Tensor<float>>);
    CHECK(b.shape() == Shape{5, n});
    const double ps[] = {0, 0.1, 0.5, 0.9, 1};
    int64_t not01 = 0;
    for (int64_t r = 0; r < 5; ++r) {
      int64_t ones = 0;
      for (int64_t i = 0; i < n; ++i) {
        ones += b(r, i) == 1.0f;
        not01 += b(r, i) != 0.0f && b(r, i) != 1.0f;
      }
      // sd sqrt(p (1 - p) / n) <= 1.2e-3
      CHECK(static_cast<double>(ones) / n == Approx(ps[r]).margin(6e-3));
      if (ps[r] == 0) CHECK(ones == 0);
      if (ps[r] == 1) CHECK(ones == n);
    }
    CHECK(not01 == 0);
    const auto d = kiln::bernoulli(kiln::full<double>({n}, 0.3));
    CHECK(mean_of(d) == Approx(0.3).margin(6e-3));
  }
  SECTION("an expression as p") {
    const auto x = kiln::full({n}, 0.0f);
    const auto b = kiln::bernoulli(kiln::sigmoid(x + 1.0f));  // p = 0.731
    CHECK(mean_of(b) == Approx(1 / (1 + std::exp(-1.0))).margin(6e-3));
  }
  SECTION("scalar p, other dtypes, in place") {
    const auto m = kiln::bernoulli<bool>({n}, 0.3);
    CHECK(static_cast<double>(std::count(m.data(), m.data() + n, true)) / n ==
          Approx(0.3).margin(6e-3));
    const auto i = kiln::bernoulli_(kiln::full<int64_t>({n}, 5), 0.8);
    CHECK(mean_of(i) == Approx(0.8).margin(6e-3));
    CHECK(std::count_if(i.data(), i.data() + n, [](int64_t v) { return v != 0 && v != 1; }) == 0);
    const auto like = kiln::bernoulli(kiln::zeros<double>({4, 5}), 0.5);
    CHECK(like.shape() == Shape{4, 5});
    CHECK(like.dtype() == kiln::ScalarType::Double);
    // Per-element p broadcast to the tensor: columns with p 0.2 and 0.7.
    const auto t =
        kiln::bernoulli_(kiln::empty<kiln::half>({n / 2, 2}), kiln::tensor<double>({0.2, 0.7}));
    double c0 = 0, c1 = 0;
    for (int64_t r = 0; r < n / 2; ++r) {
      c0 += static_cast<float>(t(r, 0));
      c1 += static_cast<float>(t(r, 1));
    }
    CHECK(c0 / (n / 2) == Approx(0.2).margin(8e-3));
    CHECK(c1 / (n / 2) == Approx(0.7).margin(8e-3));
  }
  SECTION("empty and 0-d") {
    CHECK(kiln::bernoulli(kiln::zeros({0, 4})).shape() == Shape{0, 4});
    const auto s = kiln::bernoulli(kiln::full(Shape{}, 1.0f));
    CHECK(s.dim() == 0);
    CHECK(s.item() == 1.0f);
  }
}

// ---- multinomial -------------------------------------------------------------------------------

TEST_CASE("multinomial follows the layout of Note [Random streams]", "[tensor][random]") {
  const uint64_t seed = 123;
  const std::vector<double> w = {0.1, 0.4, 0.0, 0.2, 0.3};
  const auto probs = kiln::tensor<double>({0.1, 0.4, 0.0, 0.2, 0.3});
  kiln::manual_seed(seed);
  const auto with = kiln::multinomial(probs, 9, /*replacement=*/true);  // call 0
  const auto without = kiln::multinomial(probs, 4);                     // call 1
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  for (int64_t s = 0; s < 9; ++s) {
    const double x = unit53(word64({seed, 0}, s)) * total;
    double c = 0;
    int64_t j = 0;
    for (; j < 5; ++j) {
      c += w[static_cast<std::size_t>(j)];
      if (c > x) break;
    }
    CHECK(with(s) == j);
  }
  std::vector<std::pair<double, int64_t>> keys;
  for (int64_t j = 0; j < 5; ++j) {
    const double e = -std::log1p(-unit53(word64({seed, 1}, j)));
    const double p = w[static_cast<std::size_t>(j)];
    keys.push_back({p > 0 ? e / p : INFINITY, j});
  }
  std::sort(keys.begin(), keys.end());
  for (int64_t s = 0; s < 4; ++s) CHECK(without(s) == keys[static_cast<std::size_t>(s)].second);
}

TEST_CASE("multinomial with replacement draws with the given frequencies", "[tensor][random]") {
  kiln::manual_seed(21);
  SECTION("one distribution, unnormalised, with a zero weight") {
    const int64_t n = 200000;
    const auto probs = kiln::tensor<float>({0.3f, 0.f, 0.6f, 0.9f, 1.2f});  // sum 3
    const auto s = kiln::multinomial(probs, n, true);
    STATIC_REQUIRE(std::is_same_v<decltype(s), const Tensor<int64_t>>);
    CHECK(s.shape() == Shape{n});
    std::vector<int64_t> counts(5, 0);
    int64_t outside = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (s(i) >= 0 && s(i) < 5)
        ++counts[static_cast<std::size_t>(s(i))];
      else
        ++outside;
    }
    CHECK(outside == 0);
    CHECK(counts[1] == 0);
    // 3 degrees of freedom: P(chi2 > 25) ~ 1.6e-5.
    CHECK(chi_square({counts[0], counts[2], counts[3], counts[4]}, {0.1, 0.2, 0.3, 0.4}) < 25);
  }
  SECTION("rows are independent distributions; non-contiguous, half") {
    // [3, 2] transposed: rows (1, 0, 0) and (0, 0, 5).
    const auto pt = kiln::tensor<kiln::half>({1.f, 0.f, 0.f, 0.f, 0.f, 5.f}).view({3, 2});
    const auto s = kiln::multinomial(pt.t(), 50, true);
    CHECK(s.shape() == Shape{2, 50});
    int64_t bad = 0;
    for (int64_t i = 0; i < 50; ++i) bad += s(0, i) != 0 || s(1, i) != 2;
    CHECK(bad == 0);
  }
  SECTION("more samples than categories, and a single category") {
    const auto s = kiln::multinomial(kiln::tensor<double>({1, 1}), 1000, true);
    const auto zeros = std::count(s.data(), s.data() + 1000, int64_t{0});
    CHECK((zeros > 430 && zeros < 570));  // sd ~16
    const auto one = kiln::multinomial(kiln::tensor<double>({2.5}), 5, true);
    CHECK(std::count(one.data(), one.data() + 5, int64_t{0}) == 5);
  }
}

TEST_CASE("multinomial without replacement samples distinct categories in draw order",
          "[tensor][random]") {
  kiln::manual_seed(22);
  SECTION("first and second draws follow sequential sampling") {
    const std::vector<double> p = {0.1, 0.2, 0.3, 0.4};
    const int64_t rows = 40000;
    const auto row = kiln::tensor<float>({0.1f, 0.2f, 0.3f, 0.4f}).view({1, 4});
    const auto s = kiln::multinomial(row.expand({rows, 4}), 2);  // a broadcast input
    CHECK(s.shape() == Shape{rows, 2});
    std::vector<int64_t> first(4, 0), second(4, 0);
    int64_t repeats = 0;
    for (int64_t r = 0; r < rows; ++r) {
      repeats += s(r, 0) == s(r, 1);
      ++first[static_cast<std::size_t>(s(r, 0))];
      ++second[static_cast<std::size_t>(s(r, 1))];
    }
    CHECK(repeats == 0);
    // P(second = j) = sum over i != j of p_i p_j / (1 - p_i).
    std::vector<double> expect2(4, 0);
    for (std::size_t j = 0; j < 4; ++j)
      for (std::size_t i = 0; i < 4; ++i)
        if (i != j) expect2[j] += p[i] * p[j] / (1 - p[i]);
    CHECK(chi_square(first, p) < 25);
    CHECK(chi_square(second, expect2) < 25);
    // Sampling with replacement would make the second draw follow p itself: far off.
    CHECK(chi_square(second, p) > 100);
  }
  SECTION("num_samples == n gives a permutation; zero weights are never drawn") {
    const auto probs = kiln::rand<double>({50, 30});
    const auto s = kiln::multinomial(probs, 30);
    int64_t bad = 0;
    for (int64_t r = 0; r < 50; ++r) {
      std::vector<int64_t> v(30);
      for (int64_t j = 0; j < 30; ++j) v[static_cast<std::size_t>(j)] = s(r, j);
      std::sort(v.begin(), v.end());
      for (int64_t j = 0; j < 30; ++j) bad += v[static_cast<std::size_t>(j)] != j;
    }
    CHECK(bad == 0);
    const auto z = kiln::multinomial(kiln::tensor<float>({0.5f, 0.f, 0.5f, 0.f}), 2);
    CHECK(std::set<int64_t>{z(0), z(1)} == std::set<int64_t>{0, 2});
    // A tiny positive weight's arrival time overflows, yet it still beats a zero weight.
    const auto tiny = kiln::multinomial(kiln::tensor<double>({1.0, 0.0, 1e-320}), 2);
    CHECK(tiny(0) == 0);
    CHECK(tiny(1) == 2);
  }
}

TEST_CASE("multinomial rejects invalid input", "[tensor][random]") {
  using kiln::ShapeError;
  using kiln::ValueError;
  const auto good = kiln::tensor<float>({0.2f, 0.3f, 0.5f, 0.f});
  CHECK_THAT(thrown_message<ShapeError>([] {
               (void)kiln::multinomial(kiln::ones({2, 2, 2}), 1);
             }),
             Contains("[multinomial]") && Contains("[2, 2, 2]"));
  CHECK_THAT(thrown_message<ShapeError>([] {
               (void)kiln::multinomial(kiln::ones({3, 0}), 1, true);
             }),
             Contains("[multinomial]") && Contains("[3, 0]"));
  CHECK_THAT(thrown_message<ValueError>([&] { (void)kiln::multinomial(good, 0); }),
             Contains("[multinomial]") && Contains("num_samples=0"));
  CHECK_THAT(thrown_message<ValueError>([&] { (void)kiln::multinomial(good, 5); }),
             Contains("[multinomial]") && Contains("num_samples=5") && Contains("n=4") &&
                 Contains("without replacement"));
  CHECK_THAT(thrown_message<ValueError>([&] { (void)kiln::multinomial(good, 4); }),
             Contains("[multinomial]") && Contains("only 3") && Contains("num_samples=4"));
  auto bad = kiln::ones<double>({2, 4});
  bad(1, 2) = -0.5;
  CHECK_THAT(thrown_message<ValueError>([&] { (void)kiln::multinomial(bad, 1, true); }),
             Contains("[multinomial]") && Contains("probs[1, 2]") && Contains("-0.5") &&
                 Contains("[2, 4]"));
  bad(1, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THAT(thrown_message<ValueError>([&] { (void)kiln::multinomial(bad, 1); }),
             Contains("probs[1, 2]") && Contains("nan"));
  bad(1, 2) = std::numeric_limits<double>::infinity();
  CHECK_THAT(thrown_message<ValueError>([&] { (void)kiln::multinomial(bad, 1); }),
             Contains("probs[1, 2]") && Contains("inf"));
  bad(1, 2) = 1;
  bad.select(0, 0).zero_();
  CHECK_THAT(thrown_message<ValueError>([&] { (void)kiln::multinomial(bad, 1, true); }),
             Contains("[multinomial]") && Contains("sum of probabilities") && Contains("row 0"));
  CHECK_THAT(thrown_message<ValueError>([] {
               (void)kiln::multinomial(kiln::tensor<float>({-1.f, 2.f}), 1);
             }),
             Contains("probs[0]") && Contains("-1"));
  CHECK_THAT(thrown_message<ValueError>(
                 [] { (void)kiln::multinomial(kiln::full<double>({3}, 1e308), 1); }),
             Contains("[multinomial]") && Contains("inf"));
  // An empty batch is fine.
  CHECK(kiln::multinomial(kiln::ones({0, 3}), 2).shape() == Shape{0, 2});
}

// ---- randperm ----------------------------------------------------------------------------------

TEST_CASE("randperm is a uniformly random permutation", "[tensor][random]") {
  const uint64_t seed = 31;
  kiln::manual_seed(seed);
  SECTION("a permutation, laid out by sorted 64-bit words") {
    const auto p = kiln::randperm(1000);
    STATIC_REQUIRE(std::is_same_v<decltype(p), const Tensor<int64_t>>);
    std::vector<int64_t> v(p.data(), p.data() + 1000);
    std::vector<std::pair<uint64_t, int64_t>> keys;
    for (int64_t i = 0; i < 1000; ++i) keys.push_back({word64({seed, 0}, i), i});
    std::sort(keys.begin(), keys.end());
    int64_t mismatched = 0, fixed_points = 0;
    for (int64_t i = 0; i < 1000; ++i) {
      mismatched += v[static_cast<std::size_t>(i)] != keys[static_cast<std::size_t>(i)].second;
      fixed_points += v[static_cast<std::size_t>(i)] == i;
    }
    CHECK(mismatched == 0);
    CHECK(fixed_points < 8);  // Poisson(1)
    std::sort(v.begin(), v.end());
    std::vector<int64_t> iota(1000);
    std::iota(iota.begin(), iota.end(), 0);
    CHECK(v == iota);
  }
  SECTION("every position takes every value, and every order appears, equally often") {
    const int64_t draws = 24000;
    std::vector<int64_t> at(16, 0), orders(24, 0);
    for (int64_t d = 0; d < draws; ++d) {
      const auto p = kiln::randperm(4);
      for (int64_t i = 0; i < 4; ++i) ++at[static_cast<std::size_t>(4 * i + p(i))];
      std::vector<int64_t> v(p.data(), p.data() + 4);
      int64_t rank = 0;  // lexicographic rank of the permutation
      for (int64_t i = 0; i < 4; ++i) {
        int64_t smaller = 0;
        for (int64_t j = i + 1; j < 4; ++j)
          smaller += v[static_cast<std::size_t>(j)] < v[static_cast<std::size_t>(i)];
        const int64_t fact[] = {6, 2, 1, 1};
        rank += smaller * fact[i];
      }
      ++orders[static_cast<std::size_t>(rank)];
    }
    // 9 and 23 degrees of freedom: P(chi2 > 40) ~ 7e-6, P(chi2 > 65) ~ 7e-6.
    CHECK(chi_square(at, std::vector<double>(16, 1.0 / 16)) < 40);
    CHECK(chi_square(orders, std::vector<double>(24, 1.0 / 24)) < 65);
  }
  SECTION("sizes and dtypes") {
    CHECK(kiln::randperm(0).numel() == 0);
    CHECK(kiln::randperm(1)(0) == 0);
    const auto f = kiln::randperm<float>(20);
    const auto i = kiln::randperm<int8_t>(128);
    CHECK(f.dtype() == kiln::ScalarType::Float);
    std::vector<float> fv(f.data(), f.data() + 20);
    std::sort(fv.begin(), fv.end());
    CHECK(fv.front() == 0.f);
    CHECK(fv.back() == 19.f);
    std::set<int> seen(i.data(), i.data() + 128);
    CHECK(seen.size() == 128);
    CHECK(*seen.rbegin() == 127);
  }
}

// ---- dropout -----------------------------------------------------------------------------------

TEST_CASE("dropout zeroes a fraction p and scales the rest by 1 / (1 - p)", "[tensor][random]") {
  kiln::manual_seed(41);
  const double p = 0.3;
  const auto x = kiln::randn({500, 1000}) + 5.0f;  // nonzero everywhere
  const Tensor<float> xt = x;
  const float scale = 1.0f / static_cast<float>(1 - p);
  SECTION("frequencies and values") {
    const auto y = kiln::dropout(xt, p);
    int64_t dropped = 0, wrong = 0;
    for (int64_t i = 0; i < xt.numel(); ++i) {
      const float v = y.data()[i];
      if (v == 0)
        ++dropped;
      else
        wrong += v != xt.data()[i] * scale;
    }
    CHECK(wrong == 0);
    // sd sqrt(p (1 - p) / n) ~ 6.5e-4
    CHECK(static_cast<double>(dropped) / xt.numel() == Approx(p).margin(4e-3));
    CHECK(mean_of(kiln::dropout(kiln::ones<double>({1000000}), 0.5)) == Approx(1.0).margin(5e-3));
  }
  SECTION("dropout, dropout_with_mask and dropout_mask agree for one seed") {
    kiln::manual_seed(42);
    const auto y = kiln::dropout(xt, p);
    kiln::manual_seed(42);
    const auto [out, mask] = kiln::dropout_with_mask(xt, p);
    kiln::manual_seed(42);
    const auto m = kiln::dropout_mask(xt.shape(), p);
    CHECK(bitwise_equal(y, out));
    CHECK(bitwise_equal(mask, m));
    const Tensor<float> recomputed = xt * kiln::cast<float>(mask) * scale;
    CHECK(bitwise_equal(recomputed, out));
    // And the mask is the bernoulli layout with p_keep = 1 - p.
    kiln::manual_seed(42);
    CHECK(bitwise_equal(m, kiln::bernoulli<bool>(xt.shape(), 1 - p)));
  }
  SECTION("views and expressions read in logical order") {
    kiln::manual_seed(43);
    const auto a = kiln::dropout(xt.t(), p);
    kiln::manual_seed(43);
    const auto b = kiln::dropout(xt.t().contiguous(), p);
    CHECK(bitwise_equal(a, b));
    kiln::manual_seed(44);
    const auto c = kiln::dropout(xt * 2.0f, p);
    kiln::manual_seed(44);
    const auto d = kiln::dropout(Tensor<float>(xt * 2.0f), p);
    CHECK(bitwise_equal(c, d));
    CHECK(c.shape() == Shape{500, 1000});
  }
  SECTION("p = 0, training = false, p = 1") {
    kiln::manual_seed(45);
    CHECK(kiln::dropout(xt, 0.0).is_alias_of(xt));
    CHECK(kiln::dropout(xt, 0.5, /*training=*/false).is_alias_of(xt));
    const auto r0 = kiln::rand({8});  // nothing was drawn above
    kiln::manual_seed(45);
    CHECK(bitwise_equal(r0, kiln::rand({8})));
    const auto z = kiln::dropout(xt, 1.0);
    CHECK(std::count(z.data(), z.data() + z.numel(), 0.0f) == z.numel());
    const auto [o1, m1] = kiln::dropout_with_mask(xt, 1.0);
    CHECK(std::count(m1.data(), m1.data() + m1.numel(), false) == m1.numel());
    const auto [o0, m0] = kiln::dropout_with_mask(xt, 0.0);
    CHECK(o0.is_alias_of(xt));
    CHECK(std::count(m0.data(), m0.data() + m0.numel(), true) == m0.numel());
  }
  SECTION("double and half") {
    const auto d = kiln::dropout(kiln::ones<double>({1000}), 0.25);
    CHECK(std::count_if(d.data(), d.data() + 1000,
                        [](double v) { return v != 0 && v != 1 / 0.75; }) == 0);
    const auto h = kiln::dropout(kiln::ones<kiln::half>({1000}), 0.5);
    CHECK(std::count_if(h.data(), h.data() + 1000, [](kiln::half v) {
            return static_cast<float>(v) != 0 && static_cast<float>(v) != 2;
          }) == 0);
    CHECK(kiln::dropout(kiln::ones({0, 3}), 0.5).shape() == Shape{0, 3});
  }
}

// ---- threads and errors ------------------------------------------------------------------------

TEST_CASE("samplers do not depend on the thread count", "[tensor][random]") {
  ThreadsGuard guard;
  // Sizes that give several parallel chunks, none a multiple of a block (chunks: fills
  // 8192 blocks or 4096 for normals, multinomial's keys 4096 elements, samples 8192,
  // randperm 32768).
  const int64_t n = 300001, m = 100003;
  const auto probs = kiln::rand({64, 2000});
  const auto wide = kiln::rand<double>({m});
  const auto x = kiln::randn({n});
  auto draw = [&](int threads) {
    kiln::set_num_threads(threads);
    kiln::manual_seed(77);
    auto view = kiln::zeros({3, n}).slice(0, 0, 3, 2);  // strided
    kiln::normal_(view, 1, 2);
    auto [dout, dmask] = kiln::dropout_with_mask(x, 0.4);
    return std::tuple{kiln::uniform_(kiln::empty({n}), -1, 2),
                      kiln::uniform_(kiln::empty<double>({n}), 0, 5),
                      view.contiguous(),
                      kiln::normal<double>(0, 3, {n}),
                      kiln::bernoulli(kiln::rand<double>({n})),
                      kiln::bernoulli<bool>({n}, 0.3),
                      kiln::bernoulli_(kiln::empty<int32_t>({n}), 0.6),
                      kiln::multinomial(probs, 40),
                      kiln::multinomial(probs, 500, true),
                      kiln::multinomial(wide, 1000),
                      kiln::multinomial(wide, m, true),
                      kiln::randperm(m),
                      kiln::dropout(x, 0.2),
                      dout,
                      dmask,
                      kiln::dropout_mask({n}, 0.1)};
  };
  const auto one = draw(1);
  const auto two = draw(2);
  const auto four = draw(4);
  auto compare = [&]<std::size_t... I>(std::index_sequence<I...>) {
    return std::vector<bool>{(bitwise_equal(std::get<I>(one), std::get<I>(two)) &&
                              bitwise_equal(std::get<I>(one), std::get<I>(four)))...};
  };
  const auto same = compare(std::make_index_sequence<std::tuple_size_v<decltype(one)>>{});
  for (std::size_t i = 0; i < same.size(); ++i) {
    INFO("sampler " << i);
    CHECK(same[i]);
  }
}

TEST_CASE("samplers reject invalid arguments", "[tensor][random]") {
  using kiln::ShapeError;
  using kiln::ValueError;
  const auto t = kiln::zeros({3});
  CHECK_THAT(thrown_message<ValueError>([&] { kiln::uniform_(t, 1, 0); }),
             Contains("[uniform_]") && Contains("from=1") && Contains("to=0"));
  CHECK_THAT(thrown_message<ValueError>([&] { kiln::uniform_(t, 0, INFINITY); }),
             Contains("[uniform_]") && Contains("to=inf"));
  CHECK_THAT(
      thrown_message<ValueError>([] { kiln::uniform_(kiln::zeros<kiln::half>({2}), 0, 1e5); }),
      Contains("[uniform_]") && Contains("float16"));
  CHECK_THAT(thrown_message<ValueError>([&] { kiln::normal_(t, 0, -1); }),
             Contains("[normal_]") && Contains("std=-1"));
  CHECK_THAT(thrown_message<ValueError>([] { (void)kiln::normal(0, NAN, {2}); }),
             Contains("[normal]") && Contains("std=nan"));
  CHECK_THAT(thrown_message<ShapeError>([] {
               (void)kiln::normal(0, 1, {2, -1});
             }),
             Contains("[normal]") && Contains("[2, -1]"));
  // An expanded destination has one address for many elements.
  CHECK_THAT(thrown_message<ValueError>([] {
               kiln::normal_(kiln::zeros({1, 4}).expand({3, 4}));
             }),
             Contains("[normal_]") && Contains("[3, 4]"));

  auto p = kiln::full({2, 3}, 0.5f);
  p(1, 1) = 1.5f;
  CHECK_THAT(
      thrown_message<ValueError>([&] { (void)kiln::bernoulli(p); }),
      Contains("[bernoulli]") && Contains("p=1.5") && Contains("index 4") && Contains("[2, 3]"));
  p(1, 1) = NAN;
  CHECK_THAT(thrown_message<ValueError>([&] { (void)kiln::bernoulli(p); }),
             Contains("[bernoulli]") && Contains("p=nan"));
  CHECK_THAT(thrown_message<ValueError>([] { (void)kiln::bernoulli({3}, -0.1); }),
             Contains("[bernoulli]") && Contains("p=-0.1"));
  CHECK_THAT(thrown_message<ValueError>([&] { kiln::bernoulli_(t, 2.0); }),
             Contains("[bernoulli_]") && Contains("p=2"));
  CHECK_THAT(thrown_message<ShapeError>([&] { kiln::bernoulli_(t, kiln::full({2}, 0.5f)); }),
             Contains("[bernoulli_]") && Contains("[2]") && Contains("[3]"));
  CHECK_THAT(thrown_message<ValueError>([&] { kiln::bernoulli_(t, kiln::full({3}, -1.0)); }),
             Contains("[bernoulli_]") && Contains("p=-1"));

  CHECK_THAT(thrown_message<ValueError>([] { (void)kiln::randperm(-1); }),
             Contains("[randperm]") && Contains("n=-1"));
  CHECK_THAT(thrown_message<ValueError>([] { (void)kiln::randperm<int8_t>(129); }),
             Contains("[randperm]") && Contains("n=129") && Contains("int8"));
  CHECK_THAT(thrown_message<ValueError>([] { (void)kiln::randperm<kiln::half>(3000); }),
             Contains("[randperm]") && Contains("float16"));

  for (double bad : {-0.1, 1.5, static_cast<double>(NAN)}) {
    CHECK_THAT(thrown_message<ValueError>([&] { (void)kiln::dropout(t, bad); }),
               Contains("[dropout]") && Contains("between 0 and 1"));
    CHECK_THAT(thrown_message<ValueError>([&] { (void)kiln::dropout_with_mask(t, bad); }),
               Contains("[dropout_with_mask]"));
    CHECK_THAT(thrown_message<ValueError>([&] { (void)kiln::dropout_mask({3}, bad); }),
               Contains("[dropout_mask]"));
  }
  CHECK_THAT(thrown_message<ValueError>([&] { (void)kiln::dropout(t, 1.5, false); }),
             Contains("p=1.5"));
}
