// SPDX-License-Identifier: BSD-3-Clause
// The event calls of the block caches' backends (Note [Device block cache]), shared by the
// device allocator (allocator.cu) and the pinned host allocator (pinned.cu).
#pragma once

#include <cuda_runtime.h>

#include "kiln/cuda/check.cuh"

namespace kiln::cuda::detail {

struct EventBackend {
  using Stream = cudaStream_t;
  using Event = cudaEvent_t;

  /// An event recorded on `s` now: done once the work queued on `s` so far has finished.
  Event record(Stream s) {
    cudaEvent_t e = nullptr;
    check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
    check(cudaEventRecord(e, s), "cudaEventRecord");
    return e;
  }
  bool done(Event e) { return ready(cudaEventQuery(e), "cudaEventQuery"); }
  void destroy(Event e) { cudaEventDestroy(e); }
};

}  // namespace kiln::cuda::detail
