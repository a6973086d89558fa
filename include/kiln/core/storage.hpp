// SPDX-License-Identifier: BSD-3-Clause
// Storage<Device>: a ref-counted byte buffer shared by every view of a tensor.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "kiln/core/allocator.hpp"
#include "kiln/core/device.hpp"
#include "kiln/core/error.hpp"

namespace kiln {

namespace detail {
struct StorageImpl {
  void* data = nullptr;
  std::size_t nbytes = 0;
  // Empty for memory from the kiln allocator; set for user memory (from_blob).
  std::function<void(void*)> deleter;
  bool owned_by_allocator = false;
  // The CUDA device holding the buffer; -1 for host memory.
  int device = -1;
  // Bumped by every in-place write; autograd compares it with the value it saved.
  std::atomic<uint64_t> version{0};

  StorageImpl() = default;
  StorageImpl(const StorageImpl&) = delete;
  StorageImpl& operator=(const StorageImpl&) = delete;
  ~StorageImpl();
};
}  // namespace detail

template <class D>
struct DeviceAllocator;

template <>
struct DeviceAllocator<CPU> {
  static void* allocate(std::size_t n, int* device) {
    *device = -1;
    return cpu::allocate(n);
  }
  static void deallocate(void* p, std::size_t n, int) noexcept { cpu::deallocate(p, n); }
};

// CUDA memory comes from kiln::cuda's caching allocator (cuda/allocator.cu): a program
// that makes CUDA tensors links kiln::cuda.
template <>
struct DeviceAllocator<CUDA> {
  static void* allocate(std::size_t n, int* device) {
    return cuda::detail::allocate_on_current_device(n, device);
  }
  static void deallocate(void* p, std::size_t, int device) noexcept { cuda::deallocate(p, device); }
};

/// A shared handle to a device buffer. Copies share the buffer; the last one frees it.
template <class D>
class Storage {
 public:
  Storage() = default;

  static Storage allocate(std::size_t nbytes) {
    auto impl = std::make_shared<detail::StorageImpl>();
    impl->data = DeviceAllocator<D>::allocate(nbytes, &impl->device);
    impl->nbytes = nbytes;
    impl->owned_by_allocator = true;
    // The deleter returns the block to this device's cache.
    impl->deleter = [nbytes, device = impl->device](void* p) {
      DeviceAllocator<D>::deallocate(p, nbytes, device);
    };
    return Storage(std::move(impl));
  }

  /// Wraps user memory; `deleter` (may be empty) runs when the last handle goes. `device`
  /// is the CUDA device holding CUDA memory (-1 for host memory).
  static Storage from_blob(void* data, std::size_t nbytes, std::function<void(void*)> deleter,
                           int device = std::is_same_v<D, CPU> ? -1 : 0) {
    auto impl = std::make_shared<detail::StorageImpl>();
    impl->data = data;
    impl->nbytes = nbytes;
    impl->device = device;
    impl->deleter = std::move(deleter);
    return Storage(std::move(impl));
  }

  void* data() const { return impl_ ? impl_->data : nullptr; }
  std::size_t nbytes() const { return impl_ ? impl_->nbytes : 0; }
  bool defined() const { return impl_ != nullptr; }
  /// The CUDA device of the buffer; -1 for host memory.
  int device() const { return impl_ ? impl_->device : -1; }
  long use_count() const { return impl_.use_count(); }
  const detail::StorageImpl* impl() const { return impl_.get(); }
  uint64_t version() const { return impl_ ? impl_->version.load(std::memory_order_relaxed) : 0; }
  void bump_version() const {
    if (impl_) impl_->version.fetch_add(1, std::memory_order_relaxed);
  }
  friend bool operator==(const Storage& a, const Storage& b) { return a.impl_ == b.impl_; }

 private:
  explicit Storage(std::shared_ptr<detail::StorageImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<detail::StorageImpl> impl_;
};

inline detail::StorageImpl::~StorageImpl() {
  if (deleter) deleter(data);
}

}  // namespace kiln
