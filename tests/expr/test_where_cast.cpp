// SPDX-License-Identifier: BSD-3-Clause
// where(cond, a, b) and cast<U>(e) / .to<U>() against plain loops: every dtype family,
// scalar operands, broadcasting, expression conditions (the SIMD mask path), conversions
// that truncate, wrap, round and map NaN to true.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "kiln/kiln.hpp"

namespace {

using kiln::bfloat16;
using kiln::half;
using TF = kiln::Tensor<float>;
using TD = kiln::Tensor<double>;
using TB = kiln::Tensor<bool>;

template <class E>
using value_of = kiln::expr::value_t<E>;

template <class T>
std::vector<T> random_values(int n, double lo, double hi, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> v;
  for (int i = 0; i < n; ++i) v.push_back(static_cast<T>(static_cast<float>(u(gen))));
  return v;
}

std::vector<bool> random_bools(int n, unsigned seed) {
  std::mt19937 gen(seed);
  std::vector<bool> v;
  for (int i = 0; i < n; ++i) v.push_back(gen() & 1);
  return v;
}

TB bool_tensor(const std::vector<bool>& v, const kiln::Shape& shape) {
  TB t(shape);
  for (std::size_t i = 0; i < v.size(); ++i) t.data()[i] = v[i];
  return t;
}

template <class T>
bool same_value(T got, T want) {
  if constexpr (std::is_floating_point_v<T>)
    return got == want || (std::isnan(got) && std::isnan(want));
  else if constexpr (std::is_same_v<T, half> || std::is_same_v<T, bfloat16>)
    return got.bits == want.bits;
  else
    return got == want;
}

}  // namespace

TEMPLATE_TEST_CASE("where picks elementwise from two tensors", "[expr][where]", float, double,
                   int32_t, int64_t, uint8_t, half) {
  using T = TestType;
  for (int n : {5, 1000, 100003}) {  // scalar tail only, packets, several threads
    INFO("n = " << n);
    const std::vector<bool> cs = random_bools(n, 1);
    const auto as = random_values<T>(n, 0, 100, 2), bs = random_values<T>(n, 0, 100, 3);
    const TB c = bool_tensor(cs, {n});
    const auto a = kiln::from_vector<T>(as), b = kiln::from_vector<T>(bs);
    static_assert(std::is_same_v<value_of<decltype(kiln::where(c, a, b))>, T>);
    const kiln::Tensor<T> out = kiln::where(c, a, b);
    const kiln::Tensor<T> left = kiln::where(c, a, 7), right = kiln::where(c, 7, b);
    int bad = 0;
    for (int i = 0; i < n; ++i) {
      const bool ok = same_value(out.data()[i], cs[i] ? as[i] : bs[i]) &&
                      same_value(left.data()[i], cs[i] ? as[i] : T(7)) &&
                      same_value(right.data()[i], cs[i] ? T(7) : bs[i]);
      if (!ok && bad++ < 5) FAIL_CHECK("mismatch at " << i);
    }
    CHECK(bad == 0);
  }
}

