// SPDX-License-Identifier: BSD-3-Clause
// kiln::nn::init: in-place initialisers with torch.nn.init's names, formulas and defaults.
// Each writes under NoGrad (a parameter is a leaf that requires grad) and draws from
// kiln's default generator, so kiln::manual_seed makes models reproducible.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "kiln/autograd/grad_mode.hpp"
#include "kiln/linalg.hpp"
#include "kiln/ops/triangle.hpp"
#include "kiln/tensor.hpp"
#include "kiln/tensor/sampling.hpp"

namespace kiln::nn::init {

/// fan_in and fan_out of a weight as torch computes them: [out, in, *kernel] gives
/// fan_in = in * prod(kernel), fan_out = out * prod(kernel). Needs at least 2 dims.
struct Fans {
  int64_t in, out;
};
inline Fans calculate_fan_in_and_fan_out(const Shape& s) {
  KILN_CHECK(s.size() >= 2, ValueError,
             "[nn::init] fan in and fan out need a tensor with at least 2 dims, got shape ", s);
  int64_t field = 1;
  for (int d = 2; d < s.size(); ++d) field *= s[d];
  return {s[1] * field, s[0] * field};
}

/// torch.nn.init.calculate_gain for "linear", "conv*", "sigmoid", "tanh", "relu",
/// "leaky_relu" (param: negative slope, default 0.01), "selu".
inline double calculate_gain(const std::string& nonlinearity, double param = 0.01) {
  if (nonlinearity == "linear" || nonlinearity.rfind("conv", 0) == 0 || nonlinearity == "sigmoid")
    return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4.0;
  KILN_CHECK(false, ValueError, "[nn::init::calculate_gain] unsupported nonlinearity '",
             nonlinearity, "'");
  return 0;
}

enum class FanMode { fan_in, fan_out };

template <class T>
const Tensor<T, CPU>& uniform_(const Tensor<T, CPU>& t, double a = 0.0, double b = 1.0) {
  NoGradGuard g;
  return kiln::uniform_(t, a, b);
}
template <class T>
const Tensor<T, CPU>& normal_(const Tensor<T, CPU>& t, double mean = 0.0, double std = 1.0) {
  NoGradGuard g;
  return kiln::normal_(t, mean, std);
}
template <class T>
const Tensor<T, CPU>& constant_(const Tensor<T, CPU>& t, double v) {
  NoGradGuard g;
  t.fill_(static_cast<T>(v));
  return t;
}
template <class T>
const Tensor<T, CPU>& zeros_(const Tensor<T, CPU>& t) {
  return init::constant_(t, 0.0);
}
template <class T>
const Tensor<T, CPU>& ones_(const Tensor<T, CPU>& t) {
  return init::constant_(t, 1.0);
}

/// U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio).
template <class T>
const Tensor<T, CPU>& xavier_uniform_(const Tensor<T, CPU>& t, double gain = 1.0) {
  const Fans f = calculate_fan_in_and_fan_out(t.shape());
  const double a = gain * std::sqrt(6.0 / static_cast<double>(f.in + f.out));
  return init::uniform_(t, -a, a);
}
/// N(0, std²) with std = gain * sqrt(2 / (fan_in + fan_out)).
template <class T>
const Tensor<T, CPU>& xavier_normal_(const Tensor<T, CPU>& t, double gain = 1.0) {
  const Fans f = calculate_fan_in_and_fan_out(t.shape());
  return init::normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(f.in + f.out)));
}

/// U(-bound, bound) with bound = gain * sqrt(3 / fan), gain from `nonlinearity` and `a`
/// (He et al.). Linear and Conv use a = sqrt(5), which gives bound = 1 / sqrt(fan_in).
template <class T>
const Tensor<T, CPU>& kaiming_uniform_(const Tensor<T, CPU>& t, double a = 0.0,
                                       FanMode mode = FanMode::fan_in,
                                       const std::string& nonlinearity = "leaky_relu") {
  const Fans f = calculate_fan_in_and_fan_out(t.shape());
  const double fan = static_cast<double>(mode == FanMode::fan_in ? f.in : f.out);
  if (fan == 0) return t;  // torch warns and leaves a zero-element tensor alone
  const double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / fan);
  return init::uniform_(t, -bound, bound);
}
/// N(0, std²) with std = gain / sqrt(fan).
template <class T>
const Tensor<T, CPU>& kaiming_normal_(const Tensor<T, CPU>& t, double a = 0.0,
                                      FanMode mode = FanMode::fan_in,
                                      const std::string& nonlinearity = "leaky_relu") {
  const Fans f = calculate_fan_in_and_fan_out(t.shape());
  const double fan = static_cast<double>(mode == FanMode::fan_in ? f.in : f.out);
  if (fan == 0) return t;
  return init::normal_(t, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(fan));
}

/// A (semi-)orthogonal matrix from the QR of a normal sample, signs fixed by R's diagonal
/// (Saxe et al., torch.nn.init.orthogonal_), times gain. Dims after the first are
/// flattened.
template <class T>
const Tensor<T, CPU>& orthogonal_(const Tensor<T, CPU>& t, double gain = 1.0) {
  KILN_CHECK(t.dim() >= 2, ValueError,
             "[nn::init::orthogonal_] needs a tensor with at least 2 dims, got shape ", t.shape());
  if (t.numel() == 0) return t;
  const int64_t rows = t.shape()[0], cols = t.numel() / rows;
  NoGradGuard g;
  Tensor<double, CPU> flat = kiln::randn<double>({rows, cols});
  if (rows < cols) flat = flat.t().contiguous();
  const auto qr = linalg::qr(flat);
  const Tensor<double, CPU> d = kiln::sign(kiln::diagonal(qr.R));
  Tensor<double, CPU> m = qr.Q * d.unsqueeze(0);
  if (rows < cols) m = m.t().contiguous();
  t.copy_(kiln::cast<T>(m.reshape(t.shape()) * gain));
  return t;
}

}  // namespace kiln::nn::init
