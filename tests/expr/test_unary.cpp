// SPDX-License-Identifier: BSD-3-Clause
// Elementary unary ops (sign and rounding, powers and roots, exp/log, trigonometric,
// hyperbolic, erf) against a plain <cmath> loop in double, plus IEEE special values and
// logical_not. A table of {name, kiln expression, double reference, domain, tolerance}: each
// op is checked for float and double on the contiguous packet path (SLEEF / libmvec), on a
// strided operand (gathered packets) and under a bool mask (the scalar libm path).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/kiln.hpp"
#include "unary_check.hpp"

namespace {

using namespace kiln_test;

double ref_sign(double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : x); }  // NaN and -0 kept

// Every elementary unary op of include/kiln/expr/ops.hpp (activations: test_activations.cpp).
const std::vector<UnaryCase>& math_cases() {
  static const std::vector<UnaryCase> cases = {
      UNARY_CASE("neg", kiln::neg(x), -x, -100, 100, kExact, true, true),
      UNARY_CASE("operator-", -x, -x, -100, 100, kExact, true, true),
      UNARY_CASE("abs", kiln::abs(x), std::fabs(x), -100, 100, kExact, true, true),
      UNARY_CASE("sign", kiln::sign(x), ref_sign(x), -3, 3, kExact, true, true),
      UNARY_CASE("floor", kiln::floor(x), std::floor(x), -100, 100, kExact, true, true),
      UNARY_CASE("ceil", kiln::ceil(x), std::ceil(x), -100, 100, kExact, true, true),
      UNARY_CASE("round", kiln::round(x), std::nearbyint(x), -100, 100, kExact, true, true),
      UNARY_CASE("trunc", kiln::trunc(x), std::trunc(x), -100, 100, kExact, true, true),
      UNARY_CASE("square", kiln::square(x), x * x, -100, 100, kExact, true, false),
      UNARY_CASE("sqrt", kiln::sqrt(x), std::sqrt(x), 0, 1000, kUlp1, true, true),
      UNARY_CASE("rsqrt", kiln::rsqrt(x), 1 / std::sqrt(x), 1e-3, 1000, kUlp2, true, true),
      UNARY_CASE("reciprocal", kiln::reciprocal(x), 1 / x, 1e-3, 1000, kExact, true, true),
      UNARY_CASE("exp", kiln::exp(x), std::exp(x), -80, 80, kUlps, true, false),
      UNARY_CASE("exp2", kiln::exp2(x), std::exp2(x), -120, 120, kUlps, true, false),
      UNARY_CASE("expm1", kiln::expm1(x), std::expm1(x), -10, 10, kUlps, true, true),
      UNARY_CASE("log", kiln::log(x), std::log(x), 1e-6, 1e6, kUlps, true, false),
      UNARY_CASE("log2", kiln::log2(x), std::log2(x), 1e-6, 1e6, kUlps, true, false),
      UNARY_CASE("log1p", kiln::log1p(x), std::log1p(x), -0.999, 1e3, kUlps, true, true),
      UNARY_CASE("sin", kiln::sin(x), std::sin(x), -10, 10, kUlps, true, true),
      UNARY_CASE("cos", kiln::cos(x), std::cos(x), -10, 10, kUlps, true, false),
      UNARY_CASE("tan", kiln::tan(x), std::tan(x), -1.5, 1.5, kUlps, true, true),
      UNARY_CASE("asin", kiln::asin(x), std::asin(x), -1, 1, kUlps, true, true),
      UNARY_CASE("acos", kiln::acos(x), std::acos(x), -1, 1, kUlps, true, false),
      UNARY_CASE("atan", kiln::atan(x), std::atan(x), -50, 50, kUlps, true, true),
      UNARY_CASE("sinh", kiln::sinh(x), std::sinh(x), -10, 10, kUlps, true, true),
      UNARY_CASE("cosh", kiln::cosh(x), std::cosh(x), -10, 10, kUlps, true, false),
      UNARY_CASE("tanh", kiln::tanh(x), std::tanh(x), -10, 10, kUlps, true, true),
      UNARY_CASE("erf", kiln::erf(x), std::erf(x), -4, 4, kUlps, true, true),
  };
  return cases;
}

}  // namespace

TEMPLATE_TEST_CASE("elementary unary ops match a double-precision reference loop", "[expr][unary]",
                   float, double) {
  for (const UnaryCase& c : math_cases()) {
    DYNAMIC_SECTION(c.name) {
      std::vector<TestType> xs = random_values<TestType>(c.lo, c.hi, 1000, 42);
      xs.push_back(static_cast<TestType>(c.lo));
      xs.push_back(static_cast<TestType>(c.hi));
      if (c.specials)
        for (double s : special_values()) xs.push_back(static_cast<TestType>(s));
      check_case<TestType>(c, xs);
    }
  }
}

