// SPDX-License-Identifier: BSD-3-Clause
// kiln::half and kiln::bfloat16: conversions against an independent rounding oracle,
// arithmetic, promotion of mixed expressions, numeric_limits.
#include <algorithm>
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/core/half.hpp"

using kiln::bfloat16;
using kiln::half;

namespace {

// Reference binary format with `mant` stored mantissa bits and `exp` exponent bits. Values
// are decoded from the fields with ldexp (independently of kiln), and rounding picks the
// nearest value by comparing with the exact midpoint in long double, ties to the even
// pattern. Inputs must be exactly representable in long double.
struct RefFormat {
  int mant, exp;
  std::uint16_t inf_bits;
  std::vector<long double> values;  // every finite non-negative value, indexed by bits
  long double overflow;             // max + half an ulp: from here on, rounds to inf

  RefFormat(int mant_bits, int exp_bits) : mant(mant_bits), exp(exp_bits) {
    const int bias = (1 << (exp - 1)) - 1;
    inf_bits = static_cast<std::uint16_t>(((1 << exp) - 1) << mant);
    for (std::uint32_t b = 0; b < inf_bits; ++b) {
      const int e = static_cast<int>(b >> mant);
      const long double m = static_cast<long double>(b & ((1u << mant) - 1));
      values.push_back(e == 0 ? std::ldexp(m, 1 - bias - mant)
                              : std::ldexp(m + std::ldexp(1.0L, mant), e - bias - mant));
    }
    overflow = values.back() + std::ldexp(1.0L, bias - mant - 1);
  }

  // The value of a bit pattern (NaN for NaN patterns).
  long double decode(std::uint16_t b) const {
    const std::uint16_t a = b & 0x7fff;
    long double v = a < inf_bits    ? values[a]
                    : a == inf_bits ? std::numeric_limits<long double>::infinity()
                                    : std::numeric_limits<long double>::quiet_NaN();
    return (b & 0x8000) ? -v : v;
  }

