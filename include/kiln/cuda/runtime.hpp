// SPDX-License-Identifier: BSD-3-Clause
// Host-side queries of the CUDA runtime (defined in cuda/, linked through kiln::cuda).
#pragma once

#include <string>

namespace kiln::cuda {

/// Number of visible CUDA devices; 0 when there is no GPU or no driver.
int device_count();
/// Whether at least one CUDA device can be used.
inline bool is_available() { return device_count() > 0; }

namespace detail {
/// Evaluates a few expression plans (sin, gelu, sigmoid, where(x > 0, x, 0.1 x)) with the
/// kiln functors inside a CUDA kernel, for float and half, and returns the largest
/// difference from the same plans evaluated on the host. Throws DeviceError on a CUDA
/// failure. It proves the functors and plans are real host/device code.
double functor_device_selftest(long n);
}  // namespace detail

}  // namespace kiln::cuda
