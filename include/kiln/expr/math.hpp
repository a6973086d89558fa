// SPDX-License-Identifier: BSD-3-Clause
// kiln::math: the scalar and packet math that functors are written in. Each function has
// a scalar template (host and device; half/bfloat16 compute in float) and, on the CPU
// with SIMD, overloads for float/double packets backed by SLEEF. A functor written with
// these helpers therefore serves the scalar loop, the packet loop and a CUDA kernel.
#pragma once

#include <cmath>
#include <limits>
#include <type_traits>

#include "kiln/core/config.hpp"
#include "kiln/core/dtype.hpp"
#include "kiln/core/half.hpp"
#include "kiln/expr/simd.hpp"

namespace kiln::math {

namespace detail {
// A differentiable tensor value (autograd/lazy.hpp): functors evaluated on it build the
// graph of their own derivative, which is how create_graph works for fused nodes.
template <class T>
concept lazy_value = requires { typename T::kiln_lazy_value; };

template <class T>
KILN_HD KILN_INLINE T lit_scalar(double v) {
  if constexpr (lazy_value<T>) {
    return T::lazy_lit(v);
  } else if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (std::is_integral_v<T>) {
    // Saturate: converting an out-of-range double (clamp's ±inf bounds) is undefined.
    if (!(v == v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest()))
      return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max()))
      return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    return static_cast<T>(v);
  }
}
}  // namespace detail

/// A constant of the functor's operand type: T(v) for scalars (saturated for integers),
/// a broadcast for packets.
template <class T>
KILN_HD KILN_INLINE T lit(double v) {
#if KILN_SIMD
  if constexpr (simd::is_vec_v<T>) {
    return simd::splat<scalar_of_t<T>>(static_cast<scalar_of_t<T>>(v));
  } else {
    return detail::lit_scalar<T>(v);
  }
#else
  return detail::lit_scalar<T>(v);
#endif
}

/// `c ? a : b`, lane-wise for packets (c is then a comparison mask).
template <class C, class T>
KILN_HD KILN_INLINE T select(C c, T a, T b) {
  if constexpr (detail::lazy_value<T>)
    return T::lazy_select(c, a, b);
  else
    return c ? a : b;
}

template <class T>
KILN_HD KILN_INLINE auto isnan(T x) {
  return x != x;
}

/// NaN-propagating maximum/minimum (torch.maximum / torch.minimum).
template <class T>
KILN_HD KILN_INLINE T max(T a, T b) {
  return select(a != a, a, select(a > b, a, b));
}
template <class T>
KILN_HD KILN_INLINE T min(T a, T b) {
  return select(a != a, a, select(a < b, a, b));
}

