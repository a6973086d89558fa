// SPDX-License-Identifier: BSD-3-Clause
// Sampling beyond the factories of random.hpp: in-place uniform_ / normal_ fills, normal,
// bernoulli (factory and in place), multinomial and randperm. Every draw follows Note
// [Random streams] (tensor/random.hpp), which lists each sampler's bit layout.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kiln/core/dtype.hpp"
#include "kiln/core/error.hpp"
#include "kiln/core/generator.hpp"
#include "kiln/core/parallel.hpp"
#include "kiln/core/shape.hpp"
#include "kiln/expr/ops.hpp"
#include "kiln/tensor.hpp"
#include "kiln/tensor/random.hpp"

namespace kiln {

namespace detail {
/// Checks every probability of the contiguous doubles `probs` ([batch, n]; `shape` is
/// the user's, for messages): finite, >= 0, each row with a positive sum and, without
/// replacement, at least num_samples nonzero entries.
void check_multinomial_probs(const double* probs, int64_t batch, int64_t n, int64_t num_samples,
                             bool replacement, const Shape& shape);
/// Draws into out [batch, num_samples] from checked probabilities (Note [Random streams]).
void multinomial_cpu(const double* probs, int64_t batch, int64_t n, int64_t num_samples,
                     bool replacement, PhiloxState st, int64_t* out);
/// A uniformly random permutation of 0..n-1 into out[0, n) (Note [Random streams]).
void randperm_cpu(int64_t n, PhiloxState st, int64_t* out);

inline constexpr double kTwoPow32 = 4294967296.0;

/// Writes a random fill through `t`, which may be any view: fill(T* p, n, st) fills a
/// contiguous buffer in logical order, so a non-contiguous view goes through a temporary
/// and gets the numbers a contiguous tensor would (Note [Random streams]). The stream is
/// reserved only after the checks pass.
template <class T, class F>
void fill_view(const Tensor<T, CPU>& t, const char* op, F fill) {
  KILN_CHECK(t.defined(), ValueError, "[", op, "] the tensor is undefined");
  for (int d = 0; d < t.dim(); ++d)
    KILN_CHECK(t.strides()[d] != 0 || t.shape()[d] <= 1, ValueError, "[", op,
               "] unsupported operation: more than one element of the written-to tensor (shape ",
               t.shape(), ", strides ", t.strides(),
               ") refers to a single memory location; call .clone() first");
  const PhiloxState st = next_philox_state();
  if (t.is_contiguous()) {
    fill(t.data(), t.numel(), st);
    t.storage().bump_version();
  } else {
    Tensor<T, CPU> tmp(t.shape());
    fill(tmp.data(), tmp.numel(), st);
    t.copy_(tmp);
  }
}

/// The next value of T below x (toward -inf).
template <class T>
T next_below(T x) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    return std::nextafter(x, -std::numeric_limits<T>::infinity());
  } else {
    const uint16_t b = x.bits;
    if ((b & 0x7fffu) == 0) return T::from_bits(0x8001u);  // +-0: the smallest negative
    return T::from_bits(static_cast<uint16_t>(b & 0x8000u ? b + 1 : b - 1));
  }
}

/// The largest T below `to` (what uniform_ returns instead of a value that rounded up to
/// `to`), or T(from) when [from, to) holds no T.
template <class T>
T largest_below(double from, double to) {
  T c = from_double<T>(to);
  if (!(static_cast<double>(c) < to)) c = next_below(c);
  if (static_cast<double>(c) < from) c = from_double<T>(from);
  return c;
}

/// out[i] = (w_i < thr(i)) in the bernoulli layout of Note [Random streams], where
/// thr(i) is p_i * 2^32.
template <class T, class Thr>
void fill_bernoulli(T* out, int64_t n, PhiloxState st, Thr thr) {
  fill_by_blocks<4>(out, n, st, kParallelGrain / 4, [out, thr](const auto& w, T* o, int count) {
    const int64_t i = o - out;
    for (int k = 0; k < count; ++k)
      o[k] = static_cast<T>(static_cast<double>(w[k]) < thr(i + k) ? 1 : 0);
  });
}

