// SPDX-License-Identifier: BSD-3-Clause
// gradcheck cases of the matrix products: every rank case of matmul, broadcast batch dims,
// transposed operands; every one also runs gradgradcheck (the backward is written with
// matmul itself, Note [Matmul backward]).
#include <catch2/catch.hpp>

#include "autograd/gradcheck_registry.hpp"

namespace {
using kiln::Shape;
using kiln::Tensor;
using kiln::test::Inputs;
using kiln::test::leaf;
using kiln::test::leaf_t;
namespace k = kiln;

// A non-contiguous 3-D leaf of `shape`: the transpose of its last two dims.
Tensor<double> leaf_bt(const Shape& shape, uint64_t seed = 0) {
  return k::test::values({shape[0], shape[2], shape[1]}, seed).transpose(1, 2).requires_grad_();
}

template <class... S>
std::function<Inputs()> leaves(S... shapes) {
  return [=] {
    uint64_t seed = 0;
    return Inputs{leaf(shapes, ++seed)...};
  };
}

Tensor<double> matmul01(const Inputs& x) { return k::matmul(x[0], x[1]); }

KILN_GRADCHECK_CASES({
    // matmul: 2-D·2-D (transposed a), 1-D·1-D, 1-D·2-D, 2-D·1-D
    {"matmul", [] { return Inputs{leaf_t({2, 3}, 1), leaf({3, 2}, 2)}; }, matmul01, true},
    {"matmul", leaves(Shape{3}, Shape{3}), matmul01, true},
    {"matmul", [] { return Inputs{leaf({3}, 1), leaf_t({3, 2}, 2)}; }, matmul01, true},
    {"matmul", [] { return Inputs{leaf_t({2, 3}, 1), leaf({3}, 2)}; }, matmul01, true},
    // batched, with broadcast batch dims on both sides: [2, 1, 2, 3] · [3, 3, 2]
    {"matmul", leaves(Shape{2, 1, 2, 3}, Shape{3, 3, 2}), matmul01, true},
    // batched against a matrix (broadcast over the batch), and 1-D against batched
    {"matmul", [] { return Inputs{leaf_bt({2, 2, 3}, 1), leaf_t({3, 2}, 2)}; }, matmul01, true},
    {"matmul", leaves(Shape{3}, Shape{2, 3, 2}), matmul01, true},
    {"matmul", leaves(Shape{2, 2, 3}, Shape{3}), matmul01, true},
    // an expression operand (a fused node feeds the product)
    {"matmul", leaves(Shape{2, 3}, Shape{3, 2}),
     [](const Inputs& x) { return k::matmul(k::sin(x[0]) * x[0], x[1]); }, true},
    {"mm", [] { return Inputs{leaf_t({2, 3}, 1), leaf_t({3, 4}, 2)}; },
     [](const Inputs& x) { return k::mm(x[0], x[1]); }, true},
    {"bmm", [] { return Inputs{leaf({2, 2, 3}, 1), leaf_bt({2, 3, 2}, 2)}; },
     [](const Inputs& x) { return k::bmm(x[0], x[1]); }, true},
    {"mv", [] { return Inputs{leaf_t({3, 4}, 1), leaf({4}, 2)}; },
     [](const Inputs& x) { return k::mv(x[0], x[1]); }, true},
    {"dot", leaves(Shape{4}, Shape{4}), [](const Inputs& x) { return k::dot(x[0], x[1]); }, true},
    {"outer", leaves(Shape{3}, Shape{4}), [](const Inputs& x) { return k::outer(x[0], x[1]); },
     true},
    // addmm with a broadcast input and scalars, and with the defaults
    {"addmm", [] { return Inputs{leaf({3}, 1), leaf_t({2, 4}, 2), leaf({4, 3}, 3)}; },
     [](const Inputs& x) { return k::addmm(x[0], x[1], x[2], 0.5, 1.5); }, true},
    {"addmm", leaves(Shape{2, 3}, Shape{2, 2}, Shape{2, 3}),
     [](const Inputs& x) { return k::addmm(x[0], x[1], x[2]); }, true},
    {"baddbmm", [] { return Inputs{leaf({1, 2}, 1), leaf({2, 3, 4}, 2), leaf_bt({2, 4, 2}, 3)}; },
     [](const Inputs& x) { return k::baddbmm(x[0], x[1], x[2], 0.7, -1.2); }, true},
    {"linear", [] { return Inputs{leaf({2, 2, 3}, 1), leaf_t({4, 3}, 2), leaf({4}, 3)}; },
     [](const Inputs& x) { return k::linear(x[0], x[1], x[2]); }, true},
    {"linear", leaves(Shape{3}, Shape{2, 3}),
     [](const Inputs& x) { return k::linear(x[0], x[1]); }, true},
});
}  // namespace
