// SPDX-License-Identifier: BSD-3-Clause
// Shared machinery of the table-driven unary tests (test_unary.cpp, test_activations.cpp,
// test_unary_dtypes.cpp): tolerances, the table row type, reference inputs, and the check
// that runs one op on the contiguous packet path, a strided operand and the scalar path.
#pragma once

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

namespace kiln_test {

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
constexpr Tol kUlp1{1, 0};  // correctly rounded up to the reference's own rounding
constexpr Tol kUlp2{2, 0};
constexpr Tol kUlps{6, 0};        // one libm / SLEEF (1 ulp) / libmvec (4 ulp) call
constexpr Tol kComposite{16, 4};  // a few rounded steps (sigmoid, gelu, softplus...)

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
#define UNARY_CASE(NAME, KILN_EXPR, REF_EXPR, LO, HI, TOL, SPECIALS, ZERO_SIGN)                 \
  UnaryCase {                                                                                   \
    NAME, [](const TF& x) { return TF(KILN_EXPR); }, [](const TD& x) { return TD(KILN_EXPR); }, \
        [](const TF& x, const TB& m) { return TF(kiln::where(m, KILN_EXPR, x)); },              \
        [](const TD& x, const TB& m) { return TD(kiln::where(m, KILN_EXPR, x)); },              \
        [](double x) -> double { return REF_EXPR; }, LO, HI, TOL, SPECIALS, ZERO_SIGN           \
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
inline const std::vector<double>& special_values() {
  static const std::vector<double> v = {kNaN, kInf, -kInf, 0.0,  -0.0, 0.5,  -0.5,  1.5,
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

}  // namespace kiln_test
