// SPDX-License-Identifier: BSD-3-Clause
// SIMD packets for the CPU evaluator: GCC/Clang vector extensions for arithmetic,
// SLEEF/libmvec for transcendental functions (declared in math.hpp without their
// headers, which would add ~50k lines of intrinsics to every user file). The width follows the
// target flags of the translation unit (AVX-512: 64 bytes, AVX: 32, otherwise 16).
#pragma once

#include "kiln/core/config.hpp"

#if KILN_SIMD
#include <cstring>
#include <type_traits>

namespace kiln::simd {

#if defined(__AVX512F__)
inline constexpr int kBytes = 64;
#elif defined(__AVX__)
inline constexpr int kBytes = 32;
#elif defined(__SSE2__)
inline constexpr int kBytes = 16;
#elif defined(__aarch64__)
inline constexpr int kBytes = 16;
#endif

typedef float vf __attribute__((vector_size(kBytes)));
typedef double vd __attribute__((vector_size(kBytes)));

template <class T>
struct vec_of {};
template <>
struct vec_of<float> {
  using type = vf;
};
template <>
struct vec_of<double> {
  using type = vd;
};

/// Whether the evaluator has packets for element type T.
template <class T>
inline constexpr bool has_vec_v = std::is_same_v<T, float> || std::is_same_v<T, double>;
template <class T>
using vec_t = typename vec_of<T>::type;
template <class T>
inline constexpr int lanes_v = kBytes / static_cast<int>(sizeof(T));

template <class V>
inline constexpr bool is_vec_v = std::is_same_v<V, vf> || std::is_same_v<V, vd>;

template <class T>
KILN_INLINE vec_t<T> splat(T s) {
  return vec_t<T>{} + s;
}
template <class T>
KILN_INLINE vec_t<T> loadu(const T* p) {
  vec_t<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <class T>
KILN_INLINE void storeu(T* p, vec_t<T> v) {
  std::memcpy(p, &v, sizeof(v));
}
/// Loads n < lanes elements; the rest are zero (never read past the end).
template <class T>
KILN_INLINE vec_t<T> load_partial(const T* p, int n) {
  T buf[lanes_v<T>] = {};
  std::memcpy(buf, p, sizeof(T) * static_cast<std::size_t>(n));
  return loadu(buf);
}
template <class T>
KILN_INLINE void store_partial(T* p, vec_t<T> v, int n) {
  T buf[lanes_v<T>];
  storeu(buf, v);
  std::memcpy(p, buf, sizeof(T) * static_cast<std::size_t>(n));
}

}  // namespace kiln::simd
#endif  // KILN_SIMD
