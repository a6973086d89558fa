// SPDX-License-Identifier: BSD-3-Clause
// RMSprop and Adagrad (torch.optim.RMSprop / Adagrad).
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "kiln/optim/fused_update.hpp"
#include "kiln/optim/optimizer.hpp"
#include "kiln/tensor/factories.hpp"

namespace kiln::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  bool maximize = false;  // ascend: the gradient's sign is flipped first
};

/// One RMSprop step of parameter p with gradient g, torch's rule:
///   g = -g (maximize);  g += weight_decay p;  s = alpha s + (1 - alpha) g²
///   centered: a = alpha a + (1 - alpha) g, avg = sqrt(s - a²) + eps; else sqrt(s) + eps
///   momentum: buf = momentum buf + g / avg, p -= lr buf;  else p -= lr g / avg
/// p's state: square_avg s (zeros before the first step), grad_avg a (defined iff
/// centered) and momentum_buffer (defined iff momentum > 0). One fused pass (Note [Fused
/// optimizer updates]) without recording autograd history.
template <class T>
void rmsprop_step(const Tensor<T, CPU>& p, const Tensor<T, CPU>& g0,
                  const Tensor<T, CPU>& square_avg, const Tensor<T, CPU>& grad_avg,
                  const Tensor<T, CPU>& momentum_buffer, const RMSpropOptions& o) {
  KILN_CHECK(g0.defined() && square_avg.defined(), ValueError,
             "[rmsprop_step] grad and square_avg must be defined");
  KILN_CHECK(grad_avg.defined() == o.centered, ValueError,
             "[rmsprop_step] grad_avg must be given exactly when centered is set");
  KILN_CHECK(momentum_buffer.defined() == (o.momentum > 0), ValueError,
             "[rmsprop_step] momentum_buffer must be given exactly when momentum > 0");
  detail::check_state("rmsprop_step", p, g0, "grad");
  detail::check_state("rmsprop_step", p, square_avg, "square_avg");
  detail::check_state("rmsprop_step", p, grad_avg, "grad_avg");
  detail::check_state("rmsprop_step", p, momentum_buffer, "momentum_buffer");
  const T lr = T(o.lr), a = T(o.alpha), c = T(1 - o.alpha), eps = T(o.eps), wd = T(o.weight_decay),
          mom = T(o.momentum), sign = o.maximize ? T(-1) : T(1);
  const auto g = sign * g0 + wd * p;
  const Tensor<T, CPU>& sq = square_avg;
  const Tensor<T, CPU>& buf = momentum_buffer;
  if (o.centered) {
    const Tensor<T, CPU>& av = grad_avg;
    const auto denom = kiln::sqrt(sq - av * av) + eps;
    if (o.momentum > 0)
      update(assign(sq, a * sq + c * g * g), assign(av, a * av + c * g),
             assign(buf, mom * buf + g / denom), assign(p, p - lr * buf));
    else
      update(assign(sq, a * sq + c * g * g), assign(av, a * av + c * g),
             assign(p, p - lr * g / denom));
  } else {
    const auto denom = kiln::sqrt(sq) + eps;
    if (o.momentum > 0)
      update(assign(sq, a * sq + c * g * g), assign(buf, mom * buf + g / denom),
             assign(p, p - lr * buf));
    else
      update(assign(sq, a * sq + c * g * g), assign(p, p - lr * g / denom));
  }
}

/// torch.optim.RMSprop: rmsprop_step on every parameter with a gradient.
template <class T = float>
class RMSprop : public Optimizer<T> {
 public:
  RMSprop(std::vector<Tensor<T, CPU>> params, RMSpropOptions options = {}) {
    add_param_group(std::move(params), options);
  }
  void add_param_group(std::vector<Tensor<T, CPU>> params, RMSpropOptions o) {
    KILN_CHECK(o.lr >= 0 && o.eps >= 0 && o.weight_decay >= 0 && o.momentum >= 0 && o.alpha >= 0,
               ValueError,
               "[RMSprop] lr, alpha, eps, weight_decay and momentum must be non-negative, got lr=",
               o.lr, ", alpha=", o.alpha, ", eps=", o.eps);
    const std::size_t n = params.size();
    this->add_group(std::move(params), "RMSprop");
    options_.push_back(o);
    state_.emplace_back(n);
  }

  void step() override {
    for (std::size_t gi = 0; gi < this->groups_.size(); ++gi) {
      const RMSpropOptions& o = options_[gi];
      for (std::size_t i = 0; i < this->groups_[gi].size(); ++i) {
        const Tensor<T, CPU>& p = this->groups_[gi][i];
        const Tensor<T, CPU> g = p.grad();
        if (!g.defined()) continue;
        State& s = state_[gi][i];
        if (!s.sq.defined()) {
          s.sq = kiln::zeros<T>(p.shape());
          if (o.centered) s.avg = kiln::zeros<T>(p.shape());
          if (o.momentum > 0) s.buf = kiln::zeros<T>(p.shape());
        }
        rmsprop_step(p, g, s.sq, s.avg, s.buf, o);
      }
    }
  }

