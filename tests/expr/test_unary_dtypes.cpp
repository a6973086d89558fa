// SPDX-License-Identifier: BSD-3-Clause
// Unary ops on dtypes other than float/double: integer tensors (dtype kept, two's-complement
// wrapping like torch), integer and bool inputs to int_to_float ops (computed in float),
// half and bfloat16 (computed in float, rounded once).
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

using kiln::bfloat16;
using kiln::half;
using namespace kiln_test;

constexpr double kSqrt1_2 = 0.70710678118654752440;

double ref_relu(double x) { return std::isnan(x) ? x : (x < 0 ? 0.0 : x); }

// x wrapped into T (two's complement), the reference for integer overflow.
template <class T>
T wrap(int64_t v) {
  return static_cast<T>(static_cast<std::make_unsigned_t<T>>(static_cast<uint64_t>(v)));
}

template <class T>
std::vector<T> integer_inputs() {
  std::vector<T> v;
  if constexpr (sizeof(T) == 1) {
    for (int i = std::numeric_limits<T>::min(); i <= std::numeric_limits<T>::max(); ++i)
      v.push_back(static_cast<T>(i));
  } else {
    std::mt19937_64 gen(7);
    std::uniform_int_distribution<int64_t> small(-1000, 1000);
    for (int i = 0; i < 300; ++i) v.push_back(static_cast<T>(small(gen)));
    for (int i = 0; i < 60; ++i)
      v.push_back(static_cast<T>(gen()));  // anything, wraps when squared
    for (T e : {std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), T(0), T(1), T(-1)})
      v.push_back(e);
  }
  return v;
}

template <class T, class Tensor, class F>
void check_int_op(const char* name, const Tensor& out, const std::vector<T>& xs, F ref) {
  static_assert(std::is_same_v<typename Tensor::value_type, T>, "integer ops keep the dtype");
  int bad = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const T want = ref(static_cast<int64_t>(xs[i]));
    if (out.data()[i] != want && bad++ < 5)
      FAIL_CHECK(name << "(" << +xs[i] << "): got " << +out.data()[i] << ", expected " << +want);
  }
  CHECK(bad == 0);
}

}  // namespace

TEMPLATE_TEST_CASE("unary ops on integer tensors keep the dtype and wrap like torch",
                   "[expr][unary]", int8_t, uint8_t, int32_t, int64_t) {
  using T = TestType;
  using Lim = std::numeric_limits<T>;
  const std::vector<T> xs = integer_inputs<T>();
  const kiln::Tensor<T> x = kiln::from_vector<T>(xs);

  check_int_op<T>("abs", kiln::Tensor<T>(kiln::abs(x)), xs,
                  [](int64_t v) { return wrap<T>(v < 0 ? -static_cast<uint64_t>(v) : v); });
  check_int_op<T>("neg", kiln::Tensor<T>(kiln::neg(x)), xs,
                  [](int64_t v) { return wrap<T>(0 - static_cast<uint64_t>(v)); });
  check_int_op<T>("operator-", kiln::Tensor<T>(-x), xs,
                  [](int64_t v) { return wrap<T>(0 - static_cast<uint64_t>(v)); });
  check_int_op<T>("sign", kiln::Tensor<T>(kiln::sign(x)), xs,
                  [](int64_t v) { return T(v > 0 ? 1 : (v < 0 ? -1 : 0)); });
  check_int_op<T>("square", kiln::Tensor<T>(kiln::square(x)), xs, [](int64_t v) {
    return wrap<T>(static_cast<int64_t>(static_cast<uint64_t>(v) * static_cast<uint64_t>(v)));
  });
  check_int_op<T>("relu", kiln::Tensor<T>(kiln::relu(x)), xs,
                  [](int64_t v) { return T(v < 0 ? 0 : v); });
  const double lo = Lim::is_signed ? -3 : 3, hi = 100;
  check_int_op<T>("clamp", kiln::Tensor<T>(kiln::clamp(x, lo, hi)), xs, [&](int64_t v) {
    return T(std::min<int64_t>(std::max<int64_t>(v, int64_t(lo)), int64_t(hi)));
  });
  // An infinite bound (what clamp_min/clamp_max pass for the open side) must not be
  // converted to T: it leaves that side unbounded.
  check_int_op<T>("clamp_min", kiln::Tensor<T>(kiln::clamp_min(x, 3.0)), xs,
                  [](int64_t v) { return T(std::max<int64_t>(v, 3)); });
  check_int_op<T>("clamp_max", kiln::Tensor<T>(kiln::clamp_max(x, 5.0)), xs,
                  [](int64_t v) { return T(std::min<int64_t>(v, 5)); });
}

