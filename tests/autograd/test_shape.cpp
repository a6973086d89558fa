// SPDX-License-Identifier: BSD-3-Clause
// Autograd of the shape ops (and the index family) beyond gradcheck: cat's edge cases,
// node names, and that every backward of these families is itself recorded under
// create_graph, so their gradgradcheck cases cannot pass vacuously.
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "autograd/gradcheck_registry.hpp"

namespace {
using kiln::Tensor;
using kiln::test::leaf;
namespace k = kiln;

TEST_CASE("shape autograd: cat skips legacy [0] inputs and constant ones", "[autograd][shape]") {
  const Tensor<double> a = leaf({2, 2});
  const Tensor<double> empty = k::zeros<double>({0}).requires_grad_();
  const Tensor<double> c = k::test::values({2, 1});
  const Tensor<double> y = k::cat({empty, a, c}, 1);
  REQUIRE(y.shape() == (kiln::Shape{2, 3}));
  CHECK(y.grad_fn()->name() == "CatBackward");
  k::sum(y * k::test::values({2, 3}, 4)).backward();
  const Tensor<double> w = k::test::values({2, 3}, 4);
  for (int r = 0; r < 2; ++r)
    for (int col = 0; col < 2; ++col) CHECK(a.grad()(r, col) == w(r, col));
  CHECK_FALSE(empty.grad().defined());
  // Only legacy empties: nothing to differentiate, and it still works.
  const Tensor<double> z = k::cat({empty, empty});
  CHECK(z.shape() == (kiln::Shape{0}));
}

TEST_CASE("shape autograd: node names", "[autograd][shape]") {
  const Tensor<double> x = leaf({3, 3});
  CHECK(k::stack({x, x}).grad_fn()->name() == "StackBackward");
  CHECK(k::flip(x, {0}).grad_fn()->name() == "FlipBackward");
  CHECK(k::roll(x, 1, 0).grad_fn()->name() == "RollBackward");
  CHECK(k::repeat(x, {2, 1}).grad_fn()->name() == "RepeatBackward");
  CHECK(k::tril(x).grad_fn()->name() == "TrilBackward");
  CHECK(k::triu(x).grad_fn()->name() == "TriuBackward");
  CHECK(k::diag(k::diagonal(x)).grad_fn()->name() == "DiagBackward");
  CHECK(k::diagonal(x).grad_fn()->name() == "DiagonalBackward");
  CHECK(k::pad(x, {1, 1}).grad_fn()->name() == "PadBackward");
  CHECK(k::split(x, 2)[1].grad_fn()->name() == "SliceBackward");
  CHECK(k::unbind(x)[2].grad_fn()->name() == "SelectBackward");
  // An op on integers records nothing and still works.
  const Tensor<int64_t> i = k::arange(4).view({2, 2});
  CHECK(k::cat({i, i}).numel() == 8);
  CHECK(k::flip(i, {1})(0, 0) == 1);
}

TEST_CASE("shape autograd: a diagonal view shares storage and embeds its gradient",
          "[autograd][shape]") {
  const Tensor<double> x = leaf({2, 3});
  const Tensor<double> d = k::diagonal(x, 1);
  CHECK(d.is_alias_of(x));
  k::sum(d * 3.0).backward();
  const double want[2][3] = {{0, 3, 0}, {0, 0, 3}};
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) CHECK(x.grad()(r, c) == want[r][c]);
}

// Every op of the index and shape families has a linear backward; gradgradcheck of a
// linear op only checks d(grad)/d(v), and an output that does not require grad is skipped,
// so a backward that records nothing would pass. Here each case's gradient with
// create_graph must require grad.
TEST_CASE("shape autograd: backward of the index and shape families is recorded",
          "[autograd][shape][index]") {
  const std::set<std::string> family = {
      "index_select",  "gather",         "scatter",   "scatter_add",
      "index_add",     "take_along_dim", "embedding", "masked_fill",
      "masked_select", "masked_scatter", "cat",       "stack",
      "split",         "chunk",          "unbind",    "flip",
      "roll",          "repeat",         "tile",      "tril",
      "triu",          "diag",           "diagonal",  "pad"};
  std::set<std::string> seen;
  const auto& cases = kiln::test::gradcheck_registry();
  for (size_t n = 0; n < cases.size(); ++n) {
    const auto& c = cases[n];
    if (!family.count(c.op) || !c.gradgrad) continue;
    seen.insert(c.op);
    DYNAMIC_SECTION(c.op << " #" << n) {
      const kiln::test::Inputs in = c.inputs();
      const Tensor<double> out = c.fn(in);
      Tensor<double> v = k::test::values(out.shape(), 5);
      v.requires_grad_();
      std::vector<Tensor<double>> diff;
      for (const auto& t : in)
        if (t.requires_grad()) diff.push_back(t);
      const auto g = k::autograd::grad<double, k::CPU>({out}, diff, {v}, true, true, true);
      for (const auto& gi : g) {
        REQUIRE(gi.defined());
        CHECK(gi.requires_grad());
      }
    }
  }
  CHECK(seen == family);
}

}  // namespace
