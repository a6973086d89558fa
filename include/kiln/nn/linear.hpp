// SPDX-License-Identifier: BSD-3-Clause
// Linear, Bilinear, Identity and Flatten (torch.nn's names, defaults and initialisation).
#pragma once

#include <cmath>
#include <string>
#include <utility>

#include "kiln/nn/init.hpp"
#include "kiln/nn/module.hpp"
#include "kiln/nn/repr_util.hpp"
#include "kiln/ops/matmul.hpp"
#include "kiln/ops/reduce.hpp"

namespace kiln::nn {

/// y = x · weightᵀ + bias, x [..., in_features] → y [..., out_features]. weight
/// [out_features, in_features] ~ U(-1/sqrt(in), 1/sqrt(in)) (torch's kaiming_uniform_ with
/// a = sqrt(5)), bias [out_features] likewise.
template <class T = float, class D = CPU>
class Linear : public UnaryModule<T, D> {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true)
      : Linear("Linear", in_features, out_features, bias) {}

 protected:
  /// For subclasses that only rename it (repr prints `type_name`).
  Linear(std::string type_name, int64_t in_features, int64_t out_features, bool bias)
      : UnaryModule<T, D>(std::move(type_name)),
        in_features(in_features),
        out_features(out_features) {
    KILN_CHECK(in_features >= 0 && out_features >= 0, ValueError,
               "[nn::Linear] feature counts must be non-negative, got in_features=", in_features,
               ", out_features=", out_features);
    weight = this->register_parameter("weight", Tensor<T, D>({out_features, in_features}));
    if (bias) this->bias = this->register_parameter("bias", Tensor<T, D>({out_features}));
    reset_parameters();
  }

 public:
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

/// A Linear that prints as torch's MultiheadAttention.out_proj does (the name keeps torch's
/// quantization tooling off that layer; here it only makes repr match).
template <class T = float, class D = CPU>
class NonDynamicallyQuantizableLinear : public Linear<T, D> {
 public:
  NonDynamicallyQuantizableLinear(int64_t in_features, int64_t out_features, bool bias = true)
      : Linear<T, D>("NonDynamicallyQuantizableLinear", in_features, out_features, bias) {}
};

namespace functional {
/// torch.nn.functional.bilinear: y[..., o] = Σ_ij x1[..., i] · weight[o, i, j] · x2[..., j]
/// + bias[o]. x1 [..., in1] and x2 [..., in2] share their leading dims; weight [out, in1,
/// in2]. One GEMM contracts x1 with the weight; the second contraction is a fused
/// multiply-and-sum, so no [..., out, in1, in2] product is formed.
template <class T>
Tensor<T, CPU> bilinear(const Tensor<T, CPU>& x1, const Tensor<T, CPU>& x2,
                        const Tensor<T, CPU>& weight, const Tensor<T, CPU>& bias = {}) {
  KILN_CHECK(weight.dim() == 3, ShapeError, "[bilinear] weight must be [out, in1, in2], got ",
             weight.shape());
  const int64_t O = weight.shape()[0], I1 = weight.shape()[1], I2 = weight.shape()[2];
  bool ok = x1.dim() >= 1 && x2.dim() == x1.dim() && x1.shape()[x1.dim() - 1] == I1 &&
            x2.shape()[x2.dim() - 1] == I2;
  for (int i = 0; ok && i + 1 < x1.dim(); ++i) ok = x1.shape()[i] == x2.shape()[i];
  KILN_CHECK(ok, ShapeError, "[bilinear] expected inputs [..., ", I1, "] and [..., ", I2,
             "] with equal leading dims for weight ", weight.shape(), ", got ", x1.shape(), " and ",
             x2.shape());
  KILN_CHECK(!bias.defined() || bias.shape() == Shape{O}, ShapeError, "[bilinear] bias must be [",
             O, "], got ", bias.shape());
  Shape out_shape = x1.shape();
  out_shape[out_shape.size() - 1] = O;
  int64_t M = 1;
  for (int i = 0; i + 1 < x1.dim(); ++i) M *= x1.shape()[i];
  // [M, in1] @ [in1, out * in2] → [M, out, in2], then contracted with x2 over in2.
  const Tensor<T, CPU> xw =
      kiln::matmul(x1.reshape({M, I1}), weight.permute({1, 0, 2}).reshape({I1, O * I2}))
          .reshape({M, O, I2});
  Tensor<T, CPU> y = kiln::sum(xw * x2.reshape({M, 1, I2}), {2});
  if (bias.defined()) y = Tensor<T, CPU>(y + bias);
  return y.reshape(out_shape);
}
}  // namespace functional

/// y = x1ᵀ · weight · x2 + bias per output feature (torch.nn.Bilinear). weight [out, in1,
/// in2] and bias [out] ~ U(-1/sqrt(in1), 1/sqrt(in1)).
template <class T = float, class D = CPU>
class Bilinear : public Module<T, D> {
 public:
  Bilinear(int64_t in1_features, int64_t in2_features, int64_t out_features, bool bias = true)
      : Module<T, D>("Bilinear"),
        in1_features(in1_features),
        in2_features(in2_features),
        out_features(out_features) {
    KILN_CHECK(in1_features > 0 && in2_features > 0 && out_features >= 0, ValueError,
               "[nn::Bilinear] feature counts must be positive, got in1_features=", in1_features,
               ", in2_features=", in2_features, ", out_features=", out_features);
    weight = this->register_parameter("weight",
                                      Tensor<T, D>({out_features, in1_features, in2_features}));
    if (bias) this->bias = this->register_parameter("bias", Tensor<T, D>({out_features}));
    reset_parameters();
  }

  void reset_parameters() {
    const double bound = 1.0 / std::sqrt(double(in1_features));
    init::uniform_(weight, -bound, bound);
    if (bias.defined()) init::uniform_(bias, -bound, bound);
  }

  Tensor<T, D> forward(const Tensor<T, D>& x1, const Tensor<T, D>& x2) {
    return functional::bilinear(x1, x2, weight, bias);
  }
  Tensor<T, D> operator()(const Tensor<T, D>& x1, const Tensor<T, D>& x2) {
    return forward(x1, x2);
  }

  std::string extra_repr() const override {
    return "in1_features=" + std::to_string(in1_features) +
           ", in2_features=" + std::to_string(in2_features) +
           ", out_features=" + std::to_string(out_features) +
           ", bias=" + detail::py_bool(bias.defined());
  }

  int64_t in1_features, in2_features, out_features;
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
