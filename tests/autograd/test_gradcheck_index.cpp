// SPDX-License-Identifier: BSD-3-Clause
// gradcheck cases of the indexing and mask ops (index_select, gather, scatter, scatter_add,
// index_add, take_along_dim, index, index_put, embedding, masked_fill, masked_select,
// masked_scatter), on
// contiguous, transposed and broadcast inputs; every one also runs gradgradcheck.
#include <catch2/catch.hpp>
#include <vector>

#include "autograd/gradcheck_registry.hpp"

namespace {
using kiln::Shape;
using kiln::Tensor;
using kiln::test::Inputs;
using kiln::test::leaf;
using kiln::test::leaf_t;
namespace k = kiln;
using TI = Tensor<int64_t>;

TI idx(const std::vector<int64_t>& v, const Shape& s) { return k::from_vector<int64_t>(v, s); }
// A fixed mask with some true and some false elements.
Tensor<bool> mask(const Shape& s, uint64_t seed) {
  return Tensor<bool>(k::test::values(s, seed) > 0.2);
}
// Outputs are multiplied by a weight so that the gradient differs per element.
Tensor<double> weigh(const Tensor<double>& v) {
  return Tensor<double>(v * k::test::values(v.shape(), 9));
}

Inputs mat_t() { return {leaf_t({3, 4})}; }
Inputs mat_t_and(const Shape& s) { return {leaf_t({3, 4}), leaf(s, 1)}; }

KILN_GRADCHECK_CASES({
    // Duplicate indices: their gradients add up.
    {"index_select", mat_t,
     [](const Inputs& x) {
       return weigh(k::index_select(x[0], 1, idx({2, 0, 2}, {3})));
     },
     true},
    {"index_select",
     [] {
       return Inputs{leaf({4, 2})};
     },
     [](const Inputs& x) {
       return weigh(k::index_select(x[0], 0, idx({3, 1}, {2})));
     },
     true},
    {"gather", mat_t,
     [](const Inputs& x) {
       return weigh(k::gather(x[0], 1, idx({3, 0, 1, 1, 2, 2}, {3, 2})));
     },
     true},
    // An index smaller than x in the other dim.
    {"gather", mat_t,
     [](const Inputs& x) {
       return weigh(k::gather(x[0], 0, idx({2, 0, 1, 0, 0, 2}, {2, 3})));
     },
     true},
    // No duplicate targets (the last write would win and the others get no gradient);
    // src larger than the index in dim 0, so part of it gets none.
    {"scatter",
     [] {
       return mat_t_and({3, 3});
     },
     [](const Inputs& x) {
       return weigh(k::scatter(x[0], 1, idx({3, 0, 1, 2, 1, 0}, {2, 3}), x[1]));
     },
     true},
    {"scatter",
     [] {
       return Inputs{leaf({3, 4}), leaf_t({3, 2}, 1)};
     },
     [](const Inputs& x) {
       return weigh(k::scatter(x[0], 0, idx({2, 0, 0, 1}, {2, 2}), x[1]));
     },
     true},
    {"scatter", mat_t,
     [](const Inputs& x) {
       return weigh(k::scatter(x[0], 1, idx({3, 0, 1, 2}, {2, 2}), 0.5));
     },
     true},
    {"scatter_add",
     [] {
       return mat_t_and({2, 3});
     },
     [](const Inputs& x) {
       return weigh(k::scatter_add(x[0], 1, idx({3, 3, 1, 0}, {2, 2}), x[1]));
     },
     true},
    {"index_add",
     [] {
       return mat_t_and({3, 4});
     },
     [](const Inputs& x) {
       return weigh(k::index_add(x[0], 0, idx({2, 0, 2}, {3}), x[1], 0.5));
     },
     true},
    {"index_add",
     [] {
       return Inputs{leaf({3, 4}), leaf_t({3, 2}, 1)};
     },
     [](const Inputs& x) {
       return weigh(k::index_add(x[0], 1, idx({1, 3}, {2}), x[1]));
     },
     true},
    {"take_along_dim", mat_t,
     [](const Inputs& x) {
       return weigh(k::take_along_dim(x[0], idx({3, 0, 1, 1, 2, 2}, {3, 2}), 1));
     },
     true},
    // x [1, 4] broadcast against indices [3, 2]: the gradient sums over the broadcast.
    {"take_along_dim",
     [] {
       return Inputs{leaf({1, 4})};
     },
     [](const Inputs& x) {
       return weigh(k::take_along_dim(x[0], idx({3, 0, 1, 1, 2, 0}, {3, 2}), 1));
     },
     true},
    {"take_along_dim", mat_t,
     [](const Inputs& x) {
       return weigh(k::take_along_dim(x[0], idx({11, 0, 5, 5, 7}, {5})));
     },
     true},
    {"embedding",
     [] {
       return Inputs{leaf({5, 3})};
     },
     [](const Inputs& x) {
       return weigh(k::embedding(x[0], idx({4, 0, 2, 4, 1, 0}, {2, 3})));
     },
     true},
    // padding_idx 3 is not looked up here: test_index.cpp checks its row gets no gradient.
    {"embedding",
     [] {
       return Inputs{leaf_t({5, 3})};
     },
     [](const Inputs& x) {
       return weigh(k::embedding(x[0], idx({4, 0, 2, 4}, {4}), -2));
     },
     true},
    {"masked_fill", mat_t,
     [](const Inputs& x) { return weigh(k::masked_fill(x[0], mask({4}, 3), 0.25)); }, true},
    // x [4] broadcast against the mask [3, 4].
    {"masked_fill", [] { return Inputs{leaf({4})}; },
     [](const Inputs& x) {
       return weigh(k::masked_fill(x[0], mask({3, 4}, 4), -1.0));
     },
     true},
    {"masked_select", mat_t,
     [](const Inputs& x) {
       return weigh(k::masked_select(x[0], mask({3, 4}, 5)));
     },
     true},
    {"masked_select", [] { return Inputs{leaf({4})}; },
     [](const Inputs& x) {
       return weigh(k::masked_select(x[0], mask({3, 4}, 6)));
     },
     true},
    // The source has more elements than the mask selects: its tail gets no gradient.
    // Duplicates and negative positions; adjacent indexed dims (result in place) and
    // separated ones (result first).
    {"index", mat_t,
     [](const Inputs& x) {
       return weigh(k::index(x[0], {idx({2, -3, 2}, {3, 1}), idx({1, 3}, {2})}));
     },
     true},
    {"index",
     [] {
       return Inputs{leaf({2, 3, 4})};
     },
     [](const Inputs& x) {
       return weigh(k::index(x[0], {idx({1, 0, 1}, {3}), std::nullopt, idx({-1, 0, -1}, {3})}));
     },
     true},
    // No duplicates without accumulate (the last write would win); values broadcast.
    {"index_put",
     [] {
       return Inputs{leaf_t({3, 4}), leaf({2, 1}, 1)};
     },
     [](const Inputs& x) {
       return weigh(k::index_put(x[0], {std::nullopt, idx({3, 0}, {2})}, x[1].t()));
     },
     true},
    {"index_put",
     [] {
       return Inputs{leaf_t({3, 4}), leaf({3}, 1)};
     },
     [](const Inputs& x) {
       return weigh(k::index_put(x[0], {idx({2, 0, 2}, {3}), idx({1, 1, 1}, {3})}, x[1], true));
     },
     true},
    {"masked_scatter",
     [] {
       return Inputs{leaf_t({3, 4}), leaf({2, 7}, 1)};
     },
     [](const Inputs& x) {
       return weigh(k::masked_scatter(x[0], mask({3, 4}, 7), x[1]));
     },
     true},
    {"masked_scatter",
     [] {
       return Inputs{leaf({4}), leaf_t({3, 4}, 1)};
     },
     [](const Inputs& x) {
       return weigh(k::masked_scatter(x[0], mask({3, 4}, 8), x[1]));
     },
     true},
});
}  // namespace
