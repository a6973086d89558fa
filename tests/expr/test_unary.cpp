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

namespace {

using TF = kiln::Tensor<float>;
using TD = kiln::Tensor<double>;
using TB = kiln::Tensor<bool>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Allowed error, in units of the dtype's epsilon: |got - ref| <= eps * (rel * |ref| + abs)
// (plus rel subnormal steps where the result underflows).
// {0, 0} means bit-exact against the reference rounded to the dtype.
struct Tol {
  double rel = 0, abs = 0;
};
constexpr Tol kExact{0, 0};
constexpr Tol kUlp1{1, 0};        // correctly rounded up to the reference's own rounding
constexpr Tol kUlp2{2, 0};
constexpr Tol kUlps{6, 0};        // one libm / SLEEF (1 ulp) / libmvec (4 ulp) call

// `masked` evaluates the op under where(mask, op(x), x) with an all-true bool tensor: a
// bool leaf keeps the whole tree off the packet path, so the op runs on scalars (libm).
struct UnaryCase {
  const char* name;
  std::function<TF(const TF&)> f32;
  std::function<TD(const TD&)> f64;
  std::function<TF(const TF&, const TB&)> f32_masked;
  std::function<TD(const TD&, const TB&)> f64_masked;
  double (*ref)(double);
  double lo, hi;  // domain of the random inputs
  Tol tol;
  bool specials;   // also NaN, +-inf, +-0 and halves, expected as the reference gives them
  bool zero_sign;  // the sign of a zero result must match the reference's
};

// One table row: the same kiln expression for float and double, and its reference.
#define UNARY_CASE(NAME, KILN_EXPR, REF_EXPR, LO, HI, TOL, SPECIALS, ZERO_SIGN)                       \
  UnaryCase {                                                                                       \
    NAME, [](const TF& x) { return TF(KILN_EXPR); }, [](const TD& x) { return TD(KILN_EXPR); },      \
        [](const TF& x, const TB& m) { return TF(kiln::where(m, KILN_EXPR, x)); },                    \
        [](const TD& x, const TB& m) { return TD(kiln::where(m, KILN_EXPR, x)); },                    \
        [](double x) -> double { return REF_EXPR; }, LO, HI, TOL, SPECIALS, ZERO_SIGN                \
  }

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

template <class T>
std::vector<T> random_values(double lo, double hi, int n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<T>(u(gen));
  return v;
}

// Inputs where IEEE semantics are pinned down: NaN, infinities, signed zeros, exact halves
// (round-half-to-even) and a few small integers.
const std::vector<double>& special_values() {
  static const std::vector<double> v = {kNaN, kInf, -kInf, 0.0,  -0.0, 0.5, -0.5, 1.5,
                                        2.5,  -2.5, 1.0,   -1.0, 3.0,  -3.0, 1e-30, -1e-30};
  return v;
}

// Compares one result with the double reference; on mismatch returns a description.
template <class T>
std::string mismatch(T got, double x, double ref, Tol tol, bool zero_sign) {
  const double g = static_cast<double>(got);
  const double eps = std::numeric_limits<T>::epsilon();
  const double ref_t = static_cast<double>(static_cast<T>(ref));  // the reference in T's range
  bool ok;
  if (std::isnan(ref))
    ok = std::isnan(g);
  else if (std::isinf(ref_t))
    ok = g == ref_t;
  else if (tol.rel == 0 && tol.abs == 0)
    ok = g == ref_t;
  else
    ok = std::fabs(g - ref) <= eps * (tol.rel * std::fabs(ref) + tol.abs) +
                                   tol.rel * std::numeric_limits<T>::denorm_min();  // underflow
  if (ok && zero_sign && ref == 0 && g == 0) ok = std::signbit(g) == std::signbit(ref);
  if (ok) return {};
  std::ostringstream os;
  os.precision(17);
  os << "x = " << x << ": got " << g << ", expected " << ref;
  return os.str();
}

// Runs `c` on `xs` three ways: contiguous (run_linear: SIMD packets, SLEEF or libmvec),
// as every other element of a wider buffer (run_strided: gathered packets), and under an
// all-true bool mask (the scalar path: libm).
template <class T>
void check_case(const UnaryCase& c, const std::vector<T>& xs) {
  using Ten = kiln::Tensor<T>;
  const auto n = static_cast<int64_t>(xs.size());
  std::vector<T> wide(xs.size() * 2, T(-7));
  for (std::size_t i = 0; i < xs.size(); ++i) wide[2 * i] = xs[i];
  const Ten contiguous = kiln::from_vector<T>(xs);
  const Ten strided = kiln::from_vector<T>(wide, {n, 2}).select(1, 0);
  REQUIRE_FALSE(strided.is_contiguous());
  const TB all_true = kiln::ones<bool>({n});
  Ten outs[3];
  if constexpr (std::is_same_v<T, float>) {
    outs[0] = c.f32(contiguous);
    outs[1] = c.f32(strided);
    outs[2] = c.f32_masked(contiguous, all_true);
  } else {
    outs[0] = c.f64(contiguous);
    outs[1] = c.f64(strided);
    outs[2] = c.f64_masked(contiguous, all_true);
  }
  const char* paths[3] = {"contiguous", "strided", "scalar"};
  for (int k = 0; k < 3; ++k) {
    REQUIRE(outs[k].shape() == kiln::Shape{n});
    int bad = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double x = static_cast<double>(xs[static_cast<std::size_t>(i)]);
      const std::string m = mismatch<T>(outs[k].data()[i], x, c.ref(x), c.tol, c.zero_sign);
      if (!m.empty() && bad++ < 5) FAIL_CHECK(c.name << " (" << paths[k] << "): " << m);
    }
    CHECK(bad == 0);
  }
}

}  // namespace

TEMPLATE_TEST_CASE("elementary unary ops match a double-precision reference loop", "[expr][unary]", float, double) {
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

TEMPLATE_TEST_CASE("logical_not and operator! give bool", "[expr][unary]", float, double, int32_t, uint8_t) {
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
