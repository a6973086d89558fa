// SPDX-License-Identifier: BSD-3-Clause
// The CPU caching allocator: 64-byte aligned blocks, reused by size to avoid page faults.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln {
inline constexpr std::size_t kCpuAlignment = 64;

namespace cpu {
/// Allocates `nbytes` (may be 0) aligned to 64 bytes, from the cache when a block fits.
/// Throws OutOfMemoryError naming the size when the system has no memory left.
void* allocate(std::size_t nbytes);
/// Returns a block from allocate() to the cache (or to the system when the cache is full).
void deallocate(void* ptr, std::size_t nbytes) noexcept;
/// Releases every cached block to the system.
void empty_cache() noexcept;

struct MemoryStats {
  std::size_t allocated_bytes;      // live blocks handed out
  std::size_t max_allocated_bytes;  // high-water mark of allocated_bytes
  std::size_t cached_bytes;         // free blocks kept for reuse
  std::size_t cache_limit_bytes;    // cached_bytes never exceeds this
};
MemoryStats memory_stats() noexcept;
/// Caps the cache; 0 disables caching. Default: 1 GiB, or KILN_CPU_CACHE_LIMIT_MB.
void set_cache_limit(std::size_t bytes) noexcept;
}  // namespace cpu

// Defined in cuda/allocator.cu (kiln::cuda); declared here so that Storage<CUDA> needs no
// CUDA headers. See include/kiln/cuda/memory.hpp for the allocator's public face.
namespace cuda {
void deallocate(void* ptr, int device) noexcept;
namespace detail {
/// A block on the thread's current device for its current stream; sets *device.
void* allocate_on_current_device(std::size_t nbytes, int* device);
}  // namespace detail
}  // namespace cuda
}  // namespace kiln
