// SPDX-License-Identifier: BSD-3-Clause
// Reduction functors: identity and combine, written once for scalars and packets.
#pragma once

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

}  // namespace kiln::expr::op
