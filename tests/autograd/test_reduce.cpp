// SPDX-License-Identifier: BSD-3-Clause
// Gradients of the reductions, softmax, scans, sort/topk and dropout at the points gradcheck
// cannot judge (ties, zeros, a zero norm), their node names, and their errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "kiln/kiln.hpp"

namespace {
using kiln::Dims;
using kiln::Shape;
using kiln::Tensor;
namespace k = kiln;

Tensor<double> leaf_of(const Shape& s, std::vector<double> v) {
  return k::from_vector<double>(v, s).requires_grad_();
}
std::vector<double> vals(const Tensor<double>& t) {
  const Tensor<double> c = t.contiguous();
  return std::vector<double>(c.data(), c.data() + c.numel());
}
// The gradient of sum(w * out) with respect to x, for a weight per output element.
template <class F>
std::vector<double> grad_of(const Tensor<double>& x, F f) {
  const Tensor<double> out = f(x);
  Tensor<double> w(out.shape());
  for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] = 1.0 + static_cast<double>(i);
  return vals(k::autograd::grad<double, k::CPU>({out}, {x}, {w})[0]);
}
}  // namespace

TEST_CASE("amax and max() share the gradient between ties; max(dim) gives it to the index",
          "[autograd][reduce]") {
  const Tensor<double> x = leaf_of({2, 3}, {1.0, 3.0, 3.0, 2.0, 2.0, 2.0});
  CHECK(grad_of(x, [](const auto& t) { return k::amax(t, {1}); }) ==
        std::vector<double>{0, 0.5, 0.5, 2.0 / 3, 2.0 / 3, 2.0 / 3});
  CHECK(grad_of(x, [](const auto& t) { return k::amin(t, {0}); }) ==
        std::vector<double>{1, 0, 0, 0, 2, 3});
  CHECK(grad_of(x, [](const auto& t) { return k::max(t); }) ==
        std::vector<double>{0, 0.5, 0.5, 0, 0, 0});
  // torch.max(x, dim): the first maximum is the index, and only it gets the gradient.
  CHECK(grad_of(x, [](const auto& t) { return k::max(t, 1).values; }) ==
        std::vector<double>{0, 1, 0, 2, 0, 0});
  CHECK(grad_of(x, [](const auto& t) { return k::min(t, 1, true).values; }) ==
        std::vector<double>{1, 0, 0, 2, 0, 0});
}

TEST_CASE("prod's gradient is the product of the others, also with zeros", "[autograd][reduce]") {
  const Tensor<double> x = leaf_of({3, 3}, {2, 0, 3, 0, 2, 0, 1, 2, 3});
  CHECK(grad_of(x, [](const auto& t) { return k::prod(t, 1); }) ==
        std::vector<double>{0, 6, 0, 0, 0, 0, 18, 9, 6});
  // With create_graph: d2 prod / dx0 dx2 for the row [0, 2, 0] is x1 = 2.
  const Tensor<double> r = leaf_of({3}, {0, 2, 0});
  const auto g = k::autograd::grad<double, k::CPU>({k::prod(r)}, {r}, {}, true, true);
  CHECK(vals(g[0]) == std::vector<double>{0, 0, 0});
  const auto h = k::autograd::grad<double, k::CPU>({g[0].select(0, 0)}, {r}, {}, true);
  CHECK(vals(h[0]) == std::vector<double>{0, 0, 2});
  const auto h1 = k::autograd::grad<double, k::CPU>({g[0].select(0, 1)}, {r});
  CHECK(vals(h1[0]) == std::vector<double>{0, 0, 0});
}

TEST_CASE("std and norm have a zero gradient where they are zero", "[autograd][reduce]") {
  const Tensor<double> x = leaf_of({2, 2}, {1.5, 1.5, 0.0, 0.0});
  CHECK(grad_of(x, [](const auto& t) { return k::std(t, {1}); }) ==
        std::vector<double>{0, 0, 0, 0});
  CHECK(grad_of(x, [](const auto& t) { return k::norm(t, 2.0, {1}); })[2] == 0.0);
  CHECK(grad_of(x, [](const auto& t) { return k::norm(t, 3.0, {1}); })[3] == 0.0);
  CHECK(grad_of(x, [](const auto& t) { return k::norm(t, 0.5, {1}); })[2] == 0.0);
  const std::vector<double> n = grad_of(x, [](const auto& t) { return k::norm(t, 2.0, {1}); });
  CHECK(n[0] == Approx(std::sqrt(0.5)));
}

