// SPDX-License-Identifier: BSD-3-Clause
// The CPU caching allocator: reuse, alignment, statistics, empty_cache and the cache limit.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kiln/core/allocator.hpp"
#include "kiln/core/storage.hpp"

namespace cpu = kiln::cpu;

namespace {

// Restores the cache limit a test changed and leaves the cache empty.
struct CacheLimitGuard {
  std::size_t saved = cpu::memory_stats().cache_limit_bytes;
  ~CacheLimitGuard() {
    cpu::set_cache_limit(saved);
    cpu::empty_cache();
  }
};

bool aligned64(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; }

}  // namespace

TEST_CASE("a freed block comes back for the same size", "[core][allocator]") {
  CacheLimitGuard guard;
  cpu::set_cache_limit(std::size_t{1} << 30);
  cpu::empty_cache();
  for (std::size_t n :
       {std::size_t{1}, std::size_t{1000}, std::size_t{100000}, std::size_t{3} << 20}) {
    void* p = cpu::allocate(n);
    std::memset(p, 0xab, n);  // the whole block is usable
    cpu::deallocate(p, n);
    void* q = cpu::allocate(n);
    CHECK(q == p);
    cpu::deallocate(q, n);
  }
  // A block is reused only for a request of about its size.
  void* big = cpu::allocate(1 << 20);
  cpu::deallocate(big, 1 << 20);
  void* small = cpu::allocate(1000);
  CHECK(small != big);
  cpu::deallocate(small, 1000);
  // Two live blocks are distinct.
  void* a = cpu::allocate(256);
  void* b = cpu::allocate(256);
  CHECK(a != b);
  cpu::deallocate(a, 256);
  cpu::deallocate(b, 256);
}

TEST_CASE("blocks are 64-byte aligned", "[core][allocator]") {
  std::vector<std::pair<void*, std::size_t>> blocks;
  for (std::size_t n : {0, 1, 3, 63, 64, 65, 100, 4095, 4097, 65535, 65537, 1 << 22}) {
    void* p = cpu::allocate(n);
    REQUIRE(p != nullptr);
    CHECK(aligned64(p));
    blocks.emplace_back(p, n);
  }
  for (auto [p, n] : blocks) cpu::deallocate(p, n);
  CHECK(kiln::kCpuAlignment == 64);
}

TEST_CASE("memory_stats counts live and cached bytes", "[core][allocator]") {
  CacheLimitGuard guard;
  cpu::set_cache_limit(std::size_t{1} << 30);
  cpu::empty_cache();
  const auto s0 = cpu::memory_stats();
  CHECK(s0.cached_bytes == 0);
  CHECK(s0.cache_limit_bytes == std::size_t{1} << 30);

  const std::size_t n = 10000;
  void* p = cpu::allocate(n);
  const auto s1 = cpu::memory_stats();
  const std::size_t block = s1.allocated_bytes - s0.allocated_bytes;
  CHECK(block >= n);
  CHECK(block < n + 4096);
  CHECK(block % 64 == 0);
  CHECK(s1.max_allocated_bytes >= s1.allocated_bytes);
  CHECK(s1.cached_bytes == 0);

  cpu::deallocate(p, n);
  const auto s2 = cpu::memory_stats();
  CHECK(s2.allocated_bytes == s0.allocated_bytes);
  CHECK(s2.cached_bytes == block);
  CHECK(s2.max_allocated_bytes >= s0.allocated_bytes + block);

  void* q = cpu::allocate(n);  // from the cache
  CHECK(q == p);
  CHECK(cpu::memory_stats().cached_bytes == 0);
  CHECK(cpu::memory_stats().allocated_bytes == s0.allocated_bytes + block);
  cpu::deallocate(q, n);

  SECTION("tensor storage goes through the allocator") {
    const auto before = cpu::memory_stats().allocated_bytes;
    {
      auto st = kiln::Storage<kiln::CPU>::allocate(1 << 16);
      CHECK(aligned64(st.data()));
      CHECK(cpu::memory_stats().allocated_bytes == before + (1 << 16));
    }
    CHECK(cpu::memory_stats().allocated_bytes == before);
  }
}

TEST_CASE("empty_cache releases every cached block", "[core][allocator]") {
  CacheLimitGuard guard;
  cpu::set_cache_limit(std::size_t{1} << 30);
  std::vector<void*> ps;
  for (int i = 0; i < 4; ++i) ps.push_back(cpu::allocate(5000));
  for (void* p : ps) cpu::deallocate(p, 5000);
  CHECK(cpu::memory_stats().cached_bytes >= 4 * 5000);
  cpu::empty_cache();
  CHECK(cpu::memory_stats().cached_bytes == 0);
}

TEST_CASE("set_cache_limit caps the cache; 0 disables it", "[core][allocator]") {
  CacheLimitGuard guard;
  cpu::set_cache_limit(std::size_t{1} << 30);
  void* p = cpu::allocate(8192);
  cpu::deallocate(p, 8192);
  CHECK(cpu::memory_stats().cached_bytes >= 8192);

  cpu::set_cache_limit(0);  // drops what is cached now...
  CHECK(cpu::memory_stats().cache_limit_bytes == 0);
  CHECK(cpu::memory_stats().cached_bytes == 0);
  for (int i = 0; i < 3; ++i) {  // ...and keeps nothing later
    void* q = cpu::allocate(8192);
    cpu::deallocate(q, 8192);
    CHECK(cpu::memory_stats().cached_bytes == 0);
  }

  // A limit smaller than one block keeps that block out of the cache.
  cpu::set_cache_limit(4096);
  void* r = cpu::allocate(8192);
  cpu::deallocate(r, 8192);
  CHECK(cpu::memory_stats().cached_bytes == 0);
  void* s = cpu::allocate(1000);
  cpu::deallocate(s, 1000);
  CHECK(cpu::memory_stats().cached_bytes > 0);
  CHECK(cpu::memory_stats().cached_bytes <= 4096);
}
