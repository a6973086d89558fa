// SPDX-License-Identifier: BSD-3-Clause
// Random factories: rand, randn, randint (and their *_like), drawn from the Philox generator.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <type_traits>

#include "kiln/core/dtype.hpp"
#include "kiln/core/error.hpp"
#include "kiln/core/generator.hpp"
#include "kiln/core/parallel.hpp"
#include "kiln/core/shape.hpp"
#include "kiln/tensor.hpp"

namespace kiln {

namespace detail {
// Note [Random streams]
// Every call draws one Philox stream (next_philox_state(): the seed and a call counter)
// and element i takes its bits from counter block i / k, word(s) within it by i % k, where
// k values fit one block of four 32-bit words. Element i is the output's logical
// (row-major) index, whatever its strides: an in-place fill of a view gives the numbers a
// contiguous tensor of that shape would get. Threads split the range at block
// boundaries, so the output depends on (seed, call index, i) only — never on the thread
// count — and a CUDA kernel can reproduce it element by element.
//   float uniform   4 per block, 24 bits each        double uniform  2 per block, 53 bits
//   half uniform    4 per block, 11 bits (exact)     bfloat16        4 per block, 8 bits
//   float normal    4 per block (Box-Muller on word pairs, in double)
//   double normal   2 per block (Box-Muller on two 64-bit words)
//   randint         4 per block when high - low <= 2^32, else 2 (64-bit words)
// half and bfloat16 uniforms use as many bits as the type has digits, so a value is exact
// and can never round up to 1. The samplers of tensor/sampling.hpp and ops/dropout.hpp:
//   uniform_, normal_  the uniform / normal layout of the tensor's dtype, mapped in double
//                      to from + (to - from) * u (kept below `to`) or mean + std * z; so
//                      uniform_(t, 0, 1) is rand and normal_(t, 0, 1) is randn.
//   bernoulli          4 per block, one 32-bit word w each: 1 iff w < p * 2^32 (in
//                      double), i.e. P(1) is p rounded up to a multiple of 2^-32, whatever
//                      the dtypes of p and of the output.
//   dropout            the bernoulli layout with p_keep = 1 - p: element i is kept iff
//                      w_i < (1 - p) * 2^32.
//   multinomial        2 per block, one 64-bit word -> u in [0, 1) with 53 bits. With
//                      replacement: element r * num_samples + s of the output is the first
//                      category whose running sum exceeds u * (row sum). Without: one u
//                      per category, element r * n + j, gives the key -log(1 - u) / p_j
//                      (an Exp(p_j) arrival time; capped at DBL_MAX for p_j > 0, +inf for
//                      p_j = 0); the row's num_samples smallest keys, ties to the lower
//                      index, in ascending order (the exponential race: draw order).
//   randperm           2 per block, one 64-bit word per position i; the output lists
//                      0..n-1 sorted by (word, index).

inline void check_random_shape(const Shape& shape, const char* op) {
  for (int64_t e : shape)
    KILN_CHECK(e >= 0, ShapeError, "[", op, "] negative dimension in shape ", shape);
}

// Fills p[0, n) with gen(words, out, count): `count` (<= K) values from one block.
template <int K, class T, class Gen>
void fill_by_blocks(T* p, int64_t n, PhiloxState st, int64_t grain_blocks, Gen gen) {
  const int64_t blocks = (n + K - 1) / K;
  parallel_for(blocks, grain_blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const auto w = philox_block(st, static_cast<uint64_t>(b));
      const int64_t i = b * K;
      gen(w, p + i, static_cast<int>(std::min<int64_t>(K, n - i)));
    }
  });
}

KILN_HD inline uint64_t join_words(uint32_t lo, uint32_t hi) {
  return static_cast<uint64_t>(hi) << 32 | lo;
}

// Box-Muller on (u1, u2) with u1 in (0, 1]: two independent standard normals.
KILN_HD inline void box_muller(double u1, double u2, double& z0, double& z1) {
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * std::numbers::pi * u2;
  z0 = r * std::cos(theta);
  z1 = r * std::sin(theta);
}

/// A double rounded to T; reduced floats go through float, as randn always did.
template <class T>
KILN_HD T from_double(double v) {
  if constexpr (std::is_same_v<T, double>)
    return v;
  else
    return static_cast<T>(static_cast<float>(v));
}

// The maths of one counter block (four words w), written once for the CPU loops below
// and the CUDA kernels (cuda/random.cu), so both devices draw the same numbers.
using PhiloxWords = std::array<uint32_t, 4>;