/// Throws unless every p of the contiguous tensor lies in [0, 1] (NaN does not). A
/// branch-free parallel pass; the first bad index is searched for only on failure.
template <class P>
void check_probabilities(const Tensor<P, CPU>& p, const char* op) {
  const P* d = p.data();
  std::atomic<bool> bad{false};
  parallel_for(p.numel(), kParallelGrain, 1, [&](int64_t b, int64_t e) {
    bool local = false;
    for (int64_t i = b; i < e; ++i) {
      const auto v = static_cast<opmath_t<P>>(d[i]);
      local |= !(v >= 0 && v <= 1);
    }
    if (local) bad.store(true, std::memory_order_relaxed);
  });
  if (!bad.load()) return;
  for (int64_t i = 0; i < p.numel(); ++i) {
    const double v = static_cast<double>(d[i]);
    KILN_CHECK(v >= 0 && v <= 1, ValueError, "[", op,
               "] expects all probabilities p in [0, 1], but got p=", v, " at flat index ", i,
               " (shape ", p.shape(), ")");
  }
}

/// A contiguous tensor holding the value of `e` (`e` itself when it already is one).
template <expr::Expr E>
Tensor<expr::value_t<E>, CPU> contiguous_of(const E& e) {
  using T = expr::value_t<E>;
  static_assert(std::is_same_v<expr::device_t<E>, CPU>,
                "kiln: random sampling on CUDA needs the CUDA backend (kiln::cuda)");
  if constexpr (std::is_same_v<E, Tensor<T, CPU>>)
    return e.contiguous();
  else
    return Tensor<T, CPU>(e);
}

inline void check_std(double std, const char* op) {
  KILN_CHECK(std >= 0, ValueError, "[", op, "] expects std >= 0.0, but found std=", std);
}

/// Fills p[0, n) with mean + std * z in the normal layout of T.
template <class T>
void fill_normal_scaled(T* p, int64_t n, PhiloxState st, double mean, double std) {
  fill_normal(p, n, st, [mean, std](double z) { return from_double<T>(mean + std * z); });
}
}  // namespace detail

// ---- uniform_ / normal_ / normal ----------------------------------------------------------------
/// Fills `t` (any view, in logical element order) with samples uniform on [from, to), like
/// torch's Tensor.uniform_. Computed in double and kept below `to`; uniform_(t, 0, 1) gives
/// the numbers of kiln::rand. Throws ValueError unless from <= to, both finite and in T's
/// range.
template <class T>
const Tensor<T, CPU>& uniform_(const Tensor<T, CPU>& t, double from = 0, double to = 1) {
  static_assert(is_floating_v<T>,
                "kiln::uniform_: the tensor must have a floating dtype (float, double, half, "
                "bfloat16)");
  KILN_CHECK(from <= to, ValueError,
             "[uniform_] expects to return a [from, to) range, but found from=", from,
             " > to=", to);
  const double hi = static_cast<double>(std::numeric_limits<T>::max());
  KILN_CHECK(std::isfinite(from) && std::isfinite(to) && from >= -hi && to <= hi && to - from <= hi,
             ValueError, "[uniform_] from=", from, " and to=", to,
             " must be finite and to - from at most ", hi, " for dtype ", scalar_type_v<T>);
  const T below = detail::largest_below<T>(from, to);
  detail::fill_view(t, "uniform_", [from, to, below](T* p, int64_t n, PhiloxState st) {
    const double width = to - from;
    detail::fill_uniform(p, n, st, [from, to, width, below](auto u) {
      const T v = detail::from_double<T>(from + width * static_cast<double>(u));
      return static_cast<double>(v) < to ? v : below;
    });
  });
  return t;
}

/// Fills `t` (any view, in logical element order) with normal samples of the given mean
/// and standard deviation, like torch's Tensor.normal_; normal_(t, 0, 1) gives the numbers
/// of kiln::randn. Throws ValueError when std < 0.
template <class T>
const Tensor<T, CPU>& normal_(const Tensor<T, CPU>& t, double mean = 0, double std = 1) {
  static_assert(is_floating_v<T>,
                "kiln::normal_: the tensor must have a floating dtype (float, double, half, "
                "bfloat16)");
  detail::check_std(std, "normal_");
  detail::fill_view(t, "normal_", [mean, std](T* p, int64_t n, PhiloxState st) {
    detail::fill_normal_scaled(p, n, st, mean, std);
  });
  return t;
}

