// SPDX-License-Identifier: BSD-3-Clause
// nn layers: values against kiln's functional ops and plain loops, initialisation ranges,
// gradchecks in double, Dropout's modes.
#include <catch2/catch.hpp>
#include <cmath>

#include "kiln/nn.hpp"

namespace {
using kiln::Shape;
using kiln::Tensor;
namespace nn = kiln::nn;

double max_abs_diff(const Tensor<double>& a, const Tensor<double>& b) {
  return kiln::amax(kiln::abs(a - b)).item();
}
}  // namespace

TEST_CASE("Linear computes x w^T + b and initialises like torch", "[nn]") {
  kiln::manual_seed(5);
  nn::Linear<double> fc(50, 7);
  const double bound = 1 / std::sqrt(50.0);
  REQUIRE(kiln::amax(kiln::abs(fc.weight)).item() <= bound);
  REQUIRE(kiln::amax(kiln::abs(fc.weight)).item() > 0.9 * bound);  // spread over the range
  REQUIRE(kiln::amax(kiln::abs(fc.bias)).item() <= bound);
  const Tensor<double> x = kiln::randn<double>({3, 50});
  const Tensor<double> y = fc(x);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 7; ++j) {
      double want = fc.bias(j);
      for (int64_t k = 0; k < 50; ++k) want += x(i, k) * fc.weight(j, k);
      REQUIRE(std::abs(y(i, j) - want) < 1e-12);
    }
  REQUIRE_THROWS_AS(fc(kiln::zeros<double>({3, 49})), kiln::ShapeError);
  // Gradients of the module's forward with respect to input, weight and bias.
  nn::Linear<double> small(3, 2);
  const Tensor<double> xs = kiln::randn<double>({4, 3}).requires_grad_();
  REQUIRE(kiln::autograd::gradcheck(
      [&](const std::vector<Tensor<double>>& in) { return kiln::linear(in[0], in[1], in[2]); },
      {xs, small.weight, small.bias}));
}

TEST_CASE("Conv2d and pooling modules match the functional ops", "[nn]") {
  kiln::manual_seed(6);
  nn::Conv2d<double> conv(2, 4, {3, 2}, {.stride = {2, 1}, .padding = 1});
  const double bound = 1 / std::sqrt(2.0 * 3 * 2);
  REQUIRE(kiln::amax(kiln::abs(conv.weight)).item() <= bound);
  REQUIRE(conv.weight.shape() == Shape{4, 2, 3, 2});
  const Tensor<double> x = kiln::randn<double>({2, 2, 7, 6});
  REQUIRE(max_abs_diff(conv(x), kiln::conv2d(x, conv.weight, conv.bias, {2, 1}, 1)) == 0);
  nn::Conv2d<double> grouped(4, 4, 1, {.groups = 2, .bias = false});
  REQUIRE(grouped.weight.shape() == Shape{4, 2, 1, 1});
  REQUIRE_FALSE(grouped.bias.defined());
  REQUIRE(grouped.named_parameters().size() == 1);
  REQUIRE_THROWS_AS(nn::Conv2d<double>(3, 4, 3, {.groups = 2}), kiln::ValueError);

  const Tensor<double> img = kiln::randn<double>({2, 3, 8, 8});
  REQUIRE(max_abs_diff(nn::MaxPool2d<double>(2)(img), kiln::max_pool2d(img, 2)) == 0);
  REQUIRE(max_abs_diff(nn::AvgPool2d<double>(2)(img), kiln::avg_pool2d(img, 2)) == 0);
  REQUIRE(max_abs_diff(nn::AdaptiveAvgPool2d<double>(1)(img), kiln::mean(img, {2, 3}, true)) <
          1e-15);
  REQUIRE(nn::Flatten<double>()(img).shape() == Shape{2, 192});
  REQUIRE(nn::Flatten<double>(0, 1)(img).shape() == Shape{6, 8, 8});
  REQUIRE(nn::Identity<double>()(img).data() == img.data());
}

