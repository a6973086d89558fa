// SPDX-License-Identifier: BSD-3-Clause
// Ternary elementwise functors.
#pragma once

#include "kiln/expr/math.hpp"

namespace kiln::expr::op {

/// where(cond, a, b): a where cond holds, else b. Gradients flow to the chosen side.
struct Where {
  static constexpr const char* name = "where";
  static constexpr bool grad_reads_output = false;
  static constexpr bool grad_reads_inputs = false;  // the condition is always read
  template <class C, class T>
  KILN_HD T operator()(C c, T a, T b) const {
    return math::select(c, a, b);
  }
  template <class C, class T>
  KILN_HD T grad_a(C c, T, T, T, T g) const {
    return math::select(c, g, math::lit<T>(0));
  }
  template <class C, class T>
  KILN_HD T grad_b(C c, T, T, T, T g) const {
    return math::select(c, math::lit<T>(0), g);
  }
};

}  // namespace kiln::expr::op
