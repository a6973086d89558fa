// SPDX-License-Identifier: BSD-3-Clause
// Learning-rate schedulers (torch.optim.lr_scheduler): each sets every parameter group's
// lr from the group's initial lr and the step count, in closed form.
#pragma once

#include <cmath>
#include <functional>
#include <memory>
#include <numbers>
#include <vector>

#include "kiln/optim/optimizer.hpp"

namespace kiln::optim {

/// Base: starts from each group's initial lr (the lr when the first scheduler was
/// attached, as torch's "initial_lr"); step() advances the count and sets the lrs.
/// Constructing a scheduler sets the lrs for step 0, as torch's does.
template <class T = float>
class LRScheduler {
 public:
  explicit LRScheduler(Optimizer<T>& optimizer) : opt_(&optimizer) {
    for (std::size_t g = 0; g < optimizer.num_param_groups(); ++g)
      base_lrs_.push_back(optimizer.initial_lr(g));
  }
  virtual ~LRScheduler() = default;

  void step() {
    ++last_epoch_;
    apply();
  }
  int64_t last_epoch() const { return last_epoch_; }
  /// The lrs now set, one per group (torch's get_last_lr).
  std::vector<double> get_last_lr() const {
    std::vector<double> v;
    for (std::size_t g = 0; g < opt_->num_param_groups(); ++g) v.push_back(opt_->lr(g));
    return v;
  }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  /// The lr of a group whose initial lr is `base` at step `epoch`.
  virtual double lr_at(double base, int64_t epoch) const = 0;

 protected:
  void apply() {
    for (std::size_t g = 0; g < base_lrs_.size(); ++g)
      opt_->set_lr(g, lr_at(base_lrs_[g], last_epoch_));
  }
  Optimizer<T>* opt_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = 0;
};

/// lr = base * gamma^(epoch / step_size).
template <class T = float>
class StepLR : public LRScheduler<T> {
 public:
  StepLR(Optimizer<T>& opt, int64_t step_size, double gamma = 0.1)
      : LRScheduler<T>(opt), step_size_(step_size), gamma_(gamma) {
    KILN_CHECK(step_size > 0, ValueError, "[StepLR] step_size must be positive, got ", step_size);
    this->apply();
  }
  double lr_at(double base, int64_t e) const override {
    return base * std::pow(gamma_, double(e / step_size_));
  }

 private:
  int64_t step_size_;
  double gamma_;
};

/// lr = base * gamma^(number of milestones <= epoch).
template <class T = float>
class MultiStepLR : public LRScheduler<T> {
 public:
  MultiStepLR(Optimizer<T>& opt, std::vector<int64_t> milestones, double gamma = 0.1)
      : LRScheduler<T>(opt), milestones_(std::move(milestones)), gamma_(gamma) {
    this->apply();
  }
  double lr_at(double base, int64_t e) const override {
    int n = 0;
    for (int64_t m : milestones_) n += m <= e;
    return base * std::pow(gamma_, n);
  }

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

/// lr = base * gamma^epoch.
template <class T = float>
class ExponentialLR : public LRScheduler<T> {
 public:
  ExponentialLR(Optimizer<T>& opt, double gamma) : LRScheduler<T>(opt), gamma_(gamma) {
    this->apply();
  }
  double lr_at(double base, int64_t e) const override { return base * std::pow(gamma_, double(e)); }

 private:
  double gamma_;
};

/// lr = eta_min + (base - eta_min) (1 + cos(pi epoch / T_max)) / 2 (SGDR without
/// restarts; torch's closed form).
template <class T = float>
class CosineAnnealingLR : public LRScheduler<T> {
 public:
  CosineAnnealingLR(Optimizer<T>& opt, int64_t T_max, double eta_min = 0)
      : LRScheduler<T>(opt), t_max_(T_max), eta_min_(eta_min) {
    KILN_CHECK(T_max > 0, ValueError, "[CosineAnnealingLR] T_max must be positive, got ", T_max);
    this->apply();
  }
  double lr_at(double base, int64_t e) const override {
    return eta_min_ +
           (base - eta_min_) * (1 + std::cos(std::numbers::pi * double(e) / double(t_max_))) / 2;
  }

