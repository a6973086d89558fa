// SPDX-License-Identifier: BSD-3-Clause
// DataLoader: batches of a dataset in sampler order, optionally built ahead of time by
// worker threads (torch.utils.data.DataLoader).
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "kiln/data/dataset.hpp"
#include "kiln/data/sampler.hpp"

namespace kiln::data {

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;     ///< a RandomSampler (seeded by `seed` when given)
  bool drop_last = false;   ///< drop a last batch smaller than batch_size
  int num_workers = 0;      ///< 0: batches are built by the iterating thread
  int prefetch_factor = 2;  ///< batches each worker may build ahead
  std::optional<uint64_t> seed = std::nullopt;
};

// Note [DataLoader workers]
// With num_workers > 0, each epoch starts that many threads. Batch k of the epoch is
// claimed by whichever worker is free, but at most num_workers * prefetch_factor batches
// past the one being consumed are built, and the iterator hands batches out strictly in
// order: the sequence of batches depends only on the sampler's order, never on the
// worker count or timing. A worker's exception is rethrown by the iterator at that
// batch. Leaving an epoch early (break) stops and joins the workers.

template <class Sample>
class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset<Sample>> dataset, DataLoaderOptions options = {},
             std::shared_ptr<const Sampler> sampler = nullptr)
      : dataset_(std::move(dataset)), options_(options), sampler_(std::move(sampler)) {
    KILN_CHECK(dataset_, ValueError, "[DataLoader] the dataset is null");
    KILN_CHECK(options_.batch_size > 0, ValueError,
               "[DataLoader] batch_size must be positive, got ", options_.batch_size);
    KILN_CHECK(options_.num_workers >= 0 && options_.prefetch_factor > 0, ValueError,
               "[DataLoader] num_workers must be >= 0 and prefetch_factor > 0, got ",
               options_.num_workers, " and ", options_.prefetch_factor);
    KILN_CHECK(!(sampler_ && options_.shuffle), ValueError,
               "[DataLoader] give either a sampler or shuffle=true, not both");
    if (!sampler_) {
      if (options_.shuffle)
        sampler_ = std::make_shared<RandomSampler>(options_.seed);
      else
        sampler_ = std::make_shared<SequentialSampler>();
    }
  }

  /// Batches per epoch.
  int64_t size() const {
    const int64_t n = static_cast<int64_t>(sampler_->indices(dataset_->size(), 0).size());
    const int64_t b = options_.batch_size;
    return options_.drop_last ? n / b : (n + b - 1) / b;
  }
  const DataLoaderOptions& options() const { return options_; }
  /// The epoch the next begin() starts (each begin() advances it).
  int64_t epoch() const { return epoch_; }
  void set_epoch(int64_t e) { epoch_ = e; }

  class Iterator;
  class Run;
  Iterator begin() { return Iterator(*this, epoch_++); }
  Iterator end() { return Iterator(); }

  class Iterator {
   public:
    Iterator() = default;
    Iterator(DataLoader& dl, int64_t epoch) : run_(std::make_shared<Run>(dl, epoch)) { advance(); }
    const Sample& operator*() const { return current_; }
    const Sample* operator->() const { return &current_; }
    Iterator& operator++() {
      advance();
      return *this;
    }
    bool operator==(const Iterator& o) const { return done() == o.done(); }
    bool operator!=(const Iterator& o) const { return !(*this == o); }

   private:
    bool done() const { return !run_ || run_->finished; }
    void advance() { current_ = run_->next(); }
    std::shared_ptr<Run> run_;
    Sample current_{};
  };

 private:
  friend class Iterator;

 public:
  // One epoch: the batches' index lists, and the workers building them.
  class Run {
   public:
    Run(DataLoader& dl, int64_t epoch) : ds_(dl.dataset_) {
      const std::vector<int64_t> order = dl.sampler_->indices(ds_->size(), epoch);
      const int64_t b = dl.options_.batch_size;
      for (std::size_t at = 0; at < order.size(); at += std::size_t(b)) {
        const std::size_t end = std::min(order.size(), at + std::size_t(b));
        if (dl.options_.drop_last && int64_t(end - at) < b) break;
        batches_.emplace_back(order.begin() + std::ptrdiff_t(at),
                              order.begin() + std::ptrdiff_t(end));
      }
      window_ = int64_t(dl.options_.num_workers) * dl.options_.prefetch_factor;
      for (int w = 0; w < dl.options_.num_workers; ++w) workers_.emplace_back([this] { work(); });
    }
    ~Run() {
      {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
      }
      cv_.notify_all();
      for (std::thread& t : workers_) t.join();
    }

    // The next batch in order, or sets `finished`.
    Sample next() {
      if (consumed_ >= int64_t(batches_.size())) {
        finished = true;
        return Sample{};
      }
      const int64_t k = consumed_++;
      if (workers_.empty()) return ds_->get_batch(batches_[std::size_t(k)]);
      std::unique_lock<std::mutex> lock(mu_);
      cv_.notify_all();  // the window moved: workers may claim more
      cv_.wait(lock, [&] { return ready_.count(k) != 0; });
      Slot slot = std::move(ready_.at(k));
      ready_.erase(k);
      cv_.notify_all();
      lock.unlock();
      if (slot.error) std::rethrow_exception(slot.error);
      return std::move(*slot.batch);
    }

    bool finished = false;

   private:
    struct Slot {
      std::optional<Sample> batch;
      std::exception_ptr error;
    };

    void work() {
      for (;;) {
        int64_t k;
        {
          std::unique_lock<std::mutex> lock(mu_);
          cv_.wait(lock, [&] {
            return stop_ || claimed_ >= int64_t(batches_.size()) || claimed_ < consumed_ + window_;
          });
          if (stop_ || claimed_ >= int64_t(batches_.size())) return;
          k = claimed_++;
        }
        Slot slot;
        try {
          slot.batch = ds_->get_batch(batches_[std::size_t(k)]);
        } catch (...) {
          slot.error = std::current_exception();
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          ready_.emplace(k, std::move(slot));
        }
        cv_.notify_all();
      }
    }

    std::shared_ptr<const Dataset<Sample>> ds_;
    std::vector<std::vector<int64_t>> batches_;
    int64_t window_ = 0;
    std::atomic<int64_t> consumed_{0};
    int64_t claimed_ = 0;
    bool stop_ = false;
    std::map<int64_t, Slot> ready_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::thread> workers_;
  };

 private:
  std::shared_ptr<const Dataset<Sample>> dataset_;
  DataLoaderOptions options_;
  std::shared_ptr<const Sampler> sampler_;
  int64_t epoch_ = 0;
};

}  // namespace kiln::data
