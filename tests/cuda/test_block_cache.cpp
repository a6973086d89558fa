// SPDX-License-Identifier: BSD-3-Clause
// The device allocator's caching logic (Note [Device block cache]) driven by a fake
// device: reuse by size and stream, deferred reuse across streams, the OOM retry and the
// statistics. Needs no GPU, so it runs in every build.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/core/error.hpp"
#include "kiln/cuda/block_cache.hpp"

namespace {

// A device with `capacity` bytes, streams as small integers and events as flags the test
// sets when the "GPU" has finished.
struct FakeDevice {
  explicit FakeDevice(std::size_t bytes) : capacity(bytes) {}
  std::size_t capacity, used = 0, mallocs = 0, frees = 0, events_alive = 0;
  std::map<void*, std::size_t> blocks;
  std::vector<std::shared_ptr<bool>> recorded;
};

struct FakeBackend {
  using Stream = int;
  using Event = std::shared_ptr<bool>;
  FakeDevice* dev;

  void* malloc(std::size_t n) {
    if (dev->used + n > dev->capacity) return nullptr;
    void* p = std::malloc(n);
    dev->used += n;
    ++dev->mallocs;
    dev->blocks[p] = n;
    return p;
  }
  void free(void* p) {
    REQUIRE(dev->blocks.count(p) == 1);
    dev->used -= dev->blocks[p];
    dev->blocks.erase(p);
    ++dev->frees;
    std::free(p);
  }
  Event record(Stream) {
    auto e = std::make_shared<bool>(false);
    dev->recorded.push_back(e);
    ++dev->events_alive;
    return e;
  }
  bool done(const Event& e) { return *e; }
  void destroy(const Event&) { --dev->events_alive; }
  std::pair<std::size_t, std::size_t> mem_info() {
    return {dev->capacity - dev->used, dev->capacity};
  }
};

using Cache = kiln::cuda::detail::BlockCache<FakeBackend>;
constexpr std::size_t MiB = std::size_t{1} << 20;

}  // namespace

TEST_CASE("block cache: sizes round to 512 B below 1 MiB and 128 KiB above", "[cuda][allocator]") {
  CHECK(Cache::round_size(0) == 512);
  CHECK(Cache::round_size(1) == 512);
  CHECK(Cache::round_size(513) == 1024);
  CHECK(Cache::round_size(MiB - 1) == MiB);
  CHECK(Cache::round_size(MiB + 1) == MiB + (128 << 10));
  CHECK(Cache::round_size(3 * MiB) == 3 * MiB);
}

TEST_CASE("block cache: a freed block is handed to the next request of its size on its stream",
          "[cuda][allocator]") {
  FakeDevice dev(64 * MiB);
  Cache cache(FakeBackend{&dev});
  void* a = cache.allocate(1000, 0);
  auto s = cache.stats();
  CHECK(s.allocated == 1024);
  CHECK(s.reserved == 1024);
  cache.deallocate(a);
  CHECK(cache.stats().allocated == 0);
  CHECK(cache.stats().reserved == 1024);  // kept, not returned to the device

  CHECK(cache.allocate(900, 0) == a);  // same size class: the same block
  CHECK(dev.mallocs == 1);
  CHECK(cache.stats().cache_hits == 1);

  // Another stream never takes it: work queued there could run before this stream's.
  cache.deallocate(a);
  void* b = cache.allocate(900, 1);
  CHECK(b != a);
  CHECK(dev.mallocs == 2);

  // A block more than 1/8 larger than the request is not used for it.
  void* big = cache.allocate(8 * MiB, 0);
  cache.deallocate(big);
  void* small = cache.allocate(4 * MiB, 0);
  CHECK(small != big);
  void* close = cache.allocate(8 * MiB - 512 * 1024, 0);  // within 1/8: reuse
  CHECK(close == big);
  CHECK(cache.stats().allocated == Cache::round_size(900) + 4 * MiB + 8 * MiB);
  cache.deallocate(b);
  cache.deallocate(small);
  cache.deallocate(close);
}

