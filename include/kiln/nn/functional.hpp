// SPDX-License-Identifier: BSD-3-Clause
// kiln::nn::functional: torch.nn.functional's losses (and the layers' functional forms,
// which are kiln's ops: kiln::linear, kiln::conv2d, kiln::max_pool2d, kiln::relu...).
// Elementwise losses are one fused expression and a fused reduction; cross_entropy with
// class indices is one fused kernel forward and backward (src/nn_cross_entropy.cpp).
#pragma once

#include <cmath>

#include "kiln/expr/ops.hpp"
#include "kiln/nn/loss_reduction.hpp"
#include "kiln/ops/conv.hpp"
#include "kiln/ops/dropout.hpp"
#include "kiln/ops/index.hpp"
#include "kiln/ops/matmul.hpp"
#include "kiln/ops/pad.hpp"
#include "kiln/ops/pool.hpp"
#include "kiln/ops/softmax.hpp"

namespace kiln::nn::functional {

using kiln::nn::Reduction;

// torch.nn.functional's layer functions are kiln's ops; naming them here too lets code
// read as torch's does (F::conv2d, F::relu, F::dropout). The normalisations, bilinear,
// batch_norm and attention are defined beside their modules.
using kiln::adaptive_avg_pool2d;
using kiln::avg_pool2d;
using kiln::conv1d;
using kiln::conv2d;
using kiln::conv_transpose2d;
using kiln::dropout;
using kiln::elu;
using kiln::embedding;
using kiln::gelu;
using kiln::leaky_relu;
using kiln::linear;
using kiln::log_softmax;
using kiln::max_pool2d;
using kiln::one_hot;
using kiln::pad;
using kiln::relu;
using kiln::sigmoid;
using kiln::silu;
using kiln::softmax;
using kiln::softplus;
using kiln::tanh;

/// mean((input - target)²) (or sum / none).
template <class T>
Tensor<T, CPU> mse_loss(const Tensor<T, CPU>& input, const Tensor<T, CPU>& target,
                        Reduction reduction = Reduction::mean) {
  nn::detail::check_same_shape(input, target, "mse_loss");
  return nn::detail::reduce_loss(kiln::square(input - target), reduction);
}

/// mean(|input - target|).
template <class T>
Tensor<T, CPU> l1_loss(const Tensor<T, CPU>& input, const Tensor<T, CPU>& target,
                       Reduction reduction = Reduction::mean) {
  nn::detail::check_same_shape(input, target, "l1_loss");
  return nn::detail::reduce_loss(kiln::abs(input - target), reduction);
}

/// 0.5 d² / beta where |d| < beta, else |d| - 0.5 beta (d = input - target).
template <class T>
Tensor<T, CPU> smooth_l1_loss(const Tensor<T, CPU>& input, const Tensor<T, CPU>& target,
                              Reduction reduction = Reduction::mean, double beta = 1.0) {
  nn::detail::check_same_shape(input, target, "smooth_l1_loss");
  KILN_CHECK(beta >= 0, ValueError, "[smooth_l1_loss] beta must be non-negative, got ", beta);
  if (beta == 0) return l1_loss(input, target, reduction);
  const T b = static_cast<T>(beta);
  const auto d = kiln::abs(input - target);
  return nn::detail::reduce_loss(
      kiln::where(d < b, d * d * static_cast<T>(0.5 / beta), d - static_cast<T>(0.5) * b),
      reduction);
}

/// 0.5 d² where |d| < delta, else delta (|d| - 0.5 delta).
template <class T>
Tensor<T, CPU> huber_loss(const Tensor<T, CPU>& input, const Tensor<T, CPU>& target,
                          Reduction reduction = Reduction::mean, double delta = 1.0) {
  nn::detail::check_same_shape(input, target, "huber_loss");
  KILN_CHECK(delta > 0, ValueError, "[huber_loss] delta must be positive, got ", delta);
  const T dl = static_cast<T>(delta);
  const auto d = kiln::abs(input - target);
  return nn::detail::reduce_loss(
      kiln::where(d < dl, d * d * static_cast<T>(0.5), dl * (d - static_cast<T>(0.5) * dl)),
      reduction);
}

/// -w (t log(x) + (1 - t) log(1 - x)) for probabilities x, with each log clamped at -100
/// as torch does (so x = 0 or 1 gives a finite loss). weight broadcasts to input.
template <class T>
Tensor<T, CPU> binary_cross_entropy(const Tensor<T, CPU>& input, const Tensor<T, CPU>& target,
                                    const Tensor<T, CPU>& weight = {},
                                    Reduction reduction = Reduction::mean) {
  nn::detail::check_same_shape(input, target, "binary_cross_entropy");
  const auto lo = static_cast<T>(-100);
  const auto per = -(target * kiln::maximum(kiln::log(input), lo) +
                     (static_cast<T>(1) - target) * kiln::maximum(kiln::log1p(-input), lo));
  if (weight.defined()) return nn::detail::reduce_loss(per * weight, reduction);
  return nn::detail::reduce_loss(per, reduction);
}

/// binary_cross_entropy(sigmoid(x), t) computed stably from logits:
/// (1 - t) x + (1 + (pos_weight - 1) t) (log1p(exp(-|x|)) + max(-x, 0)).
template <class T>
Tensor<T, CPU> binary_cross_entropy_with_logits(const Tensor<T, CPU>& input,
                                                const Tensor<T, CPU>& target,
                                                const Tensor<T, CPU>& weight = {},
                                                Reduction reduction = Reduction::mean,
                                                const Tensor<T, CPU>& pos_weight = {}) {
  nn::detail::check_same_shape(input, target, "binary_cross_entropy_with_logits");
  const auto one = static_cast<T>(1);
  const auto soft = kiln::log1p(kiln::exp(-kiln::abs(input))) + kiln::relu(-input);
  Tensor<T, CPU> per;
  if (pos_weight.defined())
    per = (one - target) * input + (one + (pos_weight - one) * target) * soft;
  else
    per = (one - target) * input + soft;
  if (weight.defined()) return nn::detail::reduce_loss(per * weight, reduction);
  return nn::detail::reduce_loss(per, reduction);
}

/// torch.nn.functional.nll_loss / cross_entropy options.
template <class T>
struct ClassLossOptions {
  Tensor<T, CPU> weight = {};   ///< per-class weight [C], or undefined
  int64_t ignore_index = -100;  ///< targets equal to this contribute nothing
  Reduction reduction = Reduction::mean;
  double label_smoothing = 0.0;  ///< cross_entropy only: in [0, 1]
};

namespace detail {
template <class T>
constexpr void require_float_or_double() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "kiln::nn::functional: cross_entropy / nll_loss with class indices take float or "
                "double inputs; cast half or bfloat16 logits with .to<float>()");
}
/// The fused cross-entropy with class indices (src/nn_cross_entropy.cpp): logits
/// [N, C], target [N]. Recorded for autograd; the reduction is applied inside.
template <class T>
Tensor<T, CPU> cross_entropy_rows(const Tensor<T, CPU>& logits, const Tensor<int64_t, CPU>& target,
                                  const ClassLossOptions<T>& options, bool log_probs_input,
                                  const char* op);
}  // namespace detail

