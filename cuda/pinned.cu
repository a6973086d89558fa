// SPDX-License-Identifier: BSD-3-Clause
// Page-locked host memory (torch's pin_memory) from a caching allocator, and the
// asynchronous host/device copies it allows (non_blocking).
#include <cuda_runtime.h>
#include <unistd.h>

#include <utility>

#include "device_scope.hpp"
#include "event_backend.hpp"
#include "kiln/cuda/block_cache.hpp"
#include "kiln/cuda/check.cuh"
#include "kiln/cuda/copy.hpp"
#include "kiln/cuda/memory.hpp"

namespace kiln::cuda {
namespace {

// Note [Pinned host memory]
// Copies between the device and page-locked host memory run asynchronously (the GPU's
// copy engine reads the host pages directly), which is what non_blocking means. Pinned
// blocks come from the block cache of the device allocator (Note [Device block cache]),
// given cudaHostAlloc/cudaFreeHost, because pinning is slow (it maps pages for the
// device). Host code writes a host block without stream order, so a block is never
// handed out again while a copy that uses it may still run: its owner stream is a
// sentinel no work runs on, and every asynchronous copy records its real stream on the
// block (record_stream), so a freed block waits for an event on that stream.
StreamHandle host_owner() { return reinterpret_cast<StreamHandle>(uintptr_t{1}); }

struct PinnedBackend : detail::EventBackend {
  void* malloc(std::size_t n) {
    void* p = nullptr;
    const cudaError_t err = cudaHostAlloc(&p, n, cudaHostAllocPortable);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      return nullptr;  // the cache empties itself and retries
    }
    detail::check(err, "cudaHostAlloc");
    return p;
  }
  void free(void* p) { cudaFreeHost(p); }
  std::pair<std::size_t, std::size_t> mem_info() {
    const long page = sysconf(_SC_PAGESIZE);
    const auto pages = [page](int name) {
      const long n = sysconf(name);
      return n > 0 && page > 0 ? static_cast<std::size_t>(n) * static_cast<std::size_t>(page) : 0;
    };
    return {pages(_SC_AVPHYS_PAGES), pages(_SC_PHYS_PAGES)};
  }
};

using HostCache = detail::BlockCache<PinnedBackend>;

// Never destroyed: tensors may be freed after static destructors have run.
HostCache& host_cache() {
  static auto* cache = new HostCache(PinnedBackend{}, -1, "pinned host memory");
  return *cache;
}

}  // namespace

void empty_host_cache() { host_cache().empty_cache(); }

namespace detail {

void* host_allocate(std::size_t nbytes) {
  resolve_device(-1, "pin_memory");  // a clear DeviceError where no GPU is present
  return host_cache().allocate(nbytes, host_owner());
}
void host_deallocate(void* p) noexcept { host_cache().deallocate(p); }
bool is_pinned_block(void* p) { return p && host_cache().owns(p); }

namespace {
// Queues a copy between pinned memory (in the block at `host_block`) and the device on the
// current stream; the block waits for the copy before it is reused.
void copy_async(void* dst, const void* src, void* host_block, std::size_t nbytes,
                cudaMemcpyKind kind, int device) {
  DeviceScope scope(device);
  cudaStream_t s = current_stream_handle(device);
  check(cudaMemcpyAsync(dst, src, nbytes, kind, s), "cudaMemcpyAsync (non_blocking)");
  host_cache().record_stream(host_block, s);
}
}  // namespace

void copy_to_device_async(void* dst, const void* src, void* src_block, std::size_t nbytes,
                          int device) {
  copy_async(dst, src, src_block, nbytes, cudaMemcpyHostToDevice, device);
}
void copy_to_host_async(void* dst, void* dst_block, const void* src, std::size_t nbytes,
                        int device) {
  copy_async(dst, src, dst_block, nbytes, cudaMemcpyDeviceToHost, device);
}

}  // namespace detail
}  // namespace kiln::cuda
