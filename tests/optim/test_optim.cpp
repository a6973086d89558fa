// SPDX-License-Identifier: BSD-3-Clause
// Optimizers against their published update rules computed by hand in double, the fused
// update against sequential assignments, state save/restore, and the LR schedulers.
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>
#include <vector>

#include "kiln/nn.hpp"
#include "kiln/optim.hpp"

namespace {
using kiln::Shape;
using kiln::Tensor;
namespace optim = kiln::optim;

// A parameter with a fixed gradient sequence: g_k = c * p + k (a function of p, so weight
// decay and momentum interact as in training).
struct Problem {
  Tensor<double> p = kiln::from_vector<double>({0.5, -1.5, 2.0}, Shape{3}).requires_grad_();
  void set_grad(int k) {
    Tensor<double> g = p.detach() * 0.3 + double(k);
    p.set_grad(g);
  }
  std::vector<double> values() const { return {p(0), p(1), p(2)}; }
};

template <class Opt>
std::vector<std::vector<double>> run(Opt& opt, Problem& pr, int steps) {
  std::vector<std::vector<double>> out;
  for (int k = 0; k < steps; ++k) {
    pr.set_grad(k);
    opt.step();
    out.push_back(pr.values());
  }
  return out;
}

void require_close(const std::vector<std::vector<double>>& got,
                   const std::vector<std::vector<double>>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t s = 0; s < got.size(); ++s)
    for (std::size_t i = 0; i < got[s].size(); ++i) {
      INFO("step " << s << " element " << i);
      REQUIRE(got[s][i] == Approx(want[s][i]).epsilon(1e-12).margin(1e-14));
    }
}
}  // namespace

TEST_CASE("SGD follows torch's update rule", "[optim]") {
  struct Case {
    double lr, momentum, dampening, wd;
    bool nesterov;
  };
  for (const Case& c :
       {Case{0.1, 0, 0, 0, false}, Case{0.1, 0, 0, 0.01, false}, Case{0.05, 0.9, 0, 0.01, false},
        Case{0.05, 0.9, 0.1, 0, false}, Case{0.05, 0.9, 0, 0.02, true}}) {
    INFO("lr " << c.lr << " momentum " << c.momentum << " dampening " << c.dampening << " wd "
               << c.wd << " nesterov " << c.nesterov);
    Problem pr;
    optim::SGD<double> opt({pr.p}, {.lr = c.lr,
                                    .momentum = c.momentum,
                                    .dampening = c.dampening,
                                    .weight_decay = c.wd,
                                    .nesterov = c.nesterov});
    const auto got = run(opt, pr, 4);
    // By hand, element by element.
    std::vector<double> p = {0.5, -1.5, 2.0}, buf(3);
    std::vector<std::vector<double>> want;
    for (int k = 0; k < 4; ++k) {
      for (int i = 0; i < 3; ++i) {
        double d = p[i] * 0.3 + k + c.wd * p[i];
        if (c.momentum != 0) {
          buf[i] = k == 0 ? d : c.momentum * buf[i] + (1 - c.dampening) * d;
          d = c.nesterov ? d + c.momentum * buf[i] : buf[i];
        }
        p[i] -= c.lr * d;
      }
      want.push_back(p);
    }
    require_close(got, want);
  }
  Problem pr;
  REQUIRE_THROWS_AS(optim::SGD<double>({pr.p}, {.lr = -1}), kiln::ValueError);
  REQUIRE_THROWS_AS(optim::SGD<double>({pr.p}, {.lr = 0.1, .nesterov = true}), kiln::ValueError);
  REQUIRE_THROWS_AS(optim::SGD<double>({pr.p, pr.p}, {.lr = 0.1}), kiln::ValueError);
}

