// SPDX-License-Identifier: BSD-3-Clause
// The matmul family on CUDA tensors (cuBLAS, cuda/matmul.cu) against the CPU's on the same
// inputs: torch.matmul's shapes, transposed and copied operands, batch broadcasting,
// addmm/baddbmm/linear, dtypes and empty sizes. Compiled by g++: the products are
// compiled into kiln::cuda. Skips where no GPU is present.
#include <catch2/catch.hpp>

#if defined(KILN_WITH_CUDA) && KILN_WITH_CUDA
#include <cmath>

#include "cuda/cuda_check.hpp"

namespace {

using kiln::CUDA;
using kiln::Shape;
using kiln_test::have_gpu;
using kiln_test::max_rel_diff;

// Products of k terms of size ~1: float rounding grows with sqrt(k).
template <class T>
double tolerance() {
  return kiln_test::by_dtype<T>(1e-2, 5e-2, 1e-5, 1e-12);
}

template <class T>
kiln::Tensor<T, CUDA> dev(const kiln::Tensor<T>& t) {
  return t.template to<CUDA>();
}
template <class T>
kiln::Tensor<T> host(const kiln::Tensor<T, CUDA>& t) {
  return t.template to<kiln::CPU>();
}

}  // namespace

TEMPLATE_TEST_CASE("CUDA: matmul's shapes give the CPU's products", "[cuda][matmul]", float, double,
                   kiln::half, kiln::bfloat16) {
  if (!have_gpu("CUDA matmul test")) return;
  using T = TestType;
  const std::vector<std::pair<Shape, Shape>> cases{{{5}, {5}},
                                                   {{3, 5}, {5}},
                                                   {{5}, {5, 4}},
                                                   {{3, 5}, {5, 4}},
                                                   {{2, 3, 5}, {5, 4}},
                                                   {{5}, {2, 5, 4}},
                                                   {{2, 1, 3, 5}, {4, 5, 6}},
                                                   {{64, 130}, {130, 33}},
                                                   {{0, 5}, {5, 4}},
                                                   {{3, 0}, {0, 4}},
                                                   {{2, 0, 3, 5}, {5, 4}}};
  for (const auto& [as, bs] : cases) {
    INFO("shapes " << as << " and " << bs);
    kiln::manual_seed(21);
    const auto a = kiln::randn<T>(as), b = kiln::randn<T>(bs);
    CHECK(max_rel_diff(host(kiln::matmul(dev(a), dev(b))), kiln::matmul(a, b)) <= tolerance<T>());
  }
}

TEST_CASE("CUDA: transposed, strided and broadcast operands", "[cuda][matmul]") {
  if (!have_gpu("CUDA matmul test")) return;
  kiln::manual_seed(22);
  const auto a = kiln::randn<float>({40, 30}), b = kiln::randn<float>({50, 40});
  // a.t() and b.t() go to cuBLAS as transposed operands, no copy.
  CHECK(max_rel_diff(host(kiln::matmul(dev(a).t(), dev(b).t())), kiln::matmul(a.t(), b.t())) <
        1e-5);
  // Steps in both dims: copied to a contiguous buffer first.
  const auto s = a.slice(0, 0, 40, 2).slice(1, 0, 30, 3);  // [20, 10]
  const auto m = kiln::randn<float>({10, 7});
  CHECK(max_rel_diff(host(kiln::matmul(dev(a).slice(0, 0, 40, 2).slice(1, 0, 30, 3), dev(m))),
                     kiln::matmul(s, m)) < 1e-5);
  // A batch broadcast over a single matrix (batch stride 0), and an expanded batch.
  const auto x = kiln::randn<float>({4, 3, 6, 9}), w = kiln::randn<float>({9, 5});
  CHECK(max_rel_diff(host(kiln::matmul(dev(x), dev(w))), kiln::matmul(x, w)) < 1e-5);
  const auto y = kiln::randn<float>({1, 3, 9, 2});
  CHECK(max_rel_diff(host(kiln::matmul(dev(x), dev(y))), kiln::matmul(x, y)) < 1e-5);
  // A permuted batch whose dims do not merge.
  const auto pp = kiln::randn<float>({6, 4, 3, 9});
  CHECK(max_rel_diff(host(kiln::matmul(dev(pp).permute({1, 2, 0, 3}), dev(y))),
                     kiln::matmul(pp.permute({1, 2, 0, 3}), y)) < 1e-5);
}

TEST_CASE("CUDA: mm, mv, bmm, addmm, baddbmm and linear", "[cuda][matmul]") {
  if (!have_gpu("CUDA matmul test")) return;
  kiln::manual_seed(23);
  const auto a = kiln::randn<double>({7, 5}), b = kiln::randn<double>({5, 6});
  const auto v = kiln::randn<double>({5});
  CHECK(max_rel_diff(host(kiln::mm(dev(a), dev(b))), kiln::mm(a, b)) < 1e-12);
  CHECK(max_rel_diff(host(kiln::mv(dev(a), dev(v))), kiln::mv(a, v)) < 1e-12);
  const auto p = kiln::randn<double>({3, 7, 5}), q = kiln::randn<double>({3, 5, 6});
  CHECK(max_rel_diff(host(kiln::bmm(dev(p), dev(q))), kiln::bmm(p, q)) < 1e-12);
  const auto in = kiln::randn<double>({1, 6});
  CHECK(max_rel_diff(host(kiln::addmm(dev(in), dev(a), dev(b), 0.5, 2.0)),
                     kiln::addmm(in, a, b, 0.5, 2.0)) < 1e-12);
  // beta = 0 ignores the input, NaN included.
  const auto nan = kiln::full<double>({7, 6}, NAN);
  CHECK(max_rel_diff(host(kiln::addmm(dev(nan), dev(a), dev(b), 0.0, 1.0)), kiln::mm(a, b)) <
        1e-12);
  const auto bin = kiln::randn<double>({3, 1, 6});
  CHECK(max_rel_diff(host(kiln::baddbmm(dev(bin), dev(p), dev(q), 1.0, -1.0)),
                     kiln::baddbmm(bin, p, q, 1.0, -1.0)) < 1e-12);
  const auto x = kiln::randn<float>({2, 4, 16}), w = kiln::randn<float>({8, 16});
  const auto bias = kiln::randn<float>({8});
  CHECK(max_rel_diff(host(kiln::linear(dev(x), dev(w), dev(bias))), kiln::linear(x, w, bias)) <
        1e-5);
  CHECK(max_rel_diff(host(kiln::linear(dev(x), dev(w))), kiln::linear(x, w)) < 1e-5);
}

TEST_CASE("CUDA: matmul errors name the shapes", "[cuda][matmul]") {
  if (!have_gpu("CUDA matmul test")) return;
  const auto a = kiln::zeros<float, CUDA>({3, 4}), b = kiln::zeros<float, CUDA>({5, 2});
  CHECK_THROWS_AS(kiln::matmul(a, b), kiln::ShapeError);
  try {
    (void)kiln::mm(a, b);
  } catch (const kiln::ShapeError& e) {
    CHECK_THAT(e.what(), Catch::Contains("[3, 4]") && Catch::Contains("[5, 2]"));
  }
  CHECK_THROWS_AS(kiln::linear(a, kiln::zeros<float, CUDA>({2, 5})), kiln::ShapeError);
}
#endif
