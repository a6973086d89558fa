// SPDX-License-Identifier: BSD-3-Clause
// kiln::half (IEEE 754 binary16) and kiln::bfloat16: 16-bit floats for host and device code.
#pragma once

#include <compare>
#include <concepts>
#include <cstdint>
#include <limits>
#include <ostream>
#include <type_traits>

#include "kiln/core/config.hpp"

// Note [Reduced-precision floats]
// half and bfloat16 are storage types: arithmetic converts to float, computes there and
// rounds the result back (round to nearest, ties to even). For + - * / this gives the
// correctly rounded 16-bit result, since float carries more than twice the bits plus two.
// Like c10::Half, both types convert implicitly from any arithmetic type and implicitly to
// float, and mixed expressions promote the way PyTorch's scalar code does:
//   half op half -> half,  half op integer -> half,  half op float/double -> float/double,
//   half op bfloat16 -> float (through the built-in float operators).
// Conversions are exact integer bit manipulation, usable in constant expressions and on the
// device without CUDA headers. Doubles and integers convert directly (one rounding), never
// through float, so no double rounding. A faster path could go where marked: F16C
// (_cvtss_sh/_cvtsh_ss) or ARM FCVT on the host, cvt.rn.f16.f32 / cvt.rn.bf16.f32 on the device;
// the CPU evaluator is free to use those on whole vectors.

