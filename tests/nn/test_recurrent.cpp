// SPDX-License-Identifier: BSD-3-Clause
// LSTM, GRU, LSTMCell and GRUCell: values against a scalar loop over the parameters in
// double, gradients against finite differences, torch's parameter names, order, init,
// repr and errors, dropout between layers.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "kiln/nn.hpp"
#include "kiln/nn/rnn.hpp"
#include "support/throws.hpp"

namespace {
using kiln::Shape;
using kiln::Tensor;
namespace nn = kiln::nn;
using Weights = nn::RNNWeights<double>;

double max_abs_diff(const Tensor<double>& a, const Tensor<double>& b) {
  REQUIRE(a.shape() == b.shape());
  return kiln::amax(kiln::abs(a - b)).item();
}

double sigmoid(double v) { return 1 / (1 + std::exp(-v)); }

struct Reference {
  Tensor<double> output, h_n, c_n;
};

// torch's LSTM / GRU equations, one scalar at a time. x [L, N, H_in] (time-major,
// batched); h0, c0 [num_layers * dirs, N, H]; w[k * dirs + d] the weights of layer k,
// direction d. c0 and c_n are ignored / left zero for the GRU.
Reference reference(bool lstm, const std::vector<Weights>& w, int64_t num_layers, int64_t dirs,
                    const Tensor<double>& x, const Tensor<double>& h0, const Tensor<double>& c0) {
  const int64_t L = x.size(0), N = x.size(1), H = w[0].w_hh.size(1), G = lstm ? 4 : 3;
  Reference r{Tensor<double>(), kiln::zeros<double>({num_layers * dirs, N, H}),
              kiln::zeros<double>({num_layers * dirs, N, H})};
  Tensor<double> in = x.contiguous();
  for (int64_t k = 0; k < num_layers; ++k) {
    Tensor<double> out = kiln::zeros<double>({L, N, dirs * H});
    for (int64_t d = 0; d < dirs; ++d) {
      const Weights& p = w[static_cast<size_t>(k * dirs + d)];
      const int64_t kd = k * dirs + d, in_size = in.size(2);
      for (int64_t n = 0; n < N; ++n) {
        std::vector<double> h(H), c(H, 0.0);
        for (int64_t j = 0; j < H; ++j) {
          h[j] = h0(kd, n, j);
          if (lstm) c[j] = c0(kd, n, j);
        }
        for (int64_t s = 0; s < L; ++s) {
          const int64_t t = d == 1 ? L - 1 - s : s;
          std::vector<double> gi(G * H), gh(G * H);
          for (int64_t q = 0; q < G * H; ++q) {
            gi[q] = p.b_ih.defined() ? p.b_ih(q) : 0.0;
            gh[q] = p.b_hh.defined() ? p.b_hh(q) : 0.0;
            for (int64_t m = 0; m < in_size; ++m) gi[q] += p.w_ih(q, m) * in(t, n, m);
            for (int64_t m = 0; m < H; ++m) gh[q] += p.w_hh(q, m) * h[m];
          }
          std::vector<double> hn(H);
          for (int64_t j = 0; j < H; ++j) {
            if (lstm) {
              const double ig = sigmoid(gi[j] + gh[j]), fg = sigmoid(gi[H + j] + gh[H + j]);
              const double gg = std::tanh(gi[2 * H + j] + gh[2 * H + j]);
              const double og = sigmoid(gi[3 * H + j] + gh[3 * H + j]);
              c[j] = fg * c[j] + ig * gg;
              hn[j] = og * std::tanh(c[j]);
            } else {
              const double rg = sigmoid(gi[j] + gh[j]), zg = sigmoid(gi[H + j] + gh[H + j]);
              const double ng = std::tanh(gi[2 * H + j] + rg * gh[2 * H + j]);
              hn[j] = (1 - zg) * ng + zg * h[j];
            }
          }
          h = hn;
          for (int64_t j = 0; j < H; ++j) out(t, n, d * H + j) = h[j];
        }
        for (int64_t j = 0; j < H; ++j) {
          r.h_n(kd, n, j) = h[j];
          r.c_n(kd, n, j) = c[j];
        }
      }
    }
    in = out;
  }
  r.output = in;
  return r;
}

template <class M>
Reference reference_of(const M& m, bool lstm, const Tensor<double>& x, const Tensor<double>& h0,
                       const Tensor<double>& c0) {
  return reference(lstm, m.all_weights, m.options.num_layers, m.num_directions(), x, h0, c0);
}

// A module's output against the reference in every layout: time-major, batch_first (the
// same numbers transposed), unbatched, and with a given initial state.
struct Config {
  nn::RNNOptions options;
  bool given_state;
  bool unbatched;
};

const std::vector<Config> kConfigs = {
    {{}, false, false},
    {{.num_layers = 2, .bidirectional = true}, false, false},
    {{.num_layers = 3}, true, false},
    {{.num_layers = 2, .bias = false, .bidirectional = true}, true, false},
    {{.num_layers = 2, .batch_first = true, .bidirectional = true}, true, false},
    {{.batch_first = true, .bidirectional = true}, false, true},
    {{.num_layers = 2, .bidirectional = true}, true, true},
};

std::string describe(const Config& c) {
  return "num_layers=" + std::to_string(c.options.num_layers) +
         " bias=" + std::to_string(c.options.bias) +
         " batch_first=" + std::to_string(c.options.batch_first) +
         " bidirectional=" + std::to_string(c.options.bidirectional) +
         " given_state=" + std::to_string(c.given_state) +
         " unbatched=" + std::to_string(c.unbatched);
}
}  // namespace

