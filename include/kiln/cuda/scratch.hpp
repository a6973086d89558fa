// SPDX-License-Identifier: BSD-3-Clause
// Temporary device memory for one op (partial sums, sort keys, CUB's workspace), from the
// caching allocator.
#pragma once

#include <cstddef>

#include "kiln/cuda/memory.hpp"

namespace kiln::cuda {

/// `nbytes` of device memory on `device` for work queued on `stream` (none for 0 bytes),
/// returned to the cache at the end of the scope. Returning it right after queuing the
/// kernels that use it is safe: the cache hands the block out again only to later work on
/// the same stream (Note [Device block cache]).
class Scratch {
 public:
  Scratch(std::size_t nbytes, int device, StreamHandle stream)
      : ptr_(nbytes ? allocate(nbytes, device, stream) : nullptr), device_(device) {}
  ~Scratch() {
    if (ptr_) deallocate(ptr_, device_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  void* get() const { return ptr_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_;
  int device_;
};

}  // namespace kiln::cuda
