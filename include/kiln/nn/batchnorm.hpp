// SPDX-License-Identifier: BSD-3-Clause
// BatchNorm1d and BatchNorm2d and functional::batch_norm (torch.nn's names, defaults,
// running statistics and formulas), written with kiln's reductions and expressions so
// autograd differentiates them.
#pragma once

#include <cmath>
#include <optional>
#include <string>

#include "kiln/expr/ops.hpp"
#include "kiln/nn/init.hpp"
#include "kiln/nn/module.hpp"
#include "kiln/nn/repr_util.hpp"
#include "kiln/ops/reduce.hpp"

namespace kiln::nn {

namespace functional {

/// torch.nn.functional.batch_norm over [N, C, ...]: each channel normalised by the batch's
/// statistics (training) or by running_mean / running_var (evaluation), then scaled by
/// weight and shifted by bias ([C] each, optional). In training the running statistics,
/// when given, move towards the batch's: r = (1 - momentum) * r + momentum * batch, with
/// the unbiased variance, as torch. They are updated in place and never recorded.
template <class T>
Tensor<T, CPU> batch_norm(const Tensor<T, CPU>& x, const Tensor<T, CPU>& running_mean,
                          const Tensor<T, CPU>& running_var, const Tensor<T, CPU>& weight = {},
                          const Tensor<T, CPU>& bias = {}, bool training = false,
                          double momentum = 0.1, double eps = 1e-5) {
  KILN_CHECK(x.dim() >= 2, ShapeError, "[batch_norm] expected input [N, C, ...], got ", x.shape());
  const int64_t C = x.shape()[1];
  for (const Tensor<T, CPU>* t : {&running_mean, &running_var, &weight, &bias})
    KILN_CHECK(!t->defined() || t->shape() == Shape{C}, ShapeError,
               "[batch_norm] weight, bias and running statistics must be [C] = [", C,
               "] for input ", x.shape(), ", got ", t->shape());
  KILN_CHECK(running_mean.defined() == running_var.defined(), ValueError,
             "[batch_norm] give both running_mean and running_var, or neither");
  Shape channel(x.dim(), 1);  // [1, C, 1, ...]: per-channel values broadcast over x
  channel[1] = C;
  Dims dims;
  for (int i = 0; i < x.dim(); ++i)
    if (i != 1) dims.push_back(i);

  Tensor<T, CPU> mean, inv_std;
  if (training) {
    const int64_t n = C > 0 ? x.numel() / C : 0;
    KILN_CHECK(n > 1, ValueError,
               "[batch_norm] expected more than 1 value per channel when training, got input ",
               x.shape());
    mean = kiln::mean(x, dims, true);
    const Tensor<T, CPU> var = kiln::var(x, dims, 0, true);
    inv_std = kiln::rsqrt(var + static_cast<T>(eps));
    if (running_mean.defined()) {
      NoGradGuard no_grad;
      const T m = static_cast<T>(momentum), keep = static_cast<T>(1 - momentum);
      const T unbias = static_cast<T>(momentum * double(n) / double(n - 1));
      running_mean.copy_(running_mean * keep + mean.detach().reshape({C}) * m);
      running_var.copy_(running_var * keep + var.detach().reshape({C}) * unbias);
    }
  } else {
    KILN_CHECK(running_mean.defined(), ValueError,
               "[batch_norm] evaluation mode needs running_mean and running_var");
    mean = running_mean.reshape(channel);
    inv_std = Tensor<T, CPU>(kiln::rsqrt(running_var.reshape(channel) + static_cast<T>(eps)));
  }
  const Tensor<T, CPU> w = weight.defined() ? weight.reshape(channel) : Tensor<T, CPU>();
  const Tensor<T, CPU> b = bias.defined() ? bias.reshape(channel) : Tensor<T, CPU>();
  if (w.defined() && b.defined()) return Tensor<T, CPU>((x - mean) * (inv_std * w) + b);
  if (w.defined()) return Tensor<T, CPU>((x - mean) * (inv_std * w));
  if (b.defined()) return Tensor<T, CPU>((x - mean) * inv_std + b);
  return Tensor<T, CPU>((x - mean) * inv_std);
}

}  // namespace functional

struct BatchNormOptions {
  double eps = 1e-5;
  /// The running statistics' update factor; std::nullopt averages all batches seen
  /// (torch's momentum=None, which counts them in num_batches_tracked).
  std::optional<double> momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
};

/// What BatchNorm1d and BatchNorm2d share (torch's _BatchNorm): weight (ones) and bias
/// (zeros) when affine; running_mean (zeros), running_var (ones) and the int64
/// num_batches_tracked when tracking running statistics.
template <class T = float, class D = CPU>
class BatchNorm : public UnaryModule<T, D> {
 public:
  BatchNorm(std::string type_name, int64_t num_features, BatchNormOptions options)
      : UnaryModule<T, D>(std::move(type_name)), num_features(num_features), options(options) {
    KILN_CHECK(num_features > 0, ValueError, "[nn::", this->type_name(),
               "] num_features must be positive, got ", num_features);
    if (options.affine) {
      weight = this->register_parameter("weight", Tensor<T, D>({num_features}));
      bias = this->register_parameter("bias", Tensor<T, D>({num_features}));
    }
    if (options.track_running_stats) {
      running_mean = this->register_buffer("running_mean", Tensor<T, D>({num_features}));
      running_var = this->register_buffer("running_var", Tensor<T, D>({num_features}));
      num_batches_tracked =
          this->register_buffer("num_batches_tracked", Tensor<int64_t, D>(Shape{}));
    }
    reset_parameters();
  }

