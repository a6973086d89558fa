// SPDX-License-Identifier: BSD-3-Clause
// SGD with momentum, dampening, Nesterov momentum and weight decay (torch.optim.SGD).
#pragma once

#include <string>
#include <vector>

#include "kiln/optim/fused_update.hpp"
#include "kiln/optim/optimizer.hpp"

namespace kiln::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;  // ascend: the gradient's sign is flipped first
};

/// One SGD step of parameter p with gradient g (the rule below), in one fused pass and
/// without recording autograd history. `momentum_buffer` is p's state: undefined until
/// the first step with momentum, which allocates it and sets it to d (as torch's clone).
/// This is what SGD::step runs per parameter; kiln.optim.SGD calls it directly.
template <class T>
void sgd_step(const Tensor<T, CPU>& p, const Tensor<T, CPU>& g, Tensor<T, CPU>& momentum_buffer,
              const SGDOptions& o) {
  detail::check_state("sgd_step", p, g, "grad");
  detail::check_state("sgd_step", p, momentum_buffer, "momentum_buffer");
  const T lr = T(o.lr), wd = T(o.weight_decay), mom = T(o.momentum), damp = T(1 - o.dampening);
  const T sign = o.maximize ? T(-1) : T(1);
  Tensor<T, CPU>& buf = momentum_buffer;
  // d = sign g + wd p, inlined in each expression (wd = 0 adds exact zeros, sign = 1 is an
  // exact product).
  const auto d = sign * g + wd * p;
  if (o.momentum == 0) {
    update(assign(p, p - lr * d));
    return;
  }
  const bool first = !buf.defined();
  if (first) buf = Tensor<T, CPU>(p.shape());
  if (first) {
    if (o.nesterov)
      update(assign(buf, d), assign(p, p - lr * (d + mom * buf)));
    else
      update(assign(buf, d), assign(p, p - lr * buf));
  } else if (o.nesterov) {
    update(assign(buf, mom * buf + damp * d), assign(p, p - lr * (d + mom * buf)));
  } else {
    update(assign(buf, mom * buf + damp * d), assign(p, p - lr * buf));
  }
}

/// torch.optim.SGD's update, per parameter p with gradient g:
///   d = g (-g with maximize) + weight_decay p;  buf = d (first step) or momentum buf +
///   (1 - dampening) d;
///   d = d + momentum buf (nesterov) or buf;  p -= lr d
/// Each parameter's update is one fused pass (Note [Fused optimizer updates]).
template <class T = float>
class SGD : public Optimizer<T> {
 public:
  SGD(std::vector<Tensor<T, CPU>> params, SGDOptions options) {
    add_param_group(std::move(params), options);
  }
  void add_param_group(std::vector<Tensor<T, CPU>> params, SGDOptions o) {
    KILN_CHECK(o.lr >= 0 && o.momentum >= 0 && o.weight_decay >= 0, ValueError,
               "[SGD] lr, momentum and weight_decay must be non-negative, got lr=", o.lr,
               ", momentum=", o.momentum, ", weight_decay=", o.weight_decay);
    KILN_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), ValueError,
               "[SGD] Nesterov momentum requires a momentum and zero dampening");
    std::vector<Tensor<T, CPU>> bufs(params.size());
    this->add_group(std::move(params), "SGD");
    options_.push_back(o);
    momentum_.push_back(std::move(bufs));
  }
  const SGDOptions& options(std::size_t group = 0) const { return options_.at(group); }

  void step() override {
    for (std::size_t gi = 0; gi < this->groups_.size(); ++gi)
      for (std::size_t i = 0; i < this->groups_[gi].size(); ++i) {
        const Tensor<T, CPU>& p = this->groups_[gi][i];
        if (const Tensor<T, CPU> g = p.grad(); g.defined())
          sgd_step(p, g, momentum_[gi][i], options_[gi]);
      }
  }

  double lr(std::size_t group) const override { return options_.at(group).lr; }
  void set_lr(std::size_t group, double lr) override { options_.at(group).lr = lr; }

  OptimizerState<T> state_dict() const override {
    OptimizerState<T> s;
    for (std::size_t gi = 0; gi < options_.size(); ++gi) {
      const std::string pg = "param_groups." + std::to_string(gi) + ".";
      s.scalars[pg + "lr"] = options_[gi].lr;
      s.scalars[pg + "momentum"] = options_[gi].momentum;
      s.scalars[pg + "dampening"] = options_[gi].dampening;
      s.scalars[pg + "weight_decay"] = options_[gi].weight_decay;
      s.scalars[pg + "nesterov"] = options_[gi].nesterov;
      s.scalars[pg + "maximize"] = options_[gi].maximize;
      for (std::size_t i = 0; i < momentum_[gi].size(); ++i)
        if (momentum_[gi][i].defined())
          s.tensors.insert("state." + std::to_string(this->flat_index(gi, i)) + ".momentum_buffer",
                           momentum_[gi][i].clone());
    }
    return s;
  }
  void load_state_dict(const OptimizerState<T>& s) override {
    std::vector<SGDOptions> opts = options_;
    std::vector<std::vector<Tensor<T, CPU>>> bufs = momentum_;
    for (std::size_t gi = 0; gi < options_.size(); ++gi) {
      const std::string pg = "param_groups." + std::to_string(gi) + ".";
      opts[gi].lr = this->scalar(s, pg + "lr", "SGD");
      opts[gi].momentum = this->scalar(s, pg + "momentum", "SGD");
      opts[gi].dampening = this->scalar(s, pg + "dampening", "SGD");
      opts[gi].weight_decay = this->scalar(s, pg + "weight_decay", "SGD");
      opts[gi].nesterov = this->scalar(s, pg + "nesterov", "SGD") != 0;
      opts[gi].maximize = this->scalar_or(s, pg + "maximize", 0) != 0;
      for (std::size_t i = 0; i < bufs[gi].size(); ++i) {
        const std::string key =
            "state." + std::to_string(this->flat_index(gi, i)) + ".momentum_buffer";
        const Tensor<T, CPU>* t = s.tensors.find(key);
        const Tensor<T, CPU>& p = this->groups_[gi][i];
        KILN_CHECK(!t || t->shape() == p.shape(), ValueError, "[SGD.load_state_dict] '", key,
                   "' has shape ", t ? t->shape() : Shape{}, ", the parameter ", p.shape());
        bufs[gi][i] = t ? t->clone() : Tensor<T, CPU>();
      }
    }
    options_ = std::move(opts);
    momentum_ = std::move(bufs);
  }

 private:
  std::vector<SGDOptions> options_;
  std::vector<std::vector<Tensor<T, CPU>>> momentum_;
};

}  // namespace kiln::optim
