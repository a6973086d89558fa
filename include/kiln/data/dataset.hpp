// SPDX-License-Identifier: BSD-3-Clause
// Datasets (torch.utils.data): Dataset, TensorDataset, Subset, random_split, and the
// collation of samples into batches.
#pragma once

#include <cstdint>
#include <memory>
#include <numeric>
#include <utility>
#include <vector>

#include "kiln/core/generator.hpp"
#include "kiln/ops/index.hpp"
#include "kiln/ops/join.hpp"
#include "kiln/tensor.hpp"
#include "kiln/tensor/factories.hpp"
#include "kiln/tensor/sampling.hpp"

namespace kiln::data {

/// A (input, target) sample or batch: what TensorDataset and FashionMNIST give.
template <class A = float, class B = int64_t>
using Pair = std::pair<Tensor<A, CPU>, Tensor<B, CPU>>;

/// Stacks samples along a new first dim (torch's default_collate for tensors and pairs).
template <class T>
Tensor<T, CPU> collate(const std::vector<Tensor<T, CPU>>& samples) {
  return kiln::stack(samples, 0);
}
template <class A, class B>
Pair<A, B> collate(const std::vector<Pair<A, B>>& samples) {
  std::vector<Tensor<A, CPU>> a;
  std::vector<Tensor<B, CPU>> b;
  a.reserve(samples.size());
  b.reserve(samples.size());
  for (const auto& [x, y] : samples) {
    a.push_back(x);
    b.push_back(y);
  }
  return {kiln::stack(a, 0), kiln::stack(b, 0)};
}

/// A map-style dataset of `Sample`s. get_batch collates get(i) over the indices by
/// default; datasets that hold whole tensors override it with one gather.
template <class Sample>
class Dataset {
 public:
  using sample_type = Sample;
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Sample get(int64_t index) const = 0;
  virtual Sample get_batch(const std::vector<int64_t>& indices) const {
    std::vector<Sample> samples;
    samples.reserve(indices.size());
    for (int64_t i : indices) samples.push_back(get(i));
    return collate(samples);
  }

 protected:
  void check_index(int64_t i, const char* who) const {
    KILN_CHECK(i >= 0 && i < size(), IndexError, "[", who, "] index ", i,
               " is out of range for a dataset of size ", size());
  }
};

namespace detail {
inline Tensor<int64_t, CPU> index_tensor(const std::vector<int64_t>& idx) {
  return from_vector<int64_t>(idx, Shape{static_cast<int64_t>(idx.size())});
}
}  // namespace detail

/// Samples are rows of `data` and `targets` (same first dim), like torch's TensorDataset.
template <class A = float, class B = int64_t>
class TensorDataset : public Dataset<Pair<A, B>> {
 public:
  TensorDataset(Tensor<A, CPU> data, Tensor<B, CPU> targets)
      : data_(std::move(data)), targets_(std::move(targets)) {
    KILN_CHECK(data_.dim() >= 1 && targets_.dim() >= 1 && data_.shape()[0] == targets_.shape()[0],
               ShapeError, "[TensorDataset] data and targets need the same first dim, got ",
               data_.shape(), " and ", targets_.shape());
  }
  int64_t size() const override { return data_.shape()[0]; }
  Pair<A, B> get(int64_t i) const override {
    this->check_index(i, "TensorDataset");
    return {data_.select(0, i), targets_.select(0, i)};
  }
  Pair<A, B> get_batch(const std::vector<int64_t>& indices) const override {
    for (int64_t i : indices) this->check_index(i, "TensorDataset");
    const Tensor<int64_t, CPU> idx = detail::index_tensor(indices);
    return {kiln::index_select(data_, 0, idx), kiln::index_select(targets_, 0, idx)};
  }
  const Tensor<A, CPU>& data() const { return data_; }
  const Tensor<B, CPU>& targets() const { return targets_; }

 private:
  Tensor<A, CPU> data_;
  Tensor<B, CPU> targets_;
};

/// The samples of `dataset` at `indices` (torch's Subset).
template <class Sample>
class Subset : public Dataset<Sample> {
 public:
  Subset(std::shared_ptr<const Dataset<Sample>> dataset, std::vector<int64_t> indices)
      : dataset_(std::move(dataset)), indices_(std::move(indices)) {
    KILN_CHECK(dataset_, ValueError, "[Subset] the dataset is null");
    for (int64_t i : indices_)
      KILN_CHECK(i >= 0 && i < dataset_->size(), IndexError, "[Subset] index ", i,
                 " is out of range for a dataset of size ", dataset_->size());
  }
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Sample get(int64_t i) const override {
    this->check_index(i, "Subset");
    return dataset_->get(indices_[std::size_t(i)]);
  }
  Sample get_batch(const std::vector<int64_t>& idx) const override {
    std::vector<int64_t> mapped;
    mapped.reserve(idx.size());
    for (int64_t i : idx) {
      this->check_index(i, "Subset");
      mapped.push_back(indices_[std::size_t(i)]);
    }
    return dataset_->get_batch(mapped);
  }
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<const Dataset<Sample>> dataset_;
  std::vector<int64_t> indices_;
};

/// A random permutation of 0..n-1 determined by (seed, stream) alone.
inline std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed, uint64_t stream) {
  Tensor<int64_t, CPU> perm({n});
  if (n > 0) kiln::detail::randperm_cpu(n, PhiloxState{seed, stream}, perm.data());
  return std::vector<int64_t>(perm.data(), perm.data() + n);
}

/// Splits a dataset into non-overlapping random subsets of the given lengths (which must
/// sum to its size), reproducibly for a seed (torch's random_split with a generator).
template <class Sample>
std::vector<std::shared_ptr<Subset<Sample>>> random_split(
    std::shared_ptr<const Dataset<Sample>> dataset, const std::vector<int64_t>& lengths,
    uint64_t seed) {
  KILN_CHECK(dataset, ValueError, "[random_split] the dataset is null");
  const int64_t total = std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
  KILN_CHECK(total == dataset->size(), ValueError, "[random_split] lengths sum to ", total,
             ", the dataset has ", dataset->size(), " samples");
  const std::vector<int64_t> perm = seeded_permutation(dataset->size(), seed, 0);
  std::vector<std::shared_ptr<Subset<Sample>>> out;
  int64_t at = 0;
  for (int64_t len : lengths) {
    KILN_CHECK(len >= 0, ValueError, "[random_split] negative length ", len);
    out.push_back(std::make_shared<Subset<Sample>>(
        dataset, std::vector<int64_t>(perm.begin() + at, perm.begin() + at + len)));
    at += len;
  }
  return out;
}

}  // namespace kiln::data