/// Cross entropy between logits [N, C] (or [C], or [N, C, d1, ...]) and class indices
/// [N] (or [], or [N, d1, ...]): -w[t] log_softmax(x)[t], with label smoothing mixing in
/// the uniform distribution, targets equal to ignore_index skipped, and mean reduction
/// dividing by the summed weight of the counted targets (torch's definition). One fused
/// pass over the logits forward and one backward: log_softmax is never materialised.
template <class T>
Tensor<T, CPU> cross_entropy(const Tensor<T, CPU>& input, const Tensor<int64_t, CPU>& target,
                             const ClassLossOptions<T>& options = {}) {
  detail::require_float_or_double<T>();
  return detail::cross_entropy_rows(input, target, options, /*log_probs_input=*/false,
                                    "cross_entropy");
}

/// Cross entropy with class probabilities as the target (same shape as input):
/// -sum_c w_c p_c log_softmax(x)_c per sample, label smoothing applied to p; mean
/// reduction divides by the number of samples.
template <class T>
Tensor<T, CPU> cross_entropy(const Tensor<T, CPU>& input, const Tensor<T, CPU>& target,
                             const ClassLossOptions<T>& options = {}) {
  KILN_CHECK(input.shape() == target.shape(), ShapeError,
             "[cross_entropy] probability targets must have the input's shape, got input ",
             input.shape(), " and target ", target.shape());
  KILN_CHECK(input.dim() >= 1, ShapeError, "[cross_entropy] input must have a class dim, got ",
             input.shape());
  const double eps = options.label_smoothing;
  KILN_CHECK(eps >= 0 && eps <= 1, ValueError,
             "[cross_entropy] label_smoothing must be in [0, 1], got ", eps);
  const int cdim = input.dim() == 1 ? 0 : 1;
  const int64_t C = input.shape()[cdim];
  const Tensor<T, CPU> logp = kiln::log_softmax(input, cdim);
  Tensor<T, CPU> p = eps > 0 ? Tensor<T, CPU>(target * static_cast<T>(1 - eps) +
                                              static_cast<T>(eps / static_cast<double>(C)))
                             : target;
  Tensor<T, CPU> per_class = logp * p;
  if (options.weight.defined()) {
    KILN_CHECK(options.weight.shape() == Shape{C}, ShapeError,
               "[cross_entropy] weight must be [C] = [", C, "], got ", options.weight.shape());
    Shape ws;
    for (int d = 0; d < input.dim(); ++d) ws.push_back(d == cdim ? C : 1);
    per_class = per_class * options.weight.reshape(ws);
  }
  const Tensor<T, CPU> per_sample = -kiln::sum(per_class, cdim);
  return nn::detail::reduce_loss(per_sample, options.reduction);
}

