// SPDX-License-Identifier: BSD-3-Clause
// Reduction functors: identity and combine, written once for scalars and packets.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "kiln/expr/math.hpp"

namespace kiln::expr::op {

namespace detail {
template <class A>
KILN_HD constexpr A lowest() {
  if constexpr (std::is_floating_point_v<A>)
    return -std::numeric_limits<A>::infinity();
  else
    return std::numeric_limits<A>::lowest();
}
template <class A>
KILN_HD constexpr A highest() {
  if constexpr (std::is_floating_point_v<A>)
    return std::numeric_limits<A>::infinity();
  else
    return std::numeric_limits<A>::max();
}
}  // namespace detail

struct SumReduce {
  static constexpr const char* name = "sum";
  template <class A>
  KILN_HD static constexpr A identity() {
    return A(0);
  }
  template <class A>
  KILN_HD A operator()(A a, A b) const {
    return math::add(a, b);
  }
};
struct ProdReduce {
  static constexpr const char* name = "prod";
  template <class A>
  KILN_HD static constexpr A identity() {
    return A(1);
  }
  template <class A>
  KILN_HD A operator()(A a, A b) const {
    return math::mul(a, b);
  }
};
/// NaN-propagating, as torch.amax.
struct MaxReduce {
  static constexpr const char* name = "amax";
  template <class A>
  KILN_HD static constexpr A identity() {
    return detail::lowest<A>();
  }
  template <class A>
  KILN_HD A operator()(A a, A b) const {
    return math::max(a, b);
  }
};
struct MinReduce {
  static constexpr const char* name = "amin";
  template <class A>
  KILN_HD static constexpr A identity() {
    return detail::highest<A>();
  }
  template <class A>
  KILN_HD A operator()(A a, A b) const {
    return math::min(a, b);
  }
};
struct AllReduce {
  static constexpr const char* name = "all";
  static constexpr bool vectorizable = false;
  template <class A>
  KILN_HD static constexpr A identity() {
    return A(1);
  }
  template <class A>
  KILN_HD A operator()(A a, A b) const {
    return a && b;
  }
};
struct AnyReduce {
  static constexpr const char* name = "any";
  static constexpr bool vectorizable = false;
  template <class A>
  KILN_HD static constexpr A identity() {
    return A(0);
  }
  template <class A>
  KILN_HD A operator()(A a, A b) const {
    return a || b;
  }
};

/// Accumulator of logsumexp: the running maximum and the sum of exp(x - m).
template <class T>
struct LseAcc {
  T m, s;
  LseAcc() = default;
  KILN_HD LseAcc(T m_, T s_) : m(m_), s(s_) {}
  KILN_HD explicit LseAcc(T x) : m(x), s(T(1)) {}
};

/// log(sum(exp(x))) in one pass over memory: blocks are reduced to (max, sum of
/// exp(x - max)) pairs (reduce_cpu.hpp runs the two passes of a block in cache), and
/// pairs combine by rescaling to the larger maximum.
struct LogSumExpReduce {
  static constexpr const char* name = "logsumexp";
  static constexpr bool vectorizable = false;
  template <class A>
  KILN_HD static A identity() {
    using T = decltype(A::m);
    return A(-std::numeric_limits<T>::infinity(), T(0));
  }
  template <class A>
  KILN_HD A operator()(A a, A b) const {
    using T = decltype(A::m);
    const T M = math::max(a.m, b.m);
    if (M == -std::numeric_limits<T>::infinity()) return A(M, T(0));
    if (M == std::numeric_limits<T>::infinity()) return A(M, T(1));  // inf - inf must not appear
    return A(M, a.s * math::exp(a.m - M) + b.s * math::exp(b.m - M));
  }
};

// ---- finishers: an output from the accumulator and the count of reduced elements ----
// Functors rather than lambdas so that the CUDA kernels can call them too.
template <class O>
struct CastFin {
  template <class A>
  KILN_HD O operator()(A a, int64_t) const {
    return static_cast<O>(a);
  }
};
template <class O>
struct MeanFin {
  template <class A>
  KILN_HD O operator()(A a, int64_t n) const {
    return static_cast<O>(a / static_cast<A>(n));
  }
};
/// Sum of squared deviations / max(n - correction, 0).
template <class O>
struct VarFin {
  int64_t correction = 1;
  template <class A>
  KILN_HD O operator()(A a, int64_t n) const {
    const int64_t dof = n - correction;
    return static_cast<O>(a / static_cast<A>(dof > 0 ? dof : 0));
  }
};
template <class O>
struct LogSumExpFin {
  template <class A>
  KILN_HD O operator()(A a, int64_t) const {
    return static_cast<O>(math::log(a.s) + a.m);
  }
};

// ---- argmax / argmin ----
/// A value and its index in row-major order over the reduced dims.
template <class V>
struct ArgAcc {
  using value_type = V;
  V v;
  int64_t i;
};
/// The first extremum (Max: maximum) and its index; NaN counts as the extreme, the first
/// NaN winning, as in torch. Ties go to the smaller index, which makes the combine
/// commutative as well as associative: any order of combination gives the same result.
template <bool Max>
struct ArgReduce {
  static constexpr const char* name = Max ? "argmax" : "argmin";
  static constexpr bool vectorizable = false;
  static constexpr bool indexed = true;
  template <class A>
  KILN_HD static constexpr A identity() {
    using V = typename A::value_type;
    return A{Max ? detail::lowest<V>() : detail::highest<V>(), std::numeric_limits<int64_t>::max()};
  }
  template <class A>
  KILN_HD A operator()(A a, A b) const {
    const bool a_nan = a.v != a.v, b_nan = b.v != b.v;
    if (a_nan || b_nan) {
      if (a_nan && b_nan) return a.i < b.i ? a : b;
      return a_nan ? a : b;
    }
    if (a.v == b.v) return a.i < b.i ? a : b;
    return (Max ? a.v > b.v : a.v < b.v) ? a : b;
  }
};
struct ArgIndexFin {
  template <class A>
  KILN_HD int64_t operator()(A a, int64_t) const {
    return a.i;
  }
};

}  // namespace kiln::expr::op
