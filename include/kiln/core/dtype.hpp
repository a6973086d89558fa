// SPDX-License-Identifier: BSD-3-Clause
// Element types: ScalarType, dtype traits and categories, PyTorch's type promotion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>
#include <type_traits>
#include <utility>

#include "kiln/core/config.hpp"
#include "kiln/core/half.hpp"

namespace kiln {

/// The element types a tensor can hold, in PyTorch's order of promotion within a category.
enum class ScalarType : std::int8_t {
  Bool,
  UInt8,
  Int8,
  Int16,
  Int32,
  Int64,
  Half,
  BFloat16,
  Float,
  Double,
};

/// Number of ScalarType values.
inline constexpr int kNumScalarTypes = 10;

/// Every ScalarType, in declaration order.
inline constexpr ScalarType kAllScalarTypes[kNumScalarTypes] = {
    ScalarType::Bool,  ScalarType::UInt8, ScalarType::Int8, ScalarType::Int16,
    ScalarType::Int32, ScalarType::Int64, ScalarType::Half, ScalarType::BFloat16,
    ScalarType::Float, ScalarType::Double};

// ---------------------------------------------------------------------------------------
// Type <-> ScalarType

namespace detail {
template <class T>
struct scalar_type_of;  // undefined for non-dtypes
#define KILN_DTYPE_MAP(T, ST)                           \
  template <>                                           \
  struct scalar_type_of<T> {                            \
    static constexpr ScalarType value = ScalarType::ST; \
  };
KILN_DTYPE_MAP(bool, Bool)
KILN_DTYPE_MAP(std::uint8_t, UInt8)
KILN_DTYPE_MAP(std::int8_t, Int8)
KILN_DTYPE_MAP(std::int16_t, Int16)
KILN_DTYPE_MAP(std::int32_t, Int32)
KILN_DTYPE_MAP(std::int64_t, Int64)
KILN_DTYPE_MAP(half, Half)
KILN_DTYPE_MAP(bfloat16, BFloat16)
KILN_DTYPE_MAP(float, Float)
KILN_DTYPE_MAP(double, Double)
#undef KILN_DTYPE_MAP

template <ScalarType S>
struct cpp_type_of;
template <>
struct cpp_type_of<ScalarType::Bool> {
  using type = bool;
};
template <>
struct cpp_type_of<ScalarType::UInt8> {
  using type = std::uint8_t;
};
template <>
struct cpp_type_of<ScalarType::Int8> {
  using type = std::int8_t;
};
template <>
struct cpp_type_of<ScalarType::Int16> {
  using type = std::int16_t;
};
template <>
struct cpp_type_of<ScalarType::Int32> {
  using type = std::int32_t;
};
template <>
struct cpp_type_of<ScalarType::Int64> {
  using type = std::int64_t;
};
template <>
struct cpp_type_of<ScalarType::Half> {
  using type = half;
};
template <>
struct cpp_type_of<ScalarType::BFloat16> {
  using type = bfloat16;
};
template <>
struct cpp_type_of<ScalarType::Float> {
  using type = float;
};
template <>
struct cpp_type_of<ScalarType::Double> {
  using type = double;
};
}  // namespace detail

/// True exactly for the ten element types: bool, uint8_t, int8_t, int16_t, int32_t, int64_t,
/// half, bfloat16, float, double (no cv-qualified types, no char, no long long where int64_t
/// is long).
template <class T>
inline constexpr bool is_dtype_v = requires {
  detail::scalar_type_of<T>::value;
};

/// A tensor element type.
template <class T>
concept DType = is_dtype_v<T>;

/// The ScalarType of an element type.
template <DType T>
inline constexpr ScalarType scalar_type_v = detail::scalar_type_of<T>::value;

/// The element type of a ScalarType.
template <ScalarType S>
using cpp_type_t = typename detail::cpp_type_of<S>::type;

// ---------------------------------------------------------------------------------------
// Names and sizes

/// PyTorch's name for a dtype: "bool", "uint8", ..., "float16", "bfloat16", "float32", "float64".
constexpr std::string_view scalar_type_name(ScalarType s) noexcept {
  switch (s) {
    case ScalarType::Bool:
      return "bool";
    case ScalarType::UInt8:
      return "uint8";
    case ScalarType::Int8:
      return "int8";
    case ScalarType::Int16:
      return "int16";
    case ScalarType::Int32:
      return "int32";
    case ScalarType::Int64:
      return "int64";
    case ScalarType::Half:
      return "float16";
    case ScalarType::BFloat16:
      return "bfloat16";
    case ScalarType::Float:
      return "float32";
    case ScalarType::Double:
      return "float64";
  }
  return "unknown";
}

/// PyTorch's name for the dtype T.
template <DType T>
inline constexpr std::string_view dtype_name_v = scalar_type_name(scalar_type_v<T>);

/// Bytes per element.
KILN_HD constexpr std::size_t element_size(ScalarType s) noexcept {
  switch (s) {
    case ScalarType::Bool:
    case ScalarType::UInt8:
    case ScalarType::Int8:
      return 1;
    case ScalarType::Int16:
    case ScalarType::Half:
    case ScalarType::BFloat16:
      return 2;
    case ScalarType::Int32:
    case ScalarType::Float:
      return 4;
    case ScalarType::Int64:
    case ScalarType::Double:
      return 8;
  }
  return 0;
}

/// Prints PyTorch's name ("float32"), so a ScalarType reads well in error messages.
inline std::ostream& operator<<(std::ostream& os, ScalarType s) {
  return os << scalar_type_name(s);
}

// ---------------------------------------------------------------------------------------
// Categories

/// half, bfloat16, float, double.
template <class T>
inline constexpr bool is_floating_v = std::is_same_v<T, half> || std::is_same_v<T, bfloat16> ||
                                      std::is_same_v<T, float> || std::is_same_v<T, double>;
/// half and bfloat16: stored in 16 bits, computed in float.
template <class T>
inline constexpr bool is_reduced_float_v = std::is_same_v<T, half> || std::is_same_v<T, bfloat16>;
/// The integer dtypes (uint8, int8..int64); bool is not one.
template <class T>
inline constexpr bool is_integral_dtype_v =
    is_dtype_v<T>&& std::is_integral_v<T> && !std::is_same_v<T, bool>;
/// bool.
template <class T>
inline constexpr bool is_bool_v = std::is_same_v<T, bool>;

/// Run-time is_floating_v.
KILN_HD constexpr bool is_floating_type(ScalarType s) noexcept {
  return s == ScalarType::Half || s == ScalarType::BFloat16 || s == ScalarType::Float ||
         s == ScalarType::Double;
}
/// Run-time is_integral_dtype_v (bool excluded).
KILN_HD constexpr bool is_integral_type(ScalarType s) noexcept {
  return s == ScalarType::UInt8 || s == ScalarType::Int8 || s == ScalarType::Int16 ||
         s == ScalarType::Int32 || s == ScalarType::Int64;
}

// ---------------------------------------------------------------------------------------
// Promotion

/// torch.promote_types for two dtypes: the type both operands of a binary op are cast to.
/// bool yields to anything; integers promote to the smallest integer holding both (uint8
/// with int8 gives int16); any floating type beats any integer; half with bfloat16 gives
/// float; otherwise the wider floating type wins. Symmetric, and a ScalarType with itself
/// gives itself.
KILN_HD constexpr ScalarType promote_types(ScalarType a, ScalarType b) noexcept {
  using S = ScalarType;
  if (a == b || b == S::Bool) return a;
  if (a == S::Bool) return b;
  const bool fa = is_floating_type(a), fb = is_floating_type(b);
  if (fa != fb) return fa ? a : b;
  if (fa) {  // both floating
    if ((a == S::Half && b == S::BFloat16) || (a == S::BFloat16 && b == S::Half)) return S::Float;
    return a > b ? a : b;  // declaration order: Half, BFloat16 < Float < Double
  }
  // both integers: uint8 is the only unsigned type; with int8 neither holds the other.
  if (a == S::UInt8 || b == S::UInt8) {
    const S other = a == S::UInt8 ? b : a;
    return other == S::Int8 ? S::Int16 : other;
  }
  return a > b ? a : b;  // signed: the wider
}

/// Compile-time promote_types: the dtype of `tensor<A> op tensor<B>` in PyTorch.
template <DType A, DType B>
using promote_t = cpp_type_t<promote_types(scalar_type_v<A>, scalar_type_v<B>)>;

namespace detail {
template <class T, class S>
struct scalar_result {
  using type = T;  // S is bool, or an integer and T is not bool, or both floating
};
template <class S>
requires(std::is_integral_v<S> && !std::is_same_v<S, bool>) struct scalar_result<bool, S> {
  using type = std::int64_t;
};
template <class T, class S>
requires((std::is_floating_point_v<S> ||
          is_reduced_float_v<S>)&&!is_floating_v<T>) struct scalar_result<T, S> {
  using type = float;  // the default dtype
};
}  // namespace detail

/// The dtype of `tensor<T> op s` for a plain C++ scalar s of type S (PyTorch's wrapped-number
/// rule: the scalar only counts when its category is higher). S bool -> T; S integral -> T,
/// or int64 when T is bool; S floating -> T when T is floating, else float.
template <DType T, class S>
requires(std::is_arithmetic_v<S> ||
         is_reduced_float_v<S>) using scalar_result_t = typename detail::scalar_result<T, S>::type;

// ---------------------------------------------------------------------------------------
// Compute types

namespace detail {
template <class T>
struct acc_type {
  using type = T;
};
template <>
struct acc_type<half> {
  using type = float;
};
template <>
struct acc_type<bfloat16> {
  using type = float;
};
template <class T>
requires(std::is_integral_v<T>) struct acc_type<T> {
  using type = std::int64_t;  // bool and every integer type
};

template <class T>
struct opmath_type {
  using type = T;
};
template <>
struct opmath_type<half> {
  using type = float;
};
template <>
struct opmath_type<bfloat16> {
  using type = float;
};
}  // namespace detail

/// Accumulator for reductions: float for half/bfloat16, int64_t for bool and integers, else T.
template <DType T>
using acc_t = typename detail::acc_type<T>::type;

/// Type elementwise math is computed in: float for half/bfloat16, else T.
template <DType T>
using opmath_t = typename detail::opmath_type<T>::type;

namespace detail {
template <class T>
struct scalar_of {
  using type = T;
};
template <class T>
requires requires { std::declval<T>()[0]; }
struct scalar_of<T> {
  using type = std::remove_cvref_t<decltype(std::declval<T>()[0])>;
};
}  // namespace detail

/// The lane type of a vector type (a GCC/Clang vector extension such as
/// `float __attribute__((vector_size(64)))`, or anything subscriptable); T itself for
/// scalars. Lets one functor body serve scalars and SIMD vectors.
template <class T>
using scalar_of_t = typename detail::scalar_of<T>::type;

}  // namespace kiln
