// SPDX-License-Identifier: BSD-3-Clause
// What the .cu files share about devices: checking a device index, and making a device
// current for the calls of one function.
#pragma once

#include <cuda_runtime.h>

#include "kiln/core/error.hpp"
#include "kiln/cuda/check.cuh"
#include "kiln/cuda/device_guard.cuh"
#include "kiln/cuda/memory.hpp"
#include "kiln/cuda/runtime.hpp"

namespace kiln::cuda::detail {

/// `device`, or the current device when it is negative; throws DeviceError naming the
/// device count when it does not exist.
inline int resolve_device(int device, const char* op) {
  const int n = device_count();
  if (device < 0) device = current_device();
  KILN_CHECK(device < n, DeviceError, "[", op, "] CUDA device ", device,
             " does not exist: this machine has ", n, " CUDA device", n == 1 ? "" : "s");
  return device;
}

/// Makes a device current for the calls of one function (include/kiln/cuda/device_guard.cuh).
using DeviceScope = DeviceGuard;

}  // namespace kiln::cuda::detail
