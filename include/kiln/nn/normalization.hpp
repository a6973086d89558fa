// SPDX-License-Identifier: BSD-3-Clause
// LayerNorm, GroupNorm and RMSNorm, and their functional forms (torch.nn's names,
// defaults and formulas). Written with kiln's fused reductions and expressions, so
// autograd differentiates them (twice, too) through those ops.
#pragma once

#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "kiln/expr/ops.hpp"
#include "kiln/nn/init.hpp"
#include "kiln/nn/module.hpp"
#include "kiln/nn/repr_util.hpp"
#include "kiln/ops/reduce.hpp"

namespace kiln::nn {

namespace functional {

namespace detail {
// The last `k` dims of a rank-n tensor, as reduction dims.
inline Dims last_dims(int n, int k) {
  Dims d;
  for (int i = n - k; i < n; ++i) d.push_back(i);
  return d;
}
// The trailing dims of x must equal `normalized_shape`.
template <class T>
void check_trailing(const Tensor<T, CPU>& x, const Shape& normalized_shape, const char* op) {
  const int k = normalized_shape.size();
  bool ok = k >= 1 && x.dim() >= k;
  for (int i = 0; ok && i < k; ++i) ok = x.shape()[x.dim() - k + i] == normalized_shape[i];
  KILN_CHECK(ok, ShapeError, "[", op, "] the input's trailing dims must be normalized_shape ",
             normalized_shape, ", got input ", x.shape());
}
}  // namespace detail

/// (x - mean) / sqrt(var + eps) over the trailing `normalized_shape` dims (biased
/// variance, as torch), then * weight + bias when given (both of normalized_shape).
template <class T>
Tensor<T, CPU> layer_norm(const Tensor<T, CPU>& x, const Shape& normalized_shape,
                          const Tensor<T, CPU>& weight = {}, const Tensor<T, CPU>& bias = {},
                          double eps = 1e-5) {
  detail::check_trailing(x, normalized_shape, "layer_norm");
  const Dims dims = detail::last_dims(x.dim(), normalized_shape.size());
  const Tensor<T, CPU> m = kiln::mean(x, dims, true);
  const Tensor<T, CPU> r = kiln::rsqrt(kiln::var(x, dims, 0, true) + static_cast<T>(eps));
  if (weight.defined() && bias.defined()) return Tensor<T, CPU>((x - m) * r * weight + bias);
  if (weight.defined()) return Tensor<T, CPU>((x - m) * r * weight);
  if (bias.defined()) return Tensor<T, CPU>((x - m) * r + bias);
  return Tensor<T, CPU>((x - m) * r);
}

/// x / sqrt(mean(x²) + eps) over the trailing dims, * weight when given. eps defaults to
/// the dtype's machine epsilon, as torch's.
template <class T>
Tensor<T, CPU> rms_norm(const Tensor<T, CPU>& x, const Shape& normalized_shape,
                        const Tensor<T, CPU>& weight = {}, std::optional<double> eps = {}) {
  detail::check_trailing(x, normalized_shape, "rms_norm");
  const double e = eps ? *eps : double(std::numeric_limits<T>::epsilon());
  const Dims dims = detail::last_dims(x.dim(), normalized_shape.size());
  const Tensor<T, CPU> r = kiln::rsqrt(kiln::mean(kiln::square(x), dims, true) + static_cast<T>(e));
  if (weight.defined()) return Tensor<T, CPU>(x * r * weight);
  return Tensor<T, CPU>(x * r);
}

/// Normalises x [N, C, *] over each of num_groups groups of C / num_groups channels (and
/// all positions), then * weight[C] + bias[C] per channel when given.
template <class T>
Tensor<T, CPU> group_norm(const Tensor<T, CPU>& x, int64_t num_groups,
                          const Tensor<T, CPU>& weight = {}, const Tensor<T, CPU>& bias = {},
                          double eps = 1e-5) {
  KILN_CHECK(x.dim() >= 2 && num_groups > 0 && x.shape()[1] % num_groups == 0, ShapeError,
             "[group_norm] the input must be [N, C, *] with C divisible by num_groups (",
             num_groups, "), got ", x.shape());
  const int64_t n = x.shape()[0], c = x.shape()[1];
  int64_t group_size = c / num_groups;  // spelled out: -1 is ambiguous for an empty batch
  for (int d = 2; d < x.dim(); ++d) group_size *= x.shape()[d];
  const Tensor<T, CPU> g = x.reshape({n, num_groups, group_size});
  const Tensor<T, CPU> m = kiln::mean(g, {2}, true);
  const Tensor<T, CPU> r = kiln::rsqrt(kiln::var(g, {2}, 0, true) + static_cast<T>(eps));
  Tensor<T, CPU> y = Tensor<T, CPU>((g - m) * r).reshape(x.shape());
  Shape per_channel{1, c};
  for (int d = 2; d < x.dim(); ++d) per_channel.push_back(1);
  if (weight.defined()) y = y * weight.reshape(per_channel);
  if (bias.defined()) y = y + bias.reshape(per_channel);
  return y;
}

}  // namespace functional

/// torch.nn.LayerNorm: weight ones and bias zeros of normalized_shape when
/// elementwise_affine (with bias unless bias = false).
template <class T = float, class D = CPU>
class LayerNorm : public UnaryModule<T, D> {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     bool bias = true)
      : UnaryModule<T, D>("LayerNorm"),
        normalized_shape(normalized_shape),
        eps(eps),
        elementwise_affine(elementwise_affine) {
    if (elementwise_affine) {
      weight = this->register_parameter("weight", kiln::ones<T>(normalized_shape));
      if (bias) this->bias = this->register_parameter("bias", kiln::zeros<T>(normalized_shape));
    }
  }
  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    return functional::layer_norm(x, normalized_shape, weight, bias, eps);
  }
  std::string extra_repr() const override {
    return detail::py_tuple(normalized_shape) + ", eps=" + detail::py_float(eps) +
           ", elementwise_affine=" + detail::py_bool(elementwise_affine);
  }
  Shape normalized_shape;
  double eps;
  bool elementwise_affine;
  Tensor<T, D> weight, bias;
};