TEST_CASE("cumprod's gradient is exact with zeros; double backward through them throws",
          "[autograd][reduce]") {
  // Row [2, 0, 3, 0]: y = [2, 0, 0, 0]; with weights w = [1, 2, 3, 4]:
  // dx0 = w0 = 1; dx1 = 2 * (w1 + w2 * 3) = 22; dx2 = dx3 = 0.
  const Tensor<double> x = leaf_of({4}, {2, 0, 3, 0});
  CHECK(grad_of(x, [](const auto& t) { return k::cumprod(t, 0); }) ==
        std::vector<double>{1, 22, 0, 0});
  const Tensor<double> y = k::cumprod(x, 0);
  Tensor<double> w = k::ones<double>({4});
  auto second = [&] { k::autograd::grad<double, k::CPU>({y}, {x}, {w}, true, true); };
  CHECK_THROWS_AS(second(), k::AutogradError);
}

TEST_CASE("cumsum's double backward is a cumsum", "[autograd][reduce]") {
  const Tensor<double> x = leaf_of({3}, {1, 2, 3});
  const Tensor<double> w = leaf_of({3}, {1, 10, 100});
  const auto g = k::autograd::grad<double, k::CPU>({k::cumsum(x, 0)}, {x}, {w}, true, true);
  CHECK(vals(g[0]) == std::vector<double>{111, 110, 100});
  CHECK(g[0].grad_fn()->name() == "CumsumBackwardBackward");
  const auto gw = k::autograd::grad<double, k::CPU>({g[0]}, {w}, {k::ones<double>({3})});
  CHECK(vals(gw[0]) == std::vector<double>{1, 2, 3});
}

TEST_CASE("sort and topk scatter the gradient to their indices", "[autograd][reduce]") {
  const Tensor<double> x = leaf_of({4}, {0.5, -1.0, 2.0, 0.0});
  CHECK(grad_of(x, [](const auto& t) { return k::sort(t).values; }) ==
        std::vector<double>{3, 1, 4, 2});
  CHECK(grad_of(x, [](const auto& t) { return k::topk(t, 2).values; }) ==
        std::vector<double>{2, 0, 1, 0});
  // The indices are saved: changing them in place is caught.
  const auto r = k::sort(x);
  CHECK(r.values.grad_fn()->name() == "SortBackward");
  {
    k::NoGradGuard no;
    r.indices.fill_(0);
  }
  CHECK_THROWS_AS(r.values.backward(k::ones<double>({4})), k::AutogradError);
}

TEST_CASE("dropout's gradient is the saved mask over 1 - p", "[autograd][reduce]") {
  const Tensor<double> x = k::ones<double>({50}).requires_grad_();
  k::manual_seed(3);
  const Tensor<double> y = k::dropout(x * 2.0, 0.2);
  k::manual_seed(3);
  const auto [out, mask] = k::dropout_with_mask(k::ones<double>({50}) * 2.0, 0.2);
  CHECK(vals(y) == vals(out));
  CHECK(y.grad_fn()->name() == "DropoutBackward");
  y.backward(k::ones<double>({50}));
  for (int64_t i = 0; i < 50; ++i)
    CHECK(x.grad().data()[i] == Approx(mask.data()[i] ? 2.0 / 0.8 : 0.0));
  // Not training: the input itself, nothing drawn or recorded.
  CHECK(k::dropout(x, 0.5, false).grad_fn() == nullptr);
}

TEST_CASE("reductions name their nodes and record on an evaluated expression",
          "[autograd][reduce]") {
  const Tensor<double> x = leaf_of({2, 2}, {1, 2, 3, 4});
  CHECK(k::prod(x).grad_fn()->name() == "ProdBackward");
  CHECK(k::amax(x).grad_fn()->name() == "AmaxBackward");
  CHECK(k::var(x).grad_fn()->name() == "VarBackward");
  CHECK(k::std(x).grad_fn()->name() == "StdBackward");
  CHECK(k::norm(x).grad_fn()->name() == "NormBackward");
  CHECK(k::logsumexp(x, 0).grad_fn()->name() == "LogsumexpBackward");
  CHECK(k::softmax(x, 0).grad_fn()->name() == "SoftmaxBackward");
  CHECK(k::log_softmax(x, 0).grad_fn()->name() == "LogSoftmaxBackward");
  CHECK(k::max(x, 0).values.grad_fn()->name() == "MaxBackward");
  CHECK(k::max(x, 0).indices.grad_fn() == nullptr);
  const Tensor<double> s = k::prod(k::sin(x) * 2.0, Dims{0});
  REQUIRE(s.grad_fn()->next_edges().size() == 1);
  CHECK(s.grad_fn()->next_edges()[0].fn->name() == "FusedBackward[mul(sin(x), scalar)]");
  // No gradient needed: nothing recorded, integer reductions unaffected.
  {
    k::NoGradGuard no;
    CHECK(k::prod(x).grad_fn() == nullptr);
  }
  const Tensor<int32_t> xi = k::from_vector<int32_t>({1, 2, 3}, {3});
  CHECK(k::prod(xi).item() == 6);
  CHECK(k::cumprod(xi, 0).data()[2] == 6);
}