 private:
  int64_t t_max_;
  double eta_min_;
};

/// lr = base * factor, factor going linearly from start_factor to end_factor over
/// total_iters steps, then constant.
template <class T = float>
class LinearLR : public LRScheduler<T> {
 public:
  LinearLR(Optimizer<T>& opt, double start_factor = 1.0 / 3, double end_factor = 1.0,
           int64_t total_iters = 5)
      : LRScheduler<T>(opt), start_(start_factor), end_(end_factor), total_(total_iters) {
    KILN_CHECK(start_factor > 0 && start_factor <= 1 && end_factor >= 0 && end_factor <= 1 &&
                   total_iters >= 0,
               ValueError, "[LinearLR] needs 0 < start_factor <= 1, 0 <= end_factor <= 1, got ",
               start_factor, ", ", end_factor);
    this->apply();
  }
  double lr_at(double base, int64_t e) const override {
    const double t =
        total_ == 0 ? 1.0 : std::min<double>(double(e), double(total_)) / double(total_);
    return base * (start_ + (end_ - start_) * t);
  }

 private:
  double start_, end_;
  int64_t total_;
};

/// lr = base * lambda(epoch).
template <class T = float>
class LambdaLR : public LRScheduler<T> {
 public:
  LambdaLR(Optimizer<T>& opt, std::function<double(int64_t)> lambda)
      : LRScheduler<T>(opt), lambda_(std::move(lambda)) {
    this->apply();
  }
  double lr_at(double base, int64_t e) const override { return base * lambda_(e); }

 private:
  std::function<double(int64_t)> lambda_;
};

/// The 1cycle policy (Smith & Topin), torch's defaults: warm up from max_lr / div_factor
/// to max_lr over pct_start of total_steps, then cosine-anneal to
/// max_lr / (div_factor * final_div_factor). Steps once per batch. The optimizer's lr
/// is replaced (base lrs are ignored, as in torch).
template <class T = float>
class OneCycleLR : public LRScheduler<T> {
 public:
  OneCycleLR(Optimizer<T>& opt, double max_lr, int64_t total_steps, double pct_start = 0.3,
             double div_factor = 25, double final_div_factor = 1e4)
      : LRScheduler<T>(opt),
        max_lr_(max_lr),
        total_(total_steps),
        pct_(pct_start),
        div_(div_factor),
        final_div_(final_div_factor) {
    KILN_CHECK(total_steps > 0 && pct_start >= 0 && pct_start <= 1, ValueError,
               "[OneCycleLR] needs total_steps > 0 and pct_start in [0, 1], got ", total_steps,
               ", ", pct_start);
    this->apply();
  }
  double lr_at(double, int64_t e) const override {
    const double initial = max_lr_ / div_, min_lr = initial / final_div_;
    const double up_end = pct_ * double(total_) - 1, down_end = double(total_) - 1;
    auto cos_anneal = [](double a, double b, double pct) {
      return b + (a - b) / 2 * (std::cos(std::numbers::pi * pct) + 1);
    };
    const double s = double(std::min<int64_t>(e, total_ - 1));
    if (s <= up_end) return cos_anneal(initial, max_lr_, up_end <= 0 ? 1.0 : s / up_end);
    return cos_anneal(max_lr_, min_lr, (s - up_end) / (down_end - up_end));
  }

 private:
  double max_lr_;
  int64_t total_;
  double pct_, div_, final_div_;
};

/// Runs schedulers one after another: schedulers[i] from milestones[i-1] on, each
/// counting its own steps from 0 (torch's SequentialLR).
template <class T = float>
class SequentialLR : public LRScheduler<T> {
 public:
  SequentialLR(Optimizer<T>& opt, std::vector<std::shared_ptr<LRScheduler<T>>> schedulers,
               std::vector<int64_t> milestones)
      : LRScheduler<T>(opt), scheds_(std::move(schedulers)), milestones_(std::move(milestones)) {
    KILN_CHECK(!scheds_.empty() && milestones_.size() + 1 == scheds_.size(), ValueError,
               "[SequentialLR] needs one milestone fewer than schedulers, got ", scheds_.size(),
               " schedulers and ", milestones_.size(), " milestones");
    // The schedulers were built on the same optimizer and may have changed its lr.
    this->base_lrs_ = scheds_[0]->base_lrs();
    this->apply();
  }
  double lr_at(double base, int64_t e) const override {
    std::size_t k = 0;
    int64_t start = 0;
    while (k < milestones_.size() && e >= milestones_[k]) start = milestones_[k++];
    return scheds_[k]->lr_at(base, e - start);
  }

 private:
  std::vector<std::shared_ptr<LRScheduler<T>>> scheds_;
  std::vector<int64_t> milestones_;
};

}  // namespace kiln::optim
