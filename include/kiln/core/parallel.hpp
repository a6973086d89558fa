// SPDX-License-Identifier: BSD-3-Clause
// CPU parallelism: a static split of an index range across OpenMP threads.
#pragma once

#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kiln {

/// Threads kiln's CPU loops use (OpenMP's setting; 1 without OpenMP).
inline int get_num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}
inline void set_num_threads(int n) {
#ifdef _OPENMP
  omp_set_num_threads(std::max(n, 1));
#else
  (void)n;
#endif
}

/// Below this many elements an elementwise loop runs on one thread: waking the pool
/// costs more than it saves.
inline constexpr int64_t kParallelGrain = 32768;

/// Calls f(begin, end) on disjoint chunks covering [0, n). Chunk starts are multiples of
/// `align` so that SIMD packets never straddle two threads. f must not throw.
namespace detail {
// The body runs from the parallel region and from the serial path. Called directly in
// both, it was inlined twice, doubling the machine code (and the compile time) of every
// loop kiln writes; through this one out-of-line call it exists once.
template <class F>
[[gnu::noinline]] void run_chunk(F& f, int64_t b, int64_t e) {
  f(b, e);
}
}  // namespace detail

template <class F>
void parallel_for(int64_t n, int64_t grain, int64_t align, F&& f) {
#ifdef _OPENMP
  const int max_threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t want = grain > 0 ? n / grain : max_threads;
  const int nthreads = static_cast<int>(std::min<int64_t>(max_threads, std::max<int64_t>(want, 1)));
  if (nthreads > 1) {
#pragma omp parallel num_threads(nthreads)
    {
      const int64_t nt = omp_get_num_threads(), tid = omp_get_thread_num();
      int64_t chunk = (n + nt - 1) / nt;
      chunk = (chunk + align - 1) / align * align;
      const int64_t b = std::min(n, tid * chunk), e = std::min(n, b + chunk);
      if (b < e) detail::run_chunk(f, b, e);
    }
    return;
  }
#else
  (void)grain;
  (void)align;
#endif
  if (n > 0) detail::run_chunk(f, int64_t{0}, n);
}

}  // namespace kiln
