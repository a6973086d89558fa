// SPDX-License-Identifier: BSD-3-Clause
// OrderedDict: string keys in insertion order with O(1) lookup, like Python's dict (what
// torch's named_parameters / state_dict return).
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kiln/core/error.hpp"

namespace kiln::nn {

template <class V>
class OrderedDict {
 public:
  using value_type = std::pair<std::string, V>;

  OrderedDict() = default;
  OrderedDict(std::initializer_list<value_type> items) {
    for (const auto& [k, v] : items) insert(k, v);
  }

  /// Adds `key`; throws ValueError when it is already present.
  V& insert(const std::string& key, V value) {
    KILN_CHECK(!contains(key), ValueError, "[OrderedDict] duplicate key '", key, "'");
    index_.emplace(key, items_.size());
    items_.emplace_back(key, std::move(value));
    return items_.back().second;
  }
  /// Sets `key`, adding it at the end when absent.
  V& insert_or_assign(const std::string& key, V value) {
    if (V* v = find(key)) return *v = std::move(value);
    return insert(key, std::move(value));
  }

  bool contains(const std::string& key) const { return index_.count(key) != 0; }
  V* find(const std::string& key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &items_[it->second].second;
  }
  const V* find(const std::string& key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &items_[it->second].second;
  }
  /// The value of `key`; throws IndexError naming the key when absent.
  const V& at(const std::string& key) const {
    const V* v = find(key);
    KILN_CHECK(v, IndexError, "[OrderedDict] no key '", key, "'");
    return *v;
  }
  V& at(const std::string& key) {
    V* v = find(key);
    KILN_CHECK(v, IndexError, "[OrderedDict] no key '", key, "'");
    return *v;
  }
  const V& operator[](const std::string& key) const { return at(key); }
  V& operator[](const std::string& key) { return at(key); }

  std::vector<std::string> keys() const {
    std::vector<std::string> k;
    k.reserve(items_.size());
    for (const auto& it : items_) k.push_back(it.first);
    return k;
  }
  std::vector<V> values() const {
    std::vector<V> v;
    v.reserve(items_.size());
    for (const auto& it : items_) v.push_back(it.second);
    return v;
  }

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  auto begin() { return items_.begin(); }
  auto end() { return items_.end(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  const value_type& item(std::size_t i) const { return items_.at(i); }

 private:
  std::vector<value_type> items_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace kiln::nn