  // Round a non-NaN value to the nearest pattern, ties to even.
  std::uint16_t round(long double x) const {
    const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    const long double a = std::fabs(x);
    if (a >= overflow) return sign | inf_bits;  // the tie at overflow goes to the even inf
    const auto hi = static_cast<std::size_t>(std::upper_bound(values.begin(), values.end(), a) -
                                             values.begin());
    const std::size_t lo = hi - 1;  // values[0] == 0 <= a
    std::size_t r = lo;
    if (values[lo] != a && hi < values.size()) {
      const long double mid = (values[lo] + values[hi]) / 2;  // exact
      r = a < mid ? lo : a > mid ? hi : (lo % 2 == 0 ? lo : hi);
    }
    return static_cast<std::uint16_t>(sign | r);
  }
};

const RefFormat& ref_half() {
  static const RefFormat f(10, 5);
  return f;
}
const RefFormat& ref_bf16() {
  static const RefFormat f(7, 8);
  return f;
}

std::string hex(std::uint64_t v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}

// Counts mismatches and remembers the first, so loops over millions of inputs cost one REQUIRE.
struct Mismatches {
  long count = 0;
  std::string first;
  void add(const std::string& what) {
    if (count++ == 0) first = what;
  }
};

float f_from_bits(std::uint32_t b) { return std::bit_cast<float>(b); }

template <class H>
const RefFormat& ref_for() {
  if constexpr (std::is_same_v<H, half>)
    return ref_half();
  else
    return ref_bf16();
}

// Checks H(x) against the oracle for a float, its double, and (for half) _Float16.
template <class H>
void check_float(float x, Mismatches& bad) {
  if (std::isnan(x)) return;
  const std::uint16_t want = ref_for<H>().round(x);
  const std::uint16_t got = H(x).bits;
  if (got != want)
    bad.add("float " + hex(std::bit_cast<std::uint32_t>(x)) + " -> " + hex(got) + ", want " +
            hex(want));
  const std::uint16_t got_d = H(static_cast<double>(x)).bits;
  if (got_d != want)
    bad.add("double(float " + hex(std::bit_cast<std::uint32_t>(x)) + ") -> " + hex(got_d) +
            ", want " + hex(want));
#ifdef __FLT16_MAX__
  if constexpr (std::is_same_v<H, half>) {
    const auto f16 = std::bit_cast<std::uint16_t>(static_cast<_Float16>(x));
    if (f16 != want)
      bad.add("oracle disagreement with _Float16 at " + hex(std::bit_cast<std::uint32_t>(x)));
  }
#endif
}

template <class H>
void check_double(double x, Mismatches& bad) {
  if (std::isnan(x)) return;
  const std::uint16_t want = ref_for<H>().round(x);
  const std::uint16_t got = H(x).bits;
  if (got != want)
    bad.add("double " + hex(std::bit_cast<std::uint64_t>(x)) + " -> " + hex(got) + ", want " +
            hex(want));
#ifdef __FLT16_MAX__
  if constexpr (std::is_same_v<H, half>) {
    if (std::bit_cast<std::uint16_t>(static_cast<_Float16>(x)) != want)
      bad.add("oracle disagreement with _Float16 at double " +
              hex(std::bit_cast<std::uint64_t>(x)));
  }
#endif
}

// Every midpoint between neighbouring finite values, one float ulp either side of it, and
// the neighbours themselves; positive and negative. This covers every tie.
template <class H>
void check_all_ties(Mismatches& bad) {
  const auto& v = ref_for<H>().values;
  for (std::size_t i = 0; i + 1 <= v.size(); ++i) {
    const long double lo = v[i];
    const long double hi = i + 1 < v.size() ? v[i + 1] : ref_for<H>().overflow * 2 - lo;
    const auto mid = static_cast<float>((lo + hi) / 2);  // exact in float
    for (float x : {static_cast<float>(lo), mid, std::nextafter(mid, 0.0f),
                    std::nextafter(mid, std::numeric_limits<float>::infinity())}) {
      check_float<H>(x, bad);
      check_float<H>(-x, bad);
    }
    const double dmid = static_cast<double>(mid);
    for (double x : {std::nextafter(dmid, 0.0), std::nextafter(dmid, 1e300)}) {
      check_double<H>(x, bad);
      check_double<H>(-x, bad);
    }
  }
}

template <class H>
void check_all_patterns_round_trip(Mismatches& bad) {
  for (std::uint32_t b = 0; b <= 0xffff; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    const H h = H::from_bits(bits);
    const float f = h;
    const long double want = ref_for<H>().decode(bits);
    if (std::isnan(want)) {
      if (!std::isnan(f) || !kiln::isnan(h) || !kiln::isnan(H(f)) || kiln::isinf(h) ||
          kiln::isfinite(h))
        bad.add("NaN pattern " + hex(b));
      continue;
    }
    if (static_cast<long double>(f) != want || std::signbit(f) != std::signbit(want))
      bad.add("to float " + hex(b));
    if (H(f).bits != bits) bad.add("float round trip " + hex(b));
    if (H(static_cast<double>(f)).bits != bits) bad.add("double round trip " + hex(b));
    if (kiln::isnan(h) || kiln::isinf(h) != std::isinf(f) || kiln::isfinite(h) != std::isfinite(f))
      bad.add("classification " + hex(b));
  }
}

// a op b in H against the oracle applied to the exact (or innocuously rounded) double result.
template <class H>
void check_arith(H a, H b, Mismatches& bad) {
  const double x = a, y = b;
  auto check = [&](H got, double exact, const char* op) {
    if (std::isnan(exact)) {
      if (!kiln::isnan(got)) bad.add(std::string(op) + " NaN");
      return;
    }
    const std::uint16_t want = ref_for<H>().round(exact);
    if (got.bits != want)
      bad.add(hex(a.bits) + " " + op + " " + hex(b.bits) + " -> " + hex(got.bits) + ", want " +
              hex(want));
  };
  check(a + b, x + y, "+");
  check(a - b, x - y, "-");
  check(a * b, x * y, "*");
  check(a / b, x / y, "/");
}

}  // namespace

