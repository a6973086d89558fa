// SPDX-License-Identifier: BSD-3-Clause
// LayerNorm, RMSNorm, GroupNorm and Embedding: values against loops in double, gradients
// against finite differences, defaults and repr as torch's.
#include <catch2/catch.hpp>
#include <cmath>

#include "kiln/nn.hpp"

namespace {
using kiln::Shape;
using kiln::Tensor;
namespace nn = kiln::nn;
namespace F = kiln::nn::functional;
}  // namespace

TEST_CASE("layer_norm, rms_norm and group_norm match loops", "[nn][norm]") {
  kiln::manual_seed(15);
  const Tensor<double> x = kiln::randn<double>({3, 2, 4}) * 2.0 + 1.0;
  const Tensor<double> w = kiln::randn<double>({2, 4}), b = kiln::randn<double>({2, 4});
  const Tensor<double> y = F::layer_norm(x, Shape{2, 4}, w, b, 1e-5);
  const Tensor<double> r = F::rms_norm(x, Shape{4}, Tensor<double>(w.select(0, 0)), 1e-6);
  for (int64_t i = 0; i < 3; ++i) {
    double m = 0, v = 0;
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t k = 0; k < 4; ++k) m += x(i, j, k) / 8;
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t k = 0; k < 4; ++k) v += (x(i, j, k) - m) * (x(i, j, k) - m) / 8;
    for (int64_t j = 0; j < 2; ++j) {
      double ms = 0;
      for (int64_t k = 0; k < 4; ++k) ms += x(i, j, k) * x(i, j, k) / 4;
      for (int64_t k = 0; k < 4; ++k) {
        REQUIRE(y(i, j, k) ==
                Approx((x(i, j, k) - m) / std::sqrt(v + 1e-5) * w(j, k) + b(j, k)).epsilon(1e-12));
        REQUIRE(r(i, j, k) == Approx(x(i, j, k) / std::sqrt(ms + 1e-6) * w(0, k)).epsilon(1e-12));
      }
    }
  }
  // group_norm on [N, C, H, W] = [2, 4, 3, 1] with 2 groups of 2 channels.
  const Tensor<double> g = kiln::randn<double>({2, 4, 3, 1});
  const Tensor<double> gw = kiln::randn<double>({4}), gb = kiln::randn<double>({4});
  const Tensor<double> gy = F::group_norm(g, 2, gw, gb);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t grp = 0; grp < 2; ++grp) {
      double m = 0, v = 0;
      for (int64_t c = 2 * grp; c < 2 * grp + 2; ++c)
        for (int64_t h = 0; h < 3; ++h) m += g(n, c, h, 0) / 6;
      for (int64_t c = 2 * grp; c < 2 * grp + 2; ++c)
        for (int64_t h = 0; h < 3; ++h) v += (g(n, c, h, 0) - m) * (g(n, c, h, 0) - m) / 6;
      for (int64_t c = 2 * grp; c < 2 * grp + 2; ++c)
        for (int64_t h = 0; h < 3; ++h)
          REQUIRE(gy(n, c, h, 0) ==
                  Approx((g(n, c, h, 0) - m) / std::sqrt(v + 1e-5) * gw(c) + gb(c)).epsilon(1e-12));
    }
  REQUIRE_THROWS_AS(F::layer_norm(x, Shape{3}), kiln::ShapeError);
  REQUIRE_THROWS_AS(F::group_norm(g, 3), kiln::ShapeError);
  // An empty batch gives an empty result, as torch's.
  REQUIRE(F::group_norm(kiln::zeros<double>({0, 4, 2}), 2).shape() == Shape{0, 4, 2});
}