/// torch.nn.RMSNorm (eps defaults to the dtype's machine epsilon).
template <class T = float, class D = CPU>
class RMSNorm : public UnaryModule<T, D> {
 public:
  explicit RMSNorm(Shape normalized_shape, std::optional<double> eps = {},
                   bool elementwise_affine = true)
      : UnaryModule<T, D>("RMSNorm"), normalized_shape(normalized_shape), eps(eps) {
    if (elementwise_affine)
      weight = this->register_parameter("weight", kiln::ones<T>(normalized_shape));
  }
  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    return functional::rms_norm(x, normalized_shape, weight, eps);
  }
  std::string extra_repr() const override {
    return detail::py_tuple(normalized_shape) +
           ", eps=" + (eps ? detail::py_float(*eps) : std::string("None")) +
           ", elementwise_affine=" + detail::py_bool(weight.defined());
  }
  Shape normalized_shape;
  std::optional<double> eps;
  Tensor<T, D> weight;
};

/// torch.nn.GroupNorm: weight ones and bias zeros of num_channels when affine.
template <class T = float, class D = CPU>
class GroupNorm : public UnaryModule<T, D> {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true)
      : UnaryModule<T, D>("GroupNorm"),
        num_groups(num_groups),
        num_channels(num_channels),
        eps(eps),
        affine(affine) {
    KILN_CHECK(num_groups > 0 && num_channels % num_groups == 0, ValueError,
               "[nn::GroupNorm] num_channels (", num_channels,
               ") must be divisible by num_groups (", num_groups, ")");
    if (affine) {
      weight = this->register_parameter("weight", kiln::ones<T>({num_channels}));
      bias = this->register_parameter("bias", kiln::zeros<T>({num_channels}));
    }
  }
  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    KILN_CHECK(x.dim() >= 2 && x.shape()[1] == num_channels, ShapeError,
               "[nn::GroupNorm] expected ", num_channels, " channels in dim 1, got input ",
               x.shape());
    return functional::group_norm(x, num_groups, weight, bias, eps);
  }
  std::string extra_repr() const override {
    return std::to_string(num_groups) + ", " + std::to_string(num_channels) +
           ", eps=" + detail::py_float(eps) + ", affine=" + detail::py_bool(affine);
  }
  int64_t num_groups, num_channels;
  double eps;
  bool affine;
  Tensor<T, D> weight, bias;
};

}  // namespace kiln::nn
