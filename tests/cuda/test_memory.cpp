// SPDX-License-Identifier: BSD-3-Clause
// The CUDA caching allocator on a real device: reuse, statistics, empty_cache and the
// out-of-memory retry. Without a GPU only the device checks run.
#include <catch2/catch.hpp>

#if defined(KILN_WITH_CUDA) && KILN_WITH_CUDA
#include <string>

#include "kiln/core/error.hpp"
#include "kiln/cuda/memory.hpp"
#include "kiln/cuda/runtime.hpp"

TEST_CASE("CUDA memory: a device that does not exist is named in the error", "[cuda]") {
  const int n = kiln::cuda::device_count();
  try {
    kiln::cuda::set_device(n);
    FAIL("expected DeviceError");
  } catch (const kiln::DeviceError& e) {
    CHECK_THAT(e.what(), Catch::Contains("device " + std::to_string(n) + " does not exist"));
  }
  CHECK_THROWS_AS(kiln::cuda::memory_allocated(n), kiln::DeviceError);
  CHECK_THROWS_AS(kiln::cuda::allocate(16, n), kiln::DeviceError);
  kiln::cuda::deallocate(nullptr, n);  // a deleter never throws
}

TEST_CASE("CUDA memory: blocks are cached, reused and counted", "[cuda]") {
  if (!kiln::cuda::is_available()) {
    WARN("no CUDA device: allocator test skipped");
    return;
  }
  using namespace kiln::cuda;
  constexpr std::size_t MiB = std::size_t{1} << 20;
  empty_cache();
  const std::size_t base = memory_allocated(0);
  void* a = allocate(3 * MiB, 0);
  CHECK(memory_allocated(0) == base + 3 * MiB);
  CHECK(memory_reserved(0) >= memory_allocated(0));
  deallocate(a, 0);
  CHECK(memory_allocated(0) == base);
  CHECK(memory_reserved(0) >= 3 * MiB);  // cached
  void* b = allocate(3 * MiB - 1000, 0);
  CHECK(b == a);
  deallocate(b, 0);
  empty_cache();
  CHECK(memory_reserved(0) == memory_allocated(0));
  reset_peak_memory_stats(0);
  CHECK(max_memory_allocated(0) == memory_allocated(0));
}

TEST_CASE("CUDA memory: out of memory throws with the sizes, and the cache stays usable",
          "[cuda]") {
  if (!kiln::cuda::is_available()) {
    WARN("no CUDA device: OOM test skipped");
    return;
  }
  using namespace kiln::cuda;
  constexpr std::size_t MiB = std::size_t{1} << 20;
  void* cached = allocate(64 * MiB, 0);
  deallocate(cached, 0);
  try {
    (void)allocate(std::size_t{1} << 50, 0);  // 1 PiB
    FAIL("expected OutOfMemoryError");
  } catch (const kiln::OutOfMemoryError& e) {
    CHECK_THAT(e.what(), Catch::Contains("tried to allocate 1024.00 TiB"));
    CHECK_THAT(e.what(), Catch::Contains("free of"));
  }
  CHECK(memory_reserved(0) == memory_allocated(0));  // the retry emptied the cache
  void* p = allocate(MiB, 0);
  CHECK(p != nullptr);
  deallocate(p, 0);
}
#endif