TEMPLATE_TEST_CASE("int_to_float ops compute integer and bool inputs in float", "[expr][unary]",
                   int32_t, int64_t, bool) {
  using T = TestType;
  std::vector<T> xs;
  for (int i = 0; i <= 40; ++i) xs.push_back(static_cast<T>(std::is_same_v<T, bool> ? i % 2 : i));
  const auto x = kiln::from_vector<T>(xs);
  struct Row {
    const char* name;
    TF out;
    double (*ref)(double);
    double tol_ulps;
  };
  static_assert(std::is_same_v<kiln::expr::value_t<decltype(kiln::sqrt(x))>, float>);
  static_assert(std::is_same_v<kiln::expr::value_t<decltype(kiln::sigmoid(x))>, float>);
  const Row rows[] = {
      {"sqrt", kiln::sqrt(x), [](double v) { return std::sqrt(v); }, 1},
      {"rsqrt", kiln::rsqrt(x), [](double v) { return 1 / std::sqrt(v); }, 2},
      {"reciprocal", kiln::reciprocal(x), [](double v) { return 1 / v; }, 0},
      {"exp", kiln::exp(x), [](double v) { return std::exp(v); }, 4},
      {"log1p", kiln::log1p(x), [](double v) { return std::log1p(v); }, 4},
      {"sin", kiln::sin(x), [](double v) { return std::sin(v); }, 4},
      {"tanh", kiln::tanh(x), [](double v) { return std::tanh(v); }, 4},
      {"sigmoid", kiln::sigmoid(x), [](double v) { return 1 / (1 + std::exp(-v)); }, 16},
      {"gelu", kiln::gelu(x), [](double v) { return 0.5 * v * (1 + std::erf(v * kSqrt1_2)); }, 16},
      {"pow(x, 0.5)", kiln::pow(x, 0.5), [](double v) { return std::sqrt(v); }, 4},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double v = static_cast<double>(xs[i]);
      CHECK(mismatch<float>(r.out.data()[i], v, r.ref(v), Tol{r.tol_ulps, 0}, false) == "");
    }
  }
}

TEMPLATE_TEST_CASE("half and bfloat16 ops compute in float and round once", "[expr][unary]", half,
                   bfloat16) {
  using T = TestType;
  // Machine epsilon: 2^-10 for half, 2^-7 for bfloat16.
  const double eps = std::is_same_v<T, half> ? 0x1p-10 : 0x1p-7;
  struct Row {
    const char* name;
    std::function<kiln::Tensor<T>(const kiln::Tensor<T>&)> f;
    double (*ref)(double);
    double lo, hi;
  };
  using TT = kiln::Tensor<T>;
  const Row rows[] = {
      {"exp", [](const TT& x) { return TT(kiln::exp(x)); }, [](double v) { return std::exp(v); },
       -8, 8},
      {"log", [](const TT& x) { return TT(kiln::log(x)); }, [](double v) { return std::log(v); },
       0.01, 100},
      {"sin", [](const TT& x) { return TT(kiln::sin(x)); }, [](double v) { return std::sin(v); },
       -3, 3},
      {"tanh", [](const TT& x) { return TT(kiln::tanh(x)); }, [](double v) { return std::tanh(v); },
       -4, 4},
      {"sqrt", [](const TT& x) { return TT(kiln::sqrt(x)); }, [](double v) { return std::sqrt(v); },
       0, 100},
      {"sigmoid", [](const TT& x) { return TT(kiln::sigmoid(x)); },
       [](double v) { return 1 / (1 + std::exp(-v)); }, -8, 8},
      {"gelu", [](const TT& x) { return TT(kiln::gelu(x)); },
       [](double v) { return 0.5 * v * (1 + std::erf(v * kSqrt1_2)); }, 0, 4},
      {"relu", [](const TT& x) { return TT(kiln::relu(x)); }, ref_relu, -4, 4},
      {"abs", [](const TT& x) { return TT(kiln::abs(x)); }, [](double v) { return std::fabs(v); },
       -4, 4},
      {"neg", [](const TT& x) { return TT(-x); }, [](double v) { return -v; }, -4, 4},
      {"floor", [](const TT& x) { return TT(kiln::floor(x)); },
       [](double v) { return std::floor(v); }, -9, 9},
      {"square", [](const TT& x) { return TT(kiln::square(x)); }, [](double v) { return v * v; },
       -9, 9},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    std::vector<T> xs;
    for (float v : random_values<float>(r.lo, r.hi, 200, 3)) xs.push_back(T(v));
    xs.push_back(T(std::numeric_limits<float>::quiet_NaN()));
    const TT out = r.f(kiln::from_vector<T>(xs));
    static_assert(std::is_same_v<typename TT::value_type, T>);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double v = static_cast<float>(xs[i]);
      const double want = r.ref(v);
      const double got = static_cast<float>(out.data()[i]);
      INFO("x = " << v << ", got " << got << ", expected " << want);
      if (std::isnan(want)) {
        CHECK(std::isnan(got));
      } else {
        // Within one ulp of the exact value: float math, then one rounding to T.
        CHECK(std::fabs(got - want) <= eps * std::fabs(want) + 1e-30);
        // And the float result rounded to T, up to a rounding-boundary tie.
        const double from_float = static_cast<float>(T(static_cast<float>(want)));
        CHECK(std::fabs(got - from_float) <= eps * std::fabs(want) + 1e-30);
      }
    }
  }
}
