// SPDX-License-Identifier: BSD-3-Clause
// CUDA reductions (Note [CUDA reductions]) against the CPU's on the same inputs: every
// reduction, fused with an expression, over dims, layouts, dtypes and sizes 0 and 1.
// Compiled by nvcc; skips where no GPU is present.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>

#include "cuda/cuda_check.hpp"

namespace {

using kiln::CUDA;
using kiln::Dims;
using kiln::Shape;
using kiln_test::have_gpu;
using kiln_test::max_rel_diff;

template <class T>
double tolerance() {
  return kiln_test::by_dtype<T>(2e-3, 1.6e-2, 2e-5, 1e-12);
}

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> s{Shape{1},          Shape{1000}, Shape{37, 129},
                                    Shape{3, 1, 4, 5}, Shape{0, 4}, Shape{300, 2, 70},
                                    Shape{2, 5000}};
  return s;
}

std::vector<Dims> dim_lists(int nd) {
  std::vector<Dims> lists{Dims{}};
  for (int d = 0; d < nd; ++d) lists.push_back(Dims{d});
  if (nd >= 3) lists.push_back(Dims{0, nd - 1});
  return lists;
}

}  // namespace

// bfloat16 takes half's path (float accumulators, rounded once): half stands for both.
TEMPLATE_TEST_CASE("CUDA: fused sum, mean, amax, amin and prod give the CPU's", "[cuda][reduce]",
                   float, double, kiln::half) {
  if (!have_gpu("CUDA reduction test")) return;
  using T = TestType;
  for (const Shape& shape : shapes()) {
    kiln::manual_seed(5);
    const auto a = kiln::randn<T>(shape), b = kiln::randn<T>(shape);
    const auto ga = a.template to<CUDA>(), gb = b.template to<CUDA>();
    for (const Dims& dims : dim_lists(shape.size())) {
      INFO("shape " << shape << " dims " << dims);
      CHECK(max_rel_diff(kiln::sum(ga * gb, dims).template to<kiln::CPU>(),
                         kiln::sum(a * b, dims)) <= tolerance<T>());
      CHECK(max_rel_diff(kiln::mean(ga - gb, dims, true).template to<kiln::CPU>(),
                         kiln::mean(a - b, dims, true)) <= tolerance<T>());
      const bool empty = kiln::numel_of(shape) == 0;
      if (!empty) {
        CHECK(max_rel_diff(kiln::amax(ga + gb, dims).template to<kiln::CPU>(),
                           kiln::amax(a + b, dims)) == 0);
        CHECK(max_rel_diff(kiln::amin(ga, dims).template to<kiln::CPU>(), kiln::amin(a, dims)) ==
              0);
      }
      CHECK(max_rel_diff(kiln::prod(1 + ga * T(0.01f), dims).template to<kiln::CPU>(),
                         kiln::prod(1 + a * T(0.01f), dims)) <= 4 * tolerance<T>());
    }
  }
}

TEMPLATE_TEST_CASE("CUDA: var, std, logsumexp and norm give the CPU's", "[cuda][reduce]", float,
                   double) {
  if (!have_gpu("CUDA reduction test")) return;
  using T = TestType;
  kiln::manual_seed(6);
  const kiln::Tensor<T> x = kiln::randn<T>({64, 33, 9}) * T(3);
  const auto gx = x.template to<CUDA>();
  for (const Dims& dims : dim_lists(3)) {
    INFO("dims " << dims);
    CHECK(max_rel_diff(kiln::var(gx, dims).template to<kiln::CPU>(), kiln::var(x, dims)) <=
          10 * tolerance<T>());
    CHECK(max_rel_diff(kiln::std(gx, dims, 0).template to<kiln::CPU>(), kiln::std(x, dims, 0)) <=
          10 * tolerance<T>());
    CHECK(max_rel_diff(kiln::logsumexp(gx * T(10), dims).template to<kiln::CPU>(),
                       kiln::logsumexp(x * T(10), dims)) <= 10 * tolerance<T>());
    for (double p : {2.0, 1.0, 3.0, double(INFINITY)})
      CHECK(max_rel_diff(kiln::norm(gx, p, dims).template to<kiln::CPU>(),
                         kiln::norm(x, p, dims)) <= 10 * tolerance<T>());
  }
  // logsumexp of an all -inf row is -inf; a +inf element gives +inf.
  const auto inf = kiln::full<T>({2, 3}, -INFINITY);
  inf.select(0, 1).select(0, 2).fill_(T(INFINITY));
  const auto lse = kiln::logsumexp(inf.template to<CUDA>(), 1).template to<kiln::CPU>();
  CHECK(std::isinf(static_cast<double>(lse.data()[0])));
  CHECK(static_cast<double>(lse.data()[0]) < 0);
  CHECK(static_cast<double>(lse.data()[1]) == INFINITY);
}

