// SPDX-License-Identifier: BSD-3-Clause
// gradcheck cases of the joining, splitting, reordering, triangle and padding ops (cat,
// stack, split, chunk, unbind, flip, roll, repeat, tile, tril, triu, diag, diagonal, pad),
// on contiguous and transposed inputs; every one also runs gradgradcheck.
#include <catch2/catch.hpp>
#include <vector>

#include "autograd/gradcheck_registry.hpp"

namespace {
using kiln::Tensor;
using kiln::test::Inputs;
using kiln::test::leaf;
using kiln::test::leaf_t;
namespace k = kiln;

// Outputs are multiplied by a weight so that the gradient differs per element.
Tensor<double> weigh(const Tensor<double>& v, uint64_t seed = 9) {
  return Tensor<double>(v * k::test::values(v.shape(), seed));
}
// The pieces of split/chunk/unbind as one scalar, each piece with its own weights.
Tensor<double> weigh_all(const std::vector<Tensor<double>>& pieces) {
  Tensor<double> total = k::sum(weigh(pieces[0]));
  for (size_t i = 1; i < pieces.size(); ++i) total = total + k::sum(weigh(pieces[i], 9 + i));
  return total;
}

Inputs mat_t() { return {leaf_t({3, 4})}; }
Inputs cube() { return {leaf({2, 3, 4})}; }
Inputs small_t() { return {leaf_t({2, 3})}; }

KILN_GRADCHECK_CASES({
    // The middle input needs no gradient.
    {"cat",
     [] {
       return Inputs{leaf_t({3, 4}), leaf({3, 2}, 1)};
     },
     [](const Inputs& x) {
       return weigh(k::cat({x[0], k::test::values({3, 1}, 2), x[1]}, 1));
     },
     true},
    {"cat",
     [] {
       return Inputs{leaf({1, 3}), leaf_t({2, 3}, 1)};
     },
     [](const Inputs& x) {
       return weigh(k::cat({x[0], x[1], x[0]}, -2));
     },
     true},
    {"stack",
     [] {
       return Inputs{leaf_t({2, 3}), leaf({2, 3}, 1)};
     },
     [](const Inputs& x) {
       return weigh(k::stack({x[0], x[1]}, 1));
     },
     true},
    {"stack", small_t,
     [](const Inputs& x) {
       return weigh(k::stack({x[0], x[0]}, -1));
     },
     true},
    {"split", mat_t, [](const Inputs& x) { return weigh_all(k::split(x[0], 3, 1)); }, true},
    {"split", mat_t,
     [](const Inputs& x) {
       return weigh_all(k::split_with_sizes(x[0], {1, 2}, 0));
     },
     true},
    {"chunk", cube, [](const Inputs& x) { return weigh_all(k::chunk(x[0], 2, 2)); }, true},
    {"unbind", mat_t, [](const Inputs& x) { return weigh_all(k::unbind(x[0], 1)); }, true},
    {"flip", mat_t,
     [](const Inputs& x) {
       return weigh(k::flip(x[0], {0, 1}));
     },
     true},
    {"flip", cube, [](const Inputs& x) { return weigh(k::flip(x[0], {-2})); }, true},
    {"roll", mat_t,
     [](const Inputs& x) {
       return weigh(k::roll(x[0], {1, -1}, {0, 1}));
     },
     true},
    {"roll", mat_t, [](const Inputs& x) { return weigh(k::roll(x[0], 5)); }, true},
    {"repeat", small_t,
     [](const Inputs& x) {
       return weigh(k::repeat(x[0], {2, 1, 2}));
     },
     true},
    // More copies than kRepeatAddLimit: the backward sums with the reduction.
    {"repeat", [] { return Inputs{leaf({1})}; },
     [](const Inputs& x) { return weigh(k::repeat(x[0], {20})); }, true},
    {"tile", [] { return Inputs{leaf({3})}; },
     [](const Inputs& x) {
       return weigh(k::tile(x[0], {2, 2}));
     },
     true},
    {"tile", small_t, [](const Inputs& x) { return weigh(k::tile(x[0], {3})); }, true},
    {"tril", mat_t, [](const Inputs& x) { return weigh(k::tril(x[0], 1)); }, true},
    {"tril",
     [] {
       return Inputs{leaf({2, 3, 3})};
     },
     [](const Inputs& x) { return weigh(k::tril(x[0])); }, true},
    {"triu", mat_t, [](const Inputs& x) { return weigh(k::triu(x[0], -1)); }, true},
    {"diag", [] { return Inputs{leaf({3})}; },
     [](const Inputs& x) { return weigh(k::diag(x[0], 1)); }, true},
    {"diag", mat_t, [](const Inputs& x) { return weigh(k::diag(x[0], -1)); }, true},
    {"diagonal", mat_t, [](const Inputs& x) { return weigh(k::diagonal(x[0])); }, true},
    {"diagonal", cube, [](const Inputs& x) { return weigh(k::diagonal(x[0], 1, 0, 2)); }, true},
    // Constant mode crops where a pad is negative.
    {"pad", mat_t,
     [](const Inputs& x) {
       return weigh(k::pad(x[0], {1, -1, 0, 1}, k::PadMode::Constant, 0.5));
     },
     true},
    {"pad",
     [] {
       return Inputs{leaf({2, 4})};
     },
     [](const Inputs& x) {
       return weigh(k::pad(x[0], {2, 1}, "reflect"));
     },
     true},
    {"pad", small_t,
     [](const Inputs& x) {
       return weigh(k::pad(x[0], {1, 2, 1, 0}, k::PadMode::Replicate));
     },
     true},
    {"pad", small_t,
     [](const Inputs& x) {
       return weigh(k::pad(x[0], {1, 2, 1, 1}, k::PadMode::Circular));
     },
     true},
});
}  // namespace
