// SPDX-License-Identifier: BSD-3-Clause
// Samplers: the order in which a DataLoader visits a dataset, epoch by epoch.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "kiln/core/generator.hpp"
#include "kiln/data/dataset.hpp"

namespace kiln::data {

/// Gives the dataset indices to visit in epoch `epoch` (0, 1, ...).
class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual std::vector<int64_t> indices(int64_t dataset_size, int64_t epoch) const = 0;
};

/// 0, 1, ..., n-1.
class SequentialSampler : public Sampler {
 public:
  std::vector<int64_t> indices(int64_t n, int64_t) const override {
    std::vector<int64_t> v(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[std::size_t(i)] = i;
    return v;
  }
};

/// A fresh random permutation each epoch, determined by (seed, epoch): the same seed
/// gives the same orders whatever the thread or worker count. Without a seed, one is
/// drawn from kiln's default generator when the sampler is made (so kiln::manual_seed
/// makes it reproducible).
class RandomSampler : public Sampler {
 public:
  explicit RandomSampler(std::optional<uint64_t> seed = std::nullopt)
      : seed_(seed ? *seed : drawn_seed()) {}
  std::vector<int64_t> indices(int64_t n, int64_t epoch) const override {
    return seeded_permutation(n, seed_, static_cast<uint64_t>(epoch));
  }
  uint64_t seed() const { return seed_; }

 private:
  static uint64_t drawn_seed() {
    const PhiloxState st = kiln::detail::next_philox_state();
    return st.seed ^ ((st.offset + 1) * 0x9e3779b97f4a7c15ull);
  }
  uint64_t seed_;
};

/// The share of replica `rank` among `num_replicas` (torch's DistributedSampler): the
/// (optionally shuffled) indices padded by wrapping to a multiple of num_replicas, then
/// every num_replicas-th from rank, so every replica sees the same number of samples.
class DistributedSampler : public Sampler {
 public:
  DistributedSampler(int64_t num_replicas, int64_t rank, bool shuffle = true, uint64_t seed = 0,
                     bool drop_last = false)
      : replicas_(num_replicas),
        rank_(rank),
        shuffle_(shuffle),
        seed_(seed),
        drop_last_(drop_last) {
    KILN_CHECK(num_replicas > 0 && rank >= 0 && rank < num_replicas, ValueError,
               "[DistributedSampler] rank ", rank, " is out of range for ", num_replicas,
               " replicas");
  }
  std::vector<int64_t> indices(int64_t n, int64_t epoch) const override {
    std::vector<int64_t> all = shuffle_ ? seeded_permutation(n, seed_, uint64_t(epoch))
                                        : SequentialSampler().indices(n, 0);
    const int64_t per = drop_last_ ? n / replicas_ : (n + replicas_ - 1) / replicas_;
    const int64_t total = per * replicas_;
    if (drop_last_)
      all.resize(std::size_t(total));
    else
      for (int64_t i = n; i < total && n > 0; ++i) all.push_back(all[std::size_t((i - n) % n)]);
    std::vector<int64_t> mine;
    for (int64_t i = rank_; i < total; i += replicas_) mine.push_back(all[std::size_t(i)]);
    return mine;
  }

 private:
  int64_t replicas_, rank_;
  bool shuffle_;
  uint64_t seed_;
  bool drop_last_;
};

}  // namespace kiln::data
