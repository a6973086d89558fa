// SPDX-License-Identifier: BSD-3-Clause
// sort, argsort, topk (CUB's segmented radix sort, cuda/sort.cu) and cumsum, cumprod
// (cuda/scan.cu) of CUDA tensors against the CPU's on the same inputs: every dim, ties,
// NaN and signed zeros, dtypes and empty sizes. Compiled by g++; skips without a GPU.
#include <catch2/catch.hpp>

#if defined(KILN_WITH_CUDA) && KILN_WITH_CUDA
#include <cmath>
#include <cstring>

#include "cuda/cuda_check.hpp"

namespace {

using kiln::CUDA;
using kiln::Shape;
using kiln_test::have_gpu;
using kiln_test::max_rel_diff;

// Bitwise equality for floats (NaN == NaN, -0.0 != +0.0), value equality otherwise.
template <class T>
bool same(const kiln::Tensor<T>& got, const kiln::Tensor<T>& want) {
  if (got.shape() != want.shape()) return false;
  const auto g = got.contiguous(), w = want.contiguous();
  for (int64_t i = 0; i < g.numel(); ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::memcmp(&g.data()[i], &w.data()[i], sizeof(T)) != 0) return false;
    } else {
      if (static_cast<double>(g.data()[i]) != static_cast<double>(w.data()[i])) return false;
    }
  }
  return true;
}

}  // namespace

TEMPLATE_TEST_CASE("CUDA: sort and argsort give the CPU's stable order", "[cuda][sort]", float,
                   double, kiln::half, int32_t, int64_t, uint8_t) {
  if (!have_gpu("CUDA sort/scan test")) return;
  using T = TestType;
  for (const Shape& shape : {Shape{1}, Shape{300}, Shape{20, 37}, Shape{3, 4, 50}, Shape{0, 5}}) {
    kiln::manual_seed(41);
    // Few distinct values: many ties, which must keep their input order.
    const kiln::Tensor<T> x = kiln::cast<T>(kiln::randint<int32_t>(0, 9, shape));
    const auto gx = x.template to<CUDA>();
    for (int d = 0; d < shape.size(); ++d)
      for (bool desc : {false, true}) {
        INFO("shape " << shape << " dim " << d << " descending " << desc);
        const auto want = kiln::sort(x, d, desc);
        const auto got = kiln::sort(gx, d, desc);
        CHECK(same(got.values.template to<kiln::CPU>(), want.values));
        CHECK(same(got.indices.template to<kiln::CPU>(), want.indices));
        CHECK(same(kiln::argsort(gx, d, desc).template to<kiln::CPU>(), kiln::argsort(x, d, desc)));
      }
  }
}

TEST_CASE("CUDA: sort puts NaN last and keeps signed zeros in input order", "[cuda][sort]") {
  if (!have_gpu("CUDA sort/scan test")) return;
  const auto x = kiln::tensor<float>({3, -NAN, 0.0f, -1, NAN, -0.0f, INFINITY, -INFINITY, 0.0f});
  for (bool desc : {false, true}) {
    const auto want = kiln::sort(x, 0, desc);
    const auto got = kiln::sort(x.to<CUDA>(), 0, desc);
    CHECK(same(got.indices.to<kiln::CPU>(), want.indices));
    CHECK(same(got.values.to<kiln::CPU>(), want.values));
  }
}

TEST_CASE("CUDA: topk gives the CPU's values, and indices that point at them", "[cuda][sort]") {
  if (!have_gpu("CUDA sort/scan test")) return;
  kiln::manual_seed(42);
  const auto x = kiln::randn<float>({16, 500});
  const auto gx = x.to<CUDA>();
  for (int d : {0, 1})
    for (bool largest : {true, false}) {
      const auto want = kiln::topk(x, 7, d, largest);
      const auto got = kiln::topk(gx, 7, d, largest);
      CHECK(same(got.values.to<kiln::CPU>(), want.values));
      // Distinct random values: the indices agree too.
      CHECK(same(got.indices.to<kiln::CPU>(), want.indices));
    }
  CHECK(kiln::topk(gx, 0, 1).values.numel() == 0);
  CHECK_THROWS_AS(kiln::topk(gx, 501, 1), kiln::ValueError);
}

TEMPLATE_TEST_CASE("CUDA: cumsum and cumprod give the CPU's along every dim", "[cuda][scan]", float,
                   double, kiln::half, int32_t, bool) {
  if (!have_gpu("CUDA sort/scan test")) return;
  using T = TestType;
  for (const Shape& shape : {Shape{1}, Shape{1000}, Shape{7, 300}, Shape{3, 5, 4}, Shape{0, 3}}) {
    kiln::manual_seed(43);
    kiln::Tensor<T> x;
    if constexpr (kiln::is_floating_v<T>)
      x = kiln::rand<T>(shape) + T(0.5f);  // products stay near 1
    else
      x = kiln::cast<T>(kiln::randint<int32_t>(0, 3, shape));
    const auto gx = x.template to<CUDA>();
    const double tol = std::is_same_v<T, kiln::half> ? 4e-3
                       : std::is_same_v<T, float>    ? 1e-6
                                                     : 1e-12;
    for (int d = 0; d < shape.size(); ++d) {
      INFO("shape " << shape << " dim " << d);
      CHECK(max_rel_diff(kiln::cumsum(gx, d).template to<kiln::CPU>(), kiln::cumsum(x, d)) <= tol);
      CHECK(max_rel_diff(kiln::cumprod(gx, d).template to<kiln::CPU>(), kiln::cumprod(x, d)) <=
            tol);
    }
  }
}
#endif
