// SPDX-License-Identifier: BSD-3-Clause
// Conv1d, Conv2d, ConvTranspose2d and the 2-D pooling modules (torch.nn's names, defaults and
// initialisation).
#pragma once

#include <cmath>
#include <string>

#include "kiln/nn/init.hpp"
#include "kiln/nn/module.hpp"
#include "kiln/nn/repr_util.hpp"
#include "kiln/ops/conv.hpp"
#include "kiln/ops/pool.hpp"

namespace kiln::nn {

namespace detail {
// torch's _ConvNd.reset_parameters: weight by kaiming_uniform_(a = sqrt(5)), bias
// ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in read from the weight's shape.
template <class T>
void reset_conv(const Tensor<T, CPU>& weight, const Tensor<T, CPU>& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double fan_in = double(init::calculate_fan_in_and_fan_out(weight.shape()).in);
    init::uniform_(bias, -1.0 / std::sqrt(fan_in), 1.0 / std::sqrt(fan_in));
  }
}

// The channel counts every convolution module checks; `op` names the module.
inline void check_conv_channels(const char* op, int64_t in_channels, int64_t out_channels,
                                int64_t groups) {
  KILN_CHECK(in_channels > 0 && out_channels > 0 && groups > 0 && in_channels % groups == 0 &&
                 out_channels % groups == 0,
             ValueError, "[nn::", op, "] in_channels (", in_channels, ") and out_channels (",
             out_channels, ") must be positive multiples of groups (", groups, ")");
}
}  // namespace detail

struct Conv2dOptions {
  IntPair stride = 1;
  IntPair padding = 0;
  IntPair dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};

/// 2-D convolution over [N, C, H, W] (or [C, H, W]). weight [out, in / groups, kH, kW]
/// and bias [out] ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in / groups * kH * kW.
template <class T = float, class D = CPU>
class Conv2d : public UnaryModule<T, D> {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size, Conv2dOptions options = {})
      : UnaryModule<T, D>("Conv2d"),
        in_channels(in_channels),
        out_channels(out_channels),
        kernel_size(kernel_size),
        options(options) {
    detail::check_conv_channels("Conv2d", in_channels, out_channels, options.groups);
    KILN_CHECK(!kernel_size.empty() && kernel_size.h() > 0 && kernel_size.w() > 0, ValueError,
               "[nn::Conv2d] kernel_size must be positive, got ", kernel_size);
    weight =
        this->register_parameter("weight", Tensor<T, D>({out_channels, in_channels / options.groups,
                                                         kernel_size.h(), kernel_size.w()}));
    if (options.bias) bias = this->register_parameter("bias", Tensor<T, D>({out_channels}));
    reset_parameters();
  }

  void reset_parameters() { detail::reset_conv(weight, bias); }

  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    return kiln::conv2d(x, weight, bias, options.stride, options.padding, options.dilation,
                        options.groups);
  }

  std::string extra_repr() const override {
    std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                    ", kernel_size=" + detail::py_pair(kernel_size) +
                    ", stride=" + detail::py_pair(options.stride);
    if (options.padding.h() != 0 || options.padding.w() != 0)
      s += ", padding=" + detail::py_pair(options.padding);
    if (options.dilation.h() != 1 || options.dilation.w() != 1)
      s += ", dilation=" + detail::py_pair(options.dilation);
    if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
    if (!bias.defined()) s += ", bias=False";
    return s;
  }

  int64_t in_channels, out_channels;
  IntPair kernel_size;
  Conv2dOptions options;
  Tensor<T, D> weight, bias;
};

struct Conv1dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};

/// 1-D convolution over [N, C, L] (or [C, L]). weight [out, in / groups, k] and bias [out]
/// ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in / groups * k.
template <class T = float, class D = CPU>
class Conv1d : public UnaryModule<T, D> {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Conv1dOptions options = {})
      : UnaryModule<T, D>("Conv1d"),
        in_channels(in_channels),
        out_channels(out_channels),
        kernel_size(kernel_size),
        options(options) {
    detail::check_conv_channels("Conv1d", in_channels, out_channels, options.groups);
    KILN_CHECK(kernel_size > 0, ValueError, "[nn::Conv1d] kernel_size must be positive, got ",
               kernel_size);
    weight = this->register_parameter(
        "weight", Tensor<T, D>({out_channels, in_channels / options.groups, kernel_size}));
    if (options.bias) bias = this->register_parameter("bias", Tensor<T, D>({out_channels}));
    reset_parameters();
  }

  void reset_parameters() { detail::reset_conv(weight, bias); }

  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    return kiln::conv1d(x, weight, bias, options.stride, options.padding, options.dilation,
                        options.groups);
  }

  std::string extra_repr() const override {
    auto one = [](int64_t v) { return "(" + std::to_string(v) + ",)"; };
    std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                    ", kernel_size=" + one(kernel_size) + ", stride=" + one(options.stride);
    if (options.padding != 0) s += ", padding=" + one(options.padding);
    if (options.dilation != 1) s += ", dilation=" + one(options.dilation);
    if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
    if (!bias.defined()) s += ", bias=False";
    return s;
  }

  int64_t in_channels, out_channels, kernel_size;
  Conv1dOptions options;
  Tensor<T, D> weight, bias;
};