TEST_CASE("block cache: a block used on another stream waits for that stream's event",
          "[cuda][allocator]") {
  FakeDevice dev(64 * MiB);
  Cache cache(FakeBackend{&dev});
  void* a = cache.allocate(4096, 0);
  cache.record_stream(a, 1);
  cache.record_stream(a, 1);  // once per stream
  cache.record_stream(a, 0);  // its own stream: nothing to wait for
  cache.deallocate(a);
  REQUIRE(dev.recorded.size() == 1);
  CHECK(cache.pending_blocks() == 1);

  void* b = cache.allocate(4096, 0);
  CHECK(b != a);  // stream 1 may still read a

  *dev.recorded[0] = true;  // stream 1 has finished
  void* c = cache.allocate(4096, 0);
  CHECK(c == a);
  CHECK(cache.pending_blocks() == 0);
  CHECK(dev.events_alive == 0);
  cache.deallocate(b);
  cache.deallocate(c);

  CHECK_THROWS_AS(cache.record_stream(reinterpret_cast<void*>(0x10), 1), kiln::DeviceError);
}

TEST_CASE("block cache: out of memory empties the cache and retries once, then throws",
          "[cuda][allocator]") {
  FakeDevice dev(10 * MiB);
  Cache cache(FakeBackend{&dev}, 3);
  void* a = cache.allocate(6 * MiB, 0);
  cache.deallocate(a);  // cached: the device has 4 MiB free
  void* b = cache.allocate(8 * MiB, 0);
  REQUIRE(b != nullptr);
  CHECK(dev.frees == 1);  // the cached 6 MiB went back for the retry
  auto s = cache.stats();
  CHECK(s.oom_retries == 1);
  CHECK(s.reserved == 8 * MiB);
  CHECK(s.max_reserved == 8 * MiB);

  try {
    (void)cache.allocate(3 * MiB, 0);
    FAIL("expected OutOfMemoryError");
  } catch (const kiln::OutOfMemoryError& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("device 3"));
    CHECK_THAT(msg, Catch::Contains("tried to allocate 3.00 MiB"));
    CHECK_THAT(msg, Catch::Contains("2.00 MiB free of 10.00 MiB"));
    CHECK_THAT(msg, Catch::Contains("tensors hold 8.00 MiB"));
  }
  // The failure left the cache consistent and usable.
  CHECK(cache.stats().allocated == 8 * MiB);
  cache.deallocate(b);
  void* c = cache.allocate(3 * MiB, 0);
  CHECK(c != nullptr);
  cache.deallocate(c);
}

TEST_CASE("block cache: empty_cache returns only free blocks; peak statistics reset",
          "[cuda][allocator]") {
  FakeDevice dev(64 * MiB);
  {
    Cache cache(FakeBackend{&dev});
    void* a = cache.allocate(2 * MiB, 0);
    void* b = cache.allocate(MiB, 0);
    void* c = cache.allocate(512, 1);
    cache.record_stream(c, 0);
    cache.deallocate(b);
    cache.deallocate(c);  // pending on stream 0's event
    CHECK(cache.stats().max_allocated == 3 * MiB + 512);

    cache.empty_cache();
    CHECK(dev.frees == 1);  // b only: a is in use, c waits for its event
    CHECK(cache.stats().reserved == 2 * MiB + 512);
    *dev.recorded[0] = true;
    cache.empty_cache();
    CHECK(dev.frees == 2);
    CHECK(cache.stats().reserved == 2 * MiB);

    cache.reset_peak_stats();
    CHECK(cache.stats().max_allocated == 2 * MiB);
    CHECK(cache.stats().max_reserved == 2 * MiB);
    cache.deallocate(a);
    cache.deallocate(nullptr);                        // ignored
    cache.deallocate(reinterpret_cast<void*>(0x20));  // not ours: ignored, never freed
    CHECK(cache.stats().allocated == 0);
  }
  // Destroying the cache gives everything back.
  CHECK(dev.used == 0);
  CHECK(dev.blocks.empty());
}

TEST_CASE("block cache: format_bytes prints as torch's messages do", "[cuda][allocator]") {
  using kiln::cuda::detail::format_bytes;
  CHECK(format_bytes(0) == "0 bytes");
  CHECK(format_bytes(1000) == "1000 bytes");
  CHECK(format_bytes(1536) == "1.50 KiB");
  CHECK(format_bytes(20 * MiB) == "20.00 MiB");
  CHECK(format_bytes(std::size_t{3} << 30) == "3.00 GiB");
}
