// SPDX-License-Identifier: BSD-3-Clause
// Optimizer: the base of kiln::optim's optimizers (torch.optim.Optimizer): parameter
// groups with their own hyper-parameters, zero_grad, and state save/restore.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kiln/nn/ordered_dict.hpp"
#include "kiln/tensor.hpp"

namespace kiln::optim {

/// An optimizer's saved state: per-parameter tensors named "state.<index>.<name>" (the
/// index counts parameters across groups, as torch's state_dict does) and scalar
/// hyper-parameters named "param_groups.<group>.<name>" (lr, betas...).
template <class T = float>
struct OptimizerState {
  nn::OrderedDict<Tensor<T, CPU>> tensors;
  std::map<std::string, double> scalars;
};

namespace detail {
/// A step function's argument `t` (a gradient or a state tensor) must have the
/// parameter's shape when defined: the fused update would otherwise broadcast it.
template <class T>
void check_state(const char* who, const Tensor<T, CPU>& p, const Tensor<T, CPU>& t,
                 const char* name) {
  KILN_CHECK(!t.defined() || t.shape() == p.shape(), ShapeError, "[", who, "] ", name,
             " has shape ", t.shape(), ", the parameter ", p.shape());
}
}  // namespace detail

/// The parts every optimizer shares; each optimizer adds its Options and its step().
template <class T = float>
class Optimizer {
 public:
  static_assert(is_floating_v<T>, "kiln::optim: parameters must be a floating dtype");
  virtual ~Optimizer() = default;

  /// One update of every parameter that has a gradient.
  virtual void step() = 0;

  /// Resets the gradients of every parameter: to undefined (set_to_none, torch's default)
  /// or to zeros.
  void zero_grad(bool set_to_none = true) {
    for (const auto& g : groups_)
      for (const Tensor<T, CPU>& p : g) p.zero_grad(set_to_none);
  }

  std::size_t num_param_groups() const { return groups_.size(); }
  const std::vector<Tensor<T, CPU>>& params(std::size_t group) const { return groups_.at(group); }
  /// The learning rate of a group (what LR schedulers read and write).
  virtual double lr(std::size_t group) const = 0;
  virtual void set_lr(std::size_t group, double lr) = 0;
  /// The lr a group had when the first scheduler was attached to it (torch's
  /// "initial_lr"): every later scheduler starts from it too.
  double initial_lr(std::size_t group) {
    std::optional<double>& v = initial_lr_.at(group);
    if (!v) v = lr(group);
    return *v;
  }

  virtual OptimizerState<T> state_dict() const = 0;
  /// Restores a state saved by state_dict of the same optimizer over the same parameter
  /// shapes; throws ValueError naming what does not match, loading nothing.
  virtual void load_state_dict(const OptimizerState<T>& state) = 0;

 protected:
  void add_group(std::vector<Tensor<T, CPU>> params, const char* who) {
    KILN_CHECK(!params.empty(), ValueError, "[", who, "] a parameter group is empty");
    auto same = [](const Tensor<T, CPU>& a, const Tensor<T, CPU>& b) {
      return a.storage().impl() == b.storage().impl() && a.storage_offset() == b.storage_offset();
    };
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Tensor<T, CPU>& p = params[i];
      KILN_CHECK(p.defined() && p.is_leaf(), ValueError, "[", who,
                 "] can only optimize defined leaf tensors (shape ", p.shape(), ")");
      for (std::size_t j = 0; j < i; ++j)
        KILN_CHECK(!same(params[j], p), ValueError, "[", who, "] a parameter (shape ", p.shape(),
                   ") appears twice in one parameter group");
      for (const auto& g : groups_)
        for (const Tensor<T, CPU>& q : g)
          KILN_CHECK(!same(q, p), ValueError, "[", who, "] a parameter (shape ", p.shape(),
                     ") appears in more than one parameter group");
    }
    groups_.push_back(std::move(params));
    initial_lr_.emplace_back();
  }
  /// Index of a parameter across all groups.
  std::size_t flat_index(std::size_t group, std::size_t i) const {
    std::size_t k = 0;
    for (std::size_t g = 0; g < group; ++g) k += groups_[g].size();
    return k + i;
  }
  static double scalar(const OptimizerState<T>& s, const std::string& key, const char* who) {
    auto it = s.scalars.find(key);
    KILN_CHECK(it != s.scalars.end(), ValueError, "[", who, ".load_state_dict] missing '", key,
               "'");
    return it->second;
  }

  /// An optional scalar (one added after states were first saved), `fallback` if absent.
  static double scalar_or(const OptimizerState<T>& s, const std::string& key, double fallback) {
    auto it = s.scalars.find(key);
    return it == s.scalars.end() ? fallback : it->second;
  }

  /// A saved state tensor (a copy), undefined when absent; ValueError when its shape is
  /// not the parameter's.
  static Tensor<T, CPU> state_tensor(const OptimizerState<T>& s, const std::string& key,
                                     const Shape& shape, const char* who) {
    const Tensor<T, CPU>* t = s.tensors.find(key);
    if (!t) return {};
    KILN_CHECK(t->shape() == shape, ValueError, "[", who, ".load_state_dict] '", key,
               "' has shape ", t->shape(), ", the parameter ", shape);
    return t->clone();
  }

  std::vector<std::vector<Tensor<T, CPU>>> groups_;
  std::vector<std::optional<double>> initial_lr_;
};

}  // namespace kiln::optim