/// Values of rand<T> per block: 2 for double, 4 otherwise.
template <class T>
inline constexpr int uniforms_per_block = std::is_same_v<T, double> ? 2 : 4;
/// The k-th uniform of rand<T> in block w: a float with 24, 11 or 8 random bits (float,
/// half, bfloat16; exact in T) or a double with 53 (double).
template <class T>
KILN_HD auto uniform_of_block(const PhiloxWords& w, int k) {
  if constexpr (std::is_same_v<T, double>) {
    return u64_to_unit_double(join_words(w[2 * k], w[2 * k + 1]));
  } else {
    constexpr int bits = std::is_same_v<T, float> ? 24 : std::is_same_v<T, half> ? 11 : 8;
    return static_cast<float>(w[k] >> (32 - bits)) * (1.0f / static_cast<float>(1u << bits));
  }
}

/// The standard normals of randn<T> in block w (as doubles): 2 for double, 4 otherwise.
template <class T>
KILN_HD void normals_of_block(const PhiloxWords& w, double* z) {
  if constexpr (std::is_same_v<T, double>) {
    // u1 in (0, 1] keeps log() finite; u2 in [0, 1).
    const double u1 = 1.0 - u64_to_unit_double(join_words(w[0], w[1]));
    const double u2 = u64_to_unit_double(join_words(w[2], w[3]));
    box_muller(u1, u2, z[0], z[1]);
  } else {
    constexpr double scale = 1.0 / 4294967296.0;
    for (int pair = 0; pair < 2; ++pair) {
      const double u1 = (static_cast<double>(w[2 * pair]) + 1.0) * scale;  // (0, 1]
      const double u2 = static_cast<double>(w[2 * pair + 1]) * scale;      // [0, 1)
      box_muller(u1, u2, z[2 * pair], z[2 * pair + 1]);
    }
  }
}

/// randint's draws: 4 per block (32-bit words) when range <= 2^32, else 2 (64-bit words).
KILN_HD inline int randints_per_block(uint64_t range) {
  return range <= (uint64_t{1} << 32) ? 4 : 2;
}
/// The k-th value in [0, range) of block w. Lemire's multiply-shift maps a uniform word
/// onto [0, range); its bias, range / 2^bits, is below 2^-32 for 64-bit words and
/// range / 2^32 for 32-bit ones.
KILN_HD inline uint64_t randint_of_block(const PhiloxWords& w, int k, uint64_t range) {
  if (range <= (uint64_t{1} << 32)) return (static_cast<uint64_t>(w[k]) * range) >> 32;
  const uint64_t r = join_words(w[2 * k], w[2 * k + 1]);
#if defined(__CUDA_ARCH__)
  return __umul64hi(r, range);
#else
  return static_cast<uint64_t>((static_cast<unsigned __int128>(r) * range) >> 64);
#endif
}

/// Fills p[0, n) with f(u) for the uniforms u of rand<T>.
template <class T, class F>
void fill_uniform(T* p, int64_t n, PhiloxState st, F f) {
  fill_by_blocks<uniforms_per_block<T>>(p, n, st, kParallelGrain / 4,
                                        [f](const PhiloxWords& w, T* out, int count) {
                                          for (int k = 0; k < count; ++k)
                                            out[k] = f(uniform_of_block<T>(w, k));
                                        });
}

/// Fills p[0, n) with f(z) for the standard normals z (doubles) of randn<T>.
template <class T, class F>
void fill_normal(T* p, int64_t n, PhiloxState st, F f) {
  const int64_t grain = 4096;  // blocks: log, sqrt, sin and cos per pair cost more than a copy
  fill_by_blocks<uniforms_per_block<T>>(p, n, st, grain,
                                        [f](const PhiloxWords& w, T* out, int count) {
                                          double z[4];
                                          normals_of_block<T>(w, z);
                                          for (int k = 0; k < count; ++k) out[k] = f(z[k]);
                                        });
}

/// Which distribution a CUDA random fill draws (cuda/random.cu).
enum class RandomKind : uint8_t { uniform, normal, integer };
/// Fills the contiguous CUDA buffer p[0, n) with the numbers rand<T> (uniform), randn<T>
/// (normal) or randint<T>(low, low + range) (integer) give on the CPU for stream st.
template <class T>
void random_cuda(T* p, int64_t n, PhiloxState st, RandomKind kind, int64_t low, uint64_t range,
                 int device);
}  // namespace detail

