// SPDX-License-Identifier: BSD-3-Clause
// kiln's CUDA memory: the caching allocator's entry points and torch.cuda's memory
// statistics (defined in cuda/allocator.cu, linked through kiln::cuda).
#pragma once

#include <cstddef>

struct CUstream_st;  // cudaStream_t is CUstream_st*; this header needs no CUDA headers

namespace kiln::cuda {

using StreamHandle = CUstream_st*;

/// The device that new CUDA tensors go to on this thread (torch.cuda.current_device).
int current_device();
/// Selects the device for this thread; throws DeviceError naming the device count when
/// `device` does not exist.
void set_device(int device);

/// A block of at least `nbytes` on `device` for work queued on `stream` (Note [Device
/// block cache]). Throws OutOfMemoryError with the requested and free sizes when the
/// device is full even after the cache was emptied.
void* allocate(std::size_t nbytes, int device, StreamHandle stream = nullptr);
/// Returns a block from allocate() to its device's cache.
void deallocate(void* ptr, int device) noexcept;
/// Keeps a block from being reused until the work queued on `stream` so far has finished
/// (torch's Tensor.record_stream), for a tensor used on a stream other than its own.
void record_stream(void* ptr, int device, StreamHandle stream);

/// Releases every cached block of every device that no tensor uses (torch.cuda.empty_cache).
void empty_cache();

/// Bytes in blocks held by tensors on `device` (-1: the current device).
std::size_t memory_allocated(int device = -1);
/// High-water mark of memory_allocated since the start or the last reset.
std::size_t max_memory_allocated(int device = -1);
/// Bytes obtained from the device by the allocator: held by tensors plus cached.
std::size_t memory_reserved(int device = -1);
std::size_t max_memory_reserved(int device = -1);
/// Starts the high-water marks again from the current values.
void reset_peak_memory_stats(int device = -1);

}  // namespace kiln::cuda
