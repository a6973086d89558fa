// SPDX-License-Identifier: BSD-3-Clause
// Binary ops on dtypes other than float/double: integer tensors (wrapping arithmetic, exact
// integer pow, fmod with the dividend's sign, floor_divide and remainder with the
// divisor's, bitwise ops and shifts, true division to float, comparisons), bool
// logic, and half/bfloat16 (computed in float, rounded once).
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/kiln.hpp"

namespace {

using kiln::bfloat16;
using kiln::half;
using TF = kiln::Tensor<float>;
using TB = kiln::Tensor<bool>;

template <class E>
using value_of = kiln::expr::value_t<E>;

template <class T>
std::vector<T> random_values(double lo, double hi, int n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<T>(u(gen));
  return v;
}

}  // namespace

TEST_CASE("logical ops on bool tensors", "[expr][binary]") {
  const TB a = kiln::tensor<bool>({false, false, true, true});
  const TB b = kiln::tensor<bool>({false, true, false, true});
  const TB and_ = a && b, or_ = a || b, xor_ = kiln::logical_xor(a, b), not_ = !a, eq = a == b;
  const TB land = kiln::logical_and(a, b), lor = kiln::logical_or(a, b);
  for (int i = 0; i < 4; ++i) {
    const bool x = a.data()[i], y = b.data()[i];
    CHECK(and_.data()[i] == (x && y));
    CHECK(land.data()[i] == (x && y));
    CHECK(or_.data()[i] == (x || y));
    CHECK(lor.data()[i] == (x || y));
    CHECK(xor_.data()[i] == (x != y));
    CHECK(not_.data()[i] == !x);
    CHECK(eq.data()[i] == (x == y));
  }
}

// ---- integer dtypes ---------------------------------------------------------------------

namespace {

template <class T>
T wrap(uint64_t v) {
  return static_cast<T>(static_cast<std::make_unsigned_t<T>>(v));
}

template <class T>
T ref_int_pow(int64_t a, int64_t b) {
  if (b < 0) return a == 1 ? T(1) : (a == -1 ? T(b % 2 ? -1 : 1) : T(0));  // documented in Pow
  uint64_t r = 1;
  for (int64_t i = 0; i < b; ++i) r *= static_cast<uint64_t>(a);
  return wrap<T>(r);
}

template <class T>
T ref_int_fmod(int64_t a, int64_t b) {
  if (b == 0 || b == -1) return T(0);  // x % 0 gives 0 (documented in Fmod); x % -1 is 0
  return static_cast<T>(a % b);
}

template <class T>
std::vector<T> int_values(int n, int64_t lo, int64_t hi, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::vector<T> v;
  for (int i = 0; i < n; ++i) v.push_back(static_cast<T>(d(gen)));
  return v;
}

template <class T, class Out, class F>
void check_each(const char* name, const Out& out, const std::vector<T>& as,
                const std::vector<T>& bs, F ref) {
  int bad = 0;
  for (std::size_t i = 0; i < as.size(); ++i) {
    const auto want = ref(static_cast<int64_t>(as[i]), static_cast<int64_t>(bs[i]));
    const auto got = out.data()[i];
    const bool ok = got == want || (got != got && want != want);  // NaN == NaN here
    if (!ok && bad++ < 5)
      FAIL_CHECK(name << "(" << +as[i] << ", " << +bs[i] << "): got " << +got << ", expected "
                      << +want);
  }
  CHECK(bad == 0);
}

}  // namespace