TEST_CASE("unary special values follow IEEE and torch", "[expr][unary]") {
  const TF x = kiln::tensor<float>({NAN, INFINITY, -INFINITY, 0.0f, -0.0f});
  auto vals = [](const TF& t) { return std::vector<float>(t.data(), t.data() + t.numel()); };

  SECTION("exp and log at the ends of their domain") {
    const auto e = vals(TF(kiln::exp(x)));
    CHECK(std::isnan(e[0]));
    CHECK(e[1] == INFINITY);
    CHECK(e[2] == 0.0f);
    CHECK(e[3] == 1.0f);
    CHECK(e[4] == 1.0f);
    const auto l = vals(TF(kiln::log(x)));
    CHECK(std::isnan(l[0]));
    CHECK(l[1] == INFINITY);
    CHECK(std::isnan(l[2]));
    CHECK(l[3] == -INFINITY);
    CHECK(l[4] == -INFINITY);
    CHECK(std::isnan(TF(kiln::log(kiln::tensor<float>({-1.0f}))).item()));
    CHECK(std::isnan(TF(kiln::sqrt(kiln::tensor<float>({-1.0f}))).item()));
  }
  SECTION("relu, sign and clamp propagate NaN") {
    CHECK(std::isnan(vals(TF(kiln::relu(x)))[0]));
    CHECK(std::isnan(vals(TF(kiln::sign(x)))[0]));
    CHECK(std::isnan(vals(TF(kiln::clamp(x, -1.0, 1.0)))[0]));
    CHECK(std::isnan(vals(TF(kiln::clamp_min(x, 0.0)))[0]));
    CHECK(std::isnan(vals(TF(kiln::clamp_max(x, 0.0)))[0]));
  }
  SECTION("signed zeros") {
    const auto s = vals(TF(kiln::sign(x)));
    CHECK((s[3] == 0.0f && !std::signbit(s[3])));
    CHECK((s[4] == 0.0f && std::signbit(s[4])));
    const auto a = vals(TF(kiln::abs(x)));
    CHECK((a[4] == 0.0f && !std::signbit(a[4])));
    const auto n = vals(TF(-x));
    CHECK((n[3] == 0.0f && std::signbit(n[3])));
    CHECK((n[4] == 0.0f && !std::signbit(n[4])));
    const auto r = vals(TF(kiln::round(kiln::tensor<float>({-0.5f, 0.5f, 1.5f, 2.5f, -2.5f}))));
    CHECK(r == std::vector<float>{-0.0f, 0.0f, 2.0f, 2.0f, -2.0f});
    CHECK(std::signbit(r[0]));
  }
  SECTION("clamp(inf) and activations at infinity") {
    const auto c = vals(TF(kiln::clamp(x, -1.0, 1.0)));
    CHECK(c[1] == 1.0f);
    CHECK(c[2] == -1.0f);
    const auto sg = vals(TF(kiln::sigmoid(x)));
    CHECK(sg[1] == 1.0f);
    CHECK(sg[2] == 0.0f);
    const auto th = vals(TF(kiln::tanh(x)));
    CHECK(th[1] == 1.0f);
    CHECK(th[2] == -1.0f);
    const auto rl = vals(TF(kiln::relu(x)));
    CHECK(rl[1] == INFINITY);
    CHECK(rl[2] == 0.0f);
  }
}

TEMPLATE_TEST_CASE("logical_not and operator! give bool", "[expr][unary]", float, double, int32_t,
                   uint8_t) {
  using T = TestType;
  std::vector<T> xs = {T(0), T(1), T(2), T(0), T(5)};
  if constexpr (std::is_floating_point_v<T>) {
    xs.push_back(std::numeric_limits<T>::quiet_NaN());  // NaN is truthy, as in torch
    xs.push_back(T(-0.0));
    xs.push_back(T(-1.5));
  }
  const auto x = kiln::from_vector<T>(xs);
  static_assert(std::is_same_v<kiln::expr::value_t<decltype(kiln::logical_not(x))>, bool>);
  const kiln::Tensor<bool> a = kiln::logical_not(x);
  const kiln::Tensor<bool> b = !x;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    INFO("i = " << i);
    CHECK(a.data()[i] == (xs[i] == T(0)));
    CHECK(b.data()[i] == (xs[i] == T(0)));
  }
  const kiln::Tensor<bool> bb = !kiln::Tensor<bool>(!x);  // not of a bool expression
  for (std::size_t i = 0; i < xs.size(); ++i) CHECK(bb.data()[i] == (xs[i] != T(0)));
}
