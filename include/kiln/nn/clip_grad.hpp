// SPDX-License-Identifier: BSD-3-Clause
// Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).
#pragma once

#include <cmath>
#include <limits>
#include <vector>

#include "kiln/autograd/grad_mode.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/tensor.hpp"

namespace kiln::nn::utils {

/// Scales the gradients of `parameters` in place so that their total norm (the norm of
/// all gradients concatenated, `norm_type` = 2 by default, or infinity) is at most
/// max_norm, as torch does: every gradient is multiplied by min(1, max_norm / (total +
/// 1e-6)). Returns the total norm before clipping. Parameters without a gradient are
/// skipped. With error_if_nonfinite, a NaN or infinite total norm throws ValueError.
template <class T>
double clip_grad_norm_(const std::vector<Tensor<T, CPU>>& parameters, double max_norm,
                       double norm_type = 2.0, bool error_if_nonfinite = false) {
  KILN_CHECK(norm_type > 0, ValueError, "[clip_grad_norm_] norm_type must be positive, got ",
             norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor<T, CPU>> grads;
  for (const Tensor<T, CPU>& p : parameters)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  double total = 0;
  const bool inf = std::isinf(norm_type);
  for (const Tensor<T, CPU>& g : grads) {
    const double n = static_cast<double>(kiln::norm(g, norm_type).item());
    total = inf ? std::max(total, n) : total + std::pow(n, norm_type);
  }
  if (!inf) total = std::pow(total, 1.0 / norm_type);
  KILN_CHECK(!error_if_nonfinite || std::isfinite(total), ValueError,
             "[clip_grad_norm_] the total norm of order ", norm_type, " of the gradients is ",
             total, "; pass error_if_nonfinite=false to clip anyway");
  const double coef = std::min(1.0, max_norm / (total + 1e-6));
  if (coef < 1.0)
    for (const Tensor<T, CPU>& g : grads) g.copy_(g * static_cast<T>(coef));
  return total;
}

/// Clamps every gradient of `parameters` to [-clip_value, clip_value] in place.
template <class T>
void clip_grad_value_(const std::vector<Tensor<T, CPU>>& parameters, double clip_value) {
  KILN_CHECK(clip_value >= 0, ValueError,
             "[clip_grad_value_] clip_value must be non-negative, got ", clip_value);
  NoGradGuard no_grad;
  for (const Tensor<T, CPU>& p : parameters)
    if (const Tensor<T, CPU> g = p.grad(); g.defined())
      g.copy_(kiln::clamp(g, -clip_value, clip_value));
}

}  // namespace kiln::nn::utils