TEST_CASE("Adam, AdamW and amsgrad follow torch's update rules", "[optim]") {
  for (bool decoupled : {false, true})
    for (bool amsgrad : {false, true}) {
      INFO("AdamW " << decoupled << " amsgrad " << amsgrad);
      const optim::AdamOptions o{.lr = 0.01,
                                 .beta1 = 0.8,
                                 .beta2 = 0.95,
                                 .eps = 1e-6,
                                 .weight_decay = 0.05,
                                 .amsgrad = amsgrad};
      Problem pr;
      std::vector<std::vector<double>> got;
      if (decoupled) {
        optim::AdamW<double> opt({pr.p}, o);
        got = run(opt, pr, 5);
      } else {
        optim::Adam<double> opt({pr.p}, o);
        got = run(opt, pr, 5);
      }
      std::vector<double> p = {0.5, -1.5, 2.0}, m(3), v(3), vmax(3);
      std::vector<std::vector<double>> want;
      for (int k = 0; k < 5; ++k) {
        const int t = k + 1;
        for (int i = 0; i < 3; ++i) {
          double g = p[i] * 0.3 + k;
          if (decoupled)
            p[i] *= 1 - o.lr * o.weight_decay;
          else
            g += o.weight_decay * p[i];
          m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
          v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
          vmax[i] = std::max(vmax[i], v[i]);
          const double denom =
              std::sqrt(amsgrad ? vmax[i] : v[i]) / std::sqrt(1 - std::pow(o.beta2, t)) + o.eps;
          p[i] -= o.lr / (1 - std::pow(o.beta1, t)) * m[i] / denom;
        }
        want.push_back(p);
      }
      require_close(got, want);
    }
}

TEST_CASE("RMSprop and Adagrad follow torch's update rules", "[optim]") {
  for (bool centered : {false, true})
    for (double momentum : {0.0, 0.5}) {
      INFO("centered " << centered << " momentum " << momentum);
      const optim::RMSpropOptions o{.lr = 0.01,
                                    .alpha = 0.9,
                                    .eps = 1e-6,
                                    .weight_decay = 0.1,
                                    .momentum = momentum,
                                    .centered = centered};
      Problem pr;
      optim::RMSprop<double> opt({pr.p}, o);
      const auto got = run(opt, pr, 4);
      std::vector<double> p = {0.5, -1.5, 2.0}, sq(3), av(3), buf(3);
      std::vector<std::vector<double>> want;
      for (int k = 0; k < 4; ++k) {
        for (int i = 0; i < 3; ++i) {
          const double g = p[i] * 0.3 + k + o.weight_decay * p[i];
          sq[i] = o.alpha * sq[i] + (1 - o.alpha) * g * g;
          double avg;
          if (centered) {
            av[i] = o.alpha * av[i] + (1 - o.alpha) * g;
            avg = std::sqrt(sq[i] - av[i] * av[i]) + o.eps;
          } else {
            avg = std::sqrt(sq[i]) + o.eps;
          }
          if (momentum > 0) {
            buf[i] = momentum * buf[i] + g / avg;
            p[i] -= o.lr * buf[i];
          } else {
            p[i] -= o.lr * g / avg;
          }
        }
        want.push_back(p);
      }
      require_close(got, want);
    }
  const optim::AdagradOptions o{.lr = 0.1,
                                .lr_decay = 0.05,
                                .weight_decay = 0.01,
                                .initial_accumulator_value = 0.2,
                                .eps = 1e-10};
  Problem pr;
  optim::Adagrad<double> opt({pr.p}, o);
  const auto got = run(opt, pr, 4);
  std::vector<double> p = {0.5, -1.5, 2.0}, sum(3, 0.2);
  std::vector<std::vector<double>> want;
  for (int k = 0; k < 4; ++k) {
    const double clr = o.lr / (1 + k * o.lr_decay);
    for (int i = 0; i < 3; ++i) {
      const double g = p[i] * 0.3 + k + o.weight_decay * p[i];
      sum[i] += g * g;
      p[i] -= clr * g / (std::sqrt(sum[i]) + o.eps);
    }
    want.push_back(p);
  }
  require_close(got, want);
  // Their state restores: a fresh optimizer continues identically.
  Problem a, b;
  optim::Adagrad<double> oa({a.p}, o);
  a.set_grad(0);
  oa.step();
  {
    kiln::NoGradGuard g;
    b.p.copy_(a.p);
  }
  optim::Adagrad<double> ob({b.p}, o);
  ob.load_state_dict(oa.state_dict());
  a.set_grad(1);
  b.set_grad(1);
  oa.step();
  ob.step();
  REQUIRE(a.values() == b.values());
}

