// SPDX-License-Identifier: BSD-3-Clause
// 2-D pooling on NCHW tensors: max_pool2d (with indices), avg_pool2d, adaptive_avg_pool2d
// and their backward kernels. Declared here, compiled in src/pool.cpp. The forward ops are
// differentiable to any order (Note [Pooling autograd] there).
#pragma once

#include <cstdint>
#include <optional>

#include "kiln/ops/conv.hpp"    // IntPair, ConvDType
#include "kiln/ops/reduce.hpp"  // ValuesIndices
#include "kiln/tensor.hpp"

namespace kiln {

/// torch.nn.functional.max_pool2d. input [N, C, H, W] or [C, H, W]; stride defaults to the
/// kernel size (`{}`); padding (implicit -inf) at most half the kernel. Output size per dim:
/// floor or, with ceil_mode, ceil of (H + 2 * padding - dilation * (kernel - 1) - 1) /
/// stride + 1, where a last window that would start in the right padding is dropped.
/// NaN propagates.
template <ConvDType T>
Tensor<T, CPU> max_pool2d(const Tensor<T, CPU>& input, IntPair kernel_size, IntPair stride = {},
                          IntPair padding = 0, IntPair dilation = 1, bool ceil_mode = false);

/// max_pool2d that also returns, for each output, the flat index h * W + w of its maximum
/// inside its input plane (torch's return_indices=True): the first maximum, or the last
/// NaN of a window holding NaNs.
template <ConvDType T>
ValuesIndices<T> max_pool2d_with_indices(const Tensor<T, CPU>& input, IntPair kernel_size,
                                         IntPair stride = {}, IntPair padding = 0,
                                         IntPair dilation = 1, bool ceil_mode = false);

/// Gradient of max_pool2d: each output's gradient added to the input element its index
/// names. `indices` as returned by max_pool2d_with_indices; an index outside the input
/// plane throws IndexError. Result of shape `input_shape`.
template <ConvDType T>
Tensor<T, CPU> max_pool2d_backward(const Tensor<T, CPU>& grad_output,
                                   const Tensor<int64_t, CPU>& indices, const Shape& input_shape);

/// torch.nn.functional.avg_pool2d: mean over each window. With count_include_pad the
/// divisor counts the zero padding (not the part of a ceil_mode window past it); without,
/// only input elements. divisor_override, when given (non-zero), is the divisor.
template <ConvDType T>
Tensor<T, CPU> avg_pool2d(const Tensor<T, CPU>& input, IntPair kernel_size, IntPair stride = {},
                          IntPair padding = 0, bool ceil_mode = false,
                          bool count_include_pad = true,
                          std::optional<int64_t> divisor_override = std::nullopt);

/// Gradient of avg_pool2d (same arguments as the forward), of shape `input_shape`.
template <ConvDType T>
Tensor<T, CPU> avg_pool2d_backward(const Tensor<T, CPU>& grad_output, const Shape& input_shape,
                                   IntPair kernel_size, IntPair stride = {}, IntPair padding = 0,
                                   bool ceil_mode = false, bool count_include_pad = true,
                                   std::optional<int64_t> divisor_override = std::nullopt);

/// torch.nn.functional.adaptive_avg_pool2d: output [.., oh, ow]; output row i averages
/// input rows floor(i * H / oh) to ceil((i + 1) * H / oh) (exclusive), likewise columns.
template <ConvDType T>
Tensor<T, CPU> adaptive_avg_pool2d(const Tensor<T, CPU>& input, IntPair output_size);

/// Gradient of adaptive_avg_pool2d, of shape `input_shape`.
template <ConvDType T>
Tensor<T, CPU> adaptive_avg_pool2d_backward(const Tensor<T, CPU>& grad_output,
                                            const Shape& input_shape);

}  // namespace kiln
