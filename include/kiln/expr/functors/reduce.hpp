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
  template <class A> KILN_HD static constexpr A identity() { return A(0); }
  template <class A> KILN_HD A operator()(A a, A b) const { return math::add(a, b); }
};
struct ProdReduce {
  static constexpr const char* name = "prod";
  template <class A> KILN_HD static constexpr A identity() { return A(1); }
  template <class A> KILN_HD A operator()(A a, A b) const { return math::mul(a, b); }
};
/// NaN-propagating, as torch.amax.
struct MaxReduce {
  static constexpr const char* name = "amax";
  template <class A> KILN_HD static constexpr A identity() { return detail::lowest<A>(); }
  template <class A> KILN_HD A operator()(A a, A b) const { return math::max(a, b); }
};
struct MinReduce {
  static constexpr const char* name = "amin";
  template <class A> KILN_HD static constexpr A identity() { return detail::highest<A>(); }
  template <class A> KILN_HD A operator()(A a, A b) const { return math::min(a, b); }
};
struct AllReduce {
  static constexpr const char* name = "all";
  static constexpr bool vectorizable = false;
  template <class A> KILN_HD static constexpr A identity() { return A(1); }
  template <class A> KILN_HD A operator()(A a, A b) const { return a && b; }
};
struct AnyReduce {
  static constexpr const char* name = "any";
  static constexpr bool vectorizable = false;
  template <class A> KILN_HD static constexpr A identity() { return A(0); }
  template <class A> KILN_HD A operator()(A a, A b) const { return a || b; }
};

}  // namespace kiln::expr::op