/// Normal samples of the given mean and standard deviation, like
/// torch.normal(mean, std, size). Throws ValueError when std < 0.
template <class T = float, class D = CPU>
Tensor<T, D> normal(double mean, double std, const Shape& shape) {
  static_assert(is_floating_v<T>,
                "kiln::normal<T>: T must be a floating dtype (float, double, half, bfloat16)");
  static_assert(std::is_same_v<D, CPU>,
                "kiln::normal: random CUDA tensors need the CUDA backend (kiln::cuda)");
  detail::check_std(std, "normal");
  detail::check_random_shape(shape, "normal");
  const PhiloxState st = detail::next_philox_state();
  Tensor<T, D> t(shape);
  detail::fill_normal_scaled(t.data(), t.numel(), st, mean, std);
  return t;
}

// ---- bernoulli ---------------------------------------------------------------------------------
/// 1 with probability p[i], else 0, like torch.bernoulli(p): the output has the shape and
/// (floating) dtype of `p`, which may be any expression (a view, a broadcast,
/// sigmoid(x)...). Throws ValueError unless every p lies in [0, 1].
template <expr::Expr E>
Tensor<expr::value_t<E>, CPU> bernoulli(const E& p) {
  using P = expr::value_t<E>;
  static_assert(
      is_floating_v<P>,
      "kiln::bernoulli(p): p must be a floating expression (cast with kiln::cast<float>)");
  const Tensor<P, CPU> pc = detail::contiguous_of(p);
  detail::check_probabilities(pc, "bernoulli");
  const PhiloxState st = detail::next_philox_state();
  Tensor<P, CPU> out(pc.shape());
  detail::fill_bernoulli(out.data(), out.numel(), st, [q = pc.data()](int64_t i) {
    return static_cast<double>(q[i]) * detail::kTwoPow32;
  });
  return out;
}

/// A tensor of `shape` whose elements are 1 with probability p, else 0; any dtype (bool
/// for a mask). Throws ValueError unless p lies in [0, 1].
template <class T = float, class D = CPU>
Tensor<T, D> bernoulli(const Shape& shape, double p) {
  static_assert(std::is_same_v<D, CPU>,
                "kiln::bernoulli: random CUDA tensors need the CUDA backend (kiln::cuda)");
  KILN_CHECK(p >= 0 && p <= 1, ValueError, "[bernoulli] expects p to be in [0, 1], but got p=", p);
  detail::check_random_shape(shape, "bernoulli");
  const PhiloxState st = detail::next_philox_state();
  Tensor<T, D> t(shape);
  detail::fill_bernoulli(t.data(), t.numel(), st,
                         [thr = p * detail::kTwoPow32](int64_t) { return thr; });
  return t;
}
/// torch.bernoulli(input, p): the shape and dtype of `input`, probability p for every element.
template <class T, class D>
Tensor<T, D> bernoulli(const Tensor<T, D>& input, double p) {
  return bernoulli<T, D>(input.shape(), p);
}

/// Fills `t` (any view, any dtype) with 1 with probability p, else 0, like torch's
/// Tensor.bernoulli_(p).
template <class T>
const Tensor<T, CPU>& bernoulli_(const Tensor<T, CPU>& t, double p) {
  KILN_CHECK(p >= 0 && p <= 1, ValueError, "[bernoulli_] expects p to be in [0, 1], but got p=", p);
  detail::fill_view(t, "bernoulli_", [p](T* o, int64_t n, PhiloxState st) {
    detail::fill_bernoulli(o, n, st, [thr = p * detail::kTwoPow32](int64_t) { return thr; });
  });
  return t;
}
/// Element i of `t` becomes 1 with probability p[i] (p broadcast to t's shape), else 0.
template <class T, class P>
const Tensor<T, CPU>& bernoulli_(const Tensor<T, CPU>& t, const Tensor<P, CPU>& p) {
  static_assert(is_floating_v<P>,
                "kiln::bernoulli_(t, p): p must be a floating tensor (float, double, half, "
                "bfloat16)");
  KILN_CHECK(broadcasts_to(p.shape(), t.shape()), ShapeError,
             "[bernoulli_] probabilities of shape ", p.shape(),
             " cannot be broadcast to the tensor's shape ", t.shape());
  const Tensor<P, CPU> pc = p.expand(t.shape()).contiguous();
  detail::check_probabilities(pc, "bernoulli_");
  detail::fill_view(t, "bernoulli_", [q = pc.data()](T* o, int64_t n, PhiloxState st) {
    detail::fill_bernoulli(
        o, n, st, [q](int64_t i) { return static_cast<double>(q[i]) * detail::kTwoPow32; });
  });
  return t;
}