TEST_CASE("activation modules apply their ops", "[nn]") {
  const Tensor<double> x = kiln::linspace<double>(-3, 3, 13);
  REQUIRE(max_abs_diff(nn::ReLU<double>()(x), Tensor<double>(kiln::relu(x))) == 0);
  REQUIRE(max_abs_diff(nn::SiLU<double>()(x), Tensor<double>(x * kiln::sigmoid(x))) < 1e-15);
  REQUIRE(max_abs_diff(nn::Tanh<double>()(x), Tensor<double>(kiln::tanh(x))) == 0);
  REQUIRE(max_abs_diff(nn::Sigmoid<double>()(x), Tensor<double>(kiln::sigmoid(x))) == 0);
  REQUIRE(max_abs_diff(nn::LeakyReLU<double>(0.1)(x),
                       Tensor<double>(kiln::where(x > 0.0, x, x * 0.1))) < 1e-15);
  REQUIRE(max_abs_diff(nn::GELU<double>()(x), Tensor<double>(kiln::gelu(x))) == 0);
  REQUIRE(max_abs_diff(nn::GELU<double>("tanh")(x), Tensor<double>(kiln::gelu_tanh(x))) == 0);
  REQUIRE_THROWS_AS(nn::GELU<double>("fast"), kiln::ValueError);
  const Tensor<double> m = x.reshape({1, 13});
  REQUIRE(std::abs(kiln::sum(nn::Softmax<double>(1)(m)).item() - 1) < 1e-15);
  REQUIRE(max_abs_diff(nn::LogSoftmax<double>(1)(m), kiln::log_softmax(m, 1)) == 0);
  // An expression is evaluated before the module runs.
  REQUIRE(max_abs_diff(nn::ReLU<double>()(x * 2.0), Tensor<double>(kiln::relu(x * 2.0))) == 0);
}

TEST_CASE("Dropout zeroes about p of the elements in training and nothing in eval", "[nn]") {
  kiln::manual_seed(7);
  nn::Dropout<float> drop(0.3);
  const Tensor<float> x = kiln::ones<float>({100000});
  const Tensor<float> y = drop(x);
  int64_t zeros = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    const float v = y(i);
    zeros += v == 0;
    if (v != 0) REQUIRE(std::abs(v - 1 / 0.7f) < 1e-6f);
  }
  REQUIRE(std::abs(double(zeros) / 100000 - 0.3) < 0.01);
  drop.eval();
  REQUIRE(kiln::amax(kiln::abs(drop(x) - x)).item() == 0);
  REQUIRE_THROWS_AS(nn::Dropout<float>(1.5), kiln::ValueError);
}

TEST_CASE("nn::init follows torch.nn.init's formulas", "[nn]") {
  kiln::manual_seed(8);
  using namespace kiln::nn::init;
  REQUIRE(calculate_gain("relu") == Approx(std::sqrt(2.0)));
  REQUIRE(calculate_gain("tanh") == Approx(5.0 / 3));
  REQUIRE(calculate_gain("leaky_relu", 0.2) == Approx(std::sqrt(2 / 1.04)));
  REQUIRE_THROWS_AS(calculate_gain("swish"), kiln::ValueError);
  const Fans f = calculate_fan_in_and_fan_out(Shape{16, 8, 3, 3});
  REQUIRE((f.in == 72 && f.out == 144));

  Tensor<double> w({400, 300});
  xavier_uniform_(w);
  const double a = std::sqrt(6.0 / 700);
  REQUIRE(kiln::amax(kiln::abs(w)).item() <= a);
  REQUIRE(kiln::amax(kiln::abs(w)).item() > 0.99 * a);
  kaiming_normal_(w, 0.0, FanMode::fan_in, "relu");
  REQUIRE(std::sqrt(kiln::var(w).item()) == Approx(std::sqrt(2.0 / 300)).epsilon(0.02));
  xavier_normal_(w, 2.0);
  REQUIRE(std::sqrt(kiln::var(w).item()) == Approx(2 * std::sqrt(2.0 / 700)).epsilon(0.02));
  zeros_(w);
  REQUIRE(kiln::amax(kiln::abs(w)).item() == 0);
  ones_(w);
  REQUIRE(kiln::amin(w).item() == 1);

  for (const Shape& s : {Shape{6, 4}, Shape{4, 6}, Shape{3, 2, 2}}) {
    Tensor<double> q(s);
    orthogonal_(q);
    const Tensor<double> m = q.reshape({s[0], -1});
    // Rows (or columns, whichever are fewer) are orthonormal.
    const Tensor<double> g =
        m.size(0) <= m.size(1) ? kiln::matmul(m, m.t()) : kiln::matmul(m.t(), m);
    REQUIRE(max_abs_diff(g, kiln::eye<double>(g.size(0))) < 1e-12);
  }
  // Initialisers write under NoGrad, into parameters that require grad.
  nn::Linear<float> fc(3, 3);
  REQUIRE_NOTHROW(kiln::nn::init::uniform_(fc.weight, -1, 1));
}