TEST_CASE("half: every bit pattern converts to float exactly and back", "[core][half]") {
  Mismatches bad;
  check_all_patterns_round_trip<half>(bad);
  INFO(bad.first);
  REQUIRE(bad.count == 0);
}

TEST_CASE("half: float and double round to nearest even", "[core][half]") {
  Mismatches bad;
  SECTION("every tie and its neighbours") { check_all_ties<half>(bad); }
  SECTION("random floats") {
    std::mt19937_64 rng(1234);
    std::uniform_int_distribution<std::uint32_t> any;
    // Exponents where half has values (2^-26 .. 2^17), and everything.
    std::uniform_int_distribution<std::uint32_t> exp(101, 144), mant(0, 0x7fffff), sign(0, 1);
    for (int i = 0; i < 600'000; ++i) {
      check_float<half>(f_from_bits(any(rng)), bad);
      check_float<half>(f_from_bits(sign(rng) << 31 | exp(rng) << 23 | mant(rng)), bad);
    }
  }
  SECTION("random doubles") {
    std::mt19937_64 rng(99);
    std::uniform_int_distribution<std::uint64_t> mant(0, (std::uint64_t(1) << 52) - 1);
    std::uniform_int_distribution<std::uint64_t> exp(1023 - 30, 1023 + 17), sign(0, 1);
    std::uniform_int_distribution<std::uint64_t> any;
    for (int i = 0; i < 400'000; ++i) {
      check_double<half>(std::bit_cast<double>(sign(rng) << 63 | exp(rng) << 52 | mant(rng)), bad);
      check_double<half>(std::bit_cast<double>(any(rng)), bad);
    }
  }
  INFO(bad.first);
  REQUIRE(bad.count == 0);
}

TEST_CASE("half: edge cases", "[core][half]") {
  SECTION("ties go to even") {
    CHECK(half(2049.0f).bits == half(2048.0f).bits);
    CHECK(half(2051.0f).bits == half(2052.0f).bits);
    CHECK(half(1.0f + 0x1p-11f).bits == 0x3c00);
    CHECK(half(1.0f + 3 * 0x1p-11f).bits == 0x3c02);
    CHECK(half(std::nextafter(1.0f + 0x1p-11f, 2.0f)).bits == 0x3c01);
  }
  SECTION("overflow") {
    CHECK(half(65504.0f).bits == 0x7bff);
    CHECK(half(std::nextafter(65520.0f, 0.0f)).bits == 0x7bff);
    CHECK(half(65520.0f).bits == 0x7c00);
    CHECK(half(-65520.0f).bits == 0xfc00);
    CHECK(half(1e10f).bits == 0x7c00);
    CHECK(half(-1e300).bits == 0xfc00);
    CHECK(half(std::numeric_limits<float>::infinity()).bits == 0x7c00);
    CHECK(half(-std::numeric_limits<double>::infinity()).bits == 0xfc00);
    CHECK(half(70000).bits == 0x7c00);
    CHECK(half(65519).bits == 0x7bff);
  }
  SECTION("subnormals") {
    CHECK(half(0x1p-24f).bits == 0x0001);
    CHECK(half(0x1p-25f).bits == 0x0000);  // tie with 0: even
    CHECK(half(std::nextafter(0x1p-25f, 1.0f)).bits == 0x0001);
    CHECK(half(3 * 0x1p-25f).bits == 0x0002);         // tie between 1 and 2
    CHECK(half(0x1p-14f - 0x1p-25f).bits == 0x0400);  // rounds up into the normals
    CHECK(half(-0x1p-24).bits == 0x8001);
    CHECK(float(half::from_bits(0x03ff)) == 1023 * 0x1p-24f);
    CHECK(float(half::from_bits(0x0001)) == 0x1p-24f);
  }
  SECTION("signed zero") {
    CHECK(half(-0.0f).bits == 0x8000);
    CHECK(half(-0.0).bits == 0x8000);
    CHECK(half(-1e-30f).bits == 0x8000);
    CHECK(half(1e-300).bits == 0x0000);
    CHECK(std::signbit(float(half::from_bits(0x8000))));
    CHECK(half(0).bits == 0x0000);
  }
  SECTION("NaN stays NaN and quiet, sign kept") {
    const float qnan = std::numeric_limits<float>::quiet_NaN();
    const float snan = f_from_bits(0x7f800001);
    for (float n : {qnan, -qnan, snan, f_from_bits(0xffa00000)}) {
      const half h = n;
      CHECK(kiln::isnan(h));
      CHECK((h.bits & 0x7e00) == 0x7e00);  // quiet bit set
      CHECK(((h.bits & 0x8000) != 0) == std::signbit(n));
      CHECK(std::isnan(float(h)));
      CHECK(kiln::isnan(half(static_cast<double>(n))));
    }
    const float back = half::from_bits(0x7d00);  // a signalling half NaN
    CHECK(std::isnan(back));
    CHECK((std::bit_cast<std::uint32_t>(back) & 0x00400000u) != 0);  // quiet float NaN
  }
  SECTION("doubles round once, not through float") {
    // 1 + 2^-11 + 2^-40 rounds to float as the tie 1 + 2^-11, which would go down to 1.
    CHECK(half(1.0 + 0x1p-11 + 0x1p-40).bits == 0x3c01);
    CHECK(half(static_cast<float>(1.0 + 0x1p-11 + 0x1p-40)).bits == 0x3c00);
    CHECK(half(65520.0 - 0x1p-30).bits == 0x7bff);
    CHECK(half(0x1p-25 + 0x1p-60).bits == 0x0001);
  }
}