TEMPLATE_TEST_CASE("where with an expression condition (the SIMD mask path)", "[expr][where]",
                   float, double) {
  using T = TestType;
  for (int n : {3, 37, 100003}) {
    INFO("n = " << n);
    auto xs = random_values<T>(n, -5, 5, 4), ys = random_values<T>(n, -5, 5, 5);
    xs[0] = std::numeric_limits<T>::quiet_NaN();  // NaN > y is false: picks the other side
    ys[1 % n] = std::numeric_limits<T>::quiet_NaN();
    const auto x = kiln::from_vector<T>(xs), y = kiln::from_vector<T>(ys);
    const kiln::Tensor<T> mx = kiln::where(x > y, x, y);
    const kiln::Tensor<T> relu = kiln::where(x > 0, x, 0.0);
    const kiln::Tensor<T> mixed = kiln::where(x < y, kiln::abs(x), x * 2 - y);
    const kiln::Tensor<T> nested = kiln::where(!(x > 0), -1.0, kiln::where(x > 2, 2.0, x));
    // Conditions computed from float operands directly: packet masks from !, &&, xor, ==.
    const kiln::Tensor<T> one = kiln::ones<T>({n});
    const kiln::Tensor<T> masks = kiln::where(!kiln::floor(x), one, 0.0) +
                                  kiln::where(x && y, one * 2, 0.0) +
                                  kiln::where(kiln::logical_xor(kiln::floor(x), y), one * 4, 0.0) +
                                  kiln::where(kiln::floor(x) == kiln::floor(y), one * 8, 0.0);
    int bad = 0;
    for (int i = 0; i < n; ++i) {
      const T a = xs[i], b = ys[i];
      const bool ok =
          same_value(mx.data()[i], a > b ? a : b) && same_value(relu.data()[i], a > 0 ? a : T(0)) &&
          same_value(mixed.data()[i], a < b ? T(std::fabs(a)) : T(a * 2 - b)) &&
          same_value(nested.data()[i], !(a > 0) ? T(-1) : (a > 2 ? T(2) : a)) &&
          same_value(masks.data()[i], T((std::floor(a) == 0 ? 1 : 0) + (a != 0 && b != 0 ? 2 : 0) +
                                        ((std::floor(a) != 0) != (b != 0) ? 4 : 0) +
                                        (std::floor(a) == std::floor(b) ? 8 : 0)));
      if (!ok && bad++ < 5) FAIL_CHECK("mismatch at " << i << ": x = " << a << ", y = " << b);
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("where broadcasts its three operands", "[expr][where]") {
  const TB c = kiln::tensor<bool>({{true}, {false}, {true}, {false}, {true}});  // [5, 1]
  const TF a = kiln::arange<float>(7).view({1, 7});                             // [1, 7]
  const TF b = kiln::scalar_tensor<float>(-1.0f);                               // []
  const TF out = kiln::where(c, a, b);
  REQUIRE(out.shape() == kiln::Shape{5, 7});
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 7; ++j) CHECK(out(i, j) == (i % 2 == 0 ? static_cast<float>(j) : -1.0f));

  // A row of conditions against a column of values, and a non-contiguous operand.
  const TB row = kiln::tensor<bool>({true, false, true});
  const TF col = kiln::arange<float>(4).view({4, 1});
  const TF other = kiln::arange<float>(12).view({3, 4}).t();  // [4, 3], transposed
  const TF out2 = kiln::where(row, col, other);
  REQUIRE(out2.shape() == kiln::Shape{4, 3});
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j)
      CHECK(out2(i, j) == (j != 1 ? static_cast<float>(i) : static_cast<float>(j * 4 + i)));
}

TEST_CASE("cast converts like static_cast, with torch's bool and wrap rules", "[expr][cast]") {
  SECTION("float <-> double") {
    const TF f = kiln::tensor<float>({1.1f, -2.5f, 1e30f, NAN, -0.0f});
    const TD d = kiln::cast<double>(f);
    for (int i = 0; i < 5; ++i) {
      const double want = static_cast<double>(f.data()[i]);
      CHECK((d.data()[i] == want || (std::isnan(want) && std::isnan(d.data()[i]))));
    }
    CHECK(std::signbit(d.data()[4]));
    const TD src = kiln::tensor<double>({0.1, 1e300, -1e-300, 1.0 / 3});
    const TF g = kiln::cast<float>(src);
    for (int i = 0; i < 4; ++i) CHECK(g.data()[i] == static_cast<float>(src.data()[i]));
    CHECK(std::isinf(g.data()[1]));
  }
  SECTION("float to integers truncates toward zero") {
    const TF f = kiln::tensor<float>({2.7f, -2.7f, 0.5f, -0.5f, 100.0f});
    const kiln::Tensor<int32_t> i = kiln::cast<int32_t>(f);
    CHECK(std::vector<int32_t>(i.data(), i.data() + 5) == std::vector<int32_t>{2, -2, 0, 0, 100});
    const kiln::Tensor<int64_t> l = f.to<int64_t>();
    CHECK(std::vector<int64_t>(l.data(), l.data() + 5) == std::vector<int64_t>{2, -2, 0, 0, 100});
  }
  SECTION("integer narrowing wraps") {
    const auto x = kiln::tensor<int32_t>({300, -129, -1, 127, 255, 256});
    const kiln::Tensor<int8_t> s = kiln::cast<int8_t>(x);
    const kiln::Tensor<uint8_t> u = kiln::cast<uint8_t>(x);
    CHECK(std::vector<int>(s.data(), s.data() + 6) == std::vector<int>{44, 127, -1, 127, -1, 0});
    CHECK(std::vector<int>(u.data(), u.data() + 6) == std::vector<int>{44, 127, 255, 127, 255, 0});
    const kiln::Tensor<int64_t> w = kiln::cast<int64_t>(kiln::tensor<int32_t>({-5, 2147483647}));
    CHECK(w.data()[0] == -5);
    CHECK(w.data()[1] == 2147483647);
  }
  SECTION("to and from bool: nonzero and NaN are true") {
    const TF f = kiln::tensor<float>({0.0f, -0.0f, 0.1f, -3.0f, NAN, INFINITY});
    const TB b = kiln::cast<bool>(f);
    CHECK(std::vector<bool>(b.data(), b.data() + 6) ==
          std::vector<bool>{false, false, true, true, true, true});
    const TB bi = kiln::cast<bool>(kiln::tensor<int32_t>({0, 2, -1}));
    CHECK(std::vector<bool>(bi.data(), bi.data() + 3) == std::vector<bool>{false, true, true});
    const TF back = kiln::cast<float>(b);
    CHECK(std::vector<float>(back.data(), back.data() + 6) == std::vector<float>{0, 0, 1, 1, 1, 1});
    const TB bh = kiln::cast<bool>(kiln::tensor<half>({half(0.0f), half(-0.0f), half(0.5f)}));
    CHECK(std::vector<bool>(bh.data(), bh.data() + 3) == std::vector<bool>{false, false, true});
  }
  SECTION("half and bfloat16 round to nearest even") {
    const auto xs = random_values<float>(300, -70000, 70000, 9);
    const TF f = kiln::from_vector<float>(xs);
    const kiln::Tensor<half> h = kiln::cast<half>(f);
    const kiln::Tensor<bfloat16> bf = f.to<bfloat16>();
    const TF back = kiln::cast<float>(h);
    const TD dback = kiln::cast<double>(bf);
    const kiln::Tensor<half> from_int = kiln::cast<half>(kiln::tensor<int32_t>({2049, -70000, 3}));
    for (std::size_t i = 0; i < xs.size(); ++i) {
      CHECK(h.data()[i].bits == half(xs[i]).bits);
      CHECK(bf.data()[i].bits == bfloat16(xs[i]).bits);
      CHECK(same_value(back.data()[i], static_cast<float>(half(xs[i]))));
      CHECK(dback.data()[i] == static_cast<double>(static_cast<float>(bfloat16(xs[i]))));
    }
    CHECK(static_cast<float>(from_int.data()[0]) == 2048.0f);  // tie to even
    CHECK(std::isinf(static_cast<float>(from_int.data()[1])));
    CHECK(static_cast<float>(from_int.data()[2]) == 3.0f);
  }
  SECTION("a cast expression is lazy and fuses: the inner op runs in the source dtype") {
    const TF a = kiln::tensor<float>({1.1f, 3.3f, 1e20f}),
             b = kiln::tensor<float>({2.2f, 7.7f, 1e20f});
    const auto e = kiln::cast<double>(a * b);
    static_assert(std::is_same_v<value_of<decltype(e)>, double>);
    const TD d = e;
    for (int i = 0; i < 3; ++i)
      CHECK(d.data()[i] == static_cast<double>(a.data()[i] * b.data()[i]));
    CHECK(std::isinf(d.data()[2]));  // overflowed in float, before the cast
    // Casting one operand makes the whole expression double.
    const TD c = kiln::cast<double>(a) * kiln::tensor<double>({2.0, 2.0, 2.0});
    CHECK(c.data()[0] == static_cast<double>(1.1f) * 2.0);
    // A cast to the expression's own dtype changes nothing.
    const TF same = kiln::cast<float>(a + 1);
    CHECK(same.data()[1] == 3.3f + 1);
    CHECK(a.to<float>().data() == a.data());  // like torch: .to(own dtype) is the tensor itself
  }
  SECTION("casting strided and broadcast operands") {
    const kiln::Tensor<int32_t> m = kiln::arange<int32_t>(12).view({3, 4});
    const TD t = kiln::cast<double>(m.t());  // [4, 3]
    const TF bc = kiln::cast<float>(kiln::arange<int64_t>(3)) + kiln::zeros<float>({2, 3});
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 3; ++j) CHECK(t(i, j) == j * 4 + i);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) CHECK(bc(i, j) == j);
  }
}