// One scalar template per libm function; half/bfloat16 round-trip through float.
#define KILN_MATH_SCALAR_UNARY(name)                           \
  template <class T>                                           \
  KILN_HD KILN_INLINE T name(T x) {                            \
    if constexpr (detail::lazy_value<T>)                       \
      return T::lazy_##name(x);                                \
    else if constexpr (std::is_same_v<T, double>)              \
      return ::name(x);                                        \
    else if constexpr (std::is_same_v<T, float>)               \
      return ::name##f(x);                                     \
    else                                                       \
      return static_cast<T>(::name##f(static_cast<float>(x))); \
  }
#define KILN_MATH_SCALAR_BINARY(name)                                                 \
  template <class T>                                                                  \
  KILN_HD KILN_INLINE T name(T x, T y) {                                              \
    if constexpr (detail::lazy_value<T>)                                              \
      return T::lazy_##name(x, y);                                                    \
    else if constexpr (std::is_same_v<T, double>)                                     \
      return ::name(x, y);                                                            \
    else if constexpr (std::is_same_v<T, float>)                                      \
      return ::name##f(x, y);                                                         \
    else                                                                              \
      return static_cast<T>(::name##f(static_cast<float>(x), static_cast<float>(y))); \
  }

#if KILN_SIMD
#if defined(__AVX512F__)
#define KILN_SLEEF_F(fn, acc) Sleef_##fn##f16##acc
#define KILN_SLEEF_D(fn, acc) Sleef_##fn##d8##acc
#elif defined(__AVX__)
#define KILN_SLEEF_F(fn, acc) Sleef_##fn##f8##acc
#define KILN_SLEEF_D(fn, acc) Sleef_##fn##d4##acc
#else
#define KILN_SLEEF_F(fn, acc) Sleef_##fn##f4##acc
#define KILN_SLEEF_D(fn, acc) Sleef_##fn##d2##acc
#endif
#define KILN_STR2(x) #x
#define KILN_STR(x) KILN_STR2(x)
// The vector functions are declared under kiln-private names bound to the library
// symbols (asm labels), taking kiln's packet types, which have the same registers and
// calling convention as __m512 & co. So sleef.h/immintrin.h are never parsed, and a
// user file that includes them too sees no conflicting declaration.
#define KILN_MATH_PACKET_UNARY(name, sleef, acc)                                             \
  simd::vf kiln_vm_##name##_f(simd::vf) noexcept __asm__(KILN_STR(KILN_SLEEF_F(sleef, acc))) \
      __attribute__((const));                                                                \
  simd::vd kiln_vm_##name##_d(simd::vd) noexcept __asm__(KILN_STR(KILN_SLEEF_D(sleef, acc))) \
      __attribute__((const));                                                                \
  KILN_INLINE simd::vf name(simd::vf x) { return kiln_vm_##name##_f(x); }                    \
  KILN_INLINE simd::vd name(simd::vd x) { return kiln_vm_##name##_d(x); }
#define KILN_MATH_PACKET_BINARY(name, sleef, acc)                                        \
  simd::vf kiln_vm_##name##_f(simd::vf, simd::vf) noexcept __asm__(                      \
      KILN_STR(KILN_SLEEF_F(sleef, acc))) __attribute__((const));                        \
  simd::vd kiln_vm_##name##_d(simd::vd, simd::vd) noexcept __asm__(                      \
      KILN_STR(KILN_SLEEF_D(sleef, acc))) __attribute__((const));                        \
  KILN_INLINE simd::vf name(simd::vf x, simd::vf y) { return kiln_vm_##name##_f(x, y); } \
  KILN_INLINE simd::vd name(simd::vd x, simd::vd y) { return kiln_vm_##name##_d(x, y); }
#else
#define KILN_MATH_PACKET_UNARY(name, sleef, acc)
#define KILN_MATH_PACKET_BINARY(name, sleef, acc)
#endif

// Note [Vector math backends]
// SLEEF (1-ulp `u10` functions) is the default. glibc's libmvec (>= 2.35 on x86-64, at
// most 4 ulp) is several times faster for erf and tanh and 2x for sin/cos, which makes
// gelu, tanh-based activations and trigonometric chains memory-bound instead of
// compute-bound; SLEEF stays faster for exp and log. So those four come from libmvec
// where it exists (define KILN_NO_LIBMVEC to keep SLEEF everywhere).
#if KILN_SIMD && defined(__x86_64__) && defined(__GLIBC__) && !defined(KILN_NO_LIBMVEC) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define KILN_LIBMVEC 1
#if defined(__AVX512F__)
#define KILN_MVEC_F(fn) _ZGVeN16v_##fn##f
#define KILN_MVEC_D(fn) _ZGVeN8v_##fn
#elif defined(__AVX2__)
#define KILN_MVEC_F(fn) _ZGVdN8v_##fn##f
#define KILN_MVEC_D(fn) _ZGVdN4v_##fn
#elif defined(__AVX__)
#define KILN_MVEC_F(fn) _ZGVcN8v_##fn##f
#define KILN_MVEC_D(fn) _ZGVcN4v_##fn
#else
#define KILN_MVEC_F(fn) _ZGVbN4v_##fn##f
#define KILN_MVEC_D(fn) _ZGVbN2v_##fn
#endif
#define KILN_MATH_PACKET_UNARY_MVEC(name)                                             \
  simd::vf kiln_vm_##name##_f(simd::vf) noexcept __asm__(KILN_STR(KILN_MVEC_F(name))) \
      __attribute__((const));                                                         \
  simd::vd kiln_vm_##name##_d(simd::vd) noexcept __asm__(KILN_STR(KILN_MVEC_D(name))) \
      __attribute__((const));                                                         \
  KILN_INLINE simd::vf name(simd::vf x) { return kiln_vm_##name##_f(x); }             \
  KILN_INLINE simd::vd name(simd::vd x) { return kiln_vm_##name##_d(x); }
#else
#define KILN_LIBMVEC 0
#define KILN_MATH_PACKET_UNARY_MVEC(name) KILN_MATH_PACKET_UNARY(name, name, _u10)
#endif

#define KILN_MATH_UNARY(name, acc) \
  KILN_MATH_SCALAR_UNARY(name)     \
  KILN_MATH_PACKET_UNARY(name, name, acc)
#define KILN_MATH_UNARY_MVEC(name) \
  KILN_MATH_SCALAR_UNARY(name)     \
  KILN_MATH_PACKET_UNARY_MVEC(name)
#define KILN_MATH_BINARY(name, acc) \
  KILN_MATH_SCALAR_BINARY(name)     \
  KILN_MATH_PACKET_BINARY(name, name, acc)

KILN_MATH_UNARY_MVEC(sin)
KILN_MATH_UNARY_MVEC(cos)
KILN_MATH_UNARY(tan, _u10)
KILN_MATH_UNARY(asin, _u10)
KILN_MATH_UNARY(acos, _u10)
KILN_MATH_UNARY(atan, _u10)
KILN_MATH_UNARY(sinh, _u10)
KILN_MATH_UNARY(cosh, _u10)
KILN_MATH_UNARY_MVEC(tanh)
KILN_MATH_UNARY(exp, _u10)
KILN_MATH_UNARY(exp2, _u10)
KILN_MATH_UNARY(expm1, _u10)
KILN_MATH_UNARY(log, _u10)
KILN_MATH_UNARY(log2, _u10)
KILN_MATH_UNARY(log1p, _u10)
KILN_MATH_UNARY_MVEC(erf)
KILN_MATH_UNARY(sqrt, )
KILN_MATH_UNARY(floor, )
KILN_MATH_UNARY(ceil, )
KILN_MATH_UNARY(trunc, )
// rint rounds half to even, as torch.round does.
KILN_MATH_UNARY(rint, )
KILN_MATH_BINARY(atan2, _u10)
KILN_MATH_BINARY(pow, _u10)
KILN_MATH_BINARY(fmod, )

/// |x|: fabs for floating types (also clears the sign of -0 and NaN), wrapping for
/// integers so that abs(INT_MIN) is defined (it stays INT_MIN, as in PyTorch).
template <class T>
KILN_HD KILN_INLINE T abs(T x) {
  if constexpr (detail::lazy_value<T>)
    return T::lazy_abs(x);
  else if constexpr (std::is_same_v<T, double>)
    return ::fabs(x);
  else if constexpr (std::is_same_v<T, float>)
    return ::fabsf(x);
  else if constexpr (is_reduced_float_v<T>)
    return static_cast<T>(::fabsf(static_cast<float>(x)));
  else if constexpr (std::is_same_v<T, bool>)
    return x;
  else if constexpr (std::is_signed_v<T>)
    return x < 0 ? static_cast<T>(0u - static_cast<std::make_unsigned_t<T>>(x)) : x;
  else
    return x;
}
KILN_MATH_PACKET_UNARY(abs, fabs, )

#undef KILN_MATH_UNARY
#undef KILN_MATH_UNARY_MVEC
#undef KILN_MATH_PACKET_UNARY_MVEC
#undef KILN_MATH_BINARY
#undef KILN_MATH_SCALAR_UNARY
#undef KILN_MATH_SCALAR_BINARY
#undef KILN_MATH_PACKET_UNARY
#undef KILN_MATH_PACKET_BINARY

// Integer arithmetic wraps (as in PyTorch) instead of being undefined on overflow.
namespace detail {
template <class T, bool = std::is_integral_v<T>&& std::is_signed_v<T> && (sizeof(T) >= 4)>
struct wrap {
  using type = T;
};
template <class T>
struct wrap<T, true> {
  using type = std::make_unsigned_t<T>;
};
}  // namespace detail
template <class T>
using wrap_t = typename detail::wrap<T>::type;

template <class T>
KILN_HD KILN_INLINE T add(T a, T b) {
  if constexpr (std::is_same_v<T, bool>)
    return a || b;
  else
    return static_cast<T>(static_cast<wrap_t<T>>(a) + static_cast<wrap_t<T>>(b));
}
template <class T>
KILN_HD KILN_INLINE T sub(T a, T b) {
  return static_cast<T>(static_cast<wrap_t<T>>(a) - static_cast<wrap_t<T>>(b));
}
template <class T>
KILN_HD KILN_INLINE T mul(T a, T b) {
  if constexpr (std::is_same_v<T, bool>)
    return a && b;
  else
    return static_cast<T>(static_cast<wrap_t<T>>(a) * static_cast<wrap_t<T>>(b));
}
template <class T>
KILN_HD KILN_INLINE T neg(T x) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<wrap_t<T>>(0) - static_cast<wrap_t<T>>(x));
  else
    return -x;
}

}  // namespace kiln::math
