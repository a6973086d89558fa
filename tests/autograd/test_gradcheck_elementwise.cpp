// SPDX-License-Identifier: BSD-3-Clause
// gradcheck cases of the elementwise ops (fused nodes), on contiguous, transposed and
// broadcast inputs; every one also runs gradgradcheck (create_graph through the functors).
#include <catch2/catch.hpp>

#include "autograd/gradcheck_registry.hpp"

namespace {
using kiln::Tensor;
using kiln::test::Inputs;
using kiln::test::leaf;
using kiln::test::leaf_pos;
using kiln::test::leaf_t;
using kiln::test::leaf_unit;
namespace k = kiln;

Inputs mat() { return {leaf({3, 4})}; }
Inputs mat_t() { return {leaf_t({3, 4})}; }
Inputs pos() { return {leaf_pos({3, 4})}; }
Inputs unit() { return {leaf_unit({3, 4})}; }
Inputs pair_bcast() { return {leaf_t({3, 4}, 1), leaf({4}, 2)}; }
Inputs pair_pos() { return {leaf_pos({3, 4}, 1), leaf({3, 1}, 2)}; }

#define UNARY(name, make) \
  {#name, make, [](const Inputs& x) { return Tensor<double>(k::name(x[0])); }, true}

KILN_GRADCHECK_CASES({
    UNARY(neg, mat_t), UNARY(abs, mat), UNARY(square, mat_t), UNARY(sqrt, pos),
    UNARY(rsqrt, pos), UNARY(reciprocal, pos), UNARY(exp, mat_t), UNARY(exp2, mat),
    UNARY(expm1, mat), UNARY(log, pos), UNARY(log2, pos), UNARY(log1p, pos),
    UNARY(sin, mat_t), UNARY(cos, mat), UNARY(tan, unit), UNARY(asin, unit),
    UNARY(acos, unit), UNARY(atan, mat), UNARY(sinh, mat), UNARY(cosh, mat_t),
    UNARY(tanh, mat), UNARY(erf, mat), UNARY(sigmoid, mat_t), UNARY(relu, mat),
    UNARY(silu, mat), UNARY(gelu, mat_t), UNARY(gelu_tanh, mat),
    {"leaky_relu", mat, [](const Inputs& x) { return Tensor<double>(k::leaky_relu(x[0], 0.2)); },
     true},
    {"elu", mat_t, [](const Inputs& x) { return Tensor<double>(k::elu(x[0], 0.7)); }, true},
    {"softplus", mat,
     [](const Inputs& x) { return Tensor<double>(k::softplus(x[0], 2.0, 1.5)); }, true},
    {"clamp", mat, [](const Inputs& x) { return Tensor<double>(k::clamp(x[0], -0.5, 0.7)); },
     true},
    {"add", pair_bcast, [](const Inputs& x) { return Tensor<double>(x[0] + x[1]); }, true},
    {"sub", pair_bcast, [](const Inputs& x) { return Tensor<double>(x[1] - x[0] * 2.0); }, true},
    {"mul", pair_bcast, [](const Inputs& x) { return Tensor<double>(x[0] * x[1] * x[0]); },
     true},
    {"div", pair_pos, [](const Inputs& x) { return Tensor<double>(x[1] / x[0]); }, true},
    {"pow", pair_pos, [](const Inputs& x) { return Tensor<double>(k::pow(x[0], x[1])); }, true},
    {"pow", pos, [](const Inputs& x) { return Tensor<double>(k::pow(x[0], 2.5)); }, true},
    {"atan2", pair_bcast, [](const Inputs& x) { return Tensor<double>(k::atan2(x[0], x[1])); },
     true},
    // The divisor of either sign; the quotients stay away from integers, where remainder
    // jumps and floor_divide steps.
    {"remainder", pair_bcast,
     [](const Inputs& x) { return Tensor<double>(k::remainder(x[0] * 3.0, x[1] + 0.1)); },
     true},
    {"remainder", mat_t,
     [](const Inputs& x) { return Tensor<double>(k::remainder(x[0], -0.7) * x[0]); }, true},
    {"floor_divide", pair_bcast,
     [](const Inputs& x) {
       return Tensor<double>(k::floor_divide(x[0] * 3.0, x[1] + 0.1) * x[0]);
     },
     true},
    {"maximum", pair_bcast,
     [](const Inputs& x) { return Tensor<double>(k::maximum(x[0], x[1])); }, true},
    {"minimum", pair_bcast,
     [](const Inputs& x) { return Tensor<double>(k::minimum(x[0], x[1])); }, true},
    {"where", pair_bcast,
     [](const Inputs& x) { return Tensor<double>(k::where(x[0] > x[1], x[0] * x[1], x[1])); },
     true},
    {"cast", mat_t,
     [](const Inputs& x) {
       return Tensor<double>(k::cast<double>(k::sin(x[0].to<float>())) * x[0]);
     },
     false, 1e-3, 1e-2, 1e-3},
    // Inputs also used inside a comparison (no gradient flows through it).
    {"where", pair_bcast,
     [](const Inputs& x) {
       return Tensor<double>(x[0] * k::cast<double>(x[0] < x[1]) + x[1] * x[0]);
     },
     true},
    // A longer fused chain, with one input used three times.
    {"mul", pair_bcast,
     [](const Inputs& x) {
       return Tensor<double>(x[0] * x[1] + k::sin(x[0]) * k::exp(x[1]) - x[0] / (x[1] * x[1] + 1.0));
     },
     true},
});
}  // namespace