  void reset_running_stats() {
    if (!options.track_running_stats) return;
    NoGradGuard no_grad;
    running_mean.zero_();
    running_var.fill_(T(1));
    num_batches_tracked.zero_();
  }
  void reset_parameters() {
    reset_running_stats();
    if (options.affine) {
      init::ones_(weight);
      init::zeros_(bias);
    }
  }

  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    check_input(x);
    double factor = options.momentum.value_or(0.0);
    if (this->is_training() && options.track_running_stats) {
      const int64_t seen = ++num_batches_tracked.data()[0];
      if (!options.momentum) factor = 1.0 / double(seen);
    }
    // Batch statistics in training, and in evaluation too when none are tracked.
    const bool use_batch = this->is_training() || !options.track_running_stats;
    return functional::batch_norm(x, running_mean, running_var, weight, bias, use_batch, factor,
                                  options.eps);
  }

  std::string extra_repr() const override {
    return std::to_string(num_features) + ", eps=" + detail::py_float(options.eps) +
           ", momentum=" + (options.momentum ? detail::py_float(*options.momentum) : "None") +
           ", affine=" + detail::py_bool(options.affine) +
           ", track_running_stats=" + detail::py_bool(options.track_running_stats);
  }

  int64_t num_features;
  BatchNormOptions options;
  Tensor<T, D> weight, bias, running_mean, running_var;
  Tensor<int64_t, D> num_batches_tracked;

 protected:
  virtual void check_input(const Tensor<T, D>& x) const = 0;
};

/// Batch normalisation over [N, C] or [N, C, L].
template <class T = float, class D = CPU>
class BatchNorm1d : public BatchNorm<T, D> {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {})
      : BatchNorm<T, D>("BatchNorm1d", num_features, options) {}

 protected:
  void check_input(const Tensor<T, D>& x) const override {
    KILN_CHECK((x.dim() == 2 || x.dim() == 3) && x.shape()[1] == this->num_features, ShapeError,
               "[nn::BatchNorm1d] expected input [N, ", this->num_features, "] or [N, ",
               this->num_features, ", L], got ", x.shape());
  }
};

/// Batch normalisation over [N, C, H, W].
template <class T = float, class D = CPU>
class BatchNorm2d : public BatchNorm<T, D> {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {})
      : BatchNorm<T, D>("BatchNorm2d", num_features, options) {}

 protected:
  void check_input(const Tensor<T, D>& x) const override {
    KILN_CHECK(x.dim() == 4 && x.shape()[1] == this->num_features, ShapeError,
               "[nn::BatchNorm2d] expected input [N, ", this->num_features, ", H, W], got ",
               x.shape());
  }
};

}  // namespace kiln::nn
