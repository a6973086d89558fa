// SPDX-License-Identifier: BSD-3-Clause
// Fills and copies of CUDA tensors that need no expression kernel: by element size, with
// any strides (so .contiguous(), .clone(), fill_ and .to<kiln::CPU>() work from files
// that g++ compiles), and host <-> device transfers.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

#include "device_scope.hpp"
#include "kiln/core/config.hpp"
#include "kiln/core/error.hpp"
#include "kiln/cuda/copy.hpp"
#include "kiln/cuda/runtime.hpp"
#include "kiln/cuda/stream.hpp"

namespace kiln::cuda::detail {
namespace {

constexpr int kThreads = 256;

struct Layout {
  int nd;
  int64_t extent[kMaxDims];
  int64_t dst[kMaxDims];
  int64_t src[kMaxDims];
};

// Drops size-1 dims and merges dims that both operands walk as one, so a contiguous or
// plainly transposed copy runs with few divisions per element.
Layout coalesce(const int64_t* shape, const int64_t* dst, const int64_t* src, int nd) {
  Layout l{};
  for (int d = 0; d < nd; ++d) {
    if (shape[d] == 1) continue;
    if (l.nd > 0 && l.dst[l.nd - 1] == dst[d] * shape[d] && l.src[l.nd - 1] == src[d] * shape[d]) {
      l.extent[l.nd - 1] *= shape[d];
      l.dst[l.nd - 1] = dst[d];
      l.src[l.nd - 1] = src[d];
      continue;
    }
    l.extent[l.nd] = shape[d];
    l.dst[l.nd] = dst[d];
    l.src[l.nd] = src[d];
    ++l.nd;
  }
  if (l.nd == 0) {
    l.nd = 1;
    l.extent[0] = 1;
  }
  return l;
}

template <class U>
__global__ void copy_kernel(U* __restrict__ dst, const U* __restrict__ src, int64_t n, Layout l) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += step) {
    int64_t rem = i, od = 0, os = 0;
    for (int k = l.nd - 1; k >= 0; --k) {
      const int64_t c = rem % l.extent[k];
      rem /= l.extent[k];
      od += c * l.dst[k];
      os += c * l.src[k];
    }
    dst[od] = src[os];
  }
}

template <class U>
__global__ void fill_kernel(U* __restrict__ dst, int64_t n, Layout l, U v) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += step) {
    int64_t rem = i, od = 0;
    for (int k = l.nd - 1; k >= 0; --k) {
      const int64_t c = rem % l.extent[k];
      rem /= l.extent[k];
      od += c * l.dst[k];
    }
    dst[od] = v;
  }
}

unsigned blocks_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 65535 * 8 ? (b < 1 ? 1 : b) : 65535 * 8);
}

template <class U>
void launch_copy(void* dst, const void* src, int64_t n, const Layout& l, cudaStream_t s) {
  copy_kernel<U>
      <<<blocks_for(n), kThreads, 0, s>>>(static_cast<U*>(dst), static_cast<const U*>(src), n, l);
}

template <class U>
void launch_fill(void* dst, int64_t n, const Layout& l, const void* value, cudaStream_t s) {
  U v;
  std::memcpy(&v, value, sizeof(U));
  fill_kernel<U><<<blocks_for(n), kThreads, 0, s>>>(static_cast<U*>(dst), n, l, v);
}

}  // namespace

CUstream_st* current_stream_handle(int device) { return current_stream(device).handle(); }

void fill(void* dst, const int64_t* shape, const int64_t* dst_strides, int nd, std::size_t elem,
          const void* value, int device) {
  int64_t n = 1;
  for (int d = 0; d < nd; ++d) n *= shape[d];
  if (n == 0) return;
  DeviceScope scope(device);
  const Layout l = coalesce(shape, dst_strides, dst_strides, nd);
  cudaStream_t s = current_stream_handle(device);
  switch (elem) {
    case 1:
      launch_fill<uint8_t>(dst, n, l, value, s);
      break;
    case 2:
      launch_fill<uint16_t>(dst, n, l, value, s);
      break;
    case 4:
      launch_fill<uint32_t>(dst, n, l, value, s);
      break;
    case 8:
      launch_fill<uint64_t>(dst, n, l, value, s);
      break;
    default:
      KILN_CHECK(false, DTypeError, "[cuda fill] unsupported element size ", elem);
  }
  check(cudaGetLastError(), "fill kernel launch");
}

void copy(void* dst, const int64_t* dst_strides, const void* src, const int64_t* src_strides,
          const int64_t* shape, int nd, std::size_t elem, int device) {
  int64_t n = 1;
  for (int d = 0; d < nd; ++d) n *= shape[d];
  if (n == 0) return;
  DeviceScope scope(device);
  const Layout l = coalesce(shape, dst_strides, src_strides, nd);
  cudaStream_t s = current_stream_handle(device);
  if (l.nd == 1 && l.dst[0] == 1 && l.src[0] == 1) {
    check(
        cudaMemcpyAsync(dst, src, static_cast<std::size_t>(n) * elem, cudaMemcpyDeviceToDevice, s),
        "cudaMemcpyAsync");
    return;
  }
  switch (elem) {
    case 1:
      launch_copy<uint8_t>(dst, src, n, l, s);
      break;
    case 2:
      launch_copy<uint16_t>(dst, src, n, l, s);
      break;
    case 4:
      launch_copy<uint32_t>(dst, src, n, l, s);
      break;
    case 8:
      launch_copy<uint64_t>(dst, src, n, l, s);
      break;
    default:
      KILN_CHECK(false, DTypeError, "[cuda copy] unsupported element size ", elem);
  }
  check(cudaGetLastError(), "copy kernel launch");
}

void copy_to_device(void* dst, const void* src, std::size_t nbytes, int device) {
  DeviceScope scope(device);
  cudaStream_t s = current_stream_handle(device);
  check(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, s),
        "cudaMemcpyAsync (to device)");
  // The host buffer may be pageable and is the caller's to free: wait, as torch does
  // without non_blocking.
  check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
}

void copy_to_host(void* dst, const void* src, std::size_t nbytes, int device) {
  DeviceScope scope(device);
  cudaStream_t s = current_stream_handle(device);
  check(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync (to host)");
  check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
}

}  // namespace kiln::cuda::detail
