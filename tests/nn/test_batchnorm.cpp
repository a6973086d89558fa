// SPDX-License-Identifier: BSD-3-Clause
// BatchNorm1d/2d against per-channel loops (batch statistics, running statistics with
// momentum and cumulative averaging, evaluation), its gradients, its int64
// num_batches_tracked in state dicts and checkpoints, and converting a model's dtype.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <vector>

#include "kiln/io.hpp"
#include "kiln/nn.hpp"
#include "support/throws.hpp"

namespace {
using kiln::Shape;
using kiln::Tensor;
namespace nn = kiln::nn;
namespace F = kiln::nn::functional;
using kiln_test::thrown_message;

double max_abs_diff(const Tensor<double>& a, const Tensor<double>& b) {
  return kiln::amax(kiln::abs(a - b)).item();
}

// Per-channel statistics of x [N, C, *] by plain loops: the mean and the biased variance.
struct ChannelStats {
  std::vector<double> mean, var;
  int64_t count = 0;
};
ChannelStats channel_stats(const Tensor<double>& x) {
  const Tensor<double> c = x.contiguous();
  const int64_t N = x.shape()[0], C = x.shape()[1], inner = x.numel() / (N * C);
  ChannelStats s{std::vector<double>(C), std::vector<double>(C), N * inner};
  for (int64_t ch = 0; ch < C; ++ch) {
    double sum = 0, sq = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < inner; ++i) sum += c.data()[(n * C + ch) * inner + i];
    s.mean[ch] = sum / double(s.count);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < inner; ++i) {
        const double d = c.data()[(n * C + ch) * inner + i] - s.mean[ch];
        sq += d * d;
      }
    s.var[ch] = sq / double(s.count);
  }
  return s;
}

// y = (x - mean[c]) / sqrt(var[c] + eps) * w[c] + b[c], by loops.
Tensor<double> normalize_ref(const Tensor<double>& x, const std::vector<double>& mean,
                             const std::vector<double>& var, const Tensor<double>& w,
                             const Tensor<double>& b, double eps) {
  const Tensor<double> c = x.contiguous();
  Tensor<double> y(x.shape());
  const int64_t N = x.shape()[0], C = x.shape()[1], inner = x.numel() / (N * C);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = (n * C + ch) * inner + i;
        y.data()[k] = (c.data()[k] - mean[ch]) / std::sqrt(var[ch] + eps) * w(ch) + b(ch);
      }
  return y;
}