/// Negative log likelihood of log-probabilities [N, C] (or [C], [N, C, d1, ...]) at
/// class indices: -w[t] input[t], ignore_index skipped, mean divided by the summed weight.
template <class T>
Tensor<T, CPU> nll_loss(const Tensor<T, CPU>& input, const Tensor<int64_t, CPU>& target,
                        const ClassLossOptions<T>& options = {}) {
  detail::require_float_or_double<T>();
  KILN_CHECK(options.label_smoothing == 0, ValueError,
             "[nll_loss] label_smoothing is a cross_entropy option");
  return detail::cross_entropy_rows(input, target, options, /*log_probs_input=*/true, "nll_loss");
}

/// Kullback-Leibler divergence with `input` as log-probabilities: target (log target -
/// input) (0 where target is 0), or exp(t) (t - input) with log_target. `batchmean`
/// divides the sum by the batch size (torch's recommended reduction).
template <class T>
Tensor<T, CPU> kl_div(const Tensor<T, CPU>& input, const Tensor<T, CPU>& target,
                      Reduction reduction = Reduction::mean, bool log_target = false,
                      bool batchmean = false) {
  nn::detail::check_same_shape(input, target, "kl_div");
  Tensor<T, CPU> per;
  if (log_target)
    per = kiln::exp(target) * (target - input);
  else
    per = kiln::where(target > static_cast<T>(0), target * (kiln::log(target) - input),
                      static_cast<T>(0) * input);
  if (batchmean) {
    const double n = input.dim() == 0 ? 1.0 : static_cast<double>(input.shape()[0]);
    return Tensor<T, CPU>(kiln::sum(per) * static_cast<T>(1.0 / n));
  }
  return nn::detail::reduce_loss(per, reduction);
}

/// x1 · x2 / (max(‖x1‖, eps) max(‖x2‖, eps)) along `dim` (inputs broadcast): each norm
/// clamped on its own, as torch has since 1.12. A zero vector gives 0 and no NaN gradient
/// (norm's subgradient at 0 is 0).
template <class T>
Tensor<T, CPU> cosine_similarity(const Tensor<T, CPU>& x1, const Tensor<T, CPU>& x2,
                                 int64_t dim = 1, double eps = 1e-8) {
  const Tensor<T, CPU> dot = kiln::sum(x1 * x2, dim);
  const Tensor<T, CPU> n1 = kiln::norm(x1, 2.0, {dim}), n2 = kiln::norm(x2, 2.0, {dim});
  const T e = static_cast<T>(eps);
  return Tensor<T, CPU>(dot / (kiln::maximum(n1, e) * kiln::maximum(n2, e)));
}

/// ‖x1 - x2 + eps‖_p along the last dim (torch.nn.functional.pairwise_distance).
template <class T>
Tensor<T, CPU> pairwise_distance(const Tensor<T, CPU>& x1, const Tensor<T, CPU>& x2, double p = 2.0,
                                 double eps = 1e-6) {
  return kiln::norm(x1 - x2 + static_cast<T>(eps), p, {-1});
}

/// max(d(a, p) - d(a, n) + margin, 0) with d the p-norm distance; with swap, d(a, n) is
/// replaced by min(d(a, n), d(p, n)).
template <class T>
Tensor<T, CPU> triplet_margin_loss(const Tensor<T, CPU>& anchor, const Tensor<T, CPU>& positive,
                                   const Tensor<T, CPU>& negative, double margin = 1.0,
                                   double p = 2.0, double eps = 1e-6, bool swap = false,
                                   Reduction reduction = Reduction::mean) {
  const Tensor<T, CPU> d_ap = pairwise_distance(anchor, positive, p, eps);
  Tensor<T, CPU> d_an = pairwise_distance(anchor, negative, p, eps);
  if (swap) d_an = kiln::minimum(d_an, pairwise_distance(positive, negative, p, eps));
  return nn::detail::reduce_loss(kiln::relu(d_ap - d_an + static_cast<T>(margin)), reduction);
}

}  // namespace kiln::nn::functional
