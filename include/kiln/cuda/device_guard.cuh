// SPDX-License-Identifier: BSD-3-Clause
// A scope that makes a CUDA device current: kernels and library calls for a tensor go to
// the tensor's device, whatever device the thread has selected.
#pragma once

#if !defined(__CUDACC__)
#error "kiln/cuda/device_guard.cuh uses the CUDA runtime: include it from files compiled by nvcc"
#endif

#include <cuda_runtime.h>

#include "kiln/cuda/check.cuh"

namespace kiln::cuda {

/// Makes `device` current for a scope and restores the caller's device after (a tensor on
/// device 1 may be written while the thread's current device is 0). Throws DeviceError
/// when the device cannot be selected.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    detail::check(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) detail::check(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace kiln::cuda