// ---- multinomial / randperm --------------------------------------------------------------------
/// Draws num_samples category indices (int64) from each row of `probs` ([n] or [batch, n]
/// non-negative weights, not necessarily normalised), like torch.multinomial. Without
/// replacement a row's samples are distinct, in draw order, and need num_samples <= the
/// row's nonzero weights (torch's documented condition, checked here); with replacement
/// each sample is independent. Throws ShapeError for other ranks or no categories,
/// ValueError for num_samples <= 0, num_samples > n without replacement, negative, NaN or
/// infinite weights, or a row that sums to zero.
template <expr::Expr E>
Tensor<int64_t, CPU> multinomial(const E& probs, int64_t num_samples, bool replacement = false) {
  static_assert(is_floating_v<expr::value_t<E>>,
                "kiln::multinomial: probs must be floating (float, double, half, bfloat16)");
  static_assert(std::is_same_v<expr::device_t<E>, CPU>,
                "kiln::multinomial: CUDA tensors need the CUDA backend (kiln::cuda)");
  const Shape& shape = probs.shape();
  KILN_CHECK(shape.size() == 1 || shape.size() == 2, ShapeError,
             "[multinomial] probs must be 1 or 2 dim, but got shape ", shape);
  const int64_t n = shape[shape.size() - 1];
  const int64_t batch = shape.size() == 2 ? shape[0] : 1;
  KILN_CHECK(n > 0, ShapeError, "[multinomial] probs of shape ", shape, " have no categories");
  KILN_CHECK(num_samples > 0, ValueError, "[multinomial] cannot sample num_samples=", num_samples,
             " <= 0 samples");
  KILN_CHECK(replacement || num_samples <= n, ValueError,
             "[multinomial] cannot sample num_samples=", num_samples, " > n=", n,
             " categories without replacement (probs shape ", shape, ")");
  const Tensor<double, CPU> pd = Tensor<double, CPU>(cast<double>(probs)).contiguous();
  detail::check_multinomial_probs(pd.data(), batch, n, num_samples, replacement, shape);
  const PhiloxState st = detail::next_philox_state();
  Tensor<int64_t, CPU> out(shape.size() == 2 ? Shape{batch, num_samples} : Shape{num_samples});
  detail::multinomial_cpu(pd.data(), batch, n, num_samples, replacement, st, out.data());
  return out;
}

/// A uniformly random permutation of 0..n-1, like torch.randperm (int64 by default; any
/// integer or floating dtype that holds n - 1 exactly). Throws ValueError for n < 0 or an
/// n the dtype cannot hold.
template <class T = int64_t, class D = CPU>
Tensor<T, D> randperm(int64_t n) {
  static_assert(!std::is_same_v<T, bool>, "kiln::randperm<T>: T cannot be bool");
  static_assert(std::is_same_v<D, CPU>,
                "kiln::randperm: random CUDA tensors need the CUDA backend (kiln::cuda)");
  KILN_CHECK(n >= 0, ValueError, "[randperm] n must be non-negative, got n=", n);
  int64_t limit;  // the largest n - 1 that T holds exactly
  if constexpr (is_floating_v<T>)
    limit = int64_t{1} << std::numeric_limits<T>::digits;
  else
    limit = static_cast<int64_t>(std::numeric_limits<T>::max());
  KILN_CHECK(n - 1 <= limit, ValueError, "[randperm] n=", n, " is too large for dtype ",
             scalar_type_v<T>, " (at most ", limit, " + 1)");
  const PhiloxState st = detail::next_philox_state();
  Tensor<int64_t, CPU> idx(Shape{n});
  detail::randperm_cpu(n, st, idx.data());
  if constexpr (std::is_same_v<T, int64_t>)
    return idx;
  else
    return Tensor<T, D>(cast<T>(idx));
}

}  // namespace kiln