TEST_CASE("LSTM and GRU match a scalar reference in every layout", "[nn][rnn]") {
  kiln::manual_seed(40);
  const int64_t L = 5, N = 3, In = 4, H = 3;
  for (const Config& cfg : kConfigs) {
    INFO(describe(cfg));
    const int64_t K = cfg.options.num_layers * (cfg.options.bidirectional ? 2 : 1);
    const int64_t n = cfg.unbatched ? 1 : N;
    const Tensor<double> x = kiln::randn<double>({L, n, In});  // time-major, batched
    const Tensor<double> h0 =
        cfg.given_state ? kiln::randn<double>({K, n, H}) : kiln::zeros<double>({K, n, H});
    const Tensor<double> c0 =
        cfg.given_state ? kiln::randn<double>({K, n, H}) : kiln::zeros<double>({K, n, H});
    // What the module is given: the layout the config asks for.
    auto layout = [&](const Tensor<double>& t) {
      if (cfg.unbatched) return t.squeeze(1);
      return cfg.options.batch_first ? t.transpose(0, 1) : t;
    };
    auto state = [&](const Tensor<double>& s) {
      if (!cfg.given_state) return Tensor<double>();
      return cfg.unbatched ? s.squeeze(1) : s;
    };
    auto unstate = [&](const Tensor<double>& s) { return cfg.unbatched ? s.unsqueeze(1) : s; };
    auto unlayout = [&](const Tensor<double>& t) {
      if (cfg.unbatched) return t.unsqueeze(1);
      return cfg.options.batch_first ? t.transpose(0, 1) : t;
    };

    nn::LSTM<double> lstm(In, H, cfg.options);
    const nn::LSTMOutput<double> y = lstm(layout(x), {state(h0), state(c0)});
    const Reference want = reference_of(lstm, true, x, h0, c0);
    CHECK(max_abs_diff(unlayout(y.output), want.output) < 1e-12);
    CHECK(max_abs_diff(unstate(y.h_n), want.h_n) < 1e-12);
    CHECK(max_abs_diff(unstate(y.c_n), want.c_n) < 1e-12);

    nn::GRU<double> gru(In, H, cfg.options);
    const nn::GRUOutput<double> g = gru(layout(x), state(h0));
    const Reference gwant = reference_of(gru, false, x, h0, c0);
    CHECK(max_abs_diff(unlayout(g.output), gwant.output) < 1e-12);
    CHECK(max_abs_diff(unstate(g.h_n), gwant.h_n) < 1e-12);
  }
}