TEST_CASE("Conv1d and ConvTranspose2d match their ops and initialise from the weight's fan-in",
          "[nn]") {
  kiln::manual_seed(8);
  nn::Conv1d<double> c1(4, 6, 3, {.stride = 2, .padding = 1, .groups = 2});
  REQUIRE(c1.weight.shape() == Shape{6, 2, 3});
  REQUIRE(kiln::amax(kiln::abs(c1.weight)).item() <= 1 / std::sqrt(2.0 * 3));
  const Tensor<double> x = kiln::randn<double>({2, 4, 9});
  REQUIRE(max_abs_diff(c1(x), kiln::conv1d(x, c1.weight, c1.bias, 2, 1, 1, 2)) == 0);
  REQUIRE(c1.repr() == "Conv1d(4, 6, kernel_size=(3,), stride=(2,), padding=(1,), groups=2)");

  nn::ConvTranspose2d<double> ct(4, 6, 3, {.stride = 2, .padding = 1, .output_padding = 1});
  REQUIRE(ct.weight.shape() == Shape{4, 6, 3, 3});
  // torch reads fan_in from dim 1 of the weight: out / groups * kH * kW.
  const double bound = 1 / std::sqrt(6.0 * 9);
  REQUIRE(kiln::amax(kiln::abs(ct.bias)).item() <= bound);
  REQUIRE(kiln::amax(kiln::abs(ct.bias)).item() > 0.5 * bound);
  const Tensor<double> img = kiln::randn<double>({2, 4, 5, 5});
  const Tensor<double> up = ct(img);
  REQUIRE(up.shape() == Shape{2, 6, 10, 10});
  REQUIRE(max_abs_diff(up, kiln::conv_transpose2d(img, ct.weight, ct.bias, 2, 1, 1)) == 0);
  REQUIRE(ct.repr() ==
          "ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
          "output_padding=(1, 1))");
  REQUIRE_THROWS_AS(nn::ConvTranspose2d<double>(3, 4, 3, {.groups = 2}), kiln::ValueError);
  REQUIRE_THROWS_AS(nn::Conv1d<double>(2, 2, 0), kiln::ValueError);
}

TEST_CASE("Bilinear matches a loop and its gradients finite differences", "[nn]") {
  kiln::manual_seed(9);
  nn::Bilinear<double> bl(3, 4, 2);
  REQUIRE(bl.weight.shape() == Shape{2, 3, 4});
  REQUIRE(kiln::amax(kiln::abs(bl.weight)).item() <= 1 / std::sqrt(3.0));
  REQUIRE(bl.repr() == "Bilinear(in1_features=3, in2_features=4, out_features=2, bias=True)");
  // Leading dims [2, 5]; x2 a non-contiguous view.
  const Tensor<double> x1 = kiln::randn<double>({2, 5, 3});
  const Tensor<double> x2 = kiln::randn<double>({4, 5, 2}).permute({2, 1, 0});
  const Tensor<double> y = bl(x1, x2);
  REQUIRE(y.shape() == Shape{2, 5, 2});
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 5; ++b)
      for (int64_t o = 0; o < 2; ++o) {
        double want = bl.bias(o);
        for (int64_t i = 0; i < 3; ++i)
          for (int64_t j = 0; j < 4; ++j) want += x1(a, b, i) * bl.weight(o, i, j) * x2(a, b, j);
        REQUIRE(std::abs(y(a, b, o) - want) < 1e-12);
      }
  REQUIRE(kiln::autograd::gradcheck(
      [](const std::vector<Tensor<double>>& in) {
        return nn::functional::bilinear(in[0], in[1], in[2], in[3]);
      },
      {kiln::randn<double>({3, 2}).requires_grad_(), kiln::randn<double>({3, 3}).requires_grad_(),
       kiln::randn<double>({2, 2, 3}).requires_grad_(),
       kiln::randn<double>({2}).requires_grad_()}));
  REQUIRE_THROWS_AS(bl(x1, kiln::randn<double>({2, 5, 3})), kiln::ShapeError);
  REQUIRE_THROWS_AS(bl(x1, kiln::randn<double>({5, 2, 4})), kiln::ShapeError);
}

TEST_CASE("nn::functional names the layer ops as torch.nn.functional does", "[nn]") {
  namespace F = kiln::nn::functional;
  kiln::manual_seed(10);
  const Tensor<double> x = kiln::randn<double>({2, 3, 8, 8});
  const Tensor<double> w = kiln::randn<double>({4, 3, 3, 3});
  // F::relu is a lazy expression, as kiln::relu; the pooling op takes a tensor.
  const Tensor<double> y = F::max_pool2d(Tensor<double>(F::relu(F::conv2d(x, w, {}, 1, 1))), 2);
  REQUIRE(max_abs_diff(y, kiln::max_pool2d(Tensor<double>(kiln::relu(kiln::conv2d(x, w, {}, 1, 1))),
                                           2)) == 0);
  REQUIRE(max_abs_diff(F::softmax(y, 1), kiln::softmax(y, 1)) == 0);
  REQUIRE(F::dropout(y, 0.5, /*training=*/false).data() == y.data());
}
