// SPDX-License-Identifier: BSD-3-Clause
// Activation modules: each applies the elementwise op (or softmax) of the same name.
#pragma once

#include <string>

#include "kiln/expr/ops.hpp"
#include "kiln/nn/module.hpp"
#include "kiln/nn/repr_util.hpp"
#include "kiln/ops/softmax.hpp"

namespace kiln::nn {

// One small class per activation, as torch has; `Op` evaluates the fused expression.
#define KILN_NN_ACTIVATION(Name, fn)                                                     \
  template <class T = float, class D = CPU>                                              \
  class Name : public UnaryModule<T, D> {                                                \
   public:                                                                               \
    Name() : UnaryModule<T, D>(#Name) {}                                                 \
    Tensor<T, D> forward(const Tensor<T, D>& x) override { return Tensor<T, D>(fn(x)); } \
  };
KILN_NN_ACTIVATION(ReLU, kiln::relu)
KILN_NN_ACTIVATION(SiLU, kiln::silu)
KILN_NN_ACTIVATION(Tanh, kiln::tanh)
KILN_NN_ACTIVATION(Sigmoid, kiln::sigmoid)
#undef KILN_NN_ACTIVATION

template <class T = float, class D = CPU>
class LeakyReLU : public UnaryModule<T, D> {
 public:
  explicit LeakyReLU(double negative_slope = 0.01)
      : UnaryModule<T, D>("LeakyReLU"), negative_slope(negative_slope) {}
  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    return Tensor<T, D>(kiln::leaky_relu(x, negative_slope));
  }
  std::string extra_repr() const override {
    return "negative_slope=" + detail::py_float(negative_slope);
  }
  double negative_slope;
};

/// GELU with the exact erf form ("none", the default) or the tanh approximation ("tanh").
template <class T = float, class D = CPU>
class GELU : public UnaryModule<T, D> {
 public:
  explicit GELU(std::string approximate = "none")
      : UnaryModule<T, D>("GELU"), approximate(std::move(approximate)) {
    KILN_CHECK(this->approximate == "none" || this->approximate == "tanh", ValueError,
               "[nn::GELU] approximate must be 'none' or 'tanh', got '", this->approximate, "'");
  }
  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    return approximate == "tanh" ? Tensor<T, D>(kiln::gelu_tanh(x)) : Tensor<T, D>(kiln::gelu(x));
  }
  std::string extra_repr() const override { return "approximate='" + approximate + "'"; }
  std::string approximate;
};

template <class T = float, class D = CPU>
class Softmax : public UnaryModule<T, D> {
 public:
  explicit Softmax(int64_t dim) : UnaryModule<T, D>("Softmax"), dim(dim) {}
  Tensor<T, D> forward(const Tensor<T, D>& x) override { return kiln::softmax(x, dim); }
  std::string extra_repr() const override { return "dim=" + std::to_string(dim); }
  int64_t dim;
};

template <class T = float, class D = CPU>
class LogSoftmax : public UnaryModule<T, D> {
 public:
  explicit LogSoftmax(int64_t dim) : UnaryModule<T, D>("LogSoftmax"), dim(dim) {}
  Tensor<T, D> forward(const Tensor<T, D>& x) override { return kiln::log_softmax(x, dim); }
  std::string extra_repr() const override { return "dim=" + std::to_string(dim); }
  int64_t dim;
};

}  // namespace kiln::nn
