// SPDX-License-Identifier: BSD-3-Clause
// rand, randn and randint on CUDA tensors (cuda/random.cu) give the CPU's numbers for the
// same seed (Note [Random streams]). Compiled by g++; skips where no GPU is present.
#include <catch2/catch.hpp>

#if defined(KILN_WITH_CUDA) && KILN_WITH_CUDA
#include <cmath>

#include "cuda/cuda_check.hpp"

namespace {

using kiln_test::have_gpu;
using kiln_test::max_rel_diff;

template <class T>
void check_same_streams() {
  for (const kiln::Shape& shape :
       {kiln::Shape{0}, kiln::Shape{1}, kiln::Shape{7}, kiln::Shape{33, 65}}) {
    INFO("shape " << shape);
    kiln::manual_seed(77);
    const auto u = kiln::rand<T>(shape), z = kiln::randn<T>(shape);
    kiln::manual_seed(77);
    const auto gu = kiln::rand<T, kiln::CUDA>(shape), gz = kiln::randn<T, kiln::CUDA>(shape);
    // Uniforms are integer arithmetic and one exact scaling: bit for bit.
    CHECK(max_rel_diff(gu.template to<kiln::CPU>(), u) == 0);
    // Normals go through log, sqrt, sin and cos in double: within a rounding of T.
    CHECK(max_rel_diff(gz.template to<kiln::CPU>(), z) <=
          (std::is_same_v<T, double> ? 1e-14 : 1e-6));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("CUDA: rand and randn draw the CPU's numbers for a seed", "[cuda][random]",
                   float, double, kiln::half, kiln::bfloat16) {
  if (!have_gpu("CUDA random test")) return;
  check_same_streams<TestType>();
}

TEST_CASE("CUDA: randint draws the CPU's integers, 32- and 64-bit ranges", "[cuda][random]") {
  if (!have_gpu("CUDA random test")) return;
  kiln::manual_seed(5);
  const auto a = kiln::randint<int32_t>(-3, 10, {1001});
  const auto b = kiln::randint<int64_t>(0, int64_t{1} << 40, {513});
  const auto c = kiln::randint<float>(0, 100, {9});
  const auto after = kiln::rand<float>({4});
  kiln::manual_seed(5);
  const auto ga = kiln::randint<int32_t, kiln::CUDA>(-3, 10, {1001});
  const auto gb = kiln::randint<int64_t, kiln::CUDA>(0, int64_t{1} << 40, {513});
  const auto gc = kiln::randint<float, kiln::CUDA>(0, 100, {9});
  // The generator advanced the same way: the next CPU draw is the same too.
  const auto after_cuda = kiln::rand<float>({4});
  CHECK(max_rel_diff(ga.to<kiln::CPU>(), a) == 0);
  CHECK(max_rel_diff(gb.to<kiln::CPU>(), b) == 0);
  CHECK(max_rel_diff(gc.to<kiln::CPU>(), c) == 0);
  CHECK(max_rel_diff(after_cuda, after) == 0);
}
#endif