struct ConvTranspose2dOptions {
  IntPair stride = 1;
  IntPair padding = 0;
  IntPair output_padding = 0;
  int64_t groups = 1;
  bool bias = true;
  IntPair dilation = 1;
};

/// The adjoint of Conv2d (torch's "deconvolution"), [N, C, H, W] → [N, out, OH, OW] with
/// OH = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1.
/// weight [in, out / groups, kH, kW]; initialised as torch does, from that shape (so
/// fan_in = out / groups * kH * kW).
template <class T = float, class D = CPU>
class ConvTranspose2d : public UnaryModule<T, D> {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size,
                  ConvTranspose2dOptions options = {})
      : UnaryModule<T, D>("ConvTranspose2d"),
        in_channels(in_channels),
        out_channels(out_channels),
        kernel_size(kernel_size),
        options(options) {
    detail::check_conv_channels("ConvTranspose2d", in_channels, out_channels, options.groups);
    KILN_CHECK(!kernel_size.empty() && kernel_size.h() > 0 && kernel_size.w() > 0, ValueError,
               "[nn::ConvTranspose2d] kernel_size must be positive, got ", kernel_size);
    weight =
        this->register_parameter("weight", Tensor<T, D>({in_channels, out_channels / options.groups,
                                                         kernel_size.h(), kernel_size.w()}));
    if (options.bias) bias = this->register_parameter("bias", Tensor<T, D>({out_channels}));
    reset_parameters();
  }

  void reset_parameters() { detail::reset_conv(weight, bias); }

  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    return kiln::conv_transpose2d(x, weight, bias, options.stride, options.padding,
                                  options.output_padding, options.groups, options.dilation);
  }

  std::string extra_repr() const override {
    auto nonzero = [](const IntPair& p) { return p.h() != 0 || p.w() != 0; };
    std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                    ", kernel_size=" + detail::py_pair(kernel_size) +
                    ", stride=" + detail::py_pair(options.stride);
    if (nonzero(options.padding)) s += ", padding=" + detail::py_pair(options.padding);
    if (options.dilation.h() != 1 || options.dilation.w() != 1)
      s += ", dilation=" + detail::py_pair(options.dilation);
    if (nonzero(options.output_padding))
      s += ", output_padding=" + detail::py_pair(options.output_padding);
    if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
    if (!bias.defined()) s += ", bias=False";
    return s;
  }

  int64_t in_channels, out_channels;
  IntPair kernel_size;
  ConvTranspose2dOptions options;
  Tensor<T, D> weight, bias;
};

/// Max over kernel_size windows; stride defaults to the kernel size.
template <class T = float, class D = CPU>
class MaxPool2d : public UnaryModule<T, D> {
 public:
  explicit MaxPool2d(IntPair kernel_size, IntPair stride = {}, IntPair padding = 0,
                     IntPair dilation = 1, bool ceil_mode = false)
      : UnaryModule<T, D>("MaxPool2d"),
        kernel_size(kernel_size),
        stride(stride.empty() ? kernel_size : stride),
        padding(padding),
        dilation(dilation),
        ceil_mode(ceil_mode) {}
  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    return kiln::max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode);
  }
  std::string extra_repr() const override {
    auto one = [](const IntPair& p) {
      return p.h() == p.w() ? std::to_string(p.h()) : detail::py_pair(p);
    };
    return "kernel_size=" + one(kernel_size) + ", stride=" + one(stride) +
           ", padding=" + one(padding) + ", dilation=" + one(dilation) +
           ", ceil_mode=" + detail::py_bool(ceil_mode);
  }
  IntPair kernel_size, stride, padding, dilation;
  bool ceil_mode;
};

/// Mean over kernel_size windows; stride defaults to the kernel size.
template <class T = float, class D = CPU>
class AvgPool2d : public UnaryModule<T, D> {
 public:
  explicit AvgPool2d(IntPair kernel_size, IntPair stride = {}, IntPair padding = 0,
                     bool ceil_mode = false, bool count_include_pad = true)
      : UnaryModule<T, D>("AvgPool2d"),
        kernel_size(kernel_size),
        stride(stride.empty() ? kernel_size : stride),
        padding(padding),
        ceil_mode(ceil_mode),
        count_include_pad(count_include_pad) {}
  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    return kiln::avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad);
  }
  std::string extra_repr() const override {
    auto one = [](const IntPair& p) {
      return p.h() == p.w() ? std::to_string(p.h()) : detail::py_pair(p);
    };
    return "kernel_size=" + one(kernel_size) + ", stride=" + one(stride) +
           ", padding=" + one(padding);
  }
  IntPair kernel_size, stride, padding;
  bool ceil_mode, count_include_pad;
};

/// Averages each plane down to output_size.
template <class T = float, class D = CPU>
class AdaptiveAvgPool2d : public UnaryModule<T, D> {
 public:
  explicit AdaptiveAvgPool2d(IntPair output_size)
      : UnaryModule<T, D>("AdaptiveAvgPool2d"), output_size(output_size) {}
  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    return kiln::adaptive_avg_pool2d(x, output_size);
  }
  std::string extra_repr() const override { return "output_size=" + detail::py_pair(output_size); }
  IntPair output_size;
};

}  // namespace kiln::nn
