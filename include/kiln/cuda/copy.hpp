// SPDX-License-Identifier: BSD-3-Clause
// The compiled fills and copies behind CUDA tensors (defined in cuda/copy.cu, linked
// through kiln::cuda); declared without CUDA headers so that g++ files can use them.
#pragma once

#include <cstddef>
#include <cstdint>

struct CUstream_st;

namespace kiln::cuda::detail {
// Strides and shapes are in elements.
/// The thread's current stream for `device`.
CUstream_st* current_stream_handle(int device);
/// dst[i] = value over a strided view of `nd` dims; `value` holds `elem` bytes.
void fill(void* dst, const int64_t* shape, const int64_t* dst_strides, int nd, std::size_t elem,
          const void* value, int device);
/// dst = src elementwise over `shape`, both on `device`; src strides may be 0 (broadcast).
void copy(void* dst, const int64_t* dst_strides, const void* src, const int64_t* src_strides,
          const int64_t* shape, int nd, std::size_t elem, int device);
/// Contiguous bytes between host and device on the current stream, waited for.
void copy_to_device(void* dst, const void* src, std::size_t nbytes, int device);
void copy_to_host(void* dst, const void* src, std::size_t nbytes, int device);

// Page-locked host memory (cuda/pinned.cu, Note [Pinned host memory]).
/// A pinned host block of at least `nbytes` from the pinned cache.
void* host_allocate(std::size_t nbytes);
/// Returns a block from host_allocate(); it is reused once the copies using it finished.
void host_deallocate(void* p) noexcept;
/// Whether `p` is the start of a pinned block in use.
bool is_pinned_block(void* p);
/// Contiguous bytes between pinned host memory (inside the block starting at src_block /
/// dst_block) and the device, queued on the current stream without waiting.
void copy_to_device_async(void* dst, const void* src, void* src_block, std::size_t nbytes,
                          int device);
void copy_to_host_async(void* dst, void* dst_block, const void* src, std::size_t nbytes,
                        int device);
}  // namespace kiln::cuda::detail

namespace kiln::cuda {
/// Releases the cached pinned host blocks that no tensor uses and no copy still reads.
void empty_host_cache();
}  // namespace kiln::cuda