std::vector<double> values(const Tensor<double>& t) {
  std::vector<double> v(static_cast<std::size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = t(i);
  return v;
}

struct TempDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("kiln_bn_" + std::to_string(::getpid()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// A small model with a BatchNorm child, as a class template over the dtype (the shape a
// model needs to be converted to another dtype).
template <class T>
class Net : public nn::UnaryModule<T> {
 public:
  Net() : nn::UnaryModule<T>("Net") {
    fc = this->register_module("fc", std::make_shared<nn::Linear<T>>(3, 4));
    bn = this->register_module("bn", std::make_shared<nn::BatchNorm1d<T>>(4));
  }
  Tensor<T> forward(const Tensor<T>& x) override { return (*bn)((*fc)(x)); }
  std::shared_ptr<nn::Linear<T>> fc;
  std::shared_ptr<nn::BatchNorm1d<T>> bn;
};
}  // namespace

TEST_CASE("BatchNorm normalises by the batch's statistics and tracks running ones", "[nn][norm]") {
  kiln::manual_seed(21);
  for (const Shape& shape : {Shape{5, 3}, Shape{4, 3, 6}, Shape{2, 3, 4, 5}, Shape{2, 3, 1, 1}}) {
    CAPTURE(shape);
    std::shared_ptr<nn::BatchNorm<double>> bn;
    if (shape.size() == 4)
      bn = std::make_shared<nn::BatchNorm2d<double>>(3, nn::BatchNormOptions{.momentum = 0.3});
    else
      bn = std::make_shared<nn::BatchNorm1d<double>>(3, nn::BatchNormOptions{.momentum = 0.3});
    nn::init::normal_(bn->weight);
    nn::init::normal_(bn->bias);
    const Tensor<double> rm0 = kiln::randn<double>({3});
    const Tensor<double> rv0(kiln::rand<double>({3}) + 0.5);
    bn->running_mean.copy_(rm0);
    bn->running_var.copy_(rv0);

    const Tensor<double> x(kiln::randn<double>(shape) * 2.0 + 1.0);
    const ChannelStats s = channel_stats(x);
    REQUIRE(max_abs_diff((*bn)(x), normalize_ref(x, s.mean, s.var, bn->weight, bn->bias, 1e-5)) <
            1e-12);
    REQUIRE(bn->num_batches_tracked.item() == 1);
    for (int64_t c = 0; c < 3; ++c) {
      const double unbiased = s.var[c] * double(s.count) / double(s.count - 1);
      REQUIRE(std::abs(bn->running_mean(c) - (0.7 * rm0(c) + 0.3 * s.mean[c])) < 1e-14);
      REQUIRE(std::abs(bn->running_var(c) - (0.7 * rv0(c) + 0.3 * unbiased)) < 1e-14);
    }
    // Evaluation normalises by the running statistics and leaves them alone.
    bn->eval();
    const std::vector<double> rm = values(bn->running_mean), rv = values(bn->running_var);
    REQUIRE(max_abs_diff((*bn)(x), normalize_ref(x, rm, rv, bn->weight, bn->bias, 1e-5)) < 1e-12);
    REQUIRE(values(bn->running_mean) == rm);
    REQUIRE(bn->num_batches_tracked.item() == 1);
  }
  // A non-contiguous input (channels strided) normalises the same as its copy.
  nn::BatchNorm2d<double> bn(4);
  const Tensor<double> x = kiln::randn<double>({3, 5, 2, 4}).permute({0, 3, 2, 1});
  REQUIRE_FALSE(x.is_contiguous());
  const ChannelStats s = channel_stats(x);
  REQUIRE(max_abs_diff(bn(x), normalize_ref(x, s.mean, s.var, bn.weight, bn.bias, 1e-5)) < 1e-12);
}

TEST_CASE("BatchNorm with momentum None averages every batch seen", "[nn][norm]") {
  kiln::manual_seed(22);
  nn::BatchNorm1d<double> bn(2, {.momentum = std::nullopt});
  std::vector<double> mean_sum(2, 0.0);
  for (int step = 1; step <= 3; ++step) {
    const Tensor<double> x(kiln::randn<double>({6, 2}) + double(step));
    const ChannelStats s = channel_stats(x);
    for (int c = 0; c < 2; ++c) mean_sum[c] += s.mean[c];
    bn(x);
    REQUIRE(bn.num_batches_tracked.item() == step);
    for (int c = 0; c < 2; ++c) REQUIRE(std::abs(bn.running_mean(c) - mean_sum[c] / step) < 1e-14);
  }
  REQUIRE(bn.repr() ==
          "BatchNorm1d(2, eps=1e-05, momentum=None, affine=True, track_running_stats=True)");
  REQUIRE(nn::BatchNorm2d<float>(16, {.eps = 1e-3, .affine = false}).repr() ==
          "BatchNorm2d(16, eps=0.001, momentum=0.1, affine=False, track_running_stats=True)");
}

TEST_CASE("BatchNorm without running statistics uses the batch's in evaluation too", "[nn][norm]") {
  nn::BatchNorm1d<double> bn(3, {.affine = false, .track_running_stats = false});
  REQUIRE(bn.named_parameters().empty());
  REQUIRE(bn.named_buffers().empty());
  REQUIRE(bn.named_integer_buffers().empty());
  bn.eval();
  const Tensor<double> x = kiln::randn<double>({4, 3});
  const ChannelStats s = channel_stats(x);
  REQUIRE(max_abs_diff(bn(x), normalize_ref(x, s.mean, s.var, kiln::ones<double>({3}),
                                            kiln::zeros<double>({3}), 1e-5)) < 1e-12);
}

TEST_CASE("batch_norm's gradients match finite differences", "[nn][norm][autograd]") {
  kiln::manual_seed(23);
  const Tensor<double> x = kiln::randn<double>({3, 2, 4}).requires_grad_();
  const Tensor<double> w = kiln::randn<double>({2}).requires_grad_();
  const Tensor<double> b = kiln::randn<double>({2}).requires_grad_();
  REQUIRE(kiln::autograd::gradcheck(
      [](const std::vector<Tensor<double>>& in) {
        return F::batch_norm(in[0], Tensor<double>(), Tensor<double>(), in[1], in[2], true);
      },
      {x, w, b}));
  // Evaluation: the running statistics are constants.
  const Tensor<double> rm = kiln::randn<double>({2});
  const Tensor<double> rv(kiln::rand<double>({2}) + 0.5);
  REQUIRE(kiln::autograd::gradcheck(
      [&](const std::vector<Tensor<double>>& in) {
        return F::batch_norm(in[0], rm, rv, in[1], in[2], false);
      },
      {x, w, b}));
  // The running statistics are updated outside the graph.
  const Tensor<double> rm2 = kiln::zeros<double>({2}), rv2 = kiln::ones<double>({2});
  const Tensor<double> y = F::batch_norm(x, rm2, rv2, w, b, true);
  kiln::sum(y * y).backward();
  REQUIRE_FALSE(rm2.requires_grad());
  REQUIRE(x.grad().defined());
}

TEST_CASE("BatchNorm errors name the shapes", "[nn][norm]") {
  nn::BatchNorm2d<float> bn2(3);
  REQUIRE_THAT(thrown_message<kiln::ShapeError>([&] {
                 bn2(kiln::zeros<float>({2, 4, 5, 5}));
               }),
               Catch::Contains("expected input [N, 3, H, W], got [2, 4, 5, 5]"));
  nn::BatchNorm1d<float> bn1(3);
  REQUIRE_THROWS_AS(bn1(kiln::zeros<float>({2, 3, 4, 5})), kiln::ShapeError);
  REQUIRE_THAT(thrown_message<kiln::ValueError>([&] {
                 bn1(kiln::zeros<float>({1, 3}));
               }),
               Catch::Contains("more than 1 value per channel"));
  bn1.eval();
  REQUIRE(bn1(kiln::zeros<float>({1, 3})).shape() == Shape{1, 3});  // fine in evaluation
  REQUIRE_THROWS_AS(nn::BatchNorm1d<float>(0), kiln::ValueError);
  REQUIRE_THROWS_AS(F::batch_norm(kiln::zeros<float>({2, 3}), Tensor<float>(), Tensor<float>()),
                    kiln::ValueError);
  REQUIRE_THROWS_AS(
      F::batch_norm(kiln::zeros<float>({2, 3}), kiln::zeros<float>({4}), kiln::ones<float>({4})),
      kiln::ShapeError);
}

TEST_CASE("int64 buffers travel in state dicts and checkpoints", "[nn][io]") {
  kiln::manual_seed(24);
  Net<float> a, b;
  const Tensor<float> x = kiln::randn<float>({8, 3});
  a(x);
  a(x);
  // torch's names and order for the floating half; num_batches_tracked as int64.
  REQUIRE(a.state_dict().keys() == std::vector<std::string>{"fc.weight", "fc.bias", "bn.weight",
                                                            "bn.bias", "bn.running_mean",
                                                            "bn.running_var"});
  REQUIRE(a.state_dict().integer_buffers.keys() ==
          std::vector<std::string>{"bn.num_batches_tracked"});
  REQUIRE(a.named_integer_buffers().at("bn.num_batches_tracked").item() == 2);
  REQUIRE(a.named_integer_buffers(/*recurse=*/false).empty());

  TempDir dir;
  kiln::io::save(dir.file("net.safetensors"), a);
  const kiln::io::SafetensorsFile f = kiln::io::load_safetensors(dir.file("net.safetensors"));
  REQUIRE(f.tensors.at("bn.num_batches_tracked").dtype == kiln::ScalarType::Int64);
  REQUIRE(f.tensors.at("bn.num_batches_tracked").shape == Shape{});
  kiln::io::load(dir.file("net.safetensors"), b);
  a.eval();
  b.eval();
  REQUIRE(kiln::amax(kiln::abs(a(x) - b(x))).item() == 0);
  REQUIRE(b.bn->num_batches_tracked.item() == 2);

  // A missing counter is named like any other key, and nothing is loaded.
  Net<float> c;
  nn::StateDict<float> sd = a.state_dict();
  sd.integer_buffers = {};
  REQUIRE_THAT(thrown_message<kiln::ValueError>([&] { c.load_state_dict(sd); }),
               Catch::Contains("missing keys: bn.num_batches_tracked"));
  REQUIRE(c.bn->running_mean(0) == 0.0f);
  c.load_state_dict(sd, /*strict=*/false);
  REQUIRE(c.bn->running_mean(0) == a.bn->running_mean(0));
  REQUIRE(c.bn->num_batches_tracked.item() == 0);
}

TEST_CASE("convert_into copies a model into its twin of another dtype", "[nn]") {
  kiln::manual_seed(25);
  Net<float> f32;
  f32(kiln::randn<float>({8, 3}));
  Net<double> f64;
  nn::convert_into(f64, f32);
  f32.eval();
  f64.eval();
  const Tensor<float> x = kiln::randn<float>({5, 3});
  const Tensor<double> y32 = f32(x).to<double>(), y64 = f64(x.to<double>());
  REQUIRE(max_abs_diff(y32, y64) < 1e-5);
  REQUIRE(max_abs_diff(f64.fc->weight, f32.fc->weight.to<double>()) == 0);
  REQUIRE(f64.bn->num_batches_tracked.item() == 1);
  // The twin owns its tensors: training one leaves the other alone.
  f64.fc->weight.detach().fill_(0.0);
  REQUIRE(kiln::sum(kiln::abs(f32.fc->weight)).item() > 0);
  // A twin of another architecture is refused, naming the keys.
  nn::Linear<double> other(3, 4);
  REQUIRE_THROWS_AS(nn::convert_into(other, f32), kiln::ValueError);
}