TEST_CASE("normalization gradients match finite differences", "[nn][norm][autograd]") {
  kiln::manual_seed(16);
  const Tensor<double> x = kiln::randn<double>({2, 3}).requires_grad_();
  const Tensor<double> w = kiln::randn<double>({3}).requires_grad_();
  const Tensor<double> b = kiln::randn<double>({3}).requires_grad_();
  REQUIRE(kiln::autograd::gradcheck(
      [](const std::vector<Tensor<double>>& in) {
        return F::layer_norm(in[0], Shape{3}, in[1], in[2]);
      },
      {x, w, b}));
  REQUIRE(kiln::autograd::gradcheck(
      [](const std::vector<Tensor<double>>& in) {
        return F::rms_norm(in[0], Shape{3}, in[1], 1e-3);
      },
      {x, w}));
  const Tensor<double> g = kiln::randn<double>({2, 4, 2}).requires_grad_();
  const Tensor<double> gw = kiln::randn<double>({4}).requires_grad_();
  REQUIRE(kiln::autograd::gradcheck(
      [](const std::vector<Tensor<double>>& in) { return F::group_norm(in[0], 2, in[1]); },
      {g, gw}));
  REQUIRE(kiln::autograd::gradgradcheck(
      [](const std::vector<Tensor<double>>& in) {
        return F::layer_norm(in[0], Shape{3}, in[1], in[2]);
      },
      {x, w, b}));
}

TEST_CASE("normalization modules: torch's defaults and repr", "[nn][norm]") {
  nn::LayerNorm<double> ln(Shape{5});
  REQUIRE(ln.named_parameters().keys() == std::vector<std::string>{"weight", "bias"});
  REQUIRE((kiln::amin(ln.weight).item() == 1.0 && kiln::amax(kiln::abs(ln.bias)).item() == 0.0));
  REQUIRE(ln.repr() == "LayerNorm((5,), eps=1e-05, elementwise_affine=True)");
  REQUIRE(nn::LayerNorm<double>(Shape{2, 3}, 1e-6, false).repr() ==
          "LayerNorm((2, 3), eps=1e-06, elementwise_affine=False)");
  REQUIRE(nn::LayerNorm<double>(Shape{2, 3}, 1e-6, false).named_parameters().size() == 0);
  REQUIRE(nn::RMSNorm<float>(Shape{8}).repr() ==
          "RMSNorm((8,), eps=None, elementwise_affine=True)");
  nn::GroupNorm<double> gn(2, 4);
  REQUIRE(gn.repr() == "GroupNorm(2, 4, eps=1e-05, affine=True)");
  REQUIRE_THROWS_AS(nn::GroupNorm<double>(3, 4), kiln::ValueError);
  const Tensor<double> x = kiln::randn<double>({2, 4, 3});
  REQUIRE(kiln::amax(kiln::abs(gn(x) - F::group_norm(x, 2, gn.weight, gn.bias))).item() == 0);
  REQUIRE_THROWS_AS(gn(kiln::randn<double>({2, 3, 3})), kiln::ShapeError);
}

TEST_CASE("Embedding looks rows up; the padding row is zero and gets no gradient", "[nn]") {
  kiln::manual_seed(17);
  nn::Embedding<double> emb(6, 3, /*padding_idx=*/-1);
  REQUIRE(emb.padding_idx == 5);
  REQUIRE(emb.repr() == "Embedding(6, 3, padding_idx=5)");
  REQUIRE(kiln::amax(kiln::abs(emb.weight.select(0, 5))).item() == 0);
  const Tensor<int64_t> ids = kiln::from_vector<int64_t>({1, 5, 1, 0}, Shape{2, 2});
  const Tensor<double> out = emb(ids);
  REQUIRE(out.shape() == Shape{2, 2, 3});
  for (int64_t k = 0; k < 3; ++k) REQUIRE(out(1, 0, k) == emb.weight(1, k));
  kiln::sum(out).backward();
  REQUIRE(emb.weight.grad()(1, 0) == 2.0);  // id 1 appears twice
  REQUIRE(emb.weight.grad()(5, 0) == 0.0);  // padding
  REQUIRE(emb.weight.grad()(3, 0) == 0.0);  // unused
  REQUIRE_THROWS_AS(nn::Embedding<double>(4, 2, 4), kiln::ValueError);
}