namespace kiln {

struct half;
struct bfloat16;

namespace detail::fp16 {

/// std::bit_cast that is also callable from device code (std::bit_cast itself is a host
/// function under nvcc). GCC, Clang and nvcc all provide the builtin.
template <class To, class From>
KILN_HD constexpr To bit_cast(const From& from) noexcept {
  static_assert(sizeof(To) == sizeof(From) && std::is_trivially_copyable_v<To> &&
                std::is_trivially_copyable_v<From>);
  return __builtin_bit_cast(To, from);
}

/// Index of the highest set bit of a non-zero value.
KILN_HD constexpr int msb_index(std::uint64_t m) noexcept {
  int p = 0;
  for (int s = 32; s > 0; s >>= 1)
    if (m >> s) {
      m >>= s;
      p += s;
    }
  return p;
}

/// Rounds the finite value (-1)^neg * m * 2^e to a binary format with M stored mantissa
/// bits and normal exponents [Emin, Emax], ties to even; returns the 16-bit pattern.
template <int M, int Emin, int Emax>
KILN_HD constexpr std::uint16_t round_pack(bool neg, std::uint64_t m, int e) noexcept {
  constexpr std::uint32_t inf = std::uint32_t(Emax - Emin + 2) << M;
  const std::uint32_t sign = neg ? 0x8000u : 0u;
  if (m == 0) return static_cast<std::uint16_t>(sign);
  const int top = msb_index(m) + e;  // exponent of the leading bit
  if (top > Emax) return static_cast<std::uint16_t>(sign | inf);
  const int lead = top < Emin ? Emin : top;  // subnormals are quantised at Emin
  const int shift = lead - M - e;            // low bits of m to round away
  std::uint64_t r = 0;
  if (shift <= 0) {
    r = m << -shift;  // exact: fewer than M + 1 significant bits
  } else if (shift <= 64) {
    const std::uint64_t rem = shift == 64 ? m : m & ((std::uint64_t(1) << shift) - 1);
    const std::uint64_t halfway = std::uint64_t(1) << (shift - 1);
    r = shift == 64 ? 0 : m >> shift;
    if (rem > halfway || (rem == halfway && (r & 1u))) ++r;
  }  // else: below half the smallest subnormal, r = 0
  // r holds the implicit bit for normals; a carry out of the mantissa bumps the exponent.
  std::uint32_t bits = (std::uint32_t(lead - Emin) << M) + static_cast<std::uint32_t>(r);
  if (bits > inf) bits = inf;
  return static_cast<std::uint16_t>(sign | bits);
}

template <int M, int Emin, int Emax>
KILN_HD constexpr std::uint16_t double_to_bits(double d) noexcept {
  constexpr std::uint32_t inf = std::uint32_t(Emax - Emin + 2) << M;
  const std::uint64_t x = bit_cast<std::uint64_t>(d);
  const bool neg = (x >> 63) != 0;
  const std::uint32_t exp = static_cast<std::uint32_t>(x >> 52) & 0x7ffu;
  const std::uint64_t frac = x & 0xfffffffffffffull;
  if (exp == 0x7ffu) {
    std::uint32_t bits = inf;
    if (frac != 0)  // NaN: keep the top payload bits, set the quiet bit
      bits |= (std::uint32_t(1) << (M - 1)) | static_cast<std::uint32_t>(frac >> (52 - M));
    return static_cast<std::uint16_t>((neg ? 0x8000u : 0u) | bits);
  }
  if (exp == 0) return round_pack<M, Emin, Emax>(neg, frac, -1074);
  return round_pack<M, Emin, Emax>(neg, frac | (std::uint64_t(1) << 52), int(exp) - 1075);
}

template <int M, int Emin, int Emax, class I>
KILN_HD constexpr std::uint16_t int_to_bits(I v) noexcept {
  if constexpr (std::is_signed_v<I>) {
    const bool neg = v < 0;
    const auto u = static_cast<std::uint64_t>(static_cast<std::int64_t>(v));
    return round_pack<M, Emin, Emax>(neg, neg ? std::uint64_t(0) - u : u, 0);
  } else {
    return round_pack<M, Emin, Emax>(false, static_cast<std::uint64_t>(v), 0);
  }
}

// binary16: 10 mantissa bits, exponents [-14, 15].
inline constexpr int kHalfM = 10, kHalfEmin = -14, kHalfEmax = 15;
// bfloat16: 7 mantissa bits, float's exponents [-126, 127].
inline constexpr int kBf16M = 7, kBf16Emin = -126, kBf16Emax = 127;

/// float -> binary16 bits, round to nearest even. (Fast path: F16C / cvt.rn.f16.f32.)
KILN_HD constexpr std::uint16_t float_to_half_bits(float f) noexcept {
  const std::uint32_t x = bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t a = x & 0x7fffffffu;
  std::uint32_t h = 0;
  if (a >= 0x7f800000u) {  // inf, NaN (quieted, top payload bits kept)
    h = a == 0x7f800000u ? 0x7c00u : 0x7e00u | ((a >> 13) & 0x3ffu);
  } else if (a >= 0x477ff000u) {  // >= 65520 = 65504 + half an ulp: overflows
    h = 0x7c00u;
  } else if (a >= 0x38800000u) {  // normal result: rebias 127 -> 15, round off 13 bits
    h = (a - 0x38000000u + 0xfffu + ((a >> 13) & 1u)) >> 13;
  } else if (a > 0x33000000u) {  // subnormal result: value > 2^-25
    const std::uint32_t m = (a & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - (a >> 23);  // 14..24
    const std::uint32_t rem = m & ((1u << shift) - 1u);
    const std::uint32_t halfway = 1u << (shift - 1u);
    h = m >> shift;
    h += (rem > halfway || (rem == halfway && (h & 1u))) ? 1u : 0u;
  }  // else: |f| <= 2^-25 rounds to a signed zero
  return static_cast<std::uint16_t>(sign | h);
}

/// binary16 bits -> float, exact. (Fast path: F16C / cvt.f32.f16.)
KILN_HD constexpr float half_bits_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  const std::uint32_t mant = h & 0x3ffu;
  if (exp == 0x1fu)  // inf, NaN (quieted)
    return bit_cast<float>(sign | 0x7f800000u | (mant ? 0x400000u | (mant << 13) : 0u));
  if (exp == 0) {  // zero, subnormal: mant * 2^-24 is exact in float
    const float v = static_cast<float>(mant) * 0x1p-24f;
    return sign ? -v : v;
  }
  return bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

/// float -> bfloat16 bits, round to nearest even. (Fast path: cvt.rn.bf16.f32, AVX512-BF16.)
KILN_HD constexpr std::uint16_t float_to_bf16_bits(float f) noexcept {
  const std::uint32_t x = bit_cast<std::uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u)  // NaN: truncate, set the quiet bit
    return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  // Carries into the exponent are the correct rounding, up to and including inf.
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/// bfloat16 bits -> float, exact.
KILN_HD constexpr float bf16_bits_to_float(std::uint16_t b) noexcept {
  return bit_cast<float>(std::uint32_t(b) << 16);
}

KILN_HD constexpr std::uint16_t double_to_half_bits(double d) noexcept {
  return double_to_bits<kHalfM, kHalfEmin, kHalfEmax>(d);
}
KILN_HD constexpr std::uint16_t double_to_bf16_bits(double d) noexcept {
  return double_to_bits<kBf16M, kBf16Emin, kBf16Emax>(d);
}

/// Integers and long double, rounded once (never through float).
template <class T>
KILN_HD constexpr std::uint16_t arith_to_half_bits(T v) noexcept {
  if constexpr (std::is_floating_point_v<T>)
    return double_to_half_bits(static_cast<double>(v));
  else
    return int_to_bits<kHalfM, kHalfEmin, kHalfEmax>(v);
}
template <class T>
KILN_HD constexpr std::uint16_t arith_to_bf16_bits(T v) noexcept {
  if constexpr (std::is_floating_point_v<T>)
    return double_to_bf16_bits(static_cast<double>(v));
  else
    return int_to_bits<kBf16M, kBf16Emin, kBf16Emax>(v);
}

}  // namespace detail::fp16

/// IEEE 754 binary16: 1 sign, 5 exponent, 10 mantissa bits. See Note [Reduced-precision floats].
struct alignas(2) half {
  /// The raw bit pattern.
  std::uint16_t bits;

