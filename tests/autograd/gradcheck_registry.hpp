// SPDX-License-Identifier: BSD-3-Clause
// The table of gradcheck cases: every differentiable op registers at least one case
// (from the test file of its family), and test_gradcheck_table.cpp runs them all and
// checks that every op named in differentiable_ops.hpp has one.
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <kiln/kiln.hpp>

namespace kiln::test {

using Inputs = std::vector<Tensor<double>>;

struct GradcheckCase {
  std::string op;                               // the op's public name, e.g. "matmul"
  std::function<Inputs()> inputs;              // fresh inputs (set requires_grad_ on some)
  std::function<Tensor<double>(const Inputs&)> fn;  // one output
  bool gradgrad = false;                        // also run gradgradcheck
  double atol = 1e-5, rtol = 1e-3;
  double eps = 1e-6;  // finite-difference step (larger for cases computed in float)
};

inline std::vector<GradcheckCase>& gradcheck_registry() {
  static std::vector<GradcheckCase> r;
  return r;
}

struct RegisterGradchecks {
  explicit RegisterGradchecks(std::vector<GradcheckCase> cases) {
    for (auto& c : cases) gradcheck_registry().push_back(std::move(c));
  }
};

/// Deterministic values in about [-1.5, 1.5], distinct per element and seed.
inline Tensor<double> values(const Shape& shape, uint64_t seed = 0) {
  Tensor<double> t(shape);
  for (int64_t k = 0; k < t.numel(); ++k)
    t.data()[k] = 1.5 * std::sin(0.9 + 1.7 * static_cast<double>(k) + 2.3 * static_cast<double>(seed));
  return t;
}
/// A contiguous double leaf of `shape` that requires grad.
inline Tensor<double> leaf(const Shape& shape, uint64_t seed = 0) {
  return values(shape, seed).requires_grad_();
}
/// A leaf with values in [0.5, 2] (for sqrt, log, pow bases...).
inline Tensor<double> leaf_pos(const Shape& shape, uint64_t seed = 0) {
  Tensor<double> t = values(shape, seed);
  for (int64_t k = 0; k < t.numel(); ++k) t.data()[k] = 0.5 + std::abs(t.data()[k]);
  return t.requires_grad_();
}
/// A leaf with values in (-0.9, 0.9) (for asin, acos...).
inline Tensor<double> leaf_unit(const Shape& shape, uint64_t seed = 0) {
  Tensor<double> t = values(shape, seed);
  for (int64_t k = 0; k < t.numel(); ++k) t.data()[k] *= 0.6;
  return t.requires_grad_();
}
/// A non-contiguous leaf of a 2-D `shape`: the transpose of a [shape[1], shape[0]] tensor.
inline Tensor<double> leaf_t(const Shape& shape, uint64_t seed = 0) {
  Tensor<double> t = values({shape[1], shape[0]}, seed).t();
  return t.requires_grad_();
}

}  // namespace kiln::test

#define KILN_GRADCHECK_CAT2(a, b) a##b
#define KILN_GRADCHECK_CAT(a, b) KILN_GRADCHECK_CAT2(a, b)
/// Registers gradcheck cases: KILN_GRADCHECK_CASES({{"sin", inputs, fn, true}, ...});
#define KILN_GRADCHECK_CASES(...)                                                          \
  static const ::kiln::test::RegisterGradchecks KILN_GRADCHECK_CAT(kiln_gc_, __COUNTER__)( \
      __VA_ARGS__)
