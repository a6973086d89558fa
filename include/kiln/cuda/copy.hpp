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
}  // namespace kiln::cuda::detail