/// Uniform samples in [0, 1), like torch.rand. Reproducible under kiln::manual_seed for any
/// thread count (see Note [Random streams]).
template <class T = float, class D = CPU>
Tensor<T, D> rand(const Shape& shape) {
  static_assert(is_floating_v<T>,
                "kiln::rand<T>: T must be a floating dtype (float, double, half, bfloat16)");
  detail::check_random_shape(shape, "rand");
  const PhiloxState st = detail::next_philox_state();
  Tensor<T, D> t(shape);
  if constexpr (std::is_same_v<D, CUDA>)
    detail::random_cuda(t.data(), t.numel(), st, detail::RandomKind::uniform, 0, 0, t.get_device());
  else
    detail::fill_uniform(t.data(), t.numel(), st, [](auto u) { return static_cast<T>(u); });
  return t;
}

/// Standard normal samples (mean 0, variance 1), like torch.randn, by Box-Muller.
template <class T = float, class D = CPU>
Tensor<T, D> randn(const Shape& shape) {
  static_assert(is_floating_v<T>,
                "kiln::randn<T>: T must be a floating dtype (float, double, half, bfloat16)");
  detail::check_random_shape(shape, "randn");
  const PhiloxState st = detail::next_philox_state();
  Tensor<T, D> t(shape);
  if constexpr (std::is_same_v<D, CUDA>)
    detail::random_cuda(t.data(), t.numel(), st, detail::RandomKind::normal, 0, 0, t.get_device());
  else
    detail::fill_normal(t.data(), t.numel(), st,
                        [](double z) { return detail::from_double<T>(z); });
  return t;
}

/// Integers drawn uniformly from [low, high), like torch.randint; any dtype. Throws
/// ValueError when high <= low or when [low, high) does not fit the dtype (for floating
/// dtypes: integers beyond 2^digits are not all representable).
template <class T = int64_t, class D = CPU>
Tensor<T, D> randint(int64_t low, int64_t high, const Shape& shape) {
  KILN_CHECK(high > low, ValueError, "[randint] expects low < high, but got low=", low,
             ", high=", high, " (shape ", shape, ")");
  int64_t lo_limit, hi_limit;
  if constexpr (is_floating_v<T>) {
    constexpr int digits = std::is_same_v<T, double>  ? 53
                           : std::is_same_v<T, float> ? 24
                           : std::is_same_v<T, half>  ? 11
                                                      : 8;
    hi_limit = int64_t{1} << digits;
    lo_limit = -hi_limit;
  } else {
    lo_limit = static_cast<int64_t>(std::numeric_limits<T>::lowest());
    hi_limit = static_cast<int64_t>(std::numeric_limits<T>::max());
  }
  KILN_CHECK(low >= lo_limit && high - 1 <= hi_limit, ValueError, "[randint] range [", low, ", ",
             high, ") does not fit dtype ", scalar_type_v<T>, " (values must lie in [", lo_limit,
             ", ", hi_limit, "])");
  detail::check_random_shape(shape, "randint");
  const PhiloxState st = detail::next_philox_state();
  Tensor<T, D> t(shape);
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  if constexpr (std::is_same_v<D, CUDA>) {
    detail::random_cuda(t.data(), t.numel(), st, detail::RandomKind::integer, low, range,
                        t.get_device());
  } else {
    const auto gen = [low, range](const auto& w, T* out, int count) {
      for (int k = 0; k < count; ++k)
        out[k] = static_cast<T>(static_cast<int64_t>(static_cast<uint64_t>(low) +
                                                     detail::randint_of_block(w, k, range)));
    };
    const int64_t grain = kParallelGrain / 4;
    if (detail::randints_per_block(range) == 4)
      detail::fill_by_blocks<4>(t.data(), t.numel(), st, grain, gen);
    else
      detail::fill_by_blocks<2>(t.data(), t.numel(), st, grain, gen);
  }
  return t;
}
/// Integers drawn uniformly from [0, high).
template <class T = int64_t, class D = CPU>
Tensor<T, D> randint(int64_t high, const Shape& shape) {
  return randint<T, D>(0, high, shape);
}

/// rand, randn and randint with the shape (and dtype) of `t`.
template <class T, class D>
Tensor<T, D> rand_like(const Tensor<T, D>& t) {
  return rand<T, D>(t.shape());
}
template <class T, class D>
Tensor<T, D> randn_like(const Tensor<T, D>& t) {
  return randn<T, D>(t.shape());
}
template <class T, class D>
Tensor<T, D> randint_like(const Tensor<T, D>& t, int64_t low, int64_t high) {
  return randint<T, D>(low, high, t.shape());
}

}  // namespace kiln