  /// Trivial: leaves bits uninitialised, like float. `half{}` is +0.
  half() = default;
  KILN_HD constexpr half(float f) noexcept : bits(detail::fp16::float_to_half_bits(f)) {}
  KILN_HD constexpr half(double d) noexcept : bits(detail::fp16::double_to_half_bits(d)) {}
  /// From integers (and long double), rounded once to the nearest half.
  template <class T>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, float> &&
           !std::is_same_v<T, double>) KILN_HD constexpr half(T v) noexcept
      : bits(detail::fp16::arith_to_half_bits(v)) {}

  /// A half with the given bit pattern.
  KILN_HD static constexpr half from_bits(std::uint16_t b) noexcept {
    half h{};
    h.bits = b;
    return h;
  }

  KILN_HD constexpr operator float() const noexcept {
    return detail::fp16::half_bits_to_float(bits);
  }
};

/// bfloat16: float's sign and 8 exponent bits with 7 mantissa bits (the upper half of a
/// float). See Note [Reduced-precision floats].
struct alignas(2) bfloat16 {
  /// The raw bit pattern.
  std::uint16_t bits;

  /// Trivial: leaves bits uninitialised, like float. `bfloat16{}` is +0.
  bfloat16() = default;
  KILN_HD constexpr bfloat16(float f) noexcept : bits(detail::fp16::float_to_bf16_bits(f)) {}
  KILN_HD constexpr bfloat16(double d) noexcept : bits(detail::fp16::double_to_bf16_bits(d)) {}
  /// From integers (and long double), rounded once to the nearest bfloat16.
  template <class T>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, float> &&
           !std::is_same_v<T, double>) KILN_HD constexpr bfloat16(T v) noexcept
      : bits(detail::fp16::arith_to_bf16_bits(v)) {}

  /// A bfloat16 with the given bit pattern.
  KILN_HD static constexpr bfloat16 from_bits(std::uint16_t b) noexcept {
    bfloat16 h{};
    h.bits = b;
    return h;
  }

  KILN_HD constexpr operator float() const noexcept {
    return detail::fp16::bf16_bits_to_float(bits);
  }
};

static_assert(sizeof(half) == 2 && alignof(half) == 2 && std::is_trivial_v<half> &&
              std::is_standard_layout_v<half>);
static_assert(sizeof(bfloat16) == 2 && alignof(bfloat16) == 2 && std::is_trivial_v<bfloat16> &&
              std::is_standard_layout_v<bfloat16>);

/// half or bfloat16 (exactly; no conversions).
template <class T>
concept ReducedFloat = std::same_as<T, half> || std::same_as<T, bfloat16>;

