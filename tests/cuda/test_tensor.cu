// SPDX-License-Identifier: BSD-3-Clause
// CUDA tensors evaluated by the fused kernel (Note [Fused CUDA kernels]), compared with the
// CPU on the same inputs: contiguous, broadcast, strided and aliased operands, several
// dtypes, sizes 0 and 1. Compiled by nvcc; skips where no GPU is present.
#include <catch2/catch.hpp>
#include <cmath>

#include "cuda/cuda_check.hpp"
#include "kiln/cuda/stream.hpp"

namespace {

template <class T>
double max_abs_diff(const kiln::Tensor<T>& a, const kiln::Tensor<T>& b) {
  REQUIRE(a.shape() == b.shape());
  const auto ca = a.contiguous(), cb = b.contiguous();
  double m = 0;
  for (int64_t i = 0; i < ca.numel(); ++i)
    m = std::max(m,
                 std::abs(static_cast<double>(ca.data()[i]) - static_cast<double>(cb.data()[i])));
  return m;
}

template <class T>
double tolerance() {
  if constexpr (std::is_same_v<T, kiln::half>) return 4e-3;
  if constexpr (std::is_same_v<T, kiln::bfloat16>) return 3e-2;
  if constexpr (std::is_same_v<T, float>) return 2e-6;
  return 1e-14;
}

}  // namespace

TEMPLATE_TEST_CASE("CUDA: one fused kernel gives the CPU's a*b + c*d - sin(e)", "[cuda]", float,
                   double, kiln::half, kiln::bfloat16) {
  if (!kiln_test::have_gpu("CUDA tensor test")) return;
  using T = TestType;
  for (const kiln::Shape& shape : {kiln::Shape{0}, kiln::Shape{1}, kiln::Shape{1000},
                                   kiln::Shape{37, 129}, kiln::Shape{3, 1, 4, 5}}) {
    kiln::manual_seed(1);
    const auto a = kiln::randn<T>(shape), b = kiln::randn<T>(shape), c = kiln::randn<T>(shape),
               d = kiln::randn<T>(shape), e = kiln::randn<T>(shape);
    const kiln::Tensor<T> want = a * b + c * d - kiln::sin(e);
    const auto ga = a.template to<kiln::CUDA>(), gb = b.template to<kiln::CUDA>(),
               gc = c.template to<kiln::CUDA>(), gd = d.template to<kiln::CUDA>(),
               ge = e.template to<kiln::CUDA>();
    const kiln::Tensor<T, kiln::CUDA> got = ga * gb + gc * gd - kiln::sin(ge);
    CHECK(got.get_device() == 0);
    CHECK(max_abs_diff(got.template to<kiln::CPU>(), want) <= tolerance<T>());
  }
}

TEST_CASE("CUDA: broadcast, strided and transposed operands and outputs", "[cuda]") {
  if (!kiln_test::have_gpu("CUDA tensor test")) return;
  kiln::manual_seed(2);
  const auto a = kiln::randn<float>({64, 1}), b = kiln::randn<float>({1, 33});
  const auto m = kiln::randn<float>({33, 64});
  const kiln::Tensor<float> want = a * b + m.t() * 0.5f;
  const auto ga = a.to<kiln::CUDA>(), gb = b.to<kiln::CUDA>(), gm = m.to<kiln::CUDA>();
  const kiln::Tensor<float, kiln::CUDA> got = ga * gb + gm.t() * 0.5f;
  CHECK(max_abs_diff(got.to<kiln::CPU>(), want) < 1e-6);

  // A strided output: every other column of a wider tensor.
  auto wide = kiln::zeros<float, kiln::CUDA>({64, 66});
  wide.slice(1, 0, 66, 2).copy_(ga * gb);
  const auto back = wide.to<kiln::CPU>();
  const kiln::Tensor<float> want_cols = a * b;
  CHECK(max_abs_diff(back.slice(1, 0, 66, 2).contiguous(), want_cols) < 1e-6);
  CHECK(max_abs_diff(back.slice(1, 1, 66, 2).contiguous(), kiln::zeros<float>({64, 33})) == 0);

  // Reading a transposed view and copying it (the compiled copy kernel).
  const auto t = gm.t().contiguous().to<kiln::CPU>();
  CHECK(max_abs_diff(t, m.t().contiguous()) == 0);
}

TEST_CASE("CUDA: integer and bool results, fill and aliasing", "[cuda]") {
  if (!kiln_test::have_gpu("CUDA tensor test")) return;
  const auto i = kiln::arange<int32_t>(0, 1000).reshape({10, 100});
  const auto gi = i.to<kiln::CUDA>();
  const kiln::Tensor<int32_t, kiln::CUDA> sq = gi * gi + 3;
  const kiln::Tensor<int32_t> want = i * i + 3;
  CHECK(max_abs_diff(sq.to<kiln::CPU>(), want) == 0);
  const kiln::Tensor<bool, kiln::CUDA> big = gi * 2 > 999;
  const kiln::Tensor<bool> want_big = i * 2 > 999;
  CHECK(max_abs_diff(big.to<kiln::CPU>(), want_big) == 0);

  auto f = kiln::full<double, kiln::CUDA>({5, 7}, 2.5);
  CHECK(max_abs_diff(f.to<kiln::CPU>(), kiln::full<double>({5, 7}, 2.5)) == 0);
  f.t().fill_(-1.0);
  CHECK(max_abs_diff(f.to<kiln::CPU>(), kiln::full<double>({5, 7}, -1.0)) == 0);

  // a = a + a.t() reads elements after they were overwritten: evaluated through a temporary.
  kiln::manual_seed(3);
  const auto sqm = kiln::randn<float>({50, 50});
  auto g = sqm.to<kiln::CUDA>();
  g.copy_(g + g.t());
  const kiln::Tensor<float> want_sym = sqm + sqm.t();
  CHECK(max_abs_diff(g.to<kiln::CPU>(), want_sym) < 1e-6);
}

TEST_CASE("CUDA: expressions run on the current stream", "[cuda]") {
  if (!kiln_test::have_gpu("CUDA tensor test")) return;
  kiln::cuda::Stream s;
  const auto x = kiln::arange<float>(0, 1 << 20);
  kiln::Tensor<float, kiln::CUDA> y;
  {
    kiln::cuda::StreamGuard guard(s);
    const auto gx = x.to<kiln::CUDA>();
    y = gx * 2.0f + 1.0f;
    s.synchronize();
  }
  const kiln::Tensor<float> want = x * 2.0f + 1.0f;
  CHECK(max_abs_diff(y.to<kiln::CPU>(), want) == 0);
}

TEST_CASE("CUDA: autograd on CUDA tensors is refused with a clear error", "[cuda]") {
  if (!kiln_test::have_gpu("CUDA tensor test")) return;
  auto w = kiln::ones<float, kiln::CUDA>({3});
  CHECK_THROWS_AS(w.requires_grad_(), kiln::AutogradError);
}
