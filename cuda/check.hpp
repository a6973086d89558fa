// SPDX-License-Identifier: BSD-3-Clause
// Turns a CUDA runtime status into a DeviceError naming the call and CUDA's own message.
#pragma once

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

}  // namespace kiln::cuda::detail
