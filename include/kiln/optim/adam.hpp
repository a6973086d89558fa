// SPDX-License-Identifier: BSD-3-Clause
// Adam and AdamW (torch.optim.Adam / AdamW), with amsgrad.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "kiln/optim/fused_update.hpp"
#include "kiln/optim/optimizer.hpp"

namespace kiln::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  bool maximize = false;  // ascend: the gradient's sign is flipped first
};

/// One Adam step (AdamW's with `decoupled`) of parameter p with gradient g, torch's rule:
///   g = -g (maximize);  Adam: g += weight_decay p    AdamW: p *= 1 - lr weight_decay
///   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g²
///   v_max = max(v_max, v) (amsgrad);  denom = sqrt(v or v_max) / sqrt(1 - beta2^t) + eps
///   p -= lr / (1 - beta1^t) m / denom
/// `step` is t, this step's count (1 on the first). m and v (zeros before the first
/// step) and v_max (defined iff amsgrad) are p's state. m, v (v_max) and p are written in
/// one fused pass (Note [Fused optimizer updates]) without recording autograd history.
/// What Adam/AdamW::step run per parameter; kiln.optim.Adam calls it directly.
template <class T>
void adam_step(const Tensor<T, CPU>& p, const Tensor<T, CPU>& g, const Tensor<T, CPU>& m,
               const Tensor<T, CPU>& v, const Tensor<T, CPU>& vmax, int64_t step,
               const AdamOptions& o, bool decoupled) {
  const char* who = decoupled ? "adamw_step" : "adam_step";
  KILN_CHECK(g.defined() && m.defined() && v.defined(), ValueError, "[", who,
             "] grad, exp_avg and exp_avg_sq must be defined");
  KILN_CHECK(vmax.defined() == o.amsgrad, ValueError, "[", who,
             "] max_exp_avg_sq must be given exactly when amsgrad is set");
  KILN_CHECK(step >= 1, ValueError, "[", who, "] step counts from 1, got ", step);
  detail::check_state(who, p, g, "grad");
  detail::check_state(who, p, m, "exp_avg");
  detail::check_state(who, p, v, "exp_avg_sq");
  detail::check_state(who, p, vmax, "max_exp_avg_sq");
  const double bc1 = 1 - std::pow(o.beta1, double(step));
  const double bc2 = 1 - std::pow(o.beta2, double(step));
  const T b1 = T(o.beta1), b2 = T(o.beta2), c1 = T(1 - o.beta1), c2 = T(1 - o.beta2);
  const T step_size = T(o.lr / bc1), inv_sqrt_bc2 = T(1 / std::sqrt(bc2)), eps = T(o.eps);
  const T sign = o.maximize ? T(-1) : T(1);
  if (decoupled) {
    const T decay = T(1 - o.lr * o.weight_decay);
    const auto gs = sign * g;
    if (o.amsgrad)
      update(assign(m, b1 * m + c1 * gs), assign(v, b2 * v + c2 * gs * gs),
             assign(vmax, kiln::maximum(vmax, v)),
             assign(p, p * decay - step_size * m / (kiln::sqrt(vmax) * inv_sqrt_bc2 + eps)));
    else
      update(assign(m, b1 * m + c1 * gs), assign(v, b2 * v + c2 * gs * gs),
             assign(p, p * decay - step_size * m / (kiln::sqrt(v) * inv_sqrt_bc2 + eps)));
  } else {
    const auto gw = sign * g + T(o.weight_decay) * p;  // Adam's L2 term folded into the gradient
    if (o.amsgrad)
      update(assign(m, b1 * m + c1 * gw), assign(v, b2 * v + c2 * gw * gw),
             assign(vmax, kiln::maximum(vmax, v)),
             assign(p, p - step_size * m / (kiln::sqrt(vmax) * inv_sqrt_bc2 + eps)));
    else
      update(assign(m, b1 * m + c1 * gw), assign(v, b2 * v + c2 * gw * gw),
             assign(p, p - step_size * m / (kiln::sqrt(v) * inv_sqrt_bc2 + eps)));
  }
}

namespace detail {

// Adam and AdamW: the state and options around adam_step (Decoupled = AdamW).
template <class T, bool Decoupled>
class AdamBase : public Optimizer<T> {
 public:
  void add_param_group(std::vector<Tensor<T, CPU>> params, AdamOptions o) {
    const char* who = Decoupled ? "AdamW" : "Adam";
    KILN_CHECK(o.lr >= 0 && o.eps >= 0 && o.weight_decay >= 0, ValueError, "[", who,
               "] lr, eps and weight_decay must be non-negative, got lr=", o.lr, ", eps=", o.eps,
               ", weight_decay=", o.weight_decay);
    KILN_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, ValueError, "[", who,
               "] betas must be in [0, 1), got (", o.beta1, ", ", o.beta2, ")");
    const std::size_t n = params.size();
    this->add_group(std::move(params), who);
    options_.push_back(o);
    state_.emplace_back(n);
  }
  const AdamOptions& options(std::size_t group = 0) const { return options_.at(group); }