namespace {

// Full-range operands (sums and products wrap), small ones (equalities, exact powers) and
// every pair of extreme values.
template <class T>
struct IntOperands {
  std::vector<T> as, bs;
  kiln::Tensor<T> a, b;
  IntOperands() {
    using Lim = std::numeric_limits<T>;
    as = int_values<T>(400, Lim::min(), Lim::max(), 11);
    bs = int_values<T>(400, Lim::min(), Lim::max(), 12);
    const std::vector<T> sa = int_values<T>(400, Lim::is_signed ? -5 : 0, 5, 13);
    const std::vector<T> sb = int_values<T>(400, Lim::is_signed ? -5 : 0, 5, 14);
    as.insert(as.end(), sa.begin(), sa.end());
    bs.insert(bs.end(), sb.begin(), sb.end());
    for (T x : {Lim::min(), Lim::max(), T(0), T(1), T(-1)})
      for (T y : {Lim::min(), Lim::max(), T(0), T(1), T(-1), T(2)}) {
        as.push_back(x);
        bs.push_back(y);
      }
    a = kiln::from_vector<T>(as);
    b = kiln::from_vector<T>(bs);
  }
};

}  // namespace

TEMPLATE_TEST_CASE("integer add, sub, mul, pow, fmod, maximum, minimum", "[expr][binary]", int8_t,
                   uint8_t, int32_t, int64_t) {
  using T = TestType;
  using Lim = std::numeric_limits<T>;
  const IntOperands<T> ops;
  const auto& [as, bs, a, b] = ops;
  SECTION("add, sub, mul and their operators wrap and keep the dtype") {
    static_assert(std::is_same_v<value_of<decltype(a + b)>, T>);
    static_assert(std::is_same_v<value_of<decltype(a * 3)>, T>);
    auto add = [](int64_t x, int64_t y) {
      return wrap<T>(static_cast<uint64_t>(x) + static_cast<uint64_t>(y));
    };
    auto sub = [](int64_t x, int64_t y) {
      return wrap<T>(static_cast<uint64_t>(x) - static_cast<uint64_t>(y));
    };
    auto mul = [](int64_t x, int64_t y) {
      return wrap<T>(static_cast<uint64_t>(x) * static_cast<uint64_t>(y));
    };
    check_each("add", kiln::Tensor<T>(kiln::add(a, b)), as, bs, add);
    check_each("operator+", kiln::Tensor<T>(a + b), as, bs, add);
    check_each("sub", kiln::Tensor<T>(kiln::sub(a, b)), as, bs, sub);
    check_each("operator-", kiln::Tensor<T>(a - b), as, bs, sub);
    check_each("mul", kiln::Tensor<T>(kiln::mul(a, b)), as, bs, mul);
    check_each("operator*", kiln::Tensor<T>(a * b), as, bs, mul);
    check_each("a * 3", kiln::Tensor<T>(a * 3), as, bs,
               [&](int64_t x, int64_t) { return mul(x, 3); });
    check_each("7 - a", kiln::Tensor<T>(7 - a), as, bs,
               [&](int64_t x, int64_t) { return sub(7, x); });
  }
  SECTION("pow is exact integer power") {
    static_assert(std::is_same_v<value_of<decltype(kiln::pow(a, b))>, T>);
    const std::vector<T> base = int_values<T>(300, Lim::is_signed ? -9 : 0, 9, 21);
    std::vector<T> ex = int_values<T>(300, Lim::is_signed ? -3 : 0, 12, 22);
    const auto pb = kiln::from_vector<T>(base), pe = kiln::from_vector<T>(ex);
    check_each("pow", kiln::Tensor<T>(kiln::pow(pb, pe)), base, ex, ref_int_pow<T>);
  }
  SECTION("fmod keeps the dividend's sign") {
    check_each("fmod", kiln::Tensor<T>(kiln::fmod(a, b)), as, bs, ref_int_fmod<T>);
    check_each("fmod(a, 3)", kiln::Tensor<T>(kiln::fmod(a, 3)), as, bs,
               [](int64_t x, int64_t) { return ref_int_fmod<T>(x, 3); });
  }
  SECTION("maximum and minimum") {
    check_each("maximum", kiln::Tensor<T>(kiln::maximum(a, b)), as, bs,
               [](int64_t x, int64_t y) { return static_cast<T>(std::max(x, y)); });
    check_each("minimum", kiln::Tensor<T>(kiln::minimum(a, b)), as, bs,
               [](int64_t x, int64_t y) { return static_cast<T>(std::min(x, y)); });
  }
}

