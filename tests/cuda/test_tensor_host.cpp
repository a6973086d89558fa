// SPDX-License-Identifier: BSD-3-Clause
// CUDA tensors from files that g++ compiles: allocation, fill, copies between host and
// device and strided copies use kiln::cuda's compiled kernels, no nvcc needed. Without a
// GPU, making a CUDA tensor throws DeviceError.
#include <catch2/catch.hpp>

#if defined(KILN_WITH_CUDA) && KILN_WITH_CUDA
#include "kiln/cuda/memory.hpp"
#include "kiln/cuda/runtime.hpp"
#include "kiln/kiln.hpp"

TEST_CASE("CUDA tensors from g++: without a GPU, allocation names the missing device", "[cuda]") {
  if (kiln::cuda::is_available()) return;
  try {
    (void)kiln::zeros<float, kiln::CUDA>({4});
    FAIL("expected DeviceError");
  } catch (const kiln::DeviceError& e) {
    CHECK_THAT(e.what(), Catch::Contains("does not exist"));
  }
  CHECK_THROWS_AS(kiln::ones<float>({2, 2}).to<kiln::CUDA>(), kiln::DeviceError);
}

TEST_CASE("CUDA tensors from g++: round trips, fills and strided copies", "[cuda]") {
  if (!kiln::cuda::is_available()) {
    WARN("no CUDA device: CUDA tensor copy test skipped");
    return;
  }
  const auto x = kiln::arange<double>(0, 24).reshape({2, 3, 4});
  const auto g = x.to<kiln::CUDA>();
  CHECK(g.get_device() == 0);
  CHECK(x.get_device() == -1);
  const auto back = g.to<kiln::CPU>();
  for (int64_t i = 0; i < 24; ++i) CHECK(back.data()[i] == static_cast<double>(i));

  // Non-contiguous on either side.
  const auto perm = g.permute({2, 0, 1}).to<kiln::CPU>();
  const auto want = x.permute({2, 0, 1}).contiguous();
  for (int64_t i = 0; i < 24; ++i) CHECK(perm.data()[i] == want.data()[i]);
  const auto from_view = x.transpose(0, 2).to<kiln::CUDA>().to<kiln::CPU>();
  const auto want_view = x.transpose(0, 2).contiguous();
  for (int64_t i = 0; i < 24; ++i) CHECK(from_view.data()[i] == want_view.data()[i]);

  // fill_ through a strided view; broadcast copy_ of a row.
  auto z = kiln::zeros<int64_t, kiln::CUDA>({4, 6});
  z.slice(1, 1, 6, 2).fill_(7);
  z.select(0, 3).copy_(kiln::arange<int64_t>(0, 6).to<kiln::CUDA>());
  const auto zc = z.to<kiln::CPU>();
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 6; ++c) CHECK(zc.data()[r * 6 + c] == (c % 2 ? 7 : 0));
  for (int c = 0; c < 6; ++c) CHECK(zc.data()[18 + c] == c);

  // item() and printing copy to the host.
  CHECK(g.select(0, 1).select(0, 2).select(0, 3).item() == 23.0);
  CHECK_THROWS_AS(g.item(), kiln::ValueError);
  CHECK(kiln::to_string(kiln::arange<int64_t>(0, 3).to<kiln::CUDA>()) ==
        "tensor([0, 1, 2], device='cuda:0')");

  const auto empty = kiln::empty<float, kiln::CUDA>({0, 3});
  CHECK(empty.to<kiln::CPU>().numel() == 0);
  CHECK(kiln::cuda::memory_allocated(0) > 0);
}
#endif