  double lr(std::size_t group) const override { return options_.at(group).lr; }
  void set_lr(std::size_t group, double lr) override { options_.at(group).lr = lr; }

  OptimizerState<T> state_dict() const override {
    OptimizerState<T> out;
    for (std::size_t gi = 0; gi < options_.size(); ++gi) {
      const RMSpropOptions& o = options_[gi];
      const std::string pg = "param_groups." + std::to_string(gi) + ".";
      out.scalars[pg + "lr"] = o.lr;
      out.scalars[pg + "alpha"] = o.alpha;
      out.scalars[pg + "eps"] = o.eps;
      out.scalars[pg + "weight_decay"] = o.weight_decay;
      out.scalars[pg + "momentum"] = o.momentum;
      out.scalars[pg + "centered"] = o.centered;
      out.scalars[pg + "maximize"] = o.maximize;
      for (std::size_t i = 0; i < state_[gi].size(); ++i) {
        const State& s = state_[gi][i];
        const std::string k = "state." + std::to_string(this->flat_index(gi, i)) + ".";
        if (s.sq.defined()) out.tensors.insert(k + "square_avg", s.sq.clone());
        if (s.avg.defined()) out.tensors.insert(k + "grad_avg", s.avg.clone());
        if (s.buf.defined()) out.tensors.insert(k + "momentum_buffer", s.buf.clone());
      }
    }
    return out;
  }
  void load_state_dict(const OptimizerState<T>& in) override {
    std::vector<RMSpropOptions> opts = options_;
    std::vector<std::vector<State>> states = state_;
    for (std::size_t gi = 0; gi < options_.size(); ++gi) {
      const std::string pg = "param_groups." + std::to_string(gi) + ".";
      RMSpropOptions& o = opts[gi];
      o.lr = this->scalar(in, pg + "lr", "RMSprop");
      o.alpha = this->scalar(in, pg + "alpha", "RMSprop");
      o.eps = this->scalar(in, pg + "eps", "RMSprop");
      o.weight_decay = this->scalar(in, pg + "weight_decay", "RMSprop");
      o.momentum = this->scalar(in, pg + "momentum", "RMSprop");
      o.centered = this->scalar(in, pg + "centered", "RMSprop") != 0;
      o.maximize = this->scalar_or(in, pg + "maximize", 0) != 0;
      for (std::size_t i = 0; i < states[gi].size(); ++i) {
        const std::string k = "state." + std::to_string(this->flat_index(gi, i)) + ".";
        const Shape& shape = this->groups_[gi][i].shape();
        State s;
        s.sq = this->state_tensor(in, k + "square_avg", shape, "RMSprop");
        s.avg = this->state_tensor(in, k + "grad_avg", shape, "RMSprop");
        s.buf = this->state_tensor(in, k + "momentum_buffer", shape, "RMSprop");
        states[gi][i] = std::move(s);
      }
    }
    options_ = std::move(opts);
    state_ = std::move(states);
  }

 private:
  struct State {
    Tensor<T, CPU> sq, avg, buf;
  };
  std::vector<RMSpropOptions> options_;
  std::vector<std::vector<State>> state_;
};

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
  bool maximize = false;  // ascend: the gradient's sign is flipped first
};

/// One Adagrad step of parameter p with gradient g at step t (1 on the first), torch's rule:
///   g = -g (maximize);  g += weight_decay p;  sum += g²
///   p -= lr / (1 + (t - 1) lr_decay) g / (sqrt(sum) + eps)
/// `sum` is p's state (initial_accumulator_value before the first step). One fused pass
/// (Note [Fused optimizer updates]) without recording autograd history.
template <class T>
void adagrad_step(const Tensor<T, CPU>& p, const Tensor<T, CPU>& g0, const Tensor<T, CPU>& sum,
                  int64_t step, const AdagradOptions& o) {
  KILN_CHECK(g0.defined() && sum.defined(), ValueError,
             "[adagrad_step] grad and sum must be defined");
  KILN_CHECK(step >= 1, ValueError, "[adagrad_step] step counts from 1, got ", step);
  detail::check_state("adagrad_step", p, g0, "grad");
  detail::check_state("adagrad_step", p, sum, "sum");
  const T clr = T(o.lr / (1 + double(step - 1) * o.lr_decay));
  const auto g = (o.maximize ? T(-1) : T(1)) * g0 + T(o.weight_decay) * p;
  update(assign(sum, sum + g * g), assign(p, p - clr * g / (kiln::sqrt(sum) + T(o.eps))));
}