TEMPLATE_TEST_CASE("integer floor_divide and remainder follow Python's // and %", "[expr][binary]",
                   int8_t, uint8_t, int16_t, int32_t, int64_t) {
  using T = TestType;
  using Lim = std::numeric_limits<T>;
  const IntOperands<T> ops;
  const auto& [as, bs, a, b] = ops;
  static_assert(std::is_same_v<value_of<decltype(kiln::floor_divide(a, b))>, T>);
  const kiln::Tensor<T> q = kiln::floor_divide(a, b), r = kiln::remainder(a, b);
  const kiln::Tensor<T> q3 = kiln::floor_divide(a, -3), r3 = kiln::remainder(a, -3);
  const kiln::Tensor<T> q7 = kiln::floor_divide(7, b), r7 = kiln::remainder(7, b);
  int bad = 0;
  // The definition: a == b * q + r exactly, with r between 0 and b (b's sign), checked in
  // 128-bit arithmetic; x // 0 and x % 0 give 0 (the Python binding raises first).
  auto check = [&](const char* name, __int128 x, __int128 y, T got_q, T got_r) {
    bool ok;
    if (y == 0) {
      ok = got_q == 0 && got_r == 0;
    } else if (x == static_cast<__int128>(Lim::min()) && y == -1 && Lim::is_signed) {
      ok = got_q == Lim::min() && got_r == 0;  // the quotient wraps, as torch's
    } else {
      const __int128 gq = got_q, gr = got_r;
      ok = x == y * gq + gr && (y > 0 ? (gr >= 0 && gr < y) : (gr <= 0 && gr > y));
    }
    if (!ok && bad++ < 5)
      FAIL_CHECK(name << "(" << static_cast<int64_t>(x) << ", " << static_cast<int64_t>(y)
                      << "): got q " << +got_q << ", r " << +got_r);
  };
  for (std::size_t i = 0; i < as.size(); ++i) {
    check("floor_divide/remainder", as[i], bs[i], q.data()[i], r.data()[i]);
    if (Lim::is_signed) check("a // -3", as[i], -3, q3.data()[i], r3.data()[i]);
    check("7 // b", 7, bs[i], q7.data()[i], r7.data()[i]);
  }
  CHECK(bad == 0);
}

TEMPLATE_TEST_CASE("integer bitwise ops and shifts", "[expr][binary]", int8_t, uint8_t, int16_t,
                   int32_t, int64_t) {
  using T = TestType;
  constexpr int64_t bits = 8 * sizeof(T);
  const IntOperands<T> ops;
  const auto& [as, bs, a, b] = ops;
  static_assert(std::is_same_v<value_of<decltype(kiln::bitwise_and(a, b))>, T>);
  auto bitwise = [](auto f) {
    return [f](int64_t x, int64_t y) { return static_cast<T>(f(x, y)); };
  };
  check_each("bitwise_and", kiln::Tensor<T>(kiln::bitwise_and(a, b)), as, bs,
             bitwise([](int64_t x, int64_t y) { return x & y; }));
  check_each("bitwise_or", kiln::Tensor<T>(kiln::bitwise_or(a, b)), as, bs,
             bitwise([](int64_t x, int64_t y) { return x | y; }));
  check_each("bitwise_xor", kiln::Tensor<T>(kiln::bitwise_xor(a, 5)), as, bs,
             bitwise([](int64_t x, int64_t) { return x ^ 5; }));
  check_each("bitwise_not", kiln::Tensor<T>(kiln::bitwise_not(a)), as, bs,
             bitwise([](int64_t x, int64_t) { return ~x; }));
  // Every shift from -3 to past the width: out of range gives 0, or the sign fill.
  std::vector<T> xs, ss;
  for (T x : as)
    for (int64_t s = std::is_signed_v<T> ? -3 : 0; s < bits + 3; s += 5) {
      xs.push_back(x);
      ss.push_back(static_cast<T>(s));
    }
  const auto x = kiln::from_vector<T>(xs), s = kiln::from_vector<T>(ss);
  check_each("left_shift", kiln::Tensor<T>(kiln::left_shift(x, s)), xs, ss,
             [](int64_t v, int64_t n) {
               return n < 0 || n >= bits ? T(0) : wrap<T>(static_cast<uint64_t>(v) << n);
             });
  check_each("right_shift", kiln::Tensor<T>(kiln::right_shift(x, s)), xs, ss,
             [](int64_t v, int64_t n) {
               return n < 0 || n >= bits ? T(v < 0 ? -1 : 0) : static_cast<T>(v >> n);
             });
}

