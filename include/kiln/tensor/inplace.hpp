// SPDX-License-Identifier: BSD-3-Clause
// In-place arithmetic on tensors: `a += e` writes through `a` (a view stays a view).
#pragma once

#include "kiln/expr/ops.hpp"
#include "kiln/tensor.hpp"

namespace kiln {

// In-place compound assignment writes through the tensor (a view stays a view).
#define KILN_COMPOUND_OPERATOR(sym, Functor)                                   \
  template <class T, class D, class B>                                         \
  requires(expr::Expr<B> || expr::Scalar<B>) const Tensor<T, D>& operator sym( \
      const Tensor<T, D>& t, const B& b) {                                     \
    return t.copy_(expr::make_binary(expr::op::Functor{}, t, b));              \
  }
KILN_COMPOUND_OPERATOR(+=, Add)
KILN_COMPOUND_OPERATOR(-=, Sub)
KILN_COMPOUND_OPERATOR(*=, Mul)
KILN_COMPOUND_OPERATOR(/=, Div)
#undef KILN_COMPOUND_OPERATOR

}  // namespace kiln
