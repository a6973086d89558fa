// SPDX-License-Identifier: BSD-3-Clause
// Every public binary elementwise op and operator against a plain <cmath> loop in double,
// for float and double: arithmetic (floor_divide and remainder against Python's rules) (with NaN,
// infinities and signed zeros, on the SIMD and the gathered-strided paths), comparisons and logical
// ops, tensor-scalar forms. Integer, bool, half and bfloat16 operands: test_binary_dtypes.cpp.
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

template <class E>
using value_of = kiln::expr::value_t<E>;

// ---- float and double: arithmetic ---------------------------------------------------------

// `masked` evaluates the op as where(mask, op(a, b), a) with an all-true bool tensor: the
// bool leaf keeps the tree off the packet path, so the op runs on scalars (libm).
struct ArithCase {
  const char* name;
  std::function<TF(const TF&, const TF&)> f32;
  std::function<TD(const TD&, const TD&)> f64;
  std::function<TF(const TF&, const TF&, const TB&)> f32_masked;
  std::function<TD(const TD&, const TD&, const TB&)> f64_masked;
  double (*ref)(double, double);
  double alo, ahi, blo, bhi;  // domains of the random inputs
  double ulps;                // 0: bit-exact against the reference rounded to the dtype
};

#define ARITH_CASE(NAME, KILN_EXPR, REF_EXPR, ALO, AHI, BLO, BHI, ULPS)                           \
  ArithCase {                                                                                     \
    NAME,                                                                                         \
        []([[maybe_unused]] const TF& a, [[maybe_unused]] const TF& b) { return TF(KILN_EXPR); }, \
        []([[maybe_unused]] const TD& a, [[maybe_unused]] const TD& b) { return TD(KILN_EXPR); }, \
        []([[maybe_unused]] const TF& a, [[maybe_unused]] const TF& b, const TB& m) {             \
          return TF(kiln::where(m, KILN_EXPR, a));                                                \
        },                                                                                        \
        []([[maybe_unused]] const TD& a, [[maybe_unused]] const TD& b, const TB& m) {             \
          return TD(kiln::where(m, KILN_EXPR, a));                                                \
        },                                                                                        \
        []([[maybe_unused]] double a, [[maybe_unused]] double b) -> double { return REF_EXPR; },  \
        ALO, AHI, BLO, BHI, ULPS                                                                  \
  }

double ref_maximum(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? kNaN : std::fmax(a, b);
}
double ref_minimum(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? kNaN : std::fmin(a, b);
}

// Python's float // and % (Objects/floatobject.c), which torch follows; x // 0 is a / b.
double ref_floor_divide(double a, double b) {
  if (b == 0) return a / b;
  const double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0 && (b < 0) != (mod < 0)) div -= 1;
  if (div == 0) return std::copysign(0.0, a / b);
  double fl = std::floor(div);
  if (div - fl > 0.5) fl += 1;
  return fl;
}
double ref_remainder(double a, double b) {
  const double mod = std::fmod(a, b);
  return mod != 0 && (b < 0) != (mod < 0) ? mod + b : mod;
}

