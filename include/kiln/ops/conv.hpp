// SPDX-License-Identifier: BSD-3-Clause
// Convolutions on NCHW tensors: conv1d, conv2d, conv_transpose2d, and the backward
// kernels autograd builds on. Declared here, compiled in src/conv*.cpp (Note [Convolution
// backends] in src/conv.cpp): oneDNN's primitives for float, im2col + GEMM for double.
// The forward ops are differentiable to any order (Note [Convolution autograd] there).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <type_traits>

#include "kiln/core/half.hpp"
#include "kiln/tensor.hpp"

namespace kiln {

/// One or two ints, like torch's `int | tuple[int, int]` arguments: `2` means (2, 2) and
/// `{1, 2}` means (1, 2) for (height, width). Default-constructed (`{}`) it holds no value:
/// pooling's stride then defaults to the kernel size, like torch's `stride=None`.
class IntPair {
 public:
  constexpr IntPair() = default;
  constexpr IntPair(int64_t v) : v_{v, v}, n_(1) {}  // NOLINT: implicit, as torch's ints
  constexpr IntPair(int64_t h, int64_t w) : v_{h, w}, n_(2) {}
  constexpr bool empty() const { return n_ == 0; }
  constexpr int64_t operator[](int i) const { return v_[i]; }
  constexpr int64_t h() const { return v_[0]; }
  constexpr int64_t w() const { return v_[1]; }
  friend std::ostream& operator<<(std::ostream& os, const IntPair& p) {
    if (p.empty()) return os << "[]";
    return os << '[' << p.v_[0] << ", " << p.v_[1] << ']';
  }