TEST_CASE("the per-parameter step functions: maximize ascends, bad state is refused", "[optim]") {
  // Maximizing with gradient g is minimizing with -g, bit for bit, for every rule.
  const Tensor<double> p0 = kiln::from_vector<double>({0.5, -1.5, 2.0}, Shape{3});
  const Tensor<double> g = kiln::from_vector<double>({0.25, 1.0, -3.0}, Shape{3});
  const Tensor<double> neg = Tensor<double>(-g);
  auto same = [](const Tensor<double>& a, const Tensor<double>& b) {
    return kiln::all(kiln::eq(a, b)).item();
  };
  auto zeros = [] { return kiln::zeros<double>({3}); };
  for (int rule = 0; rule < 4; ++rule) {
    INFO("rule " << rule);
    Tensor<double> pa = p0.clone(), pb = p0.clone();
    Tensor<double> sa[3] = {zeros(), zeros(), zeros()}, sb[3] = {zeros(), zeros(), zeros()};
    for (int64_t step = 1; step <= 3; ++step) {
      if (rule == 0) {
        optim::SGDOptions o{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true};
        if (step == 1) sa[0] = sb[0] = Tensor<double>();
        optim::sgd_step(pb, neg, sb[0], o);
        o.maximize = true;
        optim::sgd_step(pa, g, sa[0], o);
      } else if (rule == 1) {
        optim::AdamOptions o{.lr = 0.1, .weight_decay = 0.1, .amsgrad = true};
        optim::adam_step(pb, neg, sb[0], sb[1], sb[2], step, o, true);
        o.maximize = true;
        optim::adam_step(pa, g, sa[0], sa[1], sa[2], step, o, true);
      } else if (rule == 2) {
        optim::RMSpropOptions o{.weight_decay = 0.1, .momentum = 0.5, .centered = true};
        optim::rmsprop_step(pb, neg, sb[0], sb[1], sb[2], o);
        o.maximize = true;
        optim::rmsprop_step(pa, g, sa[0], sa[1], sa[2], o);
      } else {
        optim::AdagradOptions o{.lr = 0.1, .lr_decay = 0.01, .weight_decay = 0.1};
        optim::adagrad_step(pb, neg, sb[0], step, o);
        o.maximize = true;
        optim::adagrad_step(pa, g, sa[0], step, o);
      }
      REQUIRE(same(pa, pb));
      REQUIRE_FALSE(same(pa, p0));
    }
  }
  // One step of gradient ascent on f(p) = -|p|²/2 (gradient -p) moves p towards 0 ...
  Tensor<double> p = p0.clone(), none;
  optim::sgd_step(p, Tensor<double>(-p0), none, optim::SGDOptions{.lr = 0.5, .maximize = true});
  REQUIRE(same(p, Tensor<double>(p0 * 0.5)));
  // ... and state of another shape is refused instead of broadcast.
  Tensor<double> m = kiln::zeros<double>({1}), v = zeros();
  REQUIRE_THROWS_AS(optim::adam_step(p, g, m, v, Tensor<double>(), 1, {}, false), kiln::ShapeError);
  REQUIRE_THROWS_AS(optim::adam_step(p, g, v, v.clone(), zeros(), 1, {}, false),
                    kiln::ValueError);  // max_exp_avg_sq without amsgrad
}

TEST_CASE("clip_grad_norm_ and clip_grad_value_ follow torch", "[optim][nn]") {
  Tensor<double> a = kiln::zeros<double>({2}).requires_grad_();
  Tensor<double> b = kiln::zeros<double>({1}).requires_grad_();
  const Tensor<double> c = kiln::zeros<double>({1}).requires_grad_();  // no gradient
  auto set = [&] {
    a.set_grad(kiln::from_vector<double>({3.0, 0.0}, Shape{2}));
    b.set_grad(kiln::from_vector<double>({-4.0}, Shape{1}));
  };
  set();
  const double total = kiln::nn::utils::clip_grad_norm_<double>({a, b, c}, 1.0);
  REQUIRE(total == Approx(5.0));
  const double coef = 1.0 / (5.0 + 1e-6);
  REQUIRE(a.grad()(0) == Approx(3.0 * coef));
  REQUIRE(b.grad()(0) == Approx(-4.0 * coef));
  set();
  REQUIRE(kiln::nn::utils::clip_grad_norm_<double>({a, b}, 10.0) == Approx(5.0));
  REQUIRE(a.grad()(0) == 3.0);  // under the limit: untouched
  REQUIRE(kiln::nn::utils::clip_grad_norm_<double>({a, b}, 2.0, INFINITY) == Approx(4.0));
  REQUIRE(b.grad()(0) == Approx(-2.0).epsilon(1e-6));
  REQUIRE(kiln::nn::utils::clip_grad_norm_<double>({a, b}, 1.0, 1.0) == Approx(3.5));
  a.set_grad(kiln::from_vector<double>({NAN, 1.0}, Shape{2}));
  REQUIRE_THROWS_AS(kiln::nn::utils::clip_grad_norm_<double>({a}, 1.0, 2.0, true),
                    kiln::ValueError);
  set();
  kiln::nn::utils::clip_grad_value_<double>({a, b, c}, 2.5);
  REQUIRE((a.grad()(0) == 2.5 && a.grad()(1) == 0.0 && b.grad()(0) == -2.5));
  REQUIRE_FALSE(c.grad().defined());
}

