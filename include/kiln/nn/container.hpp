// SPDX-License-Identifier: BSD-3-Clause
// Sequential (chains unary modules), ModuleList (modules registered by index) and
// ModuleDict (modules registered by name).
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

/// Modules by name, in insertion order (torch's nn.ModuleDict); it has no forward of its
/// own. Its children are named by their keys ("encoder.weight").
template <class T = float, class D = CPU>
class ModuleDict : public Module<T, D> {
 public:
  using Item = std::shared_ptr<Module<T, D>>;
  ModuleDict() : Module<T, D>("ModuleDict") {}
  ModuleDict(std::initializer_list<std::pair<std::string, Item>> items) : ModuleDict() {
    for (const auto& [key, m] : items) insert(key, m);
  }

  /// Adds `m` under `key` (a new key; the name rules of register_module apply).
  template <class M>
  std::shared_ptr<M> insert(const std::string& key, std::shared_ptr<M> m) {
    this->register_module(key, m);
    items_.insert(key, m);
    return m;
  }
  bool contains(const std::string& key) const { return items_.contains(key); }
  /// The module under `key`; IndexError naming the key when absent.
  const Item& operator[](const std::string& key) const {
    const Item* m = items_.find(key);
    KILN_CHECK(m, IndexError, "[nn::ModuleDict] no module named '", key, "'");
    return *m;
  }
  /// The module under `key` as its own type M; ValueError when it is another type.
  template <class M>
  std::shared_ptr<M> get(const std::string& key) const {
    std::shared_ptr<M> m = std::dynamic_pointer_cast<M>((*this)[key]);
    KILN_CHECK(m, ValueError, "[nn::ModuleDict] module '", key, "' is a ",
               (*this)[key]->type_name(), ", not the type asked for");
    return m;
  }
  std::vector<std::string> keys() const { return items_.keys(); }
  std::size_t size() const { return items_.size(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  OrderedDict<Item> items_;
};

}  // namespace kiln::nn