const std::vector<ArithCase>& arith_cases() {
  static const std::vector<ArithCase> cases = {
      ARITH_CASE("add", kiln::add(a, b), a + b, -100, 100, -100, 100, 0),
      ARITH_CASE("sub", kiln::sub(a, b), a - b, -100, 100, -100, 100, 0),
      ARITH_CASE("mul", kiln::mul(a, b), a * b, -100, 100, -100, 100, 0),
      ARITH_CASE("div", kiln::div(a, b), a / b, -100, 100, -100, 100, 0),
      ARITH_CASE("operator+", a + b, a + b, -100, 100, -100, 100, 0),
      ARITH_CASE("operator-", a - b, a - b, -100, 100, -100, 100, 0),
      ARITH_CASE("operator*", a * b, a * b, -100, 100, -100, 100, 0),
      ARITH_CASE("operator/", a / b, a / b, -100, 100, -100, 100, 0),
      ARITH_CASE("pow", kiln::pow(a, b), std::pow(a, b), 0, 10, -8, 8, 4),
      ARITH_CASE("atan2", kiln::atan2(a, b), std::atan2(a, b), -10, 10, -10, 10, 4),
      ARITH_CASE("fmod", kiln::fmod(a, b), std::fmod(a, b), -100, 100, -10, 10, 0),
      ARITH_CASE("floor_divide", kiln::floor_divide(a, b), ref_floor_divide(a, b), -100, 100, -10,
                 10, 0),
      ARITH_CASE("remainder", kiln::remainder(a, b), ref_remainder(a, b), -100, 100, -10, 10, 0),
      ARITH_CASE("maximum", kiln::maximum(a, b), ref_maximum(a, b), -10, 10, -10, 10, 0),
      ARITH_CASE("minimum", kiln::minimum(a, b), ref_minimum(a, b), -10, 10, -10, 10, 0),
      // Tensor-scalar forms (the scalar converts to the tensor's floating dtype).
      ARITH_CASE("a + 2", a + 2, a + 2, -100, 100, 0, 1, 0),
      ARITH_CASE("2 - a", 2 - a, 2 - a, -100, 100, 0, 1, 0),
      ARITH_CASE("a * 0.5", a * 0.5, a * 0.5, -100, 100, 0, 1, 0),
      ARITH_CASE("3 / a", 3 / a, 3 / a, -100, 100, 0, 1, 0),
      ARITH_CASE("a / 4", a / 4, a / 4, -100, 100, 0, 1, 0),
      ARITH_CASE("add(1, b)", kiln::add(1, b), 1 + b, 0, 1, -100, 100, 0),
      ARITH_CASE("maximum(a, 0.5)", kiln::maximum(a, 0.5), ref_maximum(a, 0.5), -2, 2, 0, 1, 0),
      ARITH_CASE("minimum(-0.5, b)", kiln::minimum(-0.5, b), ref_minimum(-0.5, b), 0, 1, -2, 2, 0),
      ARITH_CASE("fmod(a, 1.5)", kiln::fmod(a, 1.5), std::fmod(a, 1.5), -10, 10, 0, 1, 0),
      ARITH_CASE("floor_divide(a, -1.5)", kiln::floor_divide(a, -1.5), ref_floor_divide(a, -1.5),
                 -10, 10, 0, 1, 0),
      ARITH_CASE("remainder(7, b)", kiln::remainder(7, b), ref_remainder(7, b), 0, 1, -10, 10, 0),
      ARITH_CASE("atan2(a, 2)", kiln::atan2(a, 2), std::atan2(a, 2.0), -10, 10, 0, 1, 4),
      ARITH_CASE("pow(a, 1.5)", kiln::pow(a, 1.5), std::pow(a, 1.5), 0, 10, 0, 1, 4),
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

const std::vector<double>& special_values() {
  static const std::vector<double> v = {kNaN, kInf, -kInf, 0.0, -0.0, 1.0, -1.0, 2.5, -0.5};
  return v;
}

template <class T>
std::string mismatch(T got, double a, double b, double ref, double ulps) {
  const double g = static_cast<double>(got);
  const double ref_t = static_cast<double>(static_cast<T>(ref));
  bool ok;
  if (std::isnan(ref))
    ok = std::isnan(g);
  else if (std::isinf(ref_t) || ulps == 0)
    ok = g == ref_t;
  else
    ok = std::fabs(g - ref) <= ulps * (std::numeric_limits<T>::epsilon() * std::fabs(ref) +
                                       std::numeric_limits<T>::denorm_min());
  if (ok) return {};
  std::ostringstream os;
  os.precision(17);
  os << "(" << a << ", " << b << "): got " << g << ", expected " << ref;
  return os.str();
}

}  // namespace

TEMPLATE_TEST_CASE("binary arithmetic matches a double-precision reference loop", "[expr][binary]",
                   float, double) {
  using T = TestType;
  for (const ArithCase& c : arith_cases()) {
    DYNAMIC_SECTION(c.name) {
      std::vector<T> as = random_values<T>(c.alo, c.ahi, 500, 1);
      std::vector<T> bs = random_values<T>(c.blo, c.bhi, 500, 2);
      for (double x : special_values())  // every pair of special values
        for (double y : special_values()) {
          as.push_back(static_cast<T>(x));
          bs.push_back(static_cast<T>(y));
        }
      const auto n = static_cast<int64_t>(as.size());
      const kiln::Tensor<T> a = kiln::from_vector<T>(as), b = kiln::from_vector<T>(bs);
      // Contiguous (SIMD packets), a strided operand (gathered packets), masked (scalars).
      std::vector<T> wide(as.size() * 3, T(0));
      for (std::size_t i = 0; i < as.size(); ++i) wide[3 * i] = as[i];
      const kiln::Tensor<T> a_strided = kiln::from_vector<T>(wide, {n, 3}).select(1, 0);
      const TB all_true = kiln::ones<bool>({n});
      kiln::Tensor<T> out, out_strided, out_scalar;
      if constexpr (std::is_same_v<T, float>) {
        out = c.f32(a, b);
        out_strided = c.f32(a_strided, b);
        out_scalar = c.f32_masked(a, b, all_true);
      } else {
        out = c.f64(a, b);
        out_strided = c.f64(a_strided, b);
        out_scalar = c.f64_masked(a, b, all_true);
      }
      REQUIRE(out.shape() == kiln::Shape{n});
      REQUIRE(out_scalar.shape() == kiln::Shape{n});
      int bad = 0;
      for (std::size_t i = 0; i < as.size(); ++i) {
        const double x = as[i], y = bs[i], want = c.ref(x, y);
        for (const T got : {out.data()[i], out_strided.data()[i], out_scalar.data()[i]}) {
          const std::string m = mismatch<T>(got, x, y, want, c.ulps);
          if (!m.empty() && bad++ < 5) FAIL_CHECK(c.name << " " << m);
        }
      }
      CHECK(bad == 0);
    }
  }
}

TEST_CASE("floor_divide, remainder and fmod of huge quotients are exact", "[expr][binary]") {
  // SLEEF's packet fmod gives NaN here; these ops stay on libm's exact scalar fmod.
  std::vector<float> as(33, 1e30f), bs(33, 1e-30f);
  const TF a = kiln::from_vector<float>(as), b = kiln::from_vector<float>(bs);
  const TF r = kiln::fmod(a, b), m = kiln::remainder(a, b), q = kiln::floor_divide(a, b);
  for (int i = 0; i < 33; ++i) {
    CHECK(r.data()[i] == std::fmod(1e30f, 1e-30f));
    CHECK(m.data()[i] == std::fmod(1e30f, 1e-30f));
    CHECK(std::isinf(q.data()[i]));  // 1e60 overflows float
  }
  const TD big = kiln::floor_divide(kiln::full<double>({9}, 3.3e150), 1.7e-150);
  CHECK(big.data()[8] == ref_floor_divide(3.3e150, 1.7e-150));
}

TEST_CASE("maximum, minimum and fmod special cases", "[expr][binary]") {
  const TF a = kiln::tensor<float>({NAN, 1.0f, NAN, -INFINITY, 3.0f});
  const TF b = kiln::tensor<float>({1.0f, NAN, NAN, 2.0f, 3.0f});
  const TF mx = kiln::maximum(a, b), mn = kiln::minimum(a, b);
  for (int i = 0; i < 3; ++i) {  // NaN on either side wins, unlike std::fmax
    CHECK(std::isnan(mx.data()[i]));
    CHECK(std::isnan(mn.data()[i]));
  }
  CHECK(mx.data()[3] == 2.0f);
  CHECK(mn.data()[3] == -INFINITY);
  CHECK(mx.data()[4] == 3.0f);
  const TF r = kiln::fmod(kiln::tensor<float>({-7.5f, 7.5f, 5.0f, 1.0f}),
                          kiln::tensor<float>({2.0f, -2.0f, 0.0f, INFINITY}));
  CHECK(r.data()[0] == -1.5f);  // the sign of the dividend
  CHECK(r.data()[1] == 1.5f);
  CHECK(std::isnan(r.data()[2]));
  CHECK(r.data()[3] == 1.0f);
}

// ---- float and double: comparisons and logic ---------------------------------------------------

namespace {

struct PredCase {
  const char* name;
  std::function<TB(const TF&, const TF&)> f32;
  std::function<TB(const TD&, const TD&)> f64;
  bool (*ref)(double, double);
};

#define PRED_CASE(NAME, KILN_EXPR, REF_EXPR)                                                      \
  PredCase {                                                                                      \
    NAME,                                                                                         \
        []([[maybe_unused]] const TF& a, [[maybe_unused]] const TF& b) { return TB(KILN_EXPR); }, \
        []([[maybe_unused]] const TD& a, [[maybe_unused]] const TD& b) { return TB(KILN_EXPR); }, \
        []([[maybe_unused]] double a, [[maybe_unused]] double b) -> bool { return REF_EXPR; }     \
  }

const std::vector<PredCase>& pred_cases() {
  static const std::vector<PredCase> cases = {
      PRED_CASE("eq", kiln::eq(a, b), a == b),
      PRED_CASE("ne", kiln::ne(a, b), a != b),
      PRED_CASE("lt", kiln::lt(a, b), a < b),
      PRED_CASE("le", kiln::le(a, b), a <= b),
      PRED_CASE("gt", kiln::gt(a, b), a > b),
      PRED_CASE("ge", kiln::ge(a, b), a >= b),
      PRED_CASE("operator==", a == b, a == b),
      PRED_CASE("operator!=", a != b, a != b),
      PRED_CASE("operator<", a < b, a < b),
      PRED_CASE("operator<=", a <= b, a <= b),
      PRED_CASE("operator>", a > b, a > b),
      PRED_CASE("operator>=", a >= b, a >= b),
      // NaN is truthy (nonzero), as in torch.logical_and.
      PRED_CASE("logical_and", kiln::logical_and(a, b), a != 0 && b != 0),
      PRED_CASE("logical_or", kiln::logical_or(a, b), a != 0 || b != 0),
      PRED_CASE("logical_xor", kiln::logical_xor(a, b), (a != 0) != (b != 0)),
      PRED_CASE("operator&&", a && b, a != 0 && b != 0),
      PRED_CASE("operator||", a || b, a != 0 || b != 0),
      PRED_CASE("a == 1", a == 1, a == 1),
      PRED_CASE("0.5 < b", 0.5 < b, 0.5 < b),
      PRED_CASE("a >= -1", a >= -1, a >= -1),
      PRED_CASE("(a > 0) && (b < 1)", (a > 0) && (b < 1), a > 0 && b < 1),
      PRED_CASE("(a == b) || !(a < 0)", (a == b) || !(a < 0), a == b || !(a < 0)),
  };
  return cases;
}

}  // namespace

TEMPLATE_TEST_CASE("comparisons and logical ops match the reference and give bool",
                   "[expr][binary]", float, double) {
  using T = TestType;
  // Small integers and halves so that equality happens often, then the special values.
  std::vector<T> as, bs;
  std::mt19937 gen(5);
  std::uniform_int_distribution<int> d(-4, 4);
  for (int i = 0; i < 300; ++i) {
    as.push_back(static_cast<T>(d(gen) * 0.5));
    bs.push_back(static_cast<T>(d(gen) * 0.5));
  }
  for (double x : special_values())
    for (double y : special_values()) {
      as.push_back(static_cast<T>(x));
      bs.push_back(static_cast<T>(y));
    }
  const kiln::Tensor<T> a = kiln::from_vector<T>(as), b = kiln::from_vector<T>(bs);
  static_assert(std::is_same_v<value_of<decltype(a < b)>, bool>);
  static_assert(std::is_same_v<value_of<decltype(kiln::logical_xor(a, b))>, bool>);
  for (const PredCase& c : pred_cases()) {
    DYNAMIC_SECTION(c.name) {
      TB out;
      if constexpr (std::is_same_v<T, float>)
        out = c.f32(a, b);
      else
        out = c.f64(a, b);
      int bad = 0;
      for (std::size_t i = 0; i < as.size(); ++i) {
        const bool want = c.ref(as[i], bs[i]);
        if (out.data()[i] != want && bad++ < 5)
          FAIL_CHECK(c.name << "(" << as[i] << ", " << bs[i] << "): got " << out.data()[i]);
      }
      CHECK(bad == 0);
    }
  }
}