TEST_CASE("LSTM and GRU carry state across calls and run in float", "[nn][rnn]") {
  kiln::manual_seed(41);
  nn::LSTM<double> lstm(2, 3, {.num_layers = 2});
  nn::GRU<double> gru(2, 3, {.num_layers = 2});
  const Tensor<double> x = kiln::randn<double>({6, 2, 2});
  // Two halves with the state handed over give the whole sequence.
  const auto whole = lstm(x);
  const auto first = lstm(x.narrow(0, 0, 4));
  const auto second = lstm(x.narrow(0, 4, 2), {first.h_n, first.c_n});
  REQUIRE(max_abs_diff(kiln::cat({first.output, second.output}, 0), whole.output) < 1e-14);
  REQUIRE(max_abs_diff(second.h_n, whole.h_n) < 1e-14);
  REQUIRE(max_abs_diff(second.c_n, whole.c_n) < 1e-14);
  const auto gwhole = gru(x);
  const auto gfirst = gru(x.narrow(0, 0, 4));
  REQUIRE(max_abs_diff(gru(x.narrow(0, 4, 2), gfirst.h_n).h_n, gwhole.h_n) < 1e-14);
  // The last layer's final hidden state is its output at the last step.
  REQUIRE(max_abs_diff(whole.h_n.select(0, 1), whole.output.select(0, 5)) == 0);
  // Without grad mode nothing is recorded and the values are the same.
  {
    kiln::NoGradGuard g;
    const auto r = lstm(x);
    REQUIRE_FALSE(r.output.requires_grad());
    REQUIRE(max_abs_diff(r.output, whole.output) == 0);
  }
  REQUIRE(whole.output.requires_grad());
  // An empty batch gives empty results, as torch's.
  const auto empty = lstm(kiln::zeros<double>({6, 0, 2}));
  REQUIRE(empty.output.shape() == Shape{6, 0, 3});
  REQUIRE(empty.c_n.shape() == Shape{2, 0, 3});

  // A float module with the same parameters agrees to float precision.
  nn::LSTM<float> lstm_f(2, 3, {.num_layers = 2});
  {
    kiln::NoGradGuard g;
    for (const auto& [name, p] : lstm.named_parameters())
      lstm_f.named_parameters()[name].copy_(kiln::cast<float>(p));
  }
  const Tensor<float> xf = kiln::cast<float>(x);
  REQUIRE(kiln::amax(kiln::abs(kiln::cast<double>(lstm_f(xf).output) - whole.output)).item() <
          1e-5);
}

TEST_CASE("LSTMCell and GRUCell are one step of the reference", "[nn][rnn]") {
  kiln::manual_seed(42);
  nn::LSTMCell<double> lc(4, 3);
  nn::GRUCell<double> gc(4, 3, false);
  REQUIRE_FALSE(gc.bias_ih.defined());
  const Tensor<double> x = kiln::randn<double>({2, 4});
  const Tensor<double> h = kiln::randn<double>({2, 3}), c = kiln::randn<double>({2, 3});
  const std::vector<Weights> lw{{lc.weight_ih, lc.weight_hh, lc.bias_ih, lc.bias_hh}};
  const std::vector<Weights> gw{{gc.weight_ih, gc.weight_hh, {}, {}}};
  const Reference lr = reference(true, lw, 1, 1, x.unsqueeze(0), h.unsqueeze(0), c.unsqueeze(0));
  const Reference gr = reference(false, gw, 1, 1, x.unsqueeze(0), h.unsqueeze(0), c.unsqueeze(0));
  const nn::LSTMState<double> s = lc(x, {h, c});
  REQUIRE(max_abs_diff(s.h, lr.h_n.select(0, 0)) < 1e-12);
  REQUIRE(max_abs_diff(s.c, lr.c_n.select(0, 0)) < 1e-12);
  REQUIRE(max_abs_diff(gc(x, h), gr.h_n.select(0, 0)) < 1e-12);
  // Unbatched input and state; zeros when no state is given.
  const nn::LSTMState<double> s1 = lc(x.select(0, 1), {h.select(0, 1), c.select(0, 1)});
  REQUIRE(s1.h.shape() == Shape{3});
  REQUIRE(max_abs_diff(s1.c, s.c.select(0, 1)) < 1e-15);
  REQUIRE(max_abs_diff(gc(x.select(0, 0), h.select(0, 0)), gc(x, h).select(0, 0)) < 1e-15);
  const Tensor<double> z = kiln::zeros<double>({2, 3});
  REQUIRE(max_abs_diff(lc(x).h, lc(x, {z, z}).h) == 0);
  REQUIRE(max_abs_diff(gc(x), gc(x, z)) == 0);
}