TEST_CASE("bitwise ops on bool are logical", "[expr][binary]") {
  const TB a = kiln::tensor<bool>({false, false, true, true});
  const TB b = kiln::tensor<bool>({false, true, false, true});
  const TB and_ = kiln::bitwise_and(a, b), or_ = kiln::bitwise_or(a, b),
           xor_ = kiln::bitwise_xor(a, b), not_ = kiln::bitwise_not(a);
  for (int i = 0; i < 4; ++i) {
    const bool x = a.data()[i], y = b.data()[i];
    CHECK(and_.data()[i] == (x && y));
    CHECK(or_.data()[i] == (x || y));
    CHECK(xor_.data()[i] == (x != y));
    CHECK(not_.data()[i] == !x);
  }
}

TEMPLATE_TEST_CASE("integer true division gives float, as torch's /", "[expr][binary]", int32_t,
                   int64_t) {
  using T = TestType;
  const IntOperands<T> ops;
  const auto& [as, bs, a, b] = ops;
  static_assert(std::is_same_v<value_of<decltype(a / b)>, float>);
  static_assert(std::is_same_v<value_of<decltype(a / 2)>, float>);
  static_assert(std::is_same_v<value_of<decltype(a * 0.5)>, float>);
  static_assert(std::is_same_v<value_of<decltype(1.5 + a)>, float>);
  auto div = [](int64_t x, int64_t y) {
    return static_cast<float>(static_cast<double>(static_cast<float>(x)) / static_cast<float>(y));
  };
  check_each("div", TF(kiln::div(a, b)), as, bs, div);
  check_each("operator/", TF(a / b), as, bs, div);
  check_each("a / 2", TF(a / 2), as, bs, [&](int64_t x, int64_t) { return div(x, 2); });
  check_each("a * 0.5", TF(a * 0.5), as, bs,
             [](int64_t x, int64_t) { return static_cast<float>(static_cast<float>(x) * 0.5f); });
  check_each("1.5 + a", TF(1.5 + a), as, bs,
             [](int64_t x, int64_t) { return static_cast<float>(1.5f + static_cast<float>(x)); });
}

TEMPLATE_TEST_CASE("integer comparisons and logical ops", "[expr][binary]", uint8_t, int32_t,
                   int64_t) {
  using T = TestType;
  const IntOperands<T> ops;
  const auto& [as, bs, a, b] = ops;
  check_each("eq", TB(a == b), as, bs, [](int64_t x, int64_t y) { return x == y; });
  check_each("ne", TB(kiln::ne(a, b)), as, bs, [](int64_t x, int64_t y) { return x != y; });
  check_each("lt", TB(a < b), as, bs, [](int64_t x, int64_t y) { return x < y; });
  check_each("le", TB(kiln::le(a, b)), as, bs, [](int64_t x, int64_t y) { return x <= y; });
  check_each("gt", TB(a > b), as, bs, [](int64_t x, int64_t y) { return x > y; });
  check_each("ge", TB(a >= b), as, bs, [](int64_t x, int64_t y) { return x >= y; });
  check_each("a < 2", TB(a < 2), as, bs, [](int64_t x, int64_t) { return x < 2; });
  check_each("and", TB(a && b), as, bs, [](int64_t x, int64_t y) { return x != 0 && y != 0; });
  check_each("or", TB(kiln::logical_or(a, b)), as, bs,
             [](int64_t x, int64_t y) { return x != 0 || y != 0; });
  check_each("xor", TB(kiln::logical_xor(a, b)), as, bs,
             [](int64_t x, int64_t y) { return (x != 0) != (y != 0); });
}