 private:
  int64_t v_[2] = {0, 0};
  int n_ = 0;
};

/// The dtypes kiln's convolutions and pooling accept: float and double natively, half and
/// bfloat16 computed in float and rounded once.
template <class T>
concept ConvDType = std::is_same_v<T, float> || std::is_same_v<T, double> ||
    std::is_same_v<T, half> || std::is_same_v<T, bfloat16>;

// ---- forward ------------------------------------------------------------------------------------

/// torch.nn.functional.conv2d. input [N, C, H, W] or unbatched [C, H, W]; weight
/// [O, C / groups, kH, kW]; bias [O] or undefined (`{}`). Output [N, O, OH, OW] with
/// OH = (H + 2 * padding - dilation * (kH - 1) - 1) / stride + 1 (likewise OW).
/// Inputs may be any views; the output is a new contiguous tensor.
template <ConvDType T>
Tensor<T, CPU> conv2d(const Tensor<T, CPU>& input, const Tensor<T, CPU>& weight,
                      const Tensor<T, CPU>& bias = {}, IntPair stride = 1, IntPair padding = 0,
                      IntPair dilation = 1, int64_t groups = 1);

/// torch.nn.functional.conv1d. input [N, C, L] or [C, L]; weight [O, C / groups, K].
template <ConvDType T>
Tensor<T, CPU> conv1d(const Tensor<T, CPU>& input, const Tensor<T, CPU>& weight,
                      const Tensor<T, CPU>& bias = {}, int64_t stride = 1, int64_t padding = 0,
                      int64_t dilation = 1, int64_t groups = 1);

/// torch.nn.functional.conv_transpose2d (argument order as torch's). input [N, C, H, W] or
/// [C, H, W]; weight [C, O / groups, kH, kW]; bias [O]. Output [N, O, OH, OW] with
/// OH = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1.
/// output_padding must be smaller than stride or dilation.
template <ConvDType T>
Tensor<T, CPU> conv_transpose2d(const Tensor<T, CPU>& input, const Tensor<T, CPU>& weight,
                                const Tensor<T, CPU>& bias = {}, IntPair stride = 1,
                                IntPair padding = 0, IntPair output_padding = 0, int64_t groups = 1,
                                IntPair dilation = 1);

// ---- backward -----------------------------------------------------------------------------------
// Gradients of the forward functions above with respect to each argument, given the
// gradient of the output (same shape as the forward's output). The shapes of the forward's
// input and weight are passed because the output's size does not determine them (the
// output size rounds down). Results are new contiguous tensors.

/// d(conv2d)/d(input): the adjoint of conv2d in its input, of shape `input_shape`.
template <ConvDType T>
Tensor<T, CPU> conv2d_backward_input(const Tensor<T, CPU>& grad_output,
                                     const Tensor<T, CPU>& weight, const Shape& input_shape,
                                     IntPair stride = 1, IntPair padding = 0, IntPair dilation = 1,
                                     int64_t groups = 1);
/// d(conv2d)/d(weight), of shape `weight_shape`, summed over the batch.
template <ConvDType T>
Tensor<T, CPU> conv2d_backward_weight(const Tensor<T, CPU>& grad_output,
                                      const Tensor<T, CPU>& input, const Shape& weight_shape,
                                      IntPair stride = 1, IntPair padding = 0, IntPair dilation = 1,
                                      int64_t groups = 1);
/// d(conv2d)/d(bias) = grad_output summed over N, H and W: shape [O].
template <ConvDType T>
Tensor<T, CPU> conv2d_backward_bias(const Tensor<T, CPU>& grad_output);

template <ConvDType T>
Tensor<T, CPU> conv1d_backward_input(const Tensor<T, CPU>& grad_output,
                                     const Tensor<T, CPU>& weight, const Shape& input_shape,
                                     int64_t stride = 1, int64_t padding = 0, int64_t dilation = 1,
                                     int64_t groups = 1);
template <ConvDType T>
Tensor<T, CPU> conv1d_backward_weight(const Tensor<T, CPU>& grad_output,
                                      const Tensor<T, CPU>& input, const Shape& weight_shape,
                                      int64_t stride = 1, int64_t padding = 0, int64_t dilation = 1,
                                      int64_t groups = 1);
/// grad_output [N, O, L] or [O, L] summed to [O].
template <ConvDType T>
Tensor<T, CPU> conv1d_backward_bias(const Tensor<T, CPU>& grad_output);

/// d(conv_transpose2d)/d(input). A transposed convolution is the adjoint of a convolution
/// in its input, so this is conv2d(grad_output, weight) with the same stride, padding,
/// dilation and groups (cut to `input_shape` when output_padding >= stride added rows).
template <ConvDType T>
Tensor<T, CPU> conv_transpose2d_backward_input(const Tensor<T, CPU>& grad_output,
                                               const Tensor<T, CPU>& weight,
                                               const Shape& input_shape, IntPair stride = 1,
                                               IntPair padding = 0, IntPair output_padding = 0,
                                               int64_t groups = 1, IntPair dilation = 1);
/// d(conv_transpose2d)/d(weight): conv2d_backward_weight with the roles swapped — the
/// transposed convolution's output gradient plays the convolution's input and its input
/// plays the convolution's output gradient (weight [C, O / groups, kH, kW] is exactly a
/// convolution weight from O to C channels).
template <ConvDType T>
Tensor<T, CPU> conv_transpose2d_backward_weight(const Tensor<T, CPU>& grad_output,
                                                const Tensor<T, CPU>& input,
                                                const Shape& weight_shape, IntPair stride = 1,
                                                IntPair padding = 0, IntPair output_padding = 0,
                                                int64_t groups = 1, IntPair dilation = 1);
/// grad_output summed over N, H and W: shape [O].
template <ConvDType T>
Tensor<T, CPU> conv_transpose2d_backward_bias(const Tensor<T, CPU>& grad_output);

namespace detail {
/// Which implementation float convolutions use. `Auto` (the default) takes oneDNN's
/// primitives; `Gemm` forces im2col + GEMM, the path double always takes — for tests that
/// cross-check the two and for benchmarks.
enum class ConvBackend { Auto, Gemm };
void set_conv_backend(ConvBackend b);
ConvBackend get_conv_backend();
/// Number of cached oneDNN primitives (for tests of the cache).
int64_t conv_primitive_cache_size();
}  // namespace detail

}  // namespace kiln
