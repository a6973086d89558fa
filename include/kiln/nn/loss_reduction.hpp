// SPDX-License-Identifier: BSD-3-Clause
// Reduction: how a loss combines per-element values (torch's reduction= argument).
#pragma once

#include "kiln/ops/reduce.hpp"
#include "kiln/tensor.hpp"

namespace kiln::nn {

enum class Reduction { none, mean, sum };

namespace detail {
/// Applies `r` to per-element losses (any expression).
template <expr::Expr E>
Tensor<expr::value_t<E>, CPU> reduce_loss(const E& e, Reduction r) {
  switch (r) {
    case Reduction::none:
      return Tensor<expr::value_t<E>, CPU>(e);
    case Reduction::sum:
      return kiln::sum(e);
    case Reduction::mean:
      break;
  }
  return kiln::mean(e);
}

template <class T>
void check_same_shape(const Tensor<T, CPU>& input, const Tensor<T, CPU>& target, const char* op) {
  KILN_CHECK(input.shape() == target.shape(), ShapeError, "[", op,
             "] input and target must have the same shape, got input ", input.shape(),
             " and target ", target.shape());
}
}  // namespace detail

}  // namespace kiln::nn