TEST_CASE("CUDA: integer and bool reductions, transposed and broadcast operands",
          "[cuda][reduce]") {
  if (!have_gpu("CUDA reduction test")) return;
  const auto i = kiln::arange<int32_t>(0, 6000).reshape({60, 100});
  const auto gi = i.to<CUDA>();
  for (const Dims& dims : dim_lists(2)) {
    const kiln::Tensor<int64_t> want = kiln::sum(i * 3, dims);
    CHECK(max_rel_diff(kiln::sum(gi * 3, dims).to<kiln::CPU>(), want) == 0);
    CHECK(max_rel_diff(kiln::all(gi > -1, dims).to<kiln::CPU>(), kiln::all(i > -1, dims)) == 0);
    CHECK(max_rel_diff(kiln::any(gi > 5990, dims).to<kiln::CPU>(), kiln::any(i > 5990, dims)) == 0);
  }
  kiln::manual_seed(7);
  const auto m = kiln::randn<float>({700, 300}), row = kiln::randn<float>({1, 700});
  const auto gm = m.to<CUDA>(), grow = row.to<CUDA>();
  for (const Dims& dims : dim_lists(2)) {
    CHECK(max_rel_diff(kiln::sum(gm.t() * grow, dims).to<kiln::CPU>(),
                       kiln::sum(m.t() * row, dims)) < 1e-5);
    CHECK(max_rel_diff(kiln::sum(gm.slice(1, 1, 300, 7), dims).to<kiln::CPU>(),
                       kiln::sum(m.slice(1, 1, 300, 7), dims)) < 1e-5);
  }
}

TEST_CASE("CUDA: long reductions split into pieces are deterministic", "[cuda][reduce]") {
  if (!have_gpu("CUDA reduction test")) return;
  kiln::manual_seed(8);
  const auto x = kiln::rand<float>({1 << 22});
  const auto gx = x.to<CUDA>();
  const float first = kiln::sum(gx * gx).to<kiln::CPU>().item();
  const double want = kiln::sum(kiln::cast<double>(x) * kiln::cast<double>(x)).item();
  CHECK(std::abs(first - want) / want < 1e-5);
  for (int run = 0; run < 3; ++run) CHECK(kiln::sum(gx * gx).to<kiln::CPU>().item() == first);
  // Column sums of a tall matrix: a thread per output, several pieces.
  const auto tall = kiln::randn<float>({50000, 1030});
  const auto gt = tall.to<CUDA>();
  CHECK(max_rel_diff(kiln::sum(gt, 0).to<kiln::CPU>(), kiln::sum(tall, 0)) < 1e-4);
  CHECK(max_rel_diff(kiln::mean(gt, 1).to<kiln::CPU>(), kiln::mean(tall, 1)) < 1e-5);
}

TEST_CASE("CUDA: argmax, argmin and max/min along a dim give the CPU's", "[cuda][reduce]") {
  if (!have_gpu("CUDA reduction test")) return;
  kiln::manual_seed(9);
  // Few distinct values: many ties, which go to the first index.
  const kiln::Tensor<float> x = kiln::cast<float>(kiln::randint<int32_t>(0, 5, {64, 3000}));
  x.select(0, 3).select(0, 2000).fill_(NAN);
  const auto gx = x.to<CUDA>();
  for (int d : {0, 1, -1}) {
    CHECK(max_rel_diff(kiln::argmax(gx, d).to<kiln::CPU>(), kiln::argmax(x, d)) == 0);
    CHECK(max_rel_diff(kiln::argmin(gx * 2, d, true).to<kiln::CPU>(),
                       kiln::argmin(x * 2, d, true)) == 0);
    const auto got = kiln::max(gx, d);
    const auto want = kiln::max(x, d);
    CHECK(max_rel_diff(got.values.to<kiln::CPU>(), want.values) == 0);
    CHECK(max_rel_diff(got.indices.to<kiln::CPU>(), want.indices) == 0);
  }
  CHECK(kiln::argmax(gx).item() == kiln::argmax(x).item());
  CHECK(kiln::argmin(gx.t()).item() == kiln::argmin(x.t()).item());
  CHECK_THROWS_AS(kiln::argmax(kiln::zeros<float, CUDA>({0, 3}), 0), kiln::ValueError);
}
