// SPDX-License-Identifier: BSD-3-Clause
// Pinned host memory (cuda/pinned.cu, Note [Pinned host memory]) and non_blocking copies:
// round trips, pinned results of device-to-host copies, and blocks that are not reused
// while a copy may still read them. Compiled by g++.
#include <catch2/catch.hpp>

#if defined(KILN_WITH_CUDA) && KILN_WITH_CUDA
#include "cuda/cuda_check.hpp"
#include "kiln/cuda/stream.hpp"

TEST_CASE("CUDA pinned memory: without a GPU, pin_memory names the missing device", "[cuda]") {
  if (kiln::cuda::is_available()) return;
  CHECK_THROWS_AS(kiln::cuda::pin_memory(kiln::ones<float>({4})), kiln::DeviceError);
  CHECK_FALSE(kiln::cuda::is_pinned(kiln::ones<float>({4})));
}

TEST_CASE("CUDA pinned memory: non_blocking copies both ways", "[cuda]") {
  if (!kiln_test::have_gpu("CUDA pinned memory test")) return;
  const auto x = kiln::arange<float>(0, 1 << 20).reshape({1024, 1024});
  CHECK_FALSE(kiln::cuda::is_pinned(x));
  const auto p = kiln::cuda::pin_memory(x);
  CHECK(kiln::cuda::is_pinned(p));
  CHECK(kiln::cuda::pin_memory(p).data() == p.data());  // already pinned: itself
  CHECK(kiln::equal(p, x));

  const auto g = p.to<kiln::CUDA>(/*non_blocking=*/true);
  const auto back = g.to<kiln::CPU>(/*non_blocking=*/true);
  CHECK(kiln::cuda::is_pinned(back));
  kiln::cuda::synchronize();
  CHECK(kiln::equal(back, x));
  // A pageable source falls back to a copy that waits; a view of pinned memory is copied
  // asynchronously from its block.
  CHECK(kiln::equal(x.to<kiln::CUDA>(true).to<kiln::CPU>(), x));
  CHECK(kiln::equal(p.select(0, 5).to<kiln::CUDA>(true).to<kiln::CPU>(), x.select(0, 5)));
}

TEST_CASE("CUDA pinned memory: a freed block waits for the copy that reads it", "[cuda]") {
  if (!kiln_test::have_gpu("CUDA pinned memory test")) return;
  const int64_t n = int64_t{64} << 20;  // 256 MB: the copy takes a while
  kiln::Tensor<float, kiln::CUDA> g;
  {
    auto a = kiln::cuda::pin_memory(kiln::full<float>({n}, 1.0f));
    g = a.to<kiln::CUDA>(true);
  }  // a's block is freed while the copy may still run
  auto b = kiln::cuda::pin_memory(kiln::full<float>({n}, 2.0f));  // must not get a's block early
  kiln::cuda::synchronize();
  CHECK(kiln::all(g.to<kiln::CPU>() == 1.0f).item());
  (void)b;
  kiln::cuda::empty_host_cache();
}
#endif