TEST_CASE("recurrent parameters have torch's names, shapes, order and init", "[nn][rnn]") {
  kiln::manual_seed(43);
  nn::LSTM<double> lstm(3, 4, {.num_layers = 2, .bidirectional = true});
  const std::vector<std::pair<std::string, Shape>> torch_lstm = {
      {"weight_ih_l0", {16, 3}},
      {"weight_hh_l0", {16, 4}},
      {"bias_ih_l0", {16}},
      {"bias_hh_l0", {16}},
      {"weight_ih_l0_reverse", {16, 3}},
      {"weight_hh_l0_reverse", {16, 4}},
      {"bias_ih_l0_reverse", {16}},
      {"bias_hh_l0_reverse", {16}},
      {"weight_ih_l1", {16, 8}},
      {"weight_hh_l1", {16, 4}},
      {"bias_ih_l1", {16}},
      {"bias_hh_l1", {16}},
      {"weight_ih_l1_reverse", {16, 8}},
      {"weight_hh_l1_reverse", {16, 4}},
      {"bias_ih_l1_reverse", {16}},
      {"bias_hh_l1_reverse", {16}},
  };
  const auto params = lstm.named_parameters();
  REQUIRE(params.size() == torch_lstm.size());
  size_t i = 0;
  for (const auto& [name, p] : params) {
    CHECK(name == torch_lstm[i].first);
    CHECK(p.shape() == torch_lstm[i].second);
    ++i;
  }
  REQUIRE(lstm.state_dict().keys() == params.keys());
  REQUIRE(lstm.weights(1, true).w_ih.is_alias_of(params["weight_ih_l1_reverse"]));
  REQUIRE(lstm.weights(0).b_hh.is_alias_of(params["bias_hh_l0"]));
  REQUIRE_THROWS_AS(lstm.weights(2), kiln::IndexError);

  nn::GRU<double> gru(5, 2, {.bias = false});
  const auto gp = gru.named_parameters();
  REQUIRE(gp.keys() == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0"});
  REQUIRE(gp["weight_ih_l0"].shape() == Shape{6, 5});
  REQUIRE(gp["weight_hh_l0"].shape() == Shape{6, 2});
  REQUIRE_THROWS_AS(gru.weights(0, true), kiln::IndexError);

  nn::GRUCell<double> cell(5, 2);
  REQUIRE(cell.named_parameters().keys() ==
          std::vector<std::string>{"weight_ih", "weight_hh", "bias_ih", "bias_hh"});
  REQUIRE(cell.weight_hh.shape() == Shape{6, 2});
  REQUIRE(nn::LSTMCell<double>(5, 2).weight_ih.shape() == Shape{8, 5});

  // Every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), spread over the range.
  nn::LSTM<double> wide(8, 25, {.num_layers = 2});
  nn::GRUCell<double> wide_cell(8, 25);
  const double bound = 1 / std::sqrt(25.0);
  for (const auto& p : wide.parameters()) {
    CHECK(kiln::amax(kiln::abs(p)).item() <= bound);
    CHECK(kiln::amax(kiln::abs(p)).item() > 0.9 * bound);
  }
  for (const auto& p : wide_cell.parameters()) CHECK(kiln::amax(kiln::abs(p)).item() <= bound);

  // A state dict moves a model: same parameters, same output.
  nn::LSTM<double> copy(3, 4, {.num_layers = 2, .bidirectional = true});
  copy.load_state_dict(lstm.state_dict());
  const Tensor<double> x = kiln::randn<double>({3, 2, 3});
  REQUIRE(max_abs_diff(copy(x).output, lstm(x).output) == 0);
}

TEST_CASE("recurrent modules print like torch", "[nn][rnn]") {
  REQUIRE(nn::LSTM<float>(10, 20).repr() == "LSTM(10, 20)");
  REQUIRE(nn::LSTM<float>(10, 20, {.num_layers = 2, .batch_first = true, .bidirectional = true})
              .repr() == "LSTM(10, 20, num_layers=2, batch_first=True, bidirectional=True)");
  REQUIRE(nn::GRU<float>(10, 20, {.num_layers = 3, .bias = false, .dropout = 0.25}).repr() ==
          "GRU(10, 20, num_layers=3, bias=False, dropout=0.25)");
  REQUIRE(nn::LSTMCell<float>(3, 4, false).repr() == "LSTMCell(3, 4, bias=False)");
  REQUIRE(nn::GRUCell<float>(3, 4).repr() == "GRUCell(3, 4)");
}

TEST_CASE("LSTM and GRU gradients match finite differences", "[nn][rnn][autograd]") {
  kiln::manual_seed(44);
  using V = std::vector<Tensor<double>>;
  nn::LSTM<double> lstm(2, 2, {.num_layers = 2, .bidirectional = true});
  const Tensor<double> x = kiln::randn<double>({3, 2, 2}).requires_grad_();
  const Tensor<double> h0 = kiln::randn<double>({4, 2, 2}).requires_grad_();
  const Tensor<double> c0 = kiln::randn<double>({4, 2, 2}).requires_grad_();
  // Module parameters passed as inputs are perturbed in place, so fn reads them through
  // the module.
  const auto &w0 = lstm.weights(0), &w1r = lstm.weights(1, true);
  REQUIRE(kiln::autograd::gradcheck(
      [&](const V& in) {
        const auto r = lstm(in[0], {in[1], in[2]});
        return V{r.output, r.h_n, r.c_n};
      },
      {x, h0, c0, w0.w_hh, w0.b_ih, w1r.w_ih, w1r.b_hh}));

  nn::GRU<double> gru(2, 2, {.num_layers = 2, .batch_first = true, .bidirectional = true});
  const Tensor<double> xb = kiln::randn<double>({2, 3, 2}).requires_grad_();
  const auto &g0r = gru.weights(0, true), &g1 = gru.weights(1);
  REQUIRE(kiln::autograd::gradcheck(
      [&](const V& in) {
        const auto r = gru(in[0], in[1]);
        return V{r.output, r.h_n};
      },
      {xb, h0, g0r.w_ih, g0r.b_hh, g1.w_hh, g1.b_ih}));
}

TEST_CASE("LSTM and GRU second derivatives match finite differences", "[nn][rnn][autograd]") {
  kiln::manual_seed(47);
  using V = std::vector<Tensor<double>>;
  // Unbatched, through the step split and the fused gates.
  nn::LSTM<double> tiny(1, 2);
  const Tensor<double> xu = kiln::randn<double>({3, 1}).requires_grad_();
  REQUIRE(kiln::autograd::gradgradcheck([&](const V& in) { return tiny(in[0]).output; },
                                        {xu, tiny.weights(0).w_hh}));
  nn::GRU<double> tiny_gru(1, 2);
  REQUIRE(kiln::autograd::gradgradcheck([&](const V& in) { return tiny_gru(in[0]).h_n; },
                                        {xu, tiny_gru.weights(0).w_hh}));
}

TEST_CASE("LSTMCell and GRUCell gradients match finite differences", "[nn][rnn][autograd]") {
  kiln::manual_seed(45);
  using V = std::vector<Tensor<double>>;
  nn::LSTMCell<double> lc(3, 2);
  nn::GRUCell<double> gc(3, 2);
  const Tensor<double> x = kiln::randn<double>({2, 3}).requires_grad_();
  const Tensor<double> h = kiln::randn<double>({2, 2}).requires_grad_();
  const Tensor<double> c = kiln::randn<double>({2, 2}).requires_grad_();
  REQUIRE(kiln::autograd::gradcheck(
      [&](const V& in) {
        const auto s = lc(in[0], {in[1], in[2]});
        return V{s.h, s.c};
      },
      {x, h, c, lc.weight_ih, lc.weight_hh, lc.bias_ih, lc.bias_hh}));
  REQUIRE(kiln::autograd::gradcheck([&](const V& in) { return gc(in[0], in[1]); },
                                    {x, h, gc.weight_ih, gc.weight_hh, gc.bias_ih, gc.bias_hh}));
}

TEST_CASE("dropout between recurrent layers only in training", "[nn][rnn]") {
  kiln::manual_seed(46);
  nn::LSTM<double> lstm(3, 4, {.num_layers = 2, .dropout = 0.5});
  nn::GRU<double> gru(3, 4, {.num_layers = 2, .dropout = 0.5});
  const Tensor<double> x = kiln::randn<double>({4, 2, 3});
  const Tensor<double> z = kiln::zeros<double>({2, 2, 4});
  REQUIRE(lstm.is_training());
  const Tensor<double> train1 = lstm(x).output, train2 = lstm(x).output;
  const Tensor<double> gtrain = gru(x).output;
  lstm.eval();
  gru.eval();
  const Tensor<double> eval1 = lstm(x).output;
  REQUIRE(max_abs_diff(eval1, lstm(x).output) == 0);
  REQUIRE(max_abs_diff(eval1, reference_of(lstm, true, x, z, z).output) < 1e-12);
  REQUIRE(max_abs_diff(gru(x).output, reference_of(gru, false, x, z, z).output) < 1e-12);
  REQUIRE(max_abs_diff(train1, eval1) > 1e-3);
  REQUIRE(max_abs_diff(train1, train2) > 1e-3);  // a fresh mask each call
  REQUIRE(max_abs_diff(gtrain, gru(x).output) > 1e-3);
  // The first layer is never dropped: a one-layer module ignores dropout.
  nn::GRU<double> one(3, 4, {.dropout = 1.0});
  REQUIRE(max_abs_diff(one(x).output,
                       reference_of(one, false, x, z.narrow(0, 0, 1), z.narrow(0, 0, 1)).output) <
          1e-12);
}

TEST_CASE("recurrent modules reject bad sizes and shapes", "[nn][rnn]") {
  using kiln::ShapeError;
  using kiln::ValueError;
  REQUIRE_THROWS_AS(nn::LSTM<double>(3, 0), ValueError);
  REQUIRE_THROWS_AS(nn::GRU<double>(0, 3), ValueError);
  REQUIRE_THROWS_AS(nn::LSTM<double>(3, 4, {.num_layers = 0}), ValueError);
  REQUIRE_THROWS_AS(nn::GRU<double>(3, 4, {.dropout = 1.5}), ValueError);
  REQUIRE_THROWS_AS(nn::LSTM<double>(3, 4, {.dropout = -0.1}), ValueError);
  REQUIRE_THROWS_AS(nn::LSTMCell<double>(3, 0), ValueError);
  REQUIRE_THROWS_AS(nn::GRUCell<double>(-1, 2), ValueError);

  nn::LSTM<double> lstm(3, 4, {.num_layers = 2, .bidirectional = true});
  nn::GRU<double> gru(3, 4, {.batch_first = true});
  std::string msg = kiln_test::thrown_message<ShapeError>([&] {
    (void)lstm(kiln::zeros<double>({5, 2, 2}));
  });
  CHECK_THAT(msg, Catch::Contains("[nn::LSTM]") && Catch::Contains("[L, N, 3]") &&
                      Catch::Contains("[5, 2, 2]"));
  REQUIRE_THROWS_AS(lstm(kiln::zeros<double>({5, 2, 3, 1})), ShapeError);
  REQUIRE_THROWS_AS(lstm(kiln::zeros<double>({3})), ShapeError);
  REQUIRE_THROWS_AS(lstm(kiln::zeros<double>({0, 2, 3})), ShapeError);
  msg = kiln_test::thrown_message<ShapeError>([&] {
    (void)lstm(kiln::zeros<double>({5, 2, 3}),
               {kiln::zeros<double>({2, 2, 4}), kiln::zeros<double>({4, 2, 4})});
  });
  CHECK_THAT(
      msg, Catch::Contains("h_0") && Catch::Contains("[4, 2, 4]") && Catch::Contains("[2, 2, 4]"));
  // c_0 checked too; both or neither; a 3-D state for unbatched input.
  REQUIRE_THROWS_AS(lstm(kiln::zeros<double>({5, 2, 3}),
                         {kiln::zeros<double>({4, 2, 4}), kiln::zeros<double>({4, 1, 4})}),
                    ShapeError);
  REQUIRE_THROWS_AS(lstm(kiln::zeros<double>({5, 2, 3}), {kiln::zeros<double>({4, 2, 4}), {}}),
                    ValueError);
  REQUIRE_THROWS_AS(lstm(kiln::zeros<double>({5, 3}),
                         {kiln::zeros<double>({4, 1, 4}), kiln::zeros<double>({4, 1, 4})}),
                    ShapeError);
  msg = kiln_test::thrown_message<ShapeError>([&] { (void)gru(kiln::zeros<double>({2, 5, 4})); });
  CHECK_THAT(msg, Catch::Contains("[nn::GRU]") && Catch::Contains("[N, L, 3]"));
  REQUIRE_THROWS_AS(gru(kiln::zeros<double>({2, 5, 3}), kiln::zeros<double>({1, 5, 4})),
                    ShapeError);  // batch 2, not 5: the state is [layers, N, H] even batch_first
  REQUIRE_NOTHROW(gru(kiln::zeros<double>({2, 5, 3}), kiln::zeros<double>({1, 2, 4})));

  nn::LSTMCell<double> lc(3, 4);
  nn::GRUCell<double> gc(3, 4);
  msg = kiln_test::thrown_message<ShapeError>([&] { (void)gc(kiln::zeros<double>({2, 2})); });
  CHECK_THAT(msg, Catch::Contains("[nn::GRUCell]") && Catch::Contains("[2, 2]"));
  REQUIRE_THROWS_AS(gc(kiln::zeros<double>({1, 2, 3})), ShapeError);
  REQUIRE_THROWS_AS(gc(kiln::zeros<double>({2, 3}), kiln::zeros<double>({3, 4})), ShapeError);
  REQUIRE_THROWS_AS(gc(kiln::zeros<double>({3}), kiln::zeros<double>({1, 4})), ShapeError);
  REQUIRE_THROWS_AS(lc(kiln::zeros<double>({2, 3}), {kiln::zeros<double>({2, 4}), {}}), ValueError);
  REQUIRE_THROWS_AS(
      lc(kiln::zeros<double>({2, 3}), {kiln::zeros<double>({2, 4}), kiln::zeros<double>({2, 5})}),
      ShapeError);
}

TEST_CASE("the functional forms run a layer stack from its weights", "[nn][rnn]") {
  namespace F = kiln::nn::functional;
  using kiln::ShapeError;
  using kiln::ValueError;
  kiln::manual_seed(47);
  const nn::RNNOptions o{.num_layers = 2, .bidirectional = true};
  nn::LSTM<double> lstm(3, 4, o);
  nn::GRU<double> gru(3, 4, o);
  const Tensor<double> x = kiln::randn<double>({5, 2, 3});
  const Tensor<double> h = kiln::randn<double>({4, 2, 4}), c = kiln::randn<double>({4, 2, 4});
  const nn::LSTMOutput<double> y = F::lstm(x, {h, c}, lstm.all_weights, o, false);
  const Reference want = reference_of(lstm, true, x, h, c);
  REQUIRE(max_abs_diff(y.output, want.output) < 1e-12);
  REQUIRE(max_abs_diff(y.c_n, want.c_n) < 1e-12);
  REQUIRE(max_abs_diff(F::gru(x, h, gru.all_weights, o, false).h_n,
                       reference_of(gru, false, x, h, c).h_n) < 1e-12);
  // The weights must be the layout the options describe, each named when it is wrong.
  REQUIRE_THROWS_AS(F::lstm(x, {}, lstm.all_weights, {.num_layers = 2}, false), ValueError);
  REQUIRE_THROWS_AS(F::lstm(x, {}, lstm.all_weights,
                            {.num_layers = 2, .bias = false, .bidirectional = true}, false),
                    ValueError);
  REQUIRE_THROWS_AS(F::lstm(x, {}, gru.all_weights, o, false), ShapeError);  // 3 gates, not 4
  std::vector<Weights> bad = lstm.all_weights;
  bad[2].w_ih = kiln::zeros<double>({16, 4});
  const std::string msg =
      kiln_test::thrown_message<ShapeError>([&] { (void)F::lstm(x, {}, bad, o, false); });
  CHECK_THAT(msg, Catch::Contains("weight_ih_l1") && Catch::Contains("[16, 8]") &&
                      Catch::Contains("[16, 4]"));
  nn::LSTMCell<double> lc(3, 4);
  const Weights cw{lc.weight_ih, lc.weight_hh, lc.bias_ih, {}};
  REQUIRE_THROWS_AS(F::lstm_cell(x.select(0, 0), {}, cw), ValueError);
}