TEST_CASE("the fused update equals sequential assignments, also on strided tensors", "[optim]") {
  kiln::manual_seed(12);
  for (bool strided : {false, true}) {
    const Tensor<float> base = kiln::randn<float>({37, 8});
    const Tensor<float> a0 = base.clone();
    Tensor<float> a = strided ? kiln::randn<float>({8, 37}).t() : kiln::randn<float>({37, 8});
    Tensor<float> b = kiln::zeros<float>({37, 8});
    a.copy_(a0);
    const Tensor<float> g = kiln::randn<float>({37, 8});
    // Reference: one assignment after another.
    const Tensor<float> ra = Tensor<float>(a * 0.5f + g);
    optim::update(optim::assign(a, a * 0.5f + g), optim::assign(b, a * a - (a - g) * 2.0f));
    // b read the new a: a*a - (a - g)*2 with a = 0.5 a0 + g  ==  ra*ra - (ra - g)*2
    const Tensor<float> want_b = Tensor<float>(ra * ra - (ra - g) * 2.0f);
    REQUIRE(kiln::amax(kiln::abs(a - ra)).item() == 0);
    REQUIRE(kiln::amax(kiln::abs(b - want_b)).item() < 1e-5f);
  }
}

TEST_CASE("optimizer state restores exactly: resumed training equals uninterrupted", "[optim]") {
  auto train = [](auto make, bool resume) {
    Problem pr;
    auto opt = make(pr.p);
    for (int k = 0; k < 3; ++k) {
      pr.set_grad(k);
      opt.step();
    }
    if (resume) {
      const auto state = opt.state_dict();
      Problem other;  // a fresh optimizer over a parameter with the same values
      {
        kiln::NoGradGuard g;
        other.p.copy_(pr.p);
      }
      auto opt2 = make(other.p);
      opt2.load_state_dict(state);
      for (int k = 3; k < 6; ++k) {
        other.set_grad(k);
        opt2.step();
      }
      return other.values();
    }
    for (int k = 3; k < 6; ++k) {
      pr.set_grad(k);
      opt.step();
    }
    return pr.values();
  };
  auto adam = [](const Tensor<double>& p) {
    return optim::Adam<double>({p}, {.lr = 0.1, .amsgrad = true});
  };
  auto sgd = [](const Tensor<double>& p) {
    return optim::SGD<double>({p}, {.lr = 0.1, .momentum = 0.9});
  };
  REQUIRE(train(adam, true) == train(adam, false));
  REQUIRE(train(sgd, true) == train(sgd, false));
  // A state for other shapes is refused, and nothing changes.
  Problem pr;
  optim::Adam<double> opt({pr.p});
  pr.set_grad(0);
  opt.step();
  auto state = opt.state_dict();
  state.tensors.insert_or_assign("state.0.exp_avg", kiln::zeros<double>({4}));
  REQUIRE_THROWS_AS(opt.load_state_dict(state), kiln::ValueError);
  REQUIRE(opt.state_dict().tensors.at("state.0.exp_avg").shape() == Shape{3});
}

TEST_CASE("parameter groups have their own hyper-parameters", "[optim]") {
  Problem a, b;
  optim::SGD<double> opt({a.p}, {.lr = 0.1});
  opt.add_param_group({b.p}, {.lr = 0.01});
  REQUIRE(opt.num_param_groups() == 2);
  a.set_grad(1);
  b.set_grad(1);
  opt.step();
  REQUIRE(a.p(0) == Approx(0.5 - 0.1 * (0.15 + 1)));
  REQUIRE(b.p(0) == Approx(0.5 - 0.01 * (0.15 + 1)));
  opt.zero_grad();
  REQUIRE_FALSE(a.p.grad().defined());
}