/// torch.optim.Adagrad: adagrad_step on every parameter with a gradient.
template <class T = float>
class Adagrad : public Optimizer<T> {
 public:
  Adagrad(std::vector<Tensor<T, CPU>> params, AdagradOptions options = {}) {
    add_param_group(std::move(params), options);
  }
  void add_param_group(std::vector<Tensor<T, CPU>> params, AdagradOptions o) {
    KILN_CHECK(o.lr >= 0 && o.lr_decay >= 0 && o.weight_decay >= 0 &&
                   o.initial_accumulator_value >= 0 && o.eps >= 0,
               ValueError, "[Adagrad] every option must be non-negative, got lr=", o.lr,
               ", lr_decay=", o.lr_decay, ", weight_decay=", o.weight_decay);
    std::vector<State> st;
    for (const Tensor<T, CPU>& p : params)
      st.push_back({kiln::full<T>(p.shape(), T(o.initial_accumulator_value)), 0});
    this->add_group(std::move(params), "Adagrad");
    options_.push_back(o);
    state_.push_back(std::move(st));
  }

  void step() override {
    for (std::size_t gi = 0; gi < this->groups_.size(); ++gi) {
      const AdagradOptions& o = options_[gi];
      for (std::size_t i = 0; i < this->groups_[gi].size(); ++i) {
        const Tensor<T, CPU>& p = this->groups_[gi][i];
        const Tensor<T, CPU> g0 = p.grad();
        if (!g0.defined()) continue;
        State& s = state_[gi][i];
        ++s.step;
        adagrad_step(p, g0, s.sum, s.step, o);
      }
    }
  }

  double lr(std::size_t group) const override { return options_.at(group).lr; }
  void set_lr(std::size_t group, double lr) override { options_.at(group).lr = lr; }

  OptimizerState<T> state_dict() const override {
    OptimizerState<T> out;
    for (std::size_t gi = 0; gi < options_.size(); ++gi) {
      const AdagradOptions& o = options_[gi];
      const std::string pg = "param_groups." + std::to_string(gi) + ".";
      out.scalars[pg + "lr"] = o.lr;
      out.scalars[pg + "lr_decay"] = o.lr_decay;
      out.scalars[pg + "weight_decay"] = o.weight_decay;
      out.scalars[pg + "initial_accumulator_value"] = o.initial_accumulator_value;
      out.scalars[pg + "eps"] = o.eps;
      out.scalars[pg + "maximize"] = o.maximize;
      for (std::size_t i = 0; i < state_[gi].size(); ++i) {
        const std::string k = "state." + std::to_string(this->flat_index(gi, i)) + ".";
        out.tensors.insert(k + "sum", state_[gi][i].sum.clone());
        out.scalars[k + "step"] = double(state_[gi][i].step);
      }
    }
    return out;
  }
  void load_state_dict(const OptimizerState<T>& in) override {
    std::vector<AdagradOptions> opts = options_;
    std::vector<std::vector<State>> states = state_;
    for (std::size_t gi = 0; gi < options_.size(); ++gi) {
      const std::string pg = "param_groups." + std::to_string(gi) + ".";
      AdagradOptions& o = opts[gi];
      o.lr = this->scalar(in, pg + "lr", "Adagrad");
      o.lr_decay = this->scalar(in, pg + "lr_decay", "Adagrad");
      o.weight_decay = this->scalar(in, pg + "weight_decay", "Adagrad");
      o.initial_accumulator_value = this->scalar(in, pg + "initial_accumulator_value", "Adagrad");
      o.eps = this->scalar(in, pg + "eps", "Adagrad");
      o.maximize = this->scalar_or(in, pg + "maximize", 0) != 0;
      for (std::size_t i = 0; i < states[gi].size(); ++i) {
        const std::string k = "state." + std::to_string(this->flat_index(gi, i)) + ".";
        const Shape& shape = this->groups_[gi][i].shape();
        Tensor<T, CPU> sum = this->state_tensor(in, k + "sum", shape, "Adagrad");
        KILN_CHECK(sum.defined(), ValueError, "[Adagrad.load_state_dict] missing '", k, "sum'");
        states[gi][i] = {sum, static_cast<int64_t>(this->scalar(in, k + "step", "Adagrad"))};
      }
    }
    options_ = std::move(opts);
    state_ = std::move(states);
  }

 private:
  struct State {
    Tensor<T, CPU> sum;
    int64_t step = 0;
  };
  std::vector<AdagradOptions> options_;
  std::vector<std::vector<State>> state_;
};

}  // namespace kiln::optim
