// SPDX-License-Identifier: BSD-3-Clause
// Dropout: zeroes elements with probability p in training mode, scaling the rest by
// 1 / (1 - p); the identity in eval mode.
#pragma once

#include <string>

#include "kiln/nn/module.hpp"
#include "kiln/nn/repr_util.hpp"
#include "kiln/ops/dropout.hpp"

namespace kiln::nn {

template <class T = float, class D = CPU>
class Dropout : public UnaryModule<T, D> {
 public:
  explicit Dropout(double p = 0.5) : UnaryModule<T, D>("Dropout"), p(p) {
    KILN_CHECK(p >= 0 && p <= 1, ValueError,
               "[nn::Dropout] p must be a probability in [0, 1], got ", p);
  }
  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    return kiln::dropout(x, p, this->is_training());
  }
  std::string extra_repr() const override { return "p=" + detail::py_float(p) + ", inplace=False"; }
  double p;
};

}  // namespace kiln::nn