TEMPLATE_TEST_CASE("half and bfloat16 binary ops round the exact result once", "[expr][binary]",
                   half, bfloat16) {
  using T = TestType;
  using TT = kiln::Tensor<T>;
  std::vector<T> as, bs;
  for (float v : random_values<float>(-50, 50, 300, 31)) as.push_back(T(v));
  for (float v : random_values<float>(-50, 50, 300, 32)) bs.push_back(T(v));
  const TT a = kiln::from_vector<T>(as), b = kiln::from_vector<T>(bs);
  static_assert(std::is_same_v<value_of<decltype(a + b)>, T>);
  static_assert(std::is_same_v<value_of<decltype(a * 2.0)>, T>);
  // float has more than twice the bits of half and bfloat16, so computing in float and
  // rounding once to T equals rounding the exact result.
  const TT sum = a + b, diff = a - b, prod = a * b, quot = a / b, mx = kiln::maximum(a, b),
           scaled = a * 2.0;
  const TB lt = a < b;
  for (std::size_t i = 0; i < as.size(); ++i) {
    const double x = static_cast<float>(as[i]), y = static_cast<float>(bs[i]);
    INFO("a = " << x << ", b = " << y);
    CHECK(static_cast<float>(sum.data()[i]) == static_cast<float>(T(x + y)));
    CHECK(static_cast<float>(diff.data()[i]) == static_cast<float>(T(x - y)));
    CHECK(static_cast<float>(prod.data()[i]) == static_cast<float>(T(x * y)));
    CHECK(static_cast<float>(quot.data()[i]) == static_cast<float>(T(x / y)));
    CHECK(static_cast<float>(mx.data()[i]) == static_cast<float>(std::max(x, y)));
    CHECK(static_cast<float>(scaled.data()[i]) == static_cast<float>(T(2 * x)));
    CHECK(lt.data()[i] == (x < y));
  }
}

TEST_CASE("pow with a number keeps torch's dtypes", "[expr][binary]") {
  const auto i = kiln::tensor<int32_t>({-3, -1, 0, 2, 5});
  // int ** int stays int and is exact.
  static_assert(std::is_same_v<value_of<decltype(kiln::pow(i, 3))>, int32_t>);
  const kiln::Tensor<int32_t> cube = kiln::pow(i, 3);
  const int32_t want_cube[] = {-27, -1, 0, 8, 125};
  for (int k = 0; k < 5; ++k) CHECK(cube(k) == want_cube[k]);
  // int ** float is float.
  static_assert(std::is_same_v<value_of<decltype(kiln::pow(i, 0.5))>, float>);
  const kiln::Tensor<float> root = kiln::pow(kiln::tensor<int32_t>({4, 9}), 0.5);
  CHECK(root(0) == 2.0f);
  CHECK(root(1) == 3.0f);
  // number ** tensor.
  const kiln::Tensor<float> p2 = kiln::pow(2.0f, kiln::tensor<float>({0, 1, 10, -1}));
  const float want_p2[] = {1.0f, 2.0f, 1024.0f, 0.5f};
  for (int k = 0; k < 4; ++k) CHECK(p2(k) == want_p2[k]);
  const kiln::Tensor<int64_t> p3 = kiln::pow(int64_t{3}, kiln::tensor<int64_t>({0, 1, 4}));
  CHECK(p3(2) == 81);
}