namespace detail {
/// Arithmetic types and the reduced floats: what compound assignment accepts.
template <class T>
concept HalfOperand = std::is_arithmetic_v<T> || ReducedFloat<T>;

template <ReducedFloat H>
inline constexpr std::uint16_t kExpMask = std::is_same_v<H, half> ? 0x7c00u : 0x7f80u;
}  // namespace detail

// Arithmetic; see Note [Reduced-precision floats] for the promotion rules.
template <ReducedFloat H>
KILN_HD constexpr H operator+(H a) noexcept {
  return a;
}
template <ReducedFloat H>
KILN_HD constexpr H operator-(H a) noexcept {  // exact: flips the sign bit, NaN included
  return H::from_bits(static_cast<std::uint16_t>(a.bits ^ 0x8000u));
}

#define KILN_REDUCED_FLOAT_BINARY_OP(op)                           \
  template <ReducedFloat H>                                        \
  KILN_HD constexpr H operator op(H a, H b) noexcept {             \
    return H(static_cast<float>(a) op static_cast<float>(b));      \
  }                                                                \
  template <ReducedFloat H, std::floating_point F>                 \
  KILN_HD constexpr F operator op(H a, F b) noexcept {             \
    return static_cast<F>(static_cast<float>(a)) op b;             \
  }                                                                \
  template <ReducedFloat H, std::floating_point F>                 \
  KILN_HD constexpr F operator op(F a, H b) noexcept {             \
    return a op static_cast<F>(static_cast<float>(b));             \
  }                                                                \
  template <ReducedFloat H, std::integral I>                       \
  KILN_HD constexpr H operator op(H a, I b) noexcept {             \
    return a op H(b);                                              \
  }                                                                \
  template <ReducedFloat H, std::integral I>                       \
  KILN_HD constexpr H operator op(I a, H b) noexcept {             \
    return H(a) op b;                                              \
  }                                                                \
  template <ReducedFloat H, detail::HalfOperand T>                 \
  KILN_HD constexpr H& operator op##=(H& a, const T& b) noexcept { \
    return a = static_cast<H>(a op b);                             \
  }

KILN_REDUCED_FLOAT_BINARY_OP(+)
KILN_REDUCED_FLOAT_BINARY_OP(-)
KILN_REDUCED_FLOAT_BINARY_OP(*)
KILN_REDUCED_FLOAT_BINARY_OP(/)
#undef KILN_REDUCED_FLOAT_BINARY_OP

// Comparisons (== != < <= > >= <=>) use the built-in float operators through the implicit
// conversion, so NaN is unordered and -0 == +0, exactly as for float.

/// True for NaN. Only half and bfloat16 match: a float argument is not silently narrowed.
template <ReducedFloat H>
KILN_HD constexpr bool isnan(H x) noexcept {
  return (x.bits & 0x7fffu) > detail::kExpMask<H>;
}
/// True for +inf and -inf.
template <ReducedFloat H>
KILN_HD constexpr bool isinf(H x) noexcept {
  return (x.bits & 0x7fffu) == detail::kExpMask<H>;
}
/// True unless inf or NaN.
template <ReducedFloat H>
KILN_HD constexpr bool isfinite(H x) noexcept {
  return (x.bits & detail::kExpMask<H>) != detail::kExpMask<H>;
}

/// Prints the value as float does.
inline std::ostream& operator<<(std::ostream& os, half h) { return os << static_cast<float>(h); }
inline std::ostream& operator<<(std::ostream& os, bfloat16 h) {
  return os << static_cast<float>(h);
}

}  // namespace kiln

namespace std {

template <>
struct numeric_limits<kiln::half> {
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = true;
  static constexpr bool is_integer = false;
  static constexpr bool is_exact = false;
  static constexpr bool has_infinity = true;
  static constexpr bool has_quiet_NaN = true;
  static constexpr bool has_signaling_NaN = true;
  static constexpr float_denorm_style has_denorm = denorm_present;
  static constexpr bool has_denorm_loss = false;
  static constexpr float_round_style round_style = round_to_nearest;
  static constexpr bool is_iec559 = true;
  static constexpr bool is_bounded = true;
  static constexpr bool is_modulo = false;
  static constexpr int digits = 11;
  static constexpr int digits10 = 3;
  static constexpr int max_digits10 = 5;
  static constexpr int radix = 2;
  static constexpr int min_exponent = -13;
  static constexpr int min_exponent10 = -4;
  static constexpr int max_exponent = 16;
  static constexpr int max_exponent10 = 4;
  static constexpr bool traps = numeric_limits<float>::traps;
  static constexpr bool tinyness_before = numeric_limits<float>::tinyness_before;

