// SPDX-License-Identifier: BSD-3-Clause
// Autograd of the indexing and mask ops beyond gradcheck: in-place variants refuse to
// rewrite history, embedding's padding row, saved index tensors, node names.
#include <catch2/catch.hpp>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "autograd/gradcheck_registry.hpp"
#include "support/throws.hpp"

namespace {
using Catch::Contains;
using kiln::AutogradError;
using kiln::Tensor;
using kiln::test::leaf;
using kiln_test::thrown_message;
namespace k = kiln;
using TI = Tensor<int64_t>;

TI idx(const std::vector<int64_t>& v, const kiln::Shape& s) {
  return k::from_vector<int64_t>(v, s);
}

TEST_CASE("index autograd: in-place ops refuse a leaf that requires grad", "[autograd][index]") {
  const TI i2 = idx({1, 0}, {1, 2});
  const TI i1 = idx({1, 0}, {2});
  const Tensor<bool> m(k::test::values({2, 2}, 3) > 0.2);
  const std::vector<std::pair<std::string, std::function<void(const Tensor<double>&)>>> ops = {
      {"scatter_",
       [&](const Tensor<double>& x) {
         k::scatter_(x, 1, i2, k::test::values({1, 2}));
       }},
      {"scatter_", [&](const Tensor<double>& x) { k::scatter_(x, 1, i2, 2.0); }},
      {"scatter_add_",
       [&](const Tensor<double>& x) {
         k::scatter_add_(x, 1, i2, k::test::values({1, 2}));
       }},
      {"index_add_",
       [&](const Tensor<double>& x) {
         k::index_add_(x, 0, i1, k::test::values({2, 2}));
       }},
      {"masked_fill_", [&](const Tensor<double>& x) { k::masked_fill_(x, m, 1.0); }},
      {"masked_scatter_",
       [&](const Tensor<double>& x) { k::masked_scatter_(x, m, k::test::values({4})); }},
  };
  for (const auto& [name, op] : ops) {
    INFO(name);
    const Tensor<double> x = leaf({2, 2});
    const uint64_t v0 = x.version();
    CHECK_THAT(thrown_message<AutogradError>([&] { op(x); }),
               Contains("[" + name + "]") && Contains("leaf"));
    CHECK(x.version() == v0);  // checked before anything is written
    {
      k::NoGradGuard no_grad;
      op(x);
    }
    CHECK(x.version() > v0);
  }
}

TEST_CASE("index autograd: in-place ops refuse a source that requires grad", "[autograd][index]") {
  const Tensor<double> src = leaf({2, 2});
  const Tensor<double> x = k::test::values({2, 2});
  const TI i = idx({1, 0, 0, 1}, {2, 2});
  CHECK_THAT(thrown_message<AutogradError>([&] { k::scatter_(x, 1, i, src); }),
             Contains("[scatter_]"));
  CHECK_THAT(thrown_message<AutogradError>([&] { k::scatter_add_(x, 1, i, src); }),
             Contains("[scatter_add_]"));
  CHECK_THAT(thrown_message<AutogradError>([&] {
               k::index_add_(x, 0, idx({1, 0}, {2}), src);
             }),
             Contains("[index_add_]"));
  CHECK_THAT(
      thrown_message<AutogradError>([&] { k::masked_scatter_(x, Tensor<bool>(x > 0.0), src); }),
      Contains("[masked_scatter_]"));
  // The out-of-place forms record instead.
  const Tensor<double> y = k::scatter_add(x, 1, i, src);
  CHECK(y.requires_grad());
  CHECK(y.grad_fn()->name() == "ScatterAddBackward");
}

TEST_CASE("index autograd: embedding's padding row gets no gradient", "[autograd][index]") {
  const Tensor<double> w = leaf({4, 2});
  const TI ids = idx({1, 3, 1, 0, 3}, {5});
  for (int64_t pad : {int64_t{3}, int64_t{-1}}) {
    w.zero_grad();
    k::sum(k::embedding(w, ids, pad)).backward();
    const Tensor<double> g = w.grad();
    REQUIRE(g.defined());
    const double want[4][2] = {{1, 1}, {2, 2}, {0, 0}, {0, 0}};
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 2; ++c) CHECK(g(r, c) == want[r][c]);
  }
  // The padding row is zero even where its gradient is infinite (no inf * 0 = NaN).
  w.zero_grad();
  Tensor<double> go = k::ones<double>({5, 2});
  go(1, 0) = go(4, 1) = std::numeric_limits<double>::infinity();
  k::embedding(w, ids, 3).backward(go);
  CHECK(w.grad()(3, 0) == 0.0);
  CHECK(w.grad()(3, 1) == 0.0);
  CHECK(w.grad()(1, 1) == 2.0);
  // Without padding_idx the row counts its lookups.
  w.zero_grad();
  k::sum(k::embedding(w, ids)).backward();
  CHECK(w.grad()(3, 0) == 2.0);
}

TEST_CASE("index autograd: a saved index modified in place fails backward", "[autograd][index]") {
  const Tensor<double> x = leaf({3, 2});
  const TI i = idx({2, 0}, {2});
  const Tensor<double> y = k::index_select(x, 0, i);
  CHECK(y.grad_fn()->name() == "IndexSelectBackward");
  i.fill_(1);
  CHECK_THAT(thrown_message<AutogradError>([&] { k::sum(y).backward(); }),
             Contains("IndexSelectBackward") && Contains("modified by an in-place operation"));
}

TEST_CASE("index autograd: integer tensors and no-grad mode record nothing", "[autograd][index]") {
  const TI a = idx({5, 6, 7, 8}, {2, 2});
  const TI g = k::gather(a, 1, idx({1, 1, 0, 0}, {2, 2}));
  CHECK(g(0, 0) == 6);
  CHECK(g(1, 1) == 7);
  const Tensor<double> x = leaf({2, 2});
  k::NoGradGuard no_grad;
  CHECK_FALSE(k::gather(x, 1, idx({1, 0}, {2, 1})).requires_grad());
  CHECK_FALSE(k::masked_select(x, Tensor<bool>(x > 0.0)).requires_grad());
}

}  // namespace