  void step() override {
    for (std::size_t gi = 0; gi < this->groups_.size(); ++gi) {
      const AdamOptions& o = options_[gi];
      for (std::size_t i = 0; i < this->groups_[gi].size(); ++i) {
        const Tensor<T, CPU>& p = this->groups_[gi][i];
        const Tensor<T, CPU> g = p.grad();
        if (!g.defined()) continue;
        State& s = state_[gi][i];
        if (!s.m.defined()) {
          s.m = kiln::zeros<T>(p.shape());
          s.v = kiln::zeros<T>(p.shape());
          if (o.amsgrad) s.vmax = kiln::zeros<T>(p.shape());
        }
        ++s.step;
        adam_step(p, g, s.m, s.v, s.vmax, s.step, o, Decoupled);
      }
    }
  }

  double lr(std::size_t group) const override { return options_.at(group).lr; }
  void set_lr(std::size_t group, double lr) override { options_.at(group).lr = lr; }

  OptimizerState<T> state_dict() const override {
    OptimizerState<T> out;
    for (std::size_t gi = 0; gi < options_.size(); ++gi) {
      const AdamOptions& o = options_[gi];
      const std::string pg = "param_groups." + std::to_string(gi) + ".";
      out.scalars[pg + "lr"] = o.lr;
      out.scalars[pg + "beta1"] = o.beta1;
      out.scalars[pg + "beta2"] = o.beta2;
      out.scalars[pg + "eps"] = o.eps;
      out.scalars[pg + "weight_decay"] = o.weight_decay;
      out.scalars[pg + "amsgrad"] = o.amsgrad;
      out.scalars[pg + "maximize"] = o.maximize;
      for (std::size_t i = 0; i < state_[gi].size(); ++i) {
        const State& s = state_[gi][i];
        if (!s.m.defined()) continue;
        const std::string k = "state." + std::to_string(this->flat_index(gi, i)) + ".";
        out.tensors.insert(k + "exp_avg", s.m.clone());
        out.tensors.insert(k + "exp_avg_sq", s.v.clone());
        if (s.vmax.defined()) out.tensors.insert(k + "max_exp_avg_sq", s.vmax.clone());
        out.scalars[k + "step"] = double(s.step);
      }
    }
    return out;
  }

  void load_state_dict(const OptimizerState<T>& in) override {
    const char* who = Decoupled ? "AdamW" : "Adam";
    std::vector<AdamOptions> opts = options_;
    std::vector<std::vector<State>> states = state_;
    for (std::size_t gi = 0; gi < options_.size(); ++gi) {
      const std::string pg = "param_groups." + std::to_string(gi) + ".";
      AdamOptions& o = opts[gi];
      o.lr = this->scalar(in, pg + "lr", who);
      o.beta1 = this->scalar(in, pg + "beta1", who);
      o.beta2 = this->scalar(in, pg + "beta2", who);
      o.eps = this->scalar(in, pg + "eps", who);
      o.weight_decay = this->scalar(in, pg + "weight_decay", who);
      o.amsgrad = this->scalar(in, pg + "amsgrad", who) != 0;
      o.maximize = this->scalar_or(in, pg + "maximize", 0) != 0;
      for (std::size_t i = 0; i < states[gi].size(); ++i) {
        const std::string k = "state." + std::to_string(this->flat_index(gi, i)) + ".";
        const Tensor<T, CPU>& p = this->groups_[gi][i];
        State s;
        auto get = [&](const std::string& name, bool required) -> Tensor<T, CPU> {
          const Tensor<T, CPU>* t = in.tensors.find(k + name);
          KILN_CHECK(t || !required, ValueError, "[", who, ".load_state_dict] missing '", k, name,
                     "'");
          KILN_CHECK(!t || t->shape() == p.shape(), ValueError, "[", who, ".load_state_dict] '", k,
                     name, "' has shape ", t ? t->shape() : Shape{}, ", the parameter ", p.shape());
          return t ? t->clone() : Tensor<T, CPU>();
        };
        if (in.tensors.contains(k + "exp_avg")) {
          s.m = get("exp_avg", true);
          s.v = get("exp_avg_sq", true);
          if (o.amsgrad) s.vmax = get("max_exp_avg_sq", true);
          s.step = static_cast<int64_t>(this->scalar(in, k + "step", who));
        }
        states[gi][i] = std::move(s);
      }
    }
    options_ = std::move(opts);
    state_ = std::move(states);
  }

 protected:
  struct State {
    Tensor<T, CPU> m, v, vmax;
    int64_t step = 0;
  };
  std::vector<AdamOptions> options_;
  std::vector<std::vector<State>> state_;
};

}  // namespace detail

/// torch.optim.Adam: weight decay as an L2 term added to the gradient.
template <class T = float>
class Adam : public detail::AdamBase<T, false> {
 public:
  Adam(std::vector<Tensor<T, CPU>> params, AdamOptions options = {}) {
    this->add_param_group(std::move(params), options);
  }
};

/// torch.optim.AdamW: decoupled weight decay (p *= 1 - lr weight_decay). torch's
/// default weight_decay for AdamW is 0.01.
template <class T = float>
class AdamW : public detail::AdamBase<T, true> {
 public:
  AdamW(std::vector<Tensor<T, CPU>> params, AdamOptions options = {.weight_decay = 0.01}) {
    this->add_param_group(std::move(params), options);
  }
};

}  // namespace kiln::optim
