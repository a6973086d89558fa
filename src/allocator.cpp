// SPDX-License-Identifier: BSD-3-Clause
// The CPU caching allocator (see include/kiln/core/allocator.hpp).
#include "kiln/core/allocator.hpp"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <string>

#include "kiln/core/error.hpp"

namespace kiln::cpu {
namespace {

// Note [CPU block cache]
// A fresh multi-megabyte buffer costs a page fault per 4 KiB on first touch, which for
// an elementwise op is more than the math. Freed blocks are kept, keyed by their rounded
// size, and handed out again to requests that fit within 1/8 of slack. Small blocks are
// rounded to 64 bytes; larger ones to 4 KiB, so repeated shapes hit exactly.
std::size_t round_size(std::size_t n) {
  if (n == 0) n = 1;
  const std::size_t q = n < (1u << 16) ? kCpuAlignment : 4096;
  return (n + q - 1) / q * q;
}

std::size_t default_limit() {
  if (const char* env = std::getenv("KILN_CPU_CACHE_LIMIT_MB")) {
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    if (end != env) return static_cast<std::size_t>(mb) << 20;
  }
  return std::size_t{1} << 30;
}

struct Cache {
  std::mutex mu;
  std::multimap<std::size_t, void*> free_blocks;
  std::size_t allocated = 0, max_allocated = 0, cached = 0, limit = default_limit();

  ~Cache() {
    for (auto& [size, p] : free_blocks) std::free(p);
  }
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors may outlive static destructors
  return *c;
}

}  // namespace

void* allocate(std::size_t nbytes) {
  const std::size_t size = round_size(nbytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.lower_bound(size);
    if (it != c.free_blocks.end() && it->first <= size + size / 8) {
      void* p = it->second;
      c.cached -= it->first;
      c.free_blocks.erase(it);
      c.allocated += size;
      if (c.allocated > c.max_allocated) c.max_allocated = c.allocated;
      return p;
    }
  }
  void* p = std::aligned_alloc(kCpuAlignment, size);
  if (!p) {
    empty_cache();
    p = std::aligned_alloc(kCpuAlignment, size);
  }
  KILN_CHECK(p != nullptr, OutOfMemoryError, "[cpu allocator] out of memory: tried to allocate ",
             nbytes, " bytes");
  std::lock_guard<std::mutex> lock(c.mu);
  c.allocated += size;
  if (c.allocated > c.max_allocated) c.max_allocated = c.allocated;
  return p;
}

void deallocate(void* ptr, std::size_t nbytes) noexcept {
  if (!ptr) return;
  // Blocks reused with slack are returned under the requested size: the cache keys by
  // the request, which only makes the reuse check more conservative.
  const std::size_t size = round_size(nbytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.allocated -= size;
  if (c.cached + size <= c.limit) {
    c.free_blocks.emplace(size, ptr);
    c.cached += size;
  } else {
    std::free(ptr);
  }
}

void empty_cache() noexcept {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [size, p] : c.free_blocks) std::free(p);
  c.free_blocks.clear();
  c.cached = 0;
}

MemoryStats memory_stats() noexcept {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return {c.allocated, c.max_allocated, c.cached, c.limit};
}

void set_cache_limit(std::size_t bytes) noexcept {
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    c.limit = bytes;
    if (c.cached <= bytes) return;
  }
  empty_cache();
}

}  // namespace kiln::cpu
