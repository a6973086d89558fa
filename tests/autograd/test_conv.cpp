// SPDX-License-Identifier: BSD-3-Clause
// Autograd of the convolutions, pooling and products beyond gradcheck: under create_graph
// the backward is built from recorded ops (Note [Convolution autograd], Note [Pooling
// autograd]) and must give the first derivatives the kernels give, in float (oneDNN) and
// double (GEMM); what is recorded and what is not; reduced precision.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "autograd/gradcheck_registry.hpp"

namespace {
using kiln::CPU;
using kiln::Shape;
using kiln::Tensor;
namespace k = kiln;

template <class T>
Tensor<T> vals(const Shape& s, uint64_t seed) {
  return k::test::values(s, seed).to<T>();
}

template <class T>
void check_close(const Tensor<T>& got, const Tensor<T>& want, double tol) {
  REQUIRE(got.shape() == want.shape());
  const Tensor<T> g = got.contiguous(), w = want.contiguous();
  for (int64_t i = 0; i < g.numel(); ++i) {
    const double a = static_cast<double>(g.data()[i]), b = static_cast<double>(w.data()[i]);
    INFO("element " << i << ": " << a << " vs " << b);
    REQUIRE(std::abs(a - b) <= tol * (1 + std::abs(b)));
  }
}

template <class T>
using Fn = std::function<Tensor<T>(const std::vector<Tensor<T>>&)>;

// The gradients of f at `inputs` from a plain backward (the kernels) and from a
// create_graph backward (recorded ops, with a grad_output that requires grad too).
template <class T>
void check_create_graph(const Fn<T>& f, std::vector<Tensor<T>> inputs, double tol) {
  for (Tensor<T>& x : inputs) x.requires_grad_();
  const Tensor<T> y = f(inputs);
  REQUIRE(y.requires_grad());
  const Tensor<T> gy = vals<T>(y.shape(), 7);
  const auto plain = k::autograd::grad<T, CPU>({y}, inputs, {gy}, true, false);
  Tensor<T> gy_rg = gy.clone();
  gy_rg.requires_grad_();
  const auto graph = k::autograd::grad<T, CPU>({y}, inputs, {gy_rg}, true, true);
  REQUIRE(plain.size() == inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    INFO("input " << i);
    REQUIRE(!plain[i].requires_grad());
    REQUIRE(graph[i].requires_grad());
    check_close(graph[i], plain[i], tol);
  }
}

template <class T>
double tol_of() {
  return std::is_same_v<T, float> ? 1e-4 : 1e-10;
}

TEMPLATE_TEST_CASE("conv autograd: create_graph gradients equal the kernels'", "[autograd][conv]",
                   float, double) {
  using T = TestType;
  const double tol = tol_of<T>();
  SECTION("conv2d: groups, stride, padding, dilation, bias") {
    check_create_graph<T>(
        [](const auto& x) { return k::conv2d(x[0], x[1], x[2], {2, 1}, {1, 2}, {1, 2}, 2); },
        {vals<T>({2, 4, 7, 6}, 1), vals<T>({6, 2, 3, 2}, 2), vals<T>({6}, 3)}, tol);
  }
  SECTION("conv2d: unbatched, strided rows that leave input rows unread") {
    check_create_graph<T>([](const auto& x) { return k::conv2d(x[0], x[1], {}, 3, 0, 1, 1); },
                          {vals<T>({3, 8, 7}, 1), vals<T>({2, 3, 2, 2}, 2)}, tol);
  }
  SECTION("conv1d: batched and unbatched") {
    check_create_graph<T>(
        [](const auto& x) { return k::conv1d(x[0], x[1], x[2], 2, 1, 2, 4); },
        {vals<T>({2, 4, 9}, 1), vals<T>({8, 1, 3}, 2), vals<T>({8}, 3)}, tol);
    check_create_graph<T>([](const auto& x) { return k::conv1d(x[0], x[1], {}, 1, 2); },
                          {vals<T>({3, 6}, 1), vals<T>({2, 3, 3}, 2)}, tol);
  }
  SECTION("conv_transpose2d: groups, stride, output_padding, bias") {
    check_create_graph<T>(
        [](const auto& x) { return k::conv_transpose2d(x[0], x[1], x[2], 2, 1, 1, 2); },
        {vals<T>({2, 4, 3, 3}, 1), vals<T>({4, 3, 3, 3}, 2), vals<T>({6}, 3)}, tol);
  }
  SECTION("conv_transpose2d: output_padding >= stride, dilation, unbatched") {
    check_create_graph<T>(
        [](const auto& x) {
          return k::conv_transpose2d(x[0], x[1], {}, 1, {0, 1}, 1, 1, {2, 3});
        },
        {vals<T>({2, 3, 4}, 1), vals<T>({2, 3, 2, 2}, 2)}, tol);
  }
  SECTION("pooling") {
    check_create_graph<T>([](const auto& x) { return k::max_pool2d(x[0], 3, 2, 1, 1, true); },
                          {vals<T>({2, 3, 7, 6}, 1)}, tol);
    check_create_graph<T>(
        [](const auto& x) { return k::avg_pool2d(x[0], {3, 2}, {2, 1}, 1, true, false); },
        {vals<T>({2, 3, 7, 6}, 1)}, tol);
    check_create_graph<T>([](const auto& x) { return k::adaptive_avg_pool2d(x[0], {3, 4}); },
                          {vals<T>({3, 7, 6}, 1)}, tol);
  }
  SECTION("products") {
    check_create_graph<T>([](const auto& x) { return k::matmul(x[0], x[1]); },
                          {vals<T>({2, 1, 3, 4}, 1), vals<T>({3, 4, 5}, 2)}, tol);
    check_create_graph<T>([](const auto& x) { return k::linear(x[0], x[1], x[2]); },
                          {vals<T>({2, 3, 4}, 1), vals<T>({5, 4}, 2), vals<T>({5}, 3)}, tol);
  }
}

TEST_CASE("conv autograd: second derivative of a conv net by hand", "[autograd][conv]") {
  // y = sum(conv2d(x, w)^2): d/dw of (dy/dx . v) is checked by gradgradcheck; here the
  // Hessian-vector product in w alone against finite differences of the gradient.
  const Tensor<double> x = vals<double>({1, 2, 4, 4}, 1);
  Tensor<double> w = vals<double>({3, 2, 2, 2}, 2).requires_grad_();
  const Tensor<double> v = vals<double>({3, 2, 2, 2}, 5);
  auto grad_w = [&](const Tensor<double>& wt, bool create) {
    const Tensor<double> y = k::conv2d(x, wt, {}, 1, 1);
    const Tensor<double> loss = k::sum(y * y);
    return k::autograd::grad<double, CPU>({loss}, {wt}, {}, true, create)[0];
  };
  const Tensor<double> g = grad_w(w, true);
  const Tensor<double> gv = k::sum(g * v);
  const Tensor<double> hv = k::autograd::grad<double, CPU>({gv}, {w})[0];
  const double eps = 1e-6;
  const Tensor<double> wp = Tensor<double>(w.detach() + v * eps).requires_grad_();
  const Tensor<double> wm = Tensor<double>(w.detach() - v * eps).requires_grad_();
  const Tensor<double> fd = (grad_w(wp, false) - grad_w(wm, false)) / (2 * eps);
  check_close(hv, fd, 1e-6);
}

TEST_CASE("conv autograd: what is recorded", "[autograd][conv]") {
  const Tensor<double> x = vals<double>({1, 2, 4, 4}, 1);
  const Tensor<double> w = vals<double>({2, 2, 2, 2}, 2);
  SECTION("nothing without an input that requires grad, or under NoGradGuard") {
    CHECK(!k::conv2d(x, w).requires_grad());
    CHECK(!k::max_pool2d(x, 2).requires_grad());
    Tensor<double> xr = x.clone();
    xr.requires_grad_();
    k::NoGradGuard no_grad;
    CHECK(!k::conv2d(xr, w).requires_grad());
    CHECK(!k::conv_transpose2d(xr, w).requires_grad());
    CHECK(!k::avg_pool2d(xr, 2).requires_grad());
    CHECK(!k::matmul(xr, xr).requires_grad());
  }
  SECTION("max_pool2d_with_indices: the values have history, the indices none") {
    Tensor<double> xr = x.clone();
    xr.requires_grad_();
    const auto r = k::max_pool2d_with_indices(xr, 2);
    CHECK(r.values.requires_grad());
    CHECK(r.values.grad_fn()->name() == "MaxPool2DWithIndicesBackward");
    CHECK(!r.indices.requires_grad());
    k::sum(r.values).backward();
    // One 1 per window, at its maximum.
    const Tensor<double> want = k::max_pool2d_backward(
        Tensor<double>(k::ones_like(r.values.detach())), r.indices, xr.shape());
    check_close(xr.grad(), want, 0);
  }
  SECTION("a weight that needs no gradient is not differentiated") {
    Tensor<double> xr = x.clone();
    xr.requires_grad_();
    const Tensor<double> y = k::conv2d(xr, w, {}, 1, 1);
    CHECK(y.grad_fn()->name() == "ConvolutionBackward");
    const auto g = k::autograd::grad<double, CPU>({k::sum(y)}, {xr});
    CHECK(g[0].shape() == xr.shape());
  }
}

TEST_CASE("conv autograd: half and bfloat16 gradients follow float's", "[autograd][conv]") {
  const std::vector<Tensor<float>> in{vals<float>({1, 2, 5, 5}, 1), vals<float>({2, 2, 3, 3}, 2)};
  auto grads_in = [&]<class T>(T) {
    Tensor<T> x = in[0].to<T>(), w = in[1].to<T>();
    x.requires_grad_();
    w.requires_grad_();
    const Tensor<T> y = k::avg_pool2d(k::conv2d(x, w, {}, 1, 1), 2);
    const Tensor<T> z = k::matmul(y.flatten(2), y.flatten(2).transpose(1, 2));
    k::sum(z).backward();
    return std::vector<Tensor<float>>{x.grad().template to<float>(),
                                      w.grad().template to<float>()};
  };
  const auto want = grads_in(0.0f);
  for (const auto& got : {grads_in(k::half(0.0f)), grads_in(k::bfloat16(0.0f))})
    for (size_t i = 0; i < 2; ++i) {
      const Tensor<float> a = got[i], b = want[i];
      double scale = 0;
      for (int64_t j = 0; j < b.numel(); ++j)
        scale = std::max(scale, std::abs(double(b.data()[j])));
      for (int64_t j = 0; j < b.numel(); ++j)
        CHECK(std::abs(double(a.data()[j]) - double(b.data()[j])) <= 0.05 * scale);
    }
}

}  // namespace
