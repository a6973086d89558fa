// SPDX-License-Identifier: BSD-3-Clause
// CUDA runtime queries and the device self-test of the shared functors. Built when the
// tests link kiln::cuda; skips cleanly where no GPU is present.
#include <catch2/catch.hpp>

#if defined(KILN_WITH_CUDA) && KILN_WITH_CUDA
#include "kiln/core/error.hpp"
#include "kiln/cuda/runtime.hpp"

TEST_CASE("CUDA device count is queryable without a GPU", "[cuda]") {
  const int n = kiln::cuda::device_count();
  CHECK(n >= 0);
  CHECK(kiln::cuda::is_available() == (n > 0));
}

TEST_CASE("functors evaluate on the GPU as on the host", "[cuda]") {
  if (!kiln::cuda::is_available()) {
    WARN("no CUDA device: GPU functor test skipped");
    CHECK_THROWS_AS(kiln::cuda::detail::functor_device_selftest(16), kiln::DeviceError);
    return;
  }
  // Device libm and host libm agree to a few ulps; half results to its precision.
  CHECK(kiln::cuda::detail::functor_device_selftest(100003) < 2e-3);
}
#endif
