// SPDX-License-Identifier: BSD-3-Clause
// Activations and parameterised unary ops (sigmoid, relu, silu, gelu, gelu_tanh, leaky_relu,
// elu, softplus, pow(x, number), clamp, clamp_min, clamp_max) against a plain <cmath> loop in
// double. Table-driven like test_unary.cpp: float and double, each on the contiguous packet
// path, a strided operand (gathered packets) and under a bool mask (the scalar path).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/kiln.hpp"
#include "unary_check.hpp"

namespace {

using namespace kiln_test;

constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr double kSqrt2OverPi = 0.79788456080286535588;

double ref_relu(double x) { return std::isnan(x) ? x : (x < 0 ? 0.0 : x); }
double ref_clamp(double x, double lo, double hi) {
  return std::isnan(x) ? x : std::fmin(std::fmax(x, lo), hi);
}
double ref_softplus(double x, double beta, double threshold) {
  return x * beta > threshold ? x : std::log1p(std::exp(beta * x)) / beta;
}

// Every activation and parameterised unary op of include/kiln/expr/ops.hpp.
const std::vector<UnaryCase>& activation_cases() {
  static const std::vector<UnaryCase> cases = {
      UNARY_CASE("sigmoid", kiln::sigmoid(x), 1 / (1 + std::exp(-x)), -30, 30, kComposite, true,
                 false),
      UNARY_CASE("relu", kiln::relu(x), ref_relu(x), -10, 10, kExact, true, false),
      UNARY_CASE("silu", kiln::silu(x), x / (1 + std::exp(-x)), -20, 20, kComposite, false, false),
      UNARY_CASE("gelu", kiln::gelu(x), 0.5 * x * (1 + std::erf(x * kSqrt1_2)), -5, 5, kComposite,
                 false, false),
      UNARY_CASE("gelu_tanh", kiln::gelu_tanh(x),
                 0.5 * x * (1 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x))), -5, 5,
                 kComposite, false, false),
      UNARY_CASE("leaky_relu", kiln::leaky_relu(x), x < 0 ? 0.01 * x : x, -10, 10, kUlp1, true,
                 false),
      UNARY_CASE("leaky_relu(0.2)", kiln::leaky_relu(x, 0.2), x < 0 ? 0.2 * x : x, -10, 10, kUlp1,
                 true, false),
      UNARY_CASE("elu", kiln::elu(x), x > 0 ? x : std::expm1(x), -10, 10, kUlps, true, false),
      UNARY_CASE("elu(0.5)", kiln::elu(x, 0.5), x > 0 ? x : 0.5 * std::expm1(x), -10, 10,
                 kComposite, true, false),
      UNARY_CASE("softplus", kiln::softplus(x), ref_softplus(x, 1, 20), -15, 30, kComposite, false,
                 false),
      UNARY_CASE("softplus(2, 5)", kiln::softplus(x, 2.0, 5.0), ref_softplus(x, 2, 5), -8, 8,
                 kComposite, false, false),
      UNARY_CASE("pow(x, 2.5)", kiln::pow(x, 2.5), std::pow(x, 2.5), 0, 20, kUlps, true, false),
      UNARY_CASE("pow(x, -1.5)", kiln::pow(x, -1.5), std::pow(x, -1.5), 1e-2, 20, kUlps, true,
                 false),
      UNARY_CASE("pow(x, 3)", kiln::pow(x, 3), std::pow(x, 3), -20, 20, kUlps, true, true),
      UNARY_CASE("clamp", kiln::clamp(x, -0.5, 0.75), ref_clamp(x, -0.5, 0.75), -2, 2, kExact, true,
                 false),
      UNARY_CASE("clamp_min", kiln::clamp_min(x, 0.25), ref_clamp(x, 0.25, kInf), -2, 2, kExact,
                 true, false),
      UNARY_CASE("clamp_max", kiln::clamp_max(x, -0.25), ref_clamp(x, -kInf, -0.25), -2, 2, kExact,
                 true, false),
  };
  return cases;
}

}  // namespace

TEMPLATE_TEST_CASE(
    "activations and parameterised unary ops match a double-precision reference loop",
    "[expr][unary]", float, double) {
  for (const UnaryCase& c : activation_cases()) {
    DYNAMIC_SECTION(c.name) {
      std::vector<TestType> xs = random_values<TestType>(c.lo, c.hi, 1000, 42);
      xs.push_back(static_cast<TestType>(c.lo));
      xs.push_back(static_cast<TestType>(c.hi));
      if (c.specials)
        for (double s : special_values()) xs.push_back(static_cast<TestType>(s));
      check_case<TestType>(c, xs);
    }
  }
}