TEST_CASE("half: integers round once", "[core][half]") {
  Mismatches bad;
  for (std::int32_t i = -70000; i <= 70000; ++i) {
    const std::uint16_t want = ref_half().round(i);
    if (half(i).bits != want || half(static_cast<std::int64_t>(i)).bits != want)
      bad.add("int " + std::to_string(i));
  }
  INFO(bad.first);
  CHECK(bad.count == 0);
  CHECK(half(true).bits == 0x3c00);
  CHECK(half(false).bits == 0x0000);
  CHECK(half(std::numeric_limits<std::int64_t>::min()).bits == 0xfc00);
  CHECK(half(std::numeric_limits<std::uint64_t>::max()).bits == 0x7c00);
  CHECK(half(std::uint8_t{255}).bits == 0x5bf8);
  CHECK(half(std::int8_t{-128}).bits == 0xd800);
  CHECK(half(1.5L).bits == 0x3e00);
}

TEST_CASE("half: arithmetic rounds each result once", "[core][half]") {
  Mismatches bad;
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::uint32_t> bits(0, 0xffff);
  for (int i = 0; i < 200'000; ++i)
    check_arith(half::from_bits(static_cast<std::uint16_t>(bits(rng))),
                half::from_bits(static_cast<std::uint16_t>(bits(rng))), bad);
  INFO(bad.first);
  REQUIRE(bad.count == 0);

  const half one = 1, two = 2.0f, three = 3.0;
  CHECK(float(one + two) == 3.0f);
  CHECK(float(three - one) == 2.0f);
  CHECK(float(two * three) == 6.0f);
  CHECK(float(three / two) == 1.5f);
  CHECK((-two).bits == 0xc000);
  CHECK((-half(0.0f)).bits == 0x8000);
  CHECK(kiln::isnan(-std::numeric_limits<half>::quiet_NaN()));
  CHECK(float(+three) == 3.0f);
  CHECK(kiln::isinf(one / half(0.0f)));
  CHECK(kiln::isnan(half(0.0f) / half(0.0f)));
  CHECK(float(half(1.0f) + half(0x1p-11f)) == 1.0f);  // tie: stays at 1
  CHECK(float(half(65504.0f) + half(16.0f)) == std::numeric_limits<float>::infinity());

  half h = 1;
  h += 2;
  CHECK(float(h) == 3.0f);
  h *= 1.5f;
  CHECK(float(h) == 4.5f);
  h -= half(0.5f);
  CHECK(float(h) == 4.0f);
  h /= 2.0;
  CHECK(float(h) == 2.0f);
  h += bfloat16(1.0f);
  CHECK(float(h) == 3.0f);
  h = 2048;
  h += 1;  // 2049 is a tie between 2048 and 2050
  CHECK(float(h) == 2048.0f);
}

TEST_CASE("half and bfloat16: mixed expressions promote like c10::Half", "[core][half]") {
  half h = 1.5f;
  bfloat16 b = 2.0f;
  STATIC_REQUIRE(std::is_same_v<decltype(h + h), half>);
  STATIC_REQUIRE(std::is_same_v<decltype(h * 2), half>);
  STATIC_REQUIRE(std::is_same_v<decltype(2 * h), half>);
  STATIC_REQUIRE(std::is_same_v<decltype(h - std::int64_t{2}), half>);
  STATIC_REQUIRE(std::is_same_v<decltype(h + 1.0f), float>);
  STATIC_REQUIRE(std::is_same_v<decltype(1.0 / h), double>);
  STATIC_REQUIRE(std::is_same_v<decltype(b + b), bfloat16>);
  STATIC_REQUIRE(std::is_same_v<decltype(b * 3u), bfloat16>);
  STATIC_REQUIRE(std::is_same_v<decltype(b + 1.0f), float>);
  STATIC_REQUIRE(std::is_same_v<decltype(h + b), float>);
  STATIC_REQUIRE(std::is_same_v<decltype(-h), half>);
  STATIC_REQUIRE(std::is_same_v<decltype(h += 1), half&>);
  CHECK(float(h * 2) == 3.0f);
  CHECK(h + 1.0f == 2.5f);
  CHECK(1.0 / h == 1.0 / 1.5);
  CHECK(h + b == 3.5f);
  float f = h;  // implicit, like c10::Half
  CHECK(f == 1.5f);
}

TEST_CASE("half: comparisons follow float", "[core][half]") {
  const half a = 1.0f, b = 2.0f, nan = std::numeric_limits<half>::quiet_NaN();
  CHECK(a < b);
  CHECK(b > a);
  CHECK(a <= a);
  CHECK(a == half(1));
  CHECK(a != b);
  CHECK(a == 1.0f);
  CHECK(a < 2);
  CHECK(half(0.0f) == half(-0.0f));
  CHECK_FALSE(nan == nan);
  CHECK(nan != nan);
  CHECK_FALSE(nan < a);
  CHECK((a <=> b) == std::partial_ordering::less);
  CHECK(std::max(a, b).bits == b.bits);
  CHECK(bfloat16(1.0f) < bfloat16(1.5f));
  CHECK(bfloat16(3.0f) == half(3.0f));
}

TEST_CASE("half: constexpr", "[core][half]") {
  STATIC_REQUIRE(half(1.0f).bits == 0x3c00);
  STATIC_REQUIRE(half(-2.0).bits == 0xc000);
  STATIC_REQUIRE(half(65520.0f).bits == 0x7c00);
  STATIC_REQUIRE(half(0x1p-24f).bits == 0x0001);
  STATIC_REQUIRE(half(3).bits == 0x4200);
  STATIC_REQUIRE(float(half::from_bits(0x3555)) == 0x1.554p-2f);
  STATIC_REQUIRE(float(half(1.0f) + half(2.0f)) == 3.0f);
  STATIC_REQUIRE(kiln::isinf(std::numeric_limits<half>::infinity()));
  STATIC_REQUIRE(bfloat16(1.0f).bits == 0x3f80);
  STATIC_REQUIRE(float(bfloat16::from_bits(0x4049)) == 3.140625f);
  STATIC_REQUIRE(half{}.bits == 0);
  STATIC_REQUIRE(std::is_trivially_copyable_v<half> && sizeof(half) == 2);
  STATIC_REQUIRE(std::is_trivially_default_constructible_v<bfloat16> && sizeof(bfloat16) == 2);
  STATIC_REQUIRE(std::is_convertible_v<float, half> && std::is_convertible_v<half, float>);
  STATIC_REQUIRE(std::is_convertible_v<int, bfloat16> && std::is_convertible_v<double, half>);
}

TEST_CASE("half: numeric_limits", "[core][half]") {
  using L = std::numeric_limits<half>;
  STATIC_REQUIRE(L::is_specialized);
  STATIC_REQUIRE(L::is_signed && !L::is_integer && !L::is_exact && L::is_iec559);
  STATIC_REQUIRE(L::has_infinity && L::has_quiet_NaN && L::has_signaling_NaN);
  STATIC_REQUIRE(L::digits == 11 && L::radix == 2);
  STATIC_REQUIRE(L::min_exponent == -13 && L::max_exponent == 16);
  CHECK(float(L::max()) == 65504.0f);
  CHECK(float(L::lowest()) == -65504.0f);
  CHECK(float(L::min()) == 0x1p-14f);
  CHECK(float(L::denorm_min()) == 0x1p-24f);
  CHECK(float(L::epsilon()) == 0x1p-10f);
  CHECK(float(L::round_error()) == 0.5f);
  CHECK(float(half::from_bits(0x3c01)) - 1.0f == float(L::epsilon()));
  CHECK(float(L::epsilon()) == std::ldexp(1.0f, 1 - L::digits));
  CHECK(float(L::min()) == std::ldexp(1.0f, L::min_exponent - 1));
  CHECK(float(L::max()) == (2 - float(L::epsilon())) * std::ldexp(1.0f, L::max_exponent - 1));
  CHECK(float(L::infinity()) == std::numeric_limits<float>::infinity());
  CHECK(kiln::isnan(L::quiet_NaN()));
  CHECK(kiln::isnan(L::signaling_NaN()));
  CHECK((L::signaling_NaN().bits & 0x0200) == 0);
  CHECK(L::digits10 == 3);
  CHECK(L::max_exponent10 == 4);
  CHECK(L::min_exponent10 == -4);
}

TEST_CASE("half: classification and printing", "[core][half]") {
  CHECK(kiln::isinf(std::numeric_limits<half>::infinity()));
  CHECK(kiln::isinf(-std::numeric_limits<half>::infinity()));
  CHECK_FALSE(kiln::isfinite(std::numeric_limits<half>::infinity()));
  CHECK(kiln::isfinite(std::numeric_limits<half>::max()));
  CHECK_FALSE(kiln::isnan(std::numeric_limits<half>::max()));
  std::ostringstream os;
  os << half(1.5f) << ' ' << half(-65504.0f) << ' ' << bfloat16(0.25f);
  CHECK(os.str() == "1.5 -65504 0.25");
}

// ---------------------------------------------------------------------------------------
// bfloat16

TEST_CASE("bfloat16: every bit pattern converts to float exactly and back", "[core][bfloat16]") {
  Mismatches bad;
  check_all_patterns_round_trip<bfloat16>(bad);
  INFO(bad.first);
  REQUIRE(bad.count == 0);
}

TEST_CASE("bfloat16: float and double round to nearest even", "[core][bfloat16]") {
  Mismatches bad;
  SECTION("every tie and its neighbours") { check_all_ties<bfloat16>(bad); }
  SECTION("random floats") {
    std::mt19937_64 rng(4321);
    std::uniform_int_distribution<std::uint32_t> any;
    for (int i = 0; i < 2'000'000; ++i) check_float<bfloat16>(f_from_bits(any(rng)), bad);
  }
  SECTION("random doubles") {
    std::mt19937_64 rng(5);
    std::uniform_int_distribution<std::uint64_t> mant(0, (std::uint64_t(1) << 52) - 1);
    std::uniform_int_distribution<std::uint64_t> exp(1023 - 140, 1023 + 130), sign(0, 1);
    for (int i = 0; i < 500'000; ++i)
      check_double<bfloat16>(std::bit_cast<double>(sign(rng) << 63 | exp(rng) << 52 | mant(rng)),
                             bad);
  }
  INFO(bad.first);
  REQUIRE(bad.count == 0);
}

TEST_CASE("bfloat16: edge cases", "[core][bfloat16]") {
  SECTION("ties go to even") {
    CHECK(bfloat16(f_from_bits(0x3f808000)).bits == 0x3f80);
    CHECK(bfloat16(f_from_bits(0x3f818000)).bits == 0x3f82);
    CHECK(bfloat16(f_from_bits(0x3f808001)).bits == 0x3f81);
    CHECK(bfloat16(f_from_bits(0x3f807fff)).bits == 0x3f80);
  }
  SECTION("overflow") {
    CHECK(bfloat16(std::numeric_limits<float>::max()).bits == 0x7f80);
    CHECK(bfloat16(f_from_bits(0x7f7f7fff)).bits == 0x7f7f);
    CHECK(bfloat16(f_from_bits(0x7f7f8000)).bits == 0x7f80);  // tie above max: even is inf
    CHECK(bfloat16(-std::numeric_limits<float>::max()).bits == 0xff80);
    CHECK(bfloat16(1e300).bits == 0x7f80);
    CHECK(bfloat16(std::numeric_limits<float>::infinity()).bits == 0x7f80);
    CHECK(bfloat16(-std::numeric_limits<double>::infinity()).bits == 0xff80);
  }
  SECTION("subnormals and signed zero") {
    CHECK(bfloat16(0x1p-133f).bits == 0x0001);
    CHECK(bfloat16(0x1p-134f).bits == 0x0000);  // tie with 0
    CHECK(bfloat16(3 * 0x1p-134f).bits == 0x0002);
    CHECK(bfloat16(std::numeric_limits<float>::denorm_min()).bits == 0x0000);
    CHECK(bfloat16(0x1p-133).bits == 0x0001);
    CHECK(bfloat16(0x1p-134 + 0x1p-180).bits == 0x0001);
    CHECK(bfloat16(1e-300).bits == 0x0000);
    CHECK(bfloat16(-0.0f).bits == 0x8000);
    CHECK(bfloat16(-0.0).bits == 0x8000);
    CHECK(bfloat16(-1e-300).bits == 0x8000);
  }
  SECTION("NaN stays NaN and quiet, sign kept") {
    for (std::uint32_t nb : {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7f80ffffu, 0xff800001u}) {
      const float n = f_from_bits(nb);
      const bfloat16 b = n;
      CHECK(kiln::isnan(b));
      CHECK((b.bits & 0x7fc0) == 0x7fc0);
      CHECK(((b.bits & 0x8000) != 0) == std::signbit(n));
      CHECK(kiln::isnan(bfloat16(static_cast<double>(n))));
    }
  }
  SECTION("integers and doubles round once") {
    // 2^24 + 2^16 + 1 rounds to float as the tie 2^24 + 2^16, which would go down to 2^24.
    CHECK(float(bfloat16(std::int32_t{(1 << 24) + (1 << 16) + 1})) == 0x1.02p24f);
    CHECK(float(bfloat16(static_cast<float>((1 << 24) + (1 << 16) + 1))) == 0x1p24f);
    CHECK(float(bfloat16(1.0 + 0x1p-8 + 0x1p-40)) == 1.0f + 0x1p-7f);
    CHECK(bfloat16(std::numeric_limits<std::int64_t>::min()).bits == 0xdf00);
    CHECK(bfloat16(std::numeric_limits<std::uint64_t>::max()).bits == 0x5f80);
    CHECK(bfloat16(true).bits == 0x3f80);
  }
}

TEST_CASE("bfloat16: integers round once", "[core][bfloat16]") {
  Mismatches bad;
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<std::int64_t> any64;
  std::uniform_int_distribution<std::int32_t> any32;
  std::uniform_int_distribution<int> shift(0, 62);
  for (int i = 0; i < 200'000; ++i) {
    const std::int32_t a = any32(rng);
    if (bfloat16(a).bits != ref_bf16().round(a)) bad.add("int32 " + std::to_string(a));
    if constexpr (std::numeric_limits<long double>::digits >= 64) {
      const std::int64_t b = any64(rng) >> shift(rng);
      if (bfloat16(b).bits != ref_bf16().round(static_cast<long double>(b)))
        bad.add("int64 " + std::to_string(b));
    }
  }
  for (int i = -100000; i <= 100000; ++i)
    if (bfloat16(i).bits != ref_bf16().round(i)) bad.add("int " + std::to_string(i));
  INFO(bad.first);
  REQUIRE(bad.count == 0);
}

TEST_CASE("bfloat16: arithmetic rounds each result once", "[core][bfloat16]") {
  Mismatches bad;
  std::mt19937_64 rng(8);
  // Exponents kept away from float's subnormal range, where float itself rounds first.
  std::uniform_int_distribution<std::uint32_t> exp(64, 190), mant(0, 0x7f), sign(0, 1);
  auto draw = [&] {
    return bfloat16::from_bits(
        static_cast<std::uint16_t>(sign(rng) << 15 | exp(rng) << 7 | mant(rng)));
  };
  for (int i = 0; i < 200'000; ++i) check_arith(draw(), draw(), bad);
  INFO(bad.first);
  REQUIRE(bad.count == 0);

  bfloat16 b = 1;
  b += 0x1p-8f;  // tie: stays at 1
  CHECK(float(b) == 1.0f);
  b *= 3;
  CHECK(float(b) == 3.0f);
  CHECK((-b).bits == 0xc040);
  CHECK(float(bfloat16(256) + bfloat16(1)) == 256.0f);
  CHECK(float(bfloat16(256) + bfloat16(3)) == 260.0f);
}

TEST_CASE("bfloat16: numeric_limits", "[core][bfloat16]") {
  using L = std::numeric_limits<bfloat16>;
  STATIC_REQUIRE(L::is_specialized);
  STATIC_REQUIRE(L::is_signed && !L::is_integer && !L::is_exact);
  STATIC_REQUIRE(L::digits == 8 && L::radix == 2);
  STATIC_REQUIRE(L::min_exponent == std::numeric_limits<float>::min_exponent);
  STATIC_REQUIRE(L::max_exponent == std::numeric_limits<float>::max_exponent);
  STATIC_REQUIRE(L::max_exponent10 == std::numeric_limits<float>::max_exponent10);
  STATIC_REQUIRE(L::min_exponent10 == std::numeric_limits<float>::min_exponent10);
  CHECK(float(L::min()) == std::numeric_limits<float>::min());
  CHECK(float(L::max()) == 0x1.fep127f);
  CHECK(float(L::lowest()) == -0x1.fep127f);
  CHECK(float(L::epsilon()) == 0x1p-7f);
  CHECK(float(L::epsilon()) == std::ldexp(1.0f, 1 - L::digits));
  CHECK(float(L::round_error()) == 0.5f);
  CHECK(float(L::denorm_min()) == 0x1p-133f);
  CHECK(float(L::infinity()) == std::numeric_limits<float>::infinity());
  CHECK(kiln::isinf(L::infinity()));
  CHECK(kiln::isnan(L::quiet_NaN()));
  CHECK(kiln::isnan(L::signaling_NaN()));
  CHECK((L::signaling_NaN().bits & 0x0040) == 0);
  CHECK_FALSE(kiln::isfinite(-L::infinity()));
  CHECK(kiln::isfinite(L::lowest()));
}
