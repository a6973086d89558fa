// SPDX-License-Identifier: BSD-3-Clause
// gradcheck cases of the convolutions and pooling ops: stride, padding, dilation, groups,
// bias, unbatched and non-contiguous inputs; every one also runs gradgradcheck (Note
// [Convolution autograd] and Note [Pooling autograd] in src/).
#include <catch2/catch.hpp>

#include "autograd/gradcheck_registry.hpp"

namespace {
using kiln::IntPair;
using kiln::Shape;
using kiln::Tensor;
using kiln::test::Inputs;
using kiln::test::leaf;
namespace k = kiln;

// A non-contiguous leaf of `shape`: the transpose of its last two dims.
Tensor<double> leaf_hw(Shape shape, uint64_t seed = 0) {
  const int n = shape.size();
  std::swap(shape[n - 1], shape[n - 2]);
  return k::test::values(shape, seed).transpose(-1, -2).requires_grad_();
}

KILN_GRADCHECK_CASES({
    // conv1d: groups, bias, padding; then unbatched with stride and dilation
    {"conv1d", [] { return Inputs{leaf({1, 2, 5}, 1), leaf({2, 1, 3}, 2), leaf({2}, 3)}; },
     [](const Inputs& x) { return k::conv1d(x[0], x[1], x[2], 1, 1, 1, 2); }, true},
    {"conv1d", [] { return Inputs{leaf_hw({2, 6}, 1), leaf({3, 2, 2}, 2)}; },
     [](const Inputs& x) { return k::conv1d(x[0], x[1], {}, 2, 1, 2); }, true},
    // conv2d: groups, stride, padding, bias
    {"conv2d", [] { return Inputs{leaf({1, 2, 3, 4}, 1), leaf({2, 1, 2, 2}, 2), leaf({2}, 3)}; },
     [](const Inputs& x) { return k::conv2d(x[0], x[1], x[2], 2, 1, 1, 2); }, true},
    // rows and columns differ in stride, padding and dilation; a transposed input
    {"conv2d", [] { return Inputs{leaf_hw({1, 2, 4, 3}, 1), leaf({2, 2, 2, 2}, 2)}; },
     [](const Inputs& x) { return k::conv2d(x[0], x[1], {}, {1, 2}, {1, 0}, {2, 1}); }, true},
    // unbatched; no window reaches the last input row (stride 2 over 5 rows)
    {"conv2d", [] { return Inputs{leaf({1, 5, 3}, 1), leaf({3, 1, 2, 2}, 2), leaf({3}, 3)}; },
     [](const Inputs& x) { return k::conv2d(x[0], x[1], x[2], {2, 1}); }, true},
    // conv_transpose2d: groups, stride, padding, output_padding, bias
    {"conv_transpose2d",
     [] { return Inputs{leaf({1, 2, 2, 2}, 1), leaf({2, 1, 2, 2}, 2), leaf({2}, 3)}; },
     [](const Inputs& x) { return k::conv_transpose2d(x[0], x[1], x[2], 2, 1, 1, 2); }, true},
    // output_padding >= stride (allowed below dilation), unbatched, transposed input
    {"conv_transpose2d", [] { return Inputs{leaf_hw({1, 2, 2}, 1), leaf({1, 2, 2, 2}, 2)}; },
     [](const Inputs& x) { return k::conv_transpose2d(x[0], x[1], {}, 1, 1, 1, 1, 2); }, true},
    // pooling
    {"max_pool2d", [] { return Inputs{leaf({1, 2, 4, 4}, 1)}; },
     [](const Inputs& x) { return k::max_pool2d(x[0], 2); }, true},
    {"max_pool2d", [] { return Inputs{leaf_hw({2, 5, 4}, 1)}; },
     [](const Inputs& x) { return k::max_pool2d(x[0], 3, 2, 1, 1, true); }, true},
    {"max_pool2d", [] { return Inputs{leaf({1, 1, 5, 5}, 1)}; },
     [](const Inputs& x) { return k::max_pool2d_with_indices(x[0], 2, 1, 0, 2).values; }, true},
    {"avg_pool2d", [] { return Inputs{leaf({1, 2, 4, 4}, 1)}; },
     [](const Inputs& x) { return k::avg_pool2d(x[0], 3, 2, 1, true, false); }, true},
    {"avg_pool2d", [] { return Inputs{leaf_hw({2, 4, 5}, 1)}; },
     [](const Inputs& x) { return k::avg_pool2d(x[0], {2, 3}, {}, {1, 0}, false, true, 5); },
     true},
    {"adaptive_avg_pool2d", [] { return Inputs{leaf_hw({1, 2, 5, 4}, 1)}; },
     [](const Inputs& x) { return k::adaptive_avg_pool2d(x[0], {3, 2}); }, true},
    // a small network: conv, pool, linear map
    {"conv2d", [] { return Inputs{leaf({1, 1, 4, 4}, 1), leaf({2, 1, 2, 2}, 2)}; },
     [](const Inputs& x) {
       const Tensor<double> h = k::conv2d(x[0], x[1], {}, 1, 1);
       return Tensor<double>(k::tanh(k::avg_pool2d(k::max_pool2d(h, 2), 2, 1)));
     },
     true},
});
}  // namespace
