// SPDX-License-Identifier: BSD-3-Clause
// Sequential (chains unary modules) and ModuleList (holds modules, registered by index).
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "kiln/nn/module.hpp"

namespace kiln::nn {

/// Runs its modules in order, each one's output feeding the next, like torch's
/// nn.Sequential. Children are named "0", "1", ...
template <class T = float, class D = CPU>
class Sequential : public UnaryModule<T, D> {
 public:
  using Item = std::shared_ptr<UnaryModule<T, D>>;
  Sequential() : UnaryModule<T, D>("Sequential") {}
  Sequential(std::initializer_list<Item> items) : Sequential() {
    for (const Item& m : items) push_back(m);
  }

  /// Appends a module (any UnaryModule of this dtype and device) and returns it.
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    static_assert(std::is_base_of_v<UnaryModule<T, D>, M>,
                  "kiln::nn::Sequential: a module must take and return one Tensor<T, D>");
    this->register_module(std::to_string(items_.size()), m);
    items_.push_back(m);
    return m;
  }

  Tensor<T, D> forward(const Tensor<T, D>& x) override {
    Tensor<T, D> y = x;
    for (const Item& m : items_) y = m->forward(y);
    return y;
  }

  std::size_t size() const { return items_.size(); }
  const Item& operator[](std::size_t i) const {
    KILN_CHECK(i < items_.size(), IndexError, "[nn::Sequential] index ", i, " out of range for ",
               items_.size(), " modules");
    return items_[i];
  }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<Item> items_;
};

/// A list of modules registered as "0", "1", ... (torch's nn.ModuleList); it has no
/// forward of its own.
template <class T = float, class D = CPU>
class ModuleList : public Module<T, D> {
 public:
  using Item = std::shared_ptr<Module<T, D>>;
  ModuleList() : Module<T, D>("ModuleList") {}
  ModuleList(std::initializer_list<Item> items) : ModuleList() {
    for (const Item& m : items) push_back(m);
  }
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    this->register_module(std::to_string(items_.size()), m);
    items_.push_back(m);
    return m;
  }
  std::size_t size() const { return items_.size(); }
  const Item& operator[](std::size_t i) const {
    KILN_CHECK(i < items_.size(), IndexError, "[nn::ModuleList] index ", i, " out of range for ",
               items_.size(), " modules");
    return items_[i];
  }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<Item> items_;
};

}  // namespace kiln::nn
