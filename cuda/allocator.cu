// SPDX-License-Identifier: BSD-3-Clause
// The CUDA caching allocator: one BlockCache (Note [Device block cache]) per device over
// cudaMalloc / cudaFree and events, and torch.cuda's memory statistics.
#include <cuda_runtime.h>

#include <memory>
#include <mutex>
#include <vector>

#include "device_scope.hpp"
#include "event_backend.hpp"
#include "kiln/core/error.hpp"
#include "kiln/cuda/block_cache.hpp"
#include "kiln/cuda/memory.hpp"
#include "kiln/cuda/runtime.hpp"
#include "kiln/cuda/stream.hpp"

namespace kiln::cuda {
namespace {

// Device calls for one device's BlockCache; each call first makes that device current.
struct CudaBackend : detail::EventBackend {
  int device = 0;

  void* malloc(std::size_t n) {
    detail::check(cudaSetDevice(device), "cudaSetDevice");
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, n);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      return nullptr;  // the cache empties itself and retries
    }
    detail::check(err, "cudaMalloc");
    return p;
  }
  void free(void* p) {
    cudaSetDevice(device);
    cudaFree(p);  // no throw: called from deleters and at exit
  }
  Event record(Stream s) {
    detail::check(cudaSetDevice(device), "cudaSetDevice");
    return EventBackend::record(s);
  }
  std::pair<std::size_t, std::size_t> mem_info() {
    std::size_t free = 0, total = 0;
    cudaSetDevice(device);
    if (cudaMemGetInfo(&free, &total) != cudaSuccess) cudaGetLastError();
    return {free, total};
  }
};

using DeviceCache = detail::BlockCache<CudaBackend>;

// Never destroyed: tensors may be freed after static destructors have run.
std::vector<std::unique_ptr<DeviceCache>>& caches() {
  static auto* all = [] {
    auto* v = new std::vector<std::unique_ptr<DeviceCache>>;
    const int n = device_count();
    for (int d = 0; d < n; ++d) v->push_back(std::make_unique<DeviceCache>(CudaBackend{{}, d}, d));
    return v;
  }();
  return *all;
}

DeviceCache& cache_of(int device, const char* op) {
  return *caches()[detail::resolve_device(device, op)];
}

thread_local int tls_device = 0;

}  // namespace

int current_device() { return tls_device; }

void set_device(int device) {
  const int n = device_count();
  KILN_CHECK(device >= 0 && device < n, DeviceError, "[cuda.set_device] CUDA device ", device,
             " does not exist: this machine has ", n, " CUDA device", n == 1 ? "" : "s");
  detail::check(cudaSetDevice(device), "cudaSetDevice");
  tls_device = device;
}

void* allocate(std::size_t nbytes, int device, StreamHandle stream) {
  return cache_of(device, "cuda allocator").allocate(nbytes, stream);
}

namespace detail {
void* allocate_on_current_device(std::size_t nbytes, int* device) {
  const int d = detail::resolve_device(-1, "cuda allocator");
  *device = d;
  return caches()[d]->allocate(nbytes, current_stream(d).handle());
}
}  // namespace detail

void deallocate(void* ptr, int device) noexcept {
  auto& all = caches();
  if (device >= 0 && device < static_cast<int>(all.size())) all[device]->deallocate(ptr);
}

void record_stream(void* ptr, int device, StreamHandle stream) {
  cache_of(device, "record_stream").record_stream(ptr, stream);
}

void empty_cache() {
  for (auto& c : caches()) c->empty_cache();
}

std::size_t memory_allocated(int device) {
  return cache_of(device, "memory_allocated").stats().allocated;
}
std::size_t max_memory_allocated(int device) {
  return cache_of(device, "max_memory_allocated").stats().max_allocated;
}
std::size_t memory_reserved(int device) {
  return cache_of(device, "memory_reserved").stats().reserved;
}
std::size_t max_memory_reserved(int device) {
  return cache_of(device, "max_memory_reserved").stats().max_reserved;
}
void reset_peak_memory_stats(int device) {
  cache_of(device, "reset_peak_memory_stats").reset_peak_stats();
}

}  // namespace kiln::cuda
