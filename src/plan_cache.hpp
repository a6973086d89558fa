// SPDX-License-Identifier: BSD-3-Clause
// PlanCache: a small thread-safe LRU cache of oneDNN plans (primitives and what runs with
// them) keyed by an array of int64 describing the call, shared by the convolution and
// GEMM backends. A null plan records a call oneDNN declined, so it is not asked again.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace kiln::detail {

template <std::size_t N>
struct KeyHash {
  std::size_t operator()(const std::array<int64_t, N>& k) const {
    std::size_t h = 0xcbf29ce484222325ull;  // FNV-1a over the fields
    for (int64_t v : k) h = (h ^ static_cast<std::size_t>(v)) * 0x100000001b3ull;
    return h;
  }
};

template <class Plan, std::size_t N, std::size_t Capacity>
class PlanCache {
 public:
  using Key = std::array<int64_t, N>;

  /// The plan for `key`, made by `build()` on a miss (outside the lock: building may JIT
  /// code for milliseconds). `build` returns a null plan for calls it declines.
  template <class Build>
  std::shared_ptr<Plan> get(const Key& key, Build build) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = map_.find(key);
      if (it != map_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second);
        return it->second->second;
      }
    }
    std::shared_ptr<Plan> plan = build();
    std::lock_guard<std::mutex> lock(mu_);
    if (map_.find(key) == map_.end()) {
      lru_.emplace_front(key, plan);
      map_[key] = lru_.begin();
      if (lru_.size() > Capacity) {
        map_.erase(lru_.back().first);
        lru_.pop_back();
      }
    }
    return plan;
  }
  int64_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int64_t>(lru_.size());
  }

 private:
  using Entry = std::pair<Key, std::shared_ptr<Plan>>;
  std::mutex mu_;
  std::list<Entry> lru_;
  std::unordered_map<Key, typename std::list<Entry>::iterator, KeyHash<N>> map_;
};

}  // namespace kiln::detail
