// SPDX-License-Identifier: BSD-3-Clause
// gradcheck cases of the reductions (prod, amax/amin, max/min, var, std, logsumexp, norm),
// softmax/log_softmax, cumsum/cumprod, sort/topk and dropout. The reductions also run
// gradgradcheck (double backward is required for them); so do the others where it works.
#include <catch2/catch.hpp>
#include <vector>

#include "autograd/gradcheck_registry.hpp"

namespace {
using kiln::Dims;
using kiln::Shape;
using kiln::Tensor;
using kiln::test::Inputs;
using kiln::test::leaf;
using kiln::test::leaf_pos;
using kiln::test::leaf_t;
namespace k = kiln;

Inputs cube() { return {leaf({2, 3, 2})}; }
Inputs mat_t() { return {leaf_t({3, 4})}; }
// A transposed matrix times a broadcast row: reductions of an expression.
Inputs pair_bcast() { return {leaf_t({3, 4}, 1), leaf({4}, 2)}; }

/// A leaf with the given values.
Tensor<double> leaf_of(const Shape& s, std::vector<double> v) {
  return k::from_vector<double>(v, s).requires_grad_();
}
// Row 0 has one zero, row 1 two, row 2 none.
Inputs with_zeros() {
  return {leaf_of({3, 4}, {0.7, 0.0, -1.3, 1.1, 0.0, 0.9, 0.0, 1.2, -0.8, 1.4, 0.6, -1.1})};
}
// Two equal maxima / minima in each row (central differences then agree with the even
// split of the gradient); first order only, the gradient jumps at a tie.
Inputs with_ties() { return {leaf_of({2, 4}, {0.3, 1.2, -0.5, 1.2, -0.7, 0.4, -0.7, 0.1})}; }

KILN_GRADCHECK_CASES({
    // prod: the gradient of an element is the product of the others (exact with zeros,
    // also to second order).
    {"prod", cube, [](const Inputs& x) { return k::prod(x[0], Dims{1}, true); }, true},
    {"prod", mat_t, [](const Inputs& x) { return k::prod(x[0]); }, true},
    {"prod", pair_bcast, [](const Inputs& x) { return k::prod(x[0] * x[1], Dims{0}); }, true},
    {"prod", with_zeros, [](const Inputs& x) { return k::prod(x[0], Dims{1}); }, true},
    {"prod", with_zeros,
     [](const Inputs& x) {
       return k::prod(x[0], Dims{0, 1}, true);
     },
     true},
    {"prod",
     [] {
       return Inputs{leaf_of({4}, {0.8, 0.0, -1.2, 1.5})};
     },
     [](const Inputs& x) { return k::prod(x[0]); }, true},
    // amax / amin: ties share the gradient.
    {"amax", cube,
     [](const Inputs& x) {
       return k::amax(x[0], {0, 2});
     },
     true},
    {"amax", pair_bcast, [](const Inputs& x) { return k::amax(x[0] * x[1], {1}, true); }, true},
    {"amax", with_ties, [](const Inputs& x) { return k::amax(x[0], {1}); }},
    {"amin", mat_t, [](const Inputs& x) { return k::amin(x[0]); }, true},
    {"amin", with_ties, [](const Inputs& x) { return k::amin(x[0], {1}, true); }},
    // max / min along a dim (the gradient goes to the index) and of everything.
    {"max", cube, [](const Inputs& x) { return k::max(x[0], 1).values; }, true},
    {"max", pair_bcast, [](const Inputs& x) { return k::max(x[0] * x[1], 0, true).values; }, true},
    {"max", mat_t, [](const Inputs& x) { return k::max(x[0]); }, true},
    {"max", with_ties, [](const Inputs& x) { return k::max(x[0]); }},
    {"min", mat_t, [](const Inputs& x) { return k::min(x[0], -1, true).values; }, true},
    {"min", cube, [](const Inputs& x) { return k::min(x[0]); }, true},
    // var / std with a correction.
    {"var", cube, [](const Inputs& x) { return k::var(x[0], {1}); }, true},
    {"var", mat_t, [](const Inputs& x) { return k::var(x[0], {}, 0, true); }, true},
    {"var", pair_bcast, [](const Inputs& x) { return k::var(x[0] * x[1], {0}, 2); }, true},
    {"std", cube,
     [](const Inputs& x) {
       return k::std(x[0], {0, 2}, 1, true);
     },
     true},
    {"std", mat_t, [](const Inputs& x) { return k::std(x[0], {1}, 0); }, true},
    // logsumexp
    {"logsumexp", cube, [](const Inputs& x) { return k::logsumexp(x[0], 2); }, true},
    {"logsumexp", pair_bcast,
     [](const Inputs& x) {
       return k::logsumexp(x[0] * x[1], Dims{0, 1}, true);
     },
     true},
    // norm for each kind of p.
    {"norm", cube, [](const Inputs& x) { return k::norm(x[0], 2.0, {1}); }, true},
    {"norm", mat_t, [](const Inputs& x) { return k::norm(x[0]); }, true},
    {"norm", mat_t, [](const Inputs& x) { return k::norm(x[0], 1.0, {0}, true); }, true},
    {"norm", cube, [](const Inputs& x) { return k::norm(x[0], INFINITY, {2}); }, true},
    {"norm", mat_t, [](const Inputs& x) { return k::norm(x[0], -INFINITY, {1}); }, true},
    {"norm", pair_bcast, [](const Inputs& x) { return k::norm(x[0] * x[1], 3.0, {1}); }, true},
    {"norm", cube, [](const Inputs& x) { return k::norm(x[0], 0.5, {0}); }, true},
    {"norm", mat_t, [](const Inputs& x) { return k::norm(x[0], 0.0, {1}); }},
    // softmax / log_softmax along any dim (double backward through the saved output).
    {"softmax", cube, [](const Inputs& x) { return k::softmax(x[0], 1); }, true},
    {"softmax", mat_t, [](const Inputs& x) { return k::softmax(x[0], 0); }, true},
    {"softmax", pair_bcast, [](const Inputs& x) { return k::softmax(x[0] * x[1], -1); }, true},
    {"log_softmax", cube, [](const Inputs& x) { return k::log_softmax(x[0], -1); }, true},
    {"log_softmax", mat_t, [](const Inputs& x) { return k::log_softmax(x[0], 0); }, true},
    // cumsum / cumprod (cumprod's double backward needs an input without zeros).
    {"cumsum", cube, [](const Inputs& x) { return k::cumsum(x[0], 1); }, true},
    {"cumsum", mat_t, [](const Inputs& x) { return k::cumsum(x[0], 0); }, true},
    {"cumsum", pair_bcast, [](const Inputs& x) { return k::cumsum(x[0] * x[1], -1); }, true},
    {"cumprod", cube, [](const Inputs& x) { return k::cumprod(x[0], 1); }, true},
    {"cumprod", mat_t, [](const Inputs& x) { return k::cumprod(x[0], 1); }, true},
    {"cumprod",
     [] {
       return Inputs{leaf_pos({2, 3}, 3)};
     },
     [](const Inputs& x) { return k::cumprod(k::log(x[0]), 0); }, true},
    {"cumprod", with_zeros, [](const Inputs& x) { return k::cumprod(x[0], 1); }},
    // sort / topk: the gradient goes back to the indices.
    {"sort", cube, [](const Inputs& x) { return k::sort(x[0], 1, true).values; }, true},
    {"sort", mat_t, [](const Inputs& x) { return k::sort(x[0], 0).values; }, true},
    {"sort", pair_bcast, [](const Inputs& x) { return k::sort(x[0] * x[1]).values; }, true},
    {"topk", mat_t, [](const Inputs& x) { return k::topk(x[0], 2, 1).values; }, true},
    {"topk", cube, [](const Inputs& x) { return k::topk(x[0], 2, 1, false, false).values; }, true},
    {"topk", pair_bcast, [](const Inputs& x) { return k::topk(x[0] * x[1], 1, 0).values; }, true},
    // dropout with a fixed seed (each call draws the same mask).
    {"dropout", mat_t,
     [](const Inputs& x) {
       k::manual_seed(7);
       return k::dropout(x[0], 0.4);
     },
     true},
    {"dropout", pair_bcast,
     [](const Inputs& x) {
       k::manual_seed(11);
       return k::dropout(x[0] * x[1], 0.25);
     },
     true},
});
}  // namespace
