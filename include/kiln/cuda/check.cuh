// SPDX-License-Identifier: BSD-3-Clause
// Turns a CUDA runtime status into a DeviceError naming the call and CUDA's own message.
#pragma once

#if !defined(__CUDACC__)
#error "kiln/cuda/check.cuh uses the CUDA runtime: include it from files compiled by nvcc"
#endif

#include <cuda_runtime.h>

#include "kiln/core/error.hpp"

namespace kiln::cuda::detail {

inline void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) [[likely]]
    return;
  cudaGetLastError();  // reset a non-sticky error, so that it is not reported twice
  ::kiln::detail::throw_message<DeviceError>(
      {"[cuda] ", what, " failed: ", cudaGetErrorName(err), ": ", cudaGetErrorString(err)});
}

/// The answer of a query (cudaStreamQuery, cudaEventQuery): true when the work is done,
/// false while it runs (cudaErrorNotReady, which is not an error); other statuses throw.
inline bool ready(cudaError_t err, const char* what) {
  if (err == cudaErrorNotReady) {
    cudaGetLastError();
    return false;
  }
  check(err, what);
  return true;
}

}  // namespace kiln::cuda::detail
