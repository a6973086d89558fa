// SPDX-License-Identifier: BSD-3-Clause
// Linear, Identity and Flatten (torch.nn's names, defaults and initialisation).
#pragma once

#include <cmath>
#include <string>

#include "kiln/nn/init.hpp"
#include "kiln/nn/module.hpp"
#include "kiln/nn/repr_util.hpp"
#include "kiln/ops/matmul.hpp"

namespace kiln::nn {

/// y = x · weightᵀ + bias, x [..., in_features] → y [..., out_features]. weight
/// [out_features, in_features] ~ U(-1/sqrt(in), 1/sqrt(in)) (torch's kaiming_uniform_ with
/// a = sqrt(5)), bias [out_features] likewise.
template <class T = float, class D = CPU>
class Linear : public UnaryModule<T, D> {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true)
      : UnaryModule<T, D>("Linear"), in_features(in_features), out_features(out_features) {
    KILN_CHECK(in_features >= 0 && out_features >= 0, ValueError,
               "[nn::Linear] feature counts must be non-negative, got in_features=", in_features,
               ", out_features=", out_features);
    weight = this->register_parameter("weight", Tensor<T, D>({out_features, in_features}));
    if (bias) this->bias = this->register_parameter("bias", Tensor<T, D>({out_features}));
    reset_parameters();
  }

  void reset_parameters() {
    init::kaiming_uniform_(weight, std::sqrt(5.0));
    if (bias.defined()) {
      const double bound = in_features > 0 ? 1.0 / std::sqrt(double(in_features)) : 0.0;
      init::uniform_(bias, -bound, bound);
    }
  }

  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    KILN_CHECK(x.dim() >= 1 && x.shape()[x.dim() - 1] == in_features, ShapeError,
               "[nn::Linear] expected input [..., ", in_features, "], got ", x.shape());
    return bias.defined() ? kiln::linear(x, weight, bias) : kiln::linear(x, weight);
  }

  std::string extra_repr() const override {
    return "in_features=" + std::to_string(in_features) +
           ", out_features=" + std::to_string(out_features) +
           ", bias=" + detail::py_bool(bias.defined());
  }

  int64_t in_features, out_features;
  Tensor<T, D> weight, bias;
};

/// Returns its input.
template <class T = float, class D = CPU>
class Identity : public UnaryModule<T, D> {
 public:
  Identity() : UnaryModule<T, D>("Identity") {}
  Tensor<T, D> forward(const Tensor<T, D>& x) override { return x; }
};

/// Flattens dims start_dim..end_dim into one (default: all but the batch dim).
template <class T = float, class D = CPU>
class Flatten : public UnaryModule<T, D> {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1)
      : UnaryModule<T, D>("Flatten"), start_dim(start_dim), end_dim(end_dim) {}
  Tensor<T, D> forward(const Tensor<T, D>& x) override { return x.flatten(start_dim, end_dim); }
  std::string extra_repr() const override {
    return "start_dim=" + std::to_string(start_dim) + ", end_dim=" + std::to_string(end_dim);
  }
  int64_t start_dim, end_dim;
};

}  // namespace kiln::nn
