// SPDX-License-Identifier: BSD-3-Clause
// Timing for the CUDA benchmarks: CUDA events on the current stream, median of runs.
#pragma once

#include <algorithm>
#include <functional>
#include <vector>

#include "kiln/cuda/stream.hpp"

namespace kiln_bench {

/// Median milliseconds of `reps` timed runs after `warmup` untimed ones.
inline double time_ms(const std::function<void()>& f, int warmup = 3, int reps = 15) {
  for (int i = 0; i < warmup; ++i) f();
  kiln::cuda::synchronize();
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    kiln::cuda::Event start(true), stop(true);
    start.record();
    f();
    stop.record();
    stop.synchronize();
    ms.push_back(start.elapsed_time(stop));
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace kiln_bench
