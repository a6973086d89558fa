// SPDX-License-Identifier: BSD-3-Clause
// The caching logic of kiln's device allocator, independent of CUDA: size classes,
// per-stream pools, reuse deferred by events, one retry on out-of-memory, statistics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kiln/core/error.hpp"

namespace kiln::cuda::detail {

// Note [Device block cache]
// cudaMalloc and cudaFree synchronise the device and cost tens of microseconds, so a
// training step that allocated its activations afresh would stall on every tensor. Freed
// blocks are kept and handed out again:
// - Sizes are rounded to 512 bytes below 1 MiB and to 128 KiB above, so that the shapes
//   of a training loop, which repeat, hit exactly; a free block is reused for a request
//   when it is at most 1/8 larger (no splitting: slack stays bounded, blocks never move).
// - Each block belongs to the stream it was allocated on. Work queued on that stream runs
//   in order, so a block freed on the host may be handed to the next request on the same
//   stream at once, even while earlier kernels still read it. A block used on another
//   stream (record_stream) is reused only after an event recorded on that stream at
//   free time has completed.
// - When the backend runs out of memory, every cached block is released and the request
//   retried once; a second failure throws OutOfMemoryError with the requested and free
//   sizes.
//
// The Backend supplies the device calls: Stream and Event types, `void* malloc(size)`
// (nullptr when out of memory), `free(p)`, `Event record(Stream)`, `bool done(Event)`,
// `destroy(Event)` and `std::pair<size_t, size_t> mem_info()` (free, total). Tests drive
// the cache with a fake backend; cuda/allocator.cu gives it the CUDA runtime.

/// Bytes as torch prints them in its OOM messages ("20.00 MiB").
inline std::string format_bytes(std::size_t n) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(u == 0 ? 0 : 2);
  s << v << ' ' << units[u];
  return s.str();
}

/// What the allocator reports (torch.cuda.memory_allocated, memory_reserved, ...).
struct BlockCacheStats {
  std::size_t allocated = 0;      // bytes in blocks handed out (rounded sizes)
  std::size_t max_allocated = 0;  // high-water mark of allocated
  std::size_t reserved = 0;       // bytes obtained from the device: allocated + cached
  std::size_t max_reserved = 0;   // high-water mark of reserved
  std::size_t device_allocs = 0;  // calls to the backend's malloc that succeeded
  std::size_t cache_hits = 0;     // requests served from the cache
  std::size_t oom_retries = 0;    // times the cache was emptied to retry a request
};

template <class Backend>
class BlockCache {
 public:
  using Stream = typename Backend::Stream;
  using Event = typename Backend::Event;

  static constexpr std::size_t kSmallLimit = std::size_t{1} << 20;
  static constexpr std::size_t kSmallRound = 512;
  static constexpr std::size_t kLargeRound = std::size_t{128} << 10;

  /// `where`: what the out-of-memory message names ("device N" when empty).
  explicit BlockCache(Backend backend = {}, int device = 0, std::string where = {})
      : backend_(std::move(backend)),
        device_(device),
        where_(where.empty() ? "device " + std::to_string(device) : std::move(where)) {}
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;
  ~BlockCache() { release_all(); }

  static std::size_t round_size(std::size_t n) {
    if (n == 0) n = 1;
    const std::size_t q = n < kSmallLimit ? kSmallRound : kLargeRound;
    return (n + q - 1) / q * q;
  }

  /// A block of at least `nbytes` for work on `stream`.
  void* allocate(std::size_t nbytes, Stream stream) {
    const std::size_t size = round_size(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    collect_ready();
    if (void* p = take_free(size, stream)) return p;
    void* p = backend_.malloc(size);
    if (!p) {
      ++stats_.oom_retries;
      release_free();
      p = backend_.malloc(size);
    }
    if (!p) {
      const auto [free_bytes, total_bytes] = backend_.mem_info();
      ::kiln::detail::throw_message<OutOfMemoryError>(
          {"[cuda allocator] out of memory on ", where_, ": tried to allocate ",
           format_bytes(nbytes), "; the device has ", format_bytes(free_bytes), " free of ",
           format_bytes(total_bytes), ", kiln's tensors hold ", format_bytes(stats_.allocated),
           " (its cache was emptied for a retry)"});
    }
    ++stats_.device_allocs;
    stats_.reserved += size;
    if (stats_.reserved > stats_.max_reserved) stats_.max_reserved = stats_.reserved;
    hand_out(p, Block{size, stream, {}});
    return p;
  }

  /// Marks a block as used by work on `stream` besides its own: once freed, it is reused
  /// only after that work has finished (torch's Tensor.record_stream).
  void record_stream(void* p, Stream stream) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    KILN_CHECK(it != live_.end(), DeviceError,
               "[cuda allocator] record_stream on a pointer that kiln did not allocate");
    if (stream == it->second.stream) return;
    for (const Stream& s : it->second.other_streams)
      if (s == stream) return;
    it->second.other_streams.push_back(stream);
  }

