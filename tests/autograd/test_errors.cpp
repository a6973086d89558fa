// SPDX-License-Identifier: BSD-3-Clause
// Autograd misuse gets a typed, clear kiln::Error: saved tensors modified in place
// (version counters), in-place writes into the graph, integer tensors asked to require
// grad, missing or ill-shaped gradients, and a second backward through freed buffers.
#include <catch2/catch.hpp>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "autograd/autograd_check.hpp"
#include "kiln/kiln.hpp"
#include "support/throws.hpp"

namespace {

namespace k = kiln;
namespace ag = kiln::autograd;
using k::Tensor;
using TD = Tensor<double>;
using Catch::Matchers::Contains;

using kiln_test::dgrad;
using kiln_test::leaf;
using kiln_test::vals;
using kiln_test::vec;

template <class F>
std::string autograd_error(F&& f) {
  return kiln_test::thrown_message<k::AutogradError>(std::forward<F>(f));
}

TEST_CASE("a saved tensor modified in place makes backward throw, naming the op", "[autograd]") {
  SECTION("a constant operand, modified outside grad mode") {
    TD x = leaf({1, 2});
    TD w = vec({3, 4});
    TD y = k::sum(x * w);
    {
      k::NoGradGuard no_grad;
      w *= 2.0;
    }
    const std::string msg = autograd_error([&] { y.backward(); });
    CHECK_THAT(msg, Contains("SumBackward") && Contains("modified by an in-place operation"));
    CHECK_FALSE(x.grad().defined());
  }
  SECTION("a constant operand, modified with grad mode on (it needs no grad)") {
    TD x = leaf({1, 2});
    TD w = vec({3, 4});
    TD y = x * w;
    w.copy_(vec({0, 0}));
    CHECK_THAT(autograd_error([&] { y.backward(vec({1, 1})); }), Contains("MulBackward"));
  }
  SECTION("a non-leaf saved by the next op, modified through copy_") {
    TD x = leaf({1, 2});
    TD x2 = x * x;
    TD y = k::exp(x2);
    {
      k::NoGradGuard no_grad;
      x2.copy_(vec({5, 6}));
    }
    const std::string msg = autograd_error([&] { k::sum(y).backward(); });
    CHECK_THAT(msg, Contains("ExpBackward") && Contains("version"));
  }
  SECTION("a leaf, modified through a view under NoGradGuard") {
    TD x = leaf({1, 2, 3});
    TD y = k::sin(x);
    {
      k::NoGradGuard no_grad;
      x.slice(0, 0, 1).fill_(0.0);  // one element of x's storage
    }
    CHECK_THAT(autograd_error([&] { k::sum(y).backward(); }), Contains("SinBackward"));
  }
  SECTION("an unmodified graph still runs after an unrelated in-place write") {
    TD x = leaf({1, 2});
    TD w = vec({3, 4});
    TD y = k::sum(x * w);
    TD other = vec({0, 0});
    other += 1.0;
    y.backward();
    CHECK(vals(x.grad()) == std::vector<double>{3, 4});
  }
}

TEST_CASE("in-place writes into the graph throw outside NoGradGuard", "[autograd]") {
  TD x = leaf({1, 2});
  CHECK_THAT(autograd_error([&] { x += 1.0; }), Contains("leaf") && Contains("NoGradGuard"));
  CHECK_THROWS_AS(x.fill_(0.0), k::AutogradError);
  CHECK_THROWS_AS(x.zero_(), k::AutogradError);
  CHECK_THROWS_AS(x.copy_(vec({5, 6})), k::AutogradError);
  CHECK_THROWS_AS(x.relu_(), k::AutogradError);
  CHECK(vals(x) == std::vector<double>{1, 2});  // nothing was written
  // A view of it (a non-leaf) and an interior tensor of the graph.
  CHECK_THROWS_AS(x.slice(0, 0, 1).fill_(0.0), k::AutogradError);
  TD h = x * 2.0;
  CHECK_THAT(autograd_error([&] { h *= 3.0; }), Contains("MulBackward"));
  // Writing a value that requires grad into a plain tensor.
  TD plain = vec({0, 0});
  CHECK_THROWS_AS(plain.copy_(x), k::AutogradError);
  CHECK_THROWS_AS(plain += x, k::AutogradError);
  CHECK(vals(plain) == std::vector<double>{0, 0});
  {
    k::NoGradGuard no_grad;
    x += 1.0;
    plain.copy_(x);
  }
  CHECK(vals(x) == std::vector<double>{2, 3});
  CHECK(vals(plain) == std::vector<double>{2, 3});
}

TEST_CASE("only floating tensors can require grad", "[autograd]") {
  Tensor<int32_t> i = k::from_vector<int32_t>({1, 2});
  const std::string msg = kiln_test::thrown_message<k::DTypeError>([&] { i.requires_grad_(); });
  CHECK_THAT(msg, Contains("requires_grad_") && Contains("int32"));
  CHECK_FALSE(i.requires_grad());
  CHECK_THROWS_AS(k::from_vector<int64_t>({1}).requires_grad_(), k::DTypeError);
  CHECK_THROWS_AS(k::from_vector<bool>({true}).requires_grad_(), k::DTypeError);
  CHECK_NOTHROW(i.requires_grad_(false));
  // A non-leaf cannot be switched off.
  TD x = leaf({1});
  TD y = x * 2.0;
  CHECK_THROWS_AS(y.requires_grad_(false), k::AutogradError);
}

TEST_CASE("backward without a usable gradient", "[autograd]") {
  TD x = leaf({1, 2, 3});
  TD y = x * x;
  const std::string msg = autograd_error([&] { y.backward(); });
  CHECK_THAT(msg, Contains("scalar") && Contains("[3]"));
  CHECK_FALSE(x.grad().defined());

  // A gradient of the wrong shape.
  CHECK_THROWS_AS(y.backward(vec({1, 1})), k::ShapeError);
  CHECK_THROWS_AS(y.backward(k::ones<double>({3, 1})), k::ShapeError);
  CHECK_THROWS_AS(dgrad({y}, {x}, {vec({1, 1})}), k::ShapeError);
  CHECK_THROWS_AS(dgrad({y}, {x}), k::AutogradError);
  CHECK_THROWS_AS(dgrad({y}, {x}, {vec({1, 1, 1}), vec({1, 1, 1})}), k::ValueError);

  // Nothing to differentiate.
  TD c = vec({1, 2});
  CHECK_THROWS_AS(k::sum(c).backward(), k::AutogradError);
  CHECK_THROWS_AS(dgrad({k::sum(x)}, {c}), k::AutogradError);
  CHECK_THROWS_AS(dgrad({k::sum(c)}, {x}), k::AutogradError);
  // All of it left the graph usable.
  y.backward(vec({1, 1, 1}));
  CHECK(vals(x.grad()) == std::vector<double>{2, 4, 6});
}

TEST_CASE("a second backward through freed buffers throws; retain_graph allows it", "[autograd]") {
  SECTION("fused node") {
    TD x = leaf({1, 2});
    TD y = k::sum(x * x * x);
    y.backward();
    const std::string msg = autograd_error([&] { y.backward(); });
    CHECK_THAT(msg, Contains("second time") && Contains("retain_graph"));
    CHECK(vals(x.grad()) == std::vector<double>{3, 12});
  }
  SECTION("an interior node, reached from a new output") {
    TD x = leaf({1, 2});
    TD h = k::exp(x);
    k::sum(h).backward();
    TD z = h * 2.0;
    CHECK_THAT(autograd_error([&] { k::sum(z).backward(); }),
               Contains("ExpBackward") && Contains("second time"));
  }
  SECTION("autograd::grad frees too") {
    TD x = leaf({1, 2});
    TD y = k::sum(k::sin(x));
    dgrad({y}, {x});
    CHECK_THROWS_AS(dgrad({y}, {x}), k::AutogradError);
  }
  SECTION("retain_graph") {
    TD x = leaf({1, 2});
    TD h = k::exp(x.view({2, 1}));
    TD y = k::sum(h * h);
    y.backward({}, true);
    y.backward({}, true);
    y.backward();
    // d/dx exp(2x) = 2 exp(2x), three times.
    const auto g = vals(x.grad());
    CHECK(g[0] == Approx(3 * 2 * std::exp(2.0)));
    CHECK(g[1] == Approx(3 * 2 * std::exp(4.0)));
    CHECK_THROWS_AS(y.backward(), k::AutogradError);
  }
}

}  // namespace