TEST_CASE("LR schedulers give torch's sequences", "[optim]") {
  Problem pr;
  optim::SGD<double> opt({pr.p}, {.lr = 1.0});
  auto seq = [&](optim::LRScheduler<double>& s, int n) {
    std::vector<double> v{opt.lr(0)};
    for (int i = 1; i < n; ++i) {
      s.step();
      v.push_back(s.get_last_lr()[0]);
    }
    return v;
  };
  auto approx_eq = [](const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(b[i]).margin(1e-15));
  };
  {
    optim::StepLR<double> s(opt, 2, 0.5);
    approx_eq(seq(s, 6), {1, 1, 0.5, 0.5, 0.25, 0.25});
  }
  {
    optim::MultiStepLR<double> s(opt, {1, 3}, 0.1);
    approx_eq(seq(s, 5), {1, 0.1, 0.1, 0.01, 0.01});
  }
  {
    optim::ExponentialLR<double> s(opt, 0.9);
    approx_eq(seq(s, 3), {1, 0.9, 0.81});
  }
  {
    optim::CosineAnnealingLR<double> s(opt, 4, 0.1);
    std::vector<double> want;
    for (int e = 0; e < 5; ++e)
      want.push_back(0.1 + 0.9 * (1 + std::cos(std::numbers::pi * e / 4)) / 2);
    approx_eq(seq(s, 5), want);
  }
  {
    optim::LinearLR<double> s(opt, 0.25, 1.0, 3);
    approx_eq(seq(s, 5), {0.25, 0.5, 0.75, 1.0, 1.0});
  }
  {
    optim::LambdaLR<double> s(opt, [](int64_t e) { return 1.0 / double(e + 1); });
    approx_eq(seq(s, 3), {1, 0.5, 1.0 / 3});
  }
  {
    optim::OneCycleLR<double> s(opt, 0.5, 10);
    const auto v = seq(s, 10);
    REQUIRE(v[0] == Approx(0.5 / 25));  // initial lr = max_lr / div_factor
    REQUIRE(*std::max_element(v.begin(), v.end()) == Approx(0.5));  // peaks at max_lr
    REQUIRE(v[9] == Approx(0.5 / 25 / 1e4).margin(1e-12));          // ends at initial / final_div
    for (int i = 3; i < 9; ++i) REQUIRE(v[std::size_t(i + 1)] <= v[std::size_t(i)]);
  }
  {
    auto warm = std::make_shared<optim::LinearLR<double>>(opt, 0.5, 1.0, 2);
    auto decay = std::make_shared<optim::ExponentialLR<double>>(opt, 0.5);
    optim::SequentialLR<double> s(opt, {warm, decay}, {2});
    approx_eq(seq(s, 5), {0.5, 0.75, 1.0, 0.5, 0.25});
  }
  REQUIRE_THROWS_AS(optim::StepLR<double>(opt, 0), kiln::ValueError);
}

TEST_CASE("a small model trains: the loss falls with every optimizer", "[optim][nn]") {
  for (int which = 0; which < 3; ++which) {
    kiln::manual_seed(13);
    kiln::nn::Linear<float> fc(4, 3);
    const Tensor<float> x = kiln::randn<float>({64, 4});
    const Tensor<int64_t> y = kiln::argmax(kiln::matmul(x, kiln::randn<float>({4, 3})), 1);
    std::unique_ptr<optim::Optimizer<float>> opt;
    if (which == 0)
      opt = std::make_unique<optim::SGD<float>>(fc.parameters(),
                                                optim::SGDOptions{.lr = 0.5, .momentum = 0.9});
    if (which == 1)
      opt = std::make_unique<optim::Adam<float>>(fc.parameters(), optim::AdamOptions{.lr = 0.05});
    if (which == 2)
      opt = std::make_unique<optim::AdamW<float>>(fc.parameters(), optim::AdamOptions{.lr = 0.05});
    float first = 0, last = 0;
    for (int step = 0; step < 60; ++step) {
      opt->zero_grad();
      Tensor<float> loss = kiln::nn::functional::cross_entropy(fc(x), y);
      loss.backward();
      opt->step();
      if (step == 0) first = loss.item();
      last = loss.item();
    }
    INFO("optimizer " << which);
    REQUIRE(last < 0.5f * first);
  }
}