  KILN_HD static constexpr kiln::half min() noexcept { return kiln::half::from_bits(0x0400); }
  KILN_HD static constexpr kiln::half lowest() noexcept { return kiln::half::from_bits(0xfbff); }
  KILN_HD static constexpr kiln::half max() noexcept { return kiln::half::from_bits(0x7bff); }
  KILN_HD static constexpr kiln::half epsilon() noexcept { return kiln::half::from_bits(0x1400); }
  KILN_HD static constexpr kiln::half round_error() noexcept {
    return kiln::half::from_bits(0x3800);
  }
  KILN_HD static constexpr kiln::half infinity() noexcept { return kiln::half::from_bits(0x7c00); }
  KILN_HD static constexpr kiln::half quiet_NaN() noexcept { return kiln::half::from_bits(0x7e00); }
  KILN_HD static constexpr kiln::half signaling_NaN() noexcept {
    return kiln::half::from_bits(0x7d00);
  }
  KILN_HD static constexpr kiln::half denorm_min() noexcept {
    return kiln::half::from_bits(0x0001);
  }
};

template <>
struct numeric_limits<kiln::bfloat16> {
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = true;
  static constexpr bool is_integer = false;
  static constexpr bool is_exact = false;
  static constexpr bool has_infinity = true;
  static constexpr bool has_quiet_NaN = true;
  static constexpr bool has_signaling_NaN = true;
  static constexpr float_denorm_style has_denorm = denorm_present;
  static constexpr bool has_denorm_loss = false;
  static constexpr float_round_style round_style = round_to_nearest;
  static constexpr bool is_iec559 = false;  // not an IEEE 754 interchange format
  static constexpr bool is_bounded = true;
  static constexpr bool is_modulo = false;
  static constexpr int digits = 8;
  static constexpr int digits10 = 2;
  static constexpr int max_digits10 = 4;
  static constexpr int radix = 2;
  static constexpr int min_exponent = -125;
  static constexpr int min_exponent10 = -37;
  static constexpr int max_exponent = 128;
  static constexpr int max_exponent10 = 38;
  static constexpr bool traps = numeric_limits<float>::traps;
  static constexpr bool tinyness_before = numeric_limits<float>::tinyness_before;

  KILN_HD static constexpr kiln::bfloat16 min() noexcept {
    return kiln::bfloat16::from_bits(0x0080);
  }
  KILN_HD static constexpr kiln::bfloat16 lowest() noexcept {
    return kiln::bfloat16::from_bits(0xff7f);
  }
  KILN_HD static constexpr kiln::bfloat16 max() noexcept {
    return kiln::bfloat16::from_bits(0x7f7f);
  }
  KILN_HD static constexpr kiln::bfloat16 epsilon() noexcept {
    return kiln::bfloat16::from_bits(0x3c00);
  }
  KILN_HD static constexpr kiln::bfloat16 round_error() noexcept {
    return kiln::bfloat16::from_bits(0x3f00);
  }
  KILN_HD static constexpr kiln::bfloat16 infinity() noexcept {
    return kiln::bfloat16::from_bits(0x7f80);
  }
  KILN_HD static constexpr kiln::bfloat16 quiet_NaN() noexcept {
    return kiln::bfloat16::from_bits(0x7fc0);
  }
  KILN_HD static constexpr kiln::bfloat16 signaling_NaN() noexcept {
    return kiln::bfloat16::from_bits(0x7fa0);
  }
  KILN_HD static constexpr kiln::bfloat16 denorm_min() noexcept {
    return kiln::bfloat16::from_bits(0x0001);
  }
};

}  // namespace std