  /// Returns a block to the cache. Unknown pointers are ignored (a deleter must not throw).
  void deallocate(void* p) noexcept {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) return;
    Block b = std::move(it->second);
    live_.erase(it);
    stats_.allocated -= b.size;
    if (b.other_streams.empty()) {
      free_[{b.stream, b.size}].push_back(p);
      return;
    }
    Pending pending{p, b.size, b.stream, {}};
    for (const Stream& s : b.other_streams) pending.events.push_back(backend_.record(s));
    pending_.push_back(std::move(pending));
  }

  /// Gives every cached block whose last use has finished back to the device
  /// (torch.cuda.empty_cache). Blocks held by tensors are untouched.
  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    collect_ready();
    release_free();
  }

  BlockCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  void reset_peak_stats() {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.max_allocated = stats_.allocated;
    stats_.max_reserved = stats_.reserved;
  }
  /// Cached blocks that still wait for work on another stream.
  std::size_t pending_blocks() const {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_.size();
  }
  Backend& backend() { return backend_; }
  /// Whether `p` is a block this cache handed out and that is still in use.
  bool owns(void* p) const {
    std::lock_guard<std::mutex> lock(mu_);
    return live_.count(p) != 0;
  }

 private:
  struct Block {
    std::size_t size = 0;
    Stream stream{};
    std::vector<Stream> other_streams;
  };
  struct Pending {
    void* p;
    std::size_t size;
    Stream stream;
    std::vector<Event> events;
  };
  using PoolKey = std::pair<Stream, std::size_t>;
  // Blocks of one stream sit together, by size; std::less orders any pointer streams.
  struct PoolLess {
    bool operator()(const PoolKey& a, const PoolKey& b) const {
      if (a.first != b.first) return std::less<Stream>{}(a.first, b.first);
      return a.second < b.second;
    }
  };

  void hand_out(void* p, Block b) {
    stats_.allocated += b.size;
    if (stats_.allocated > stats_.max_allocated) stats_.max_allocated = stats_.allocated;
    live_.emplace(p, std::move(b));
  }

  // The smallest free block of this stream that fits with at most 1/8 slack.
  void* take_free(std::size_t size, Stream stream) {
    auto it = free_.lower_bound({stream, size});
    if (it == free_.end() || it->first.first != stream || it->first.second > size + size / 8)
      return nullptr;
    const std::size_t block = it->first.second;
    void* p = it->second.back();
    it->second.pop_back();
    if (it->second.empty()) free_.erase(it);
    ++stats_.cache_hits;
    hand_out(p, Block{block, stream, {}});
    return p;
  }

  // Moves blocks whose cross-stream work has finished into the free pools.
  void collect_ready() {
    for (auto it = pending_.begin(); it != pending_.end();) {
      bool done = true;
      for (const Event& e : it->events) done = done && backend_.done(e);
      if (!done) {
        ++it;
        continue;
      }
      for (const Event& e : it->events) backend_.destroy(e);
      free_[{it->stream, it->size}].push_back(it->p);
      it = pending_.erase(it);
    }
  }

  void release_free() {
    for (auto& [key, blocks] : free_)
      for (void* p : blocks) {
        backend_.free(p);
        stats_.reserved -= key.second;
      }
    free_.clear();
  }

  // At exit every block goes back, in use or not: the device is being torn down.
  void release_all() {
    for (Pending& pd : pending_) {
      for (const Event& e : pd.events) backend_.destroy(e);
      backend_.free(pd.p);
    }
    pending_.clear();
    release_free();
    for (auto& [p, b] : live_) backend_.free(p);
    live_.clear();
  }

  Backend backend_;
  int device_;
  std::string where_;
  mutable std::mutex mu_;
  std::map<PoolKey, std::vector<void*>, PoolLess> free_;
  std::unordered_map<void*, Block> live_;
  std::vector<Pending> pending_;
  BlockCacheStats stats_;
};

}  // namespace kiln::cuda::detail
