// SPDX-License-Identifier: BSD-3-Clause
// softmax and log_softmax of CUDA tensors (cuda/softmax.cu, Note [CUDA softmax]) against
// the CPU's on the same inputs: every dim, dtypes, strided inputs, sizes 0 and 1, and rows
// with NaN, -inf and large values. Compiled by g++ (the kernels are compiled into
// kiln::cuda). Skips where no GPU is present.
#include <catch2/catch.hpp>

#if defined(KILN_WITH_CUDA) && KILN_WITH_CUDA
#include <cmath>

#include "cuda/cuda_check.hpp"

namespace {

using kiln::CUDA;
using kiln::Shape;
using kiln_test::have_gpu;
using kiln_test::max_rel_diff;

template <class T>
double tolerance() {
  return kiln_test::by_dtype<T>(2e-3, 1.6e-2, 1e-6, 1e-14);
}

}  // namespace

TEMPLATE_TEST_CASE("CUDA: softmax and log_softmax give the CPU's along every dim",
                   "[cuda][softmax]", float, double, kiln::half, kiln::bfloat16) {
  if (!have_gpu("CUDA softmax test")) return;
  using T = TestType;
  for (const Shape& shape :
       {Shape{1}, Shape{7}, Shape{3, 1000}, Shape{4, 5, 6}, Shape{0, 3}, Shape{2, 3000, 2}}) {
    kiln::manual_seed(31);
    const kiln::Tensor<T> x = kiln::randn<T>(shape) * T(4);
    const auto gx = x.template to<CUDA>();
    for (int d = -shape.size(); d < shape.size(); ++d) {
      INFO("shape " << shape << " dim " << d);
      CHECK(max_rel_diff(kiln::softmax(gx, d).template to<kiln::CPU>(), kiln::softmax(x, d)) <=
            tolerance<T>());
      CHECK(max_rel_diff(kiln::log_softmax(gx, d).template to<kiln::CPU>(),
                         kiln::log_softmax(x, d)) <= 4 * tolerance<T>());
    }
  }
}

TEST_CASE("CUDA: softmax of strided inputs and special rows", "[cuda][softmax]") {
  if (!have_gpu("CUDA softmax test")) return;
  kiln::manual_seed(32);
  const auto x = kiln::randn<float>({40, 70});
  const auto gx = x.to<CUDA>();
  CHECK(max_rel_diff(kiln::softmax(gx.t(), 1).to<kiln::CPU>(), kiln::softmax(x.t(), 1)) < 1e-6);
  CHECK(max_rel_diff(kiln::log_softmax(gx.slice(1, 0, 70, 3), 0).to<kiln::CPU>(),
                     kiln::log_softmax(x.slice(1, 0, 70, 3), 0)) < 1e-6);
  // Large values do not overflow; a NaN, or a row of -inf only, makes its row NaN.
  auto s = kiln::tensor<double>({1000, -1000, 0, NAN, 1, 2, -INFINITY, -INFINITY, -INFINITY})
               .reshape({3, 3});
  const auto gs = s.to<CUDA>();
  CHECK(max_rel_diff(kiln::softmax(gs, 1).to<kiln::CPU>(), kiln::softmax(s, 1)) < 1e-14);
  CHECK(max_rel_diff(kiln::log_softmax(gs, 1).to<kiln::CPU>(), kiln::log_softmax(s, 1)) < 1e-14);
  const auto row0 = kiln::softmax(gs, 1).to<kiln::CPU>();
  CHECK(row0.data()[0] == 1.0);
  CHECK(std::isnan(row0.data()[3]));
  CHECK(std::isnan(row0.data()[8]));
}
#endif
