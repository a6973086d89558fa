// SPDX-License-Identifier: BSD-3-Clause
// Custom differentiable functions (kiln::autograd::Function): saved inputs and outputs,
// several inputs of which some need no gradient, saved_data, needs_input_grad, several
// outputs, double backward through a backward written with kiln ops, and misuse.
#include <any>
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autograd/autograd_check.hpp"
#include "kiln/kiln.hpp"
#include "support/throws.hpp"

namespace {

namespace k = kiln;
namespace ag = kiln::autograd;
using ag::AutogradContext;
using k::AnyTensor;
using k::Tensor;
using TD = Tensor<double>;
using Catch::Matchers::Contains;

using kiln_test::dgrad;
using kiln_test::leaf;
using kiln_test::vals;
using kiln_test::vec;

void check_close(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-12));
}

// x^3, saving its input; backward written with kiln ops (so it is twice differentiable).
struct Cube : ag::Function<Cube> {
  static constexpr const char* name = "Cube";
  static inline int forward_grad_mode_on = -1;
  static TD forward(AutogradContext& ctx, const TD& x) {
    forward_grad_mode_on = ag::GradMode::is_enabled();
    ctx.save_for_backward(x);
    return TD(x * x * x);
  }
  static std::vector<AnyTensor> backward(AutogradContext& ctx, std::vector<TD> g) {
    const TD x = ctx.get_saved_variables<double>()[0];
    return {TD(g[0] * 3.0 * x * x)};
  }
};

// exp, saving its output (without a reference cycle).
struct Exp : ag::Function<Exp> {
  static TD forward(AutogradContext& ctx, const TD& x) {
    TD y = k::exp(x);
    ctx.save_for_backward(y);
    return y;
  }
  static std::vector<AnyTensor> backward(AutogradContext& ctx, std::vector<TD> g) {
    const TD y = ctx.get_saved_variables<double>()[0];
    return {TD(g[0] * y)};
  }
};

// a * w^p with a scalar argument in between: saved_data and needs_input_grad.
struct ScaledPow : ag::Function<ScaledPow> {
  static inline std::vector<bool> seen_needs;
  static TD forward(AutogradContext& ctx, const TD& a, double p, const TD& w) {
    ctx.save_for_backward(a, w);
    ctx.saved_data["p"] = p;
    return TD(a * k::pow(w, p));
  }
  static std::vector<AnyTensor> backward(AutogradContext& ctx, std::vector<TD> g) {
    seen_needs = {ctx.needs_input_grad(0), ctx.needs_input_grad(1), ctx.needs_input_grad(2)};
    const auto s = ctx.get_saved_variables<double>();
    const double p = std::any_cast<double>(ctx.saved_data.at("p"));
    TD ga, gw;
    if (ctx.needs_input_grad(0)) ga = TD(g[0] * k::pow(s[1], p));
    if (ctx.needs_input_grad(1)) gw = TD(g[0] * s[0] * p * k::pow(s[1], p - 1));
    return {ga, gw};
  }
};

// Two outputs: sin and cos.
struct SinCos : ag::Function<SinCos> {
  static std::vector<TD> forward(AutogradContext& ctx, const TD& x) {
    ctx.save_for_backward(x);
    return {TD(k::sin(x)), TD(k::cos(x))};
  }
  static std::vector<AnyTensor> backward(AutogradContext& ctx, std::vector<TD> g) {
    const TD x = ctx.get_saved_variables<double>()[0];
    return {TD(g[0] * k::cos(x) - g[1] * k::sin(x))};
  }
};

// Misbehaving backward functions.
struct WrongShape : ag::Function<WrongShape> {
  static TD forward(AutogradContext&, const TD& x) { return TD(x * 2.0); }
  static std::vector<AnyTensor> backward(AutogradContext&, std::vector<TD>) {
    return {k::ones<double>({7})};
  }
};
struct WrongCount : ag::Function<WrongCount> {
  static TD forward(AutogradContext&, const TD& x) { return TD(x * 2.0); }
  static std::vector<AnyTensor> backward(AutogradContext&, std::vector<TD> g) {
    return {g[0], g[0]};
  }
};

TEST_CASE("custom function: cube with a saved input", "[autograd]") {
  TD x = leaf({0.5, -1, 2});
  TD y = Cube::apply(x);
  CHECK(Cube::forward_grad_mode_on == 0);  // forward runs with grad mode off
  check_close(vals(y), {0.125, -1, 8});
  REQUIRE(y.grad_fn());
  CHECK(y.grad_fn()->name() == "CubeBackward");
  CHECK(y.grad_fn()->next_edges().size() == 1);
  k::sum(y).backward();
  check_close(vals(x.grad()), {0.75, 3, 12});
  // Second order, through the backward's own kiln ops: d/dx 3x^2 = 6x.
  TD g = dgrad({k::sum(Cube::apply(x))}, {x}, {}, true, true)[0];
  check_close(vals(g), {0.75, 3, 12});
  check_close(vals(dgrad({k::sum(g)}, {x})[0]), {3, -6, 12});

  // Under NoGradGuard nothing is recorded.
  k::NoGradGuard no_grad;
  TD z = Cube::apply(x);
  CHECK_FALSE(z.requires_grad());
  check_close(vals(z), {0.125, -1, 8});
}

TEST_CASE("custom function: gradcheck and gradgradcheck", "[autograd]") {
  auto cube = [](const std::vector<TD>& in) { return Cube::apply(in[0]); };
  auto exp = [](const std::vector<TD>& in) { return Exp::apply(in[0]); };
  auto spow = [](const std::vector<TD>& in) { return ScaledPow::apply(in[0], 2.5, in[1]); };
  // A transposed (non-contiguous) input.
  TD xt = k::from_vector<double>({0.3, -0.7, 1.1, 0.9, -1.2, 0.4}, {3, 2}).t();
  xt.requires_grad_();
  CHECK(ag::gradcheck(cube, {xt}));
  CHECK(ag::gradgradcheck(cube, {xt}));
  CHECK(ag::gradcheck(exp, {xt}));
  CHECK(ag::gradgradcheck(exp, {xt}));
  CHECK(ag::gradcheck(spow, {leaf({0.5, -1.5}), leaf({0.8, 1.7})}));
  CHECK(ag::gradgradcheck(spow, {leaf({0.5, -1.5}), leaf({0.8, 1.7})}));
}

TEST_CASE("custom function: a saved output holds no reference cycle", "[autograd]") {
  TD x = leaf({0, 1});
  std::weak_ptr<ag::Node> node;
  {
    TD y = Exp::apply(x);
    node = y.grad_fn();
    REQUIRE_FALSE(node.expired());
    k::sum(y * 2.0).backward({}, true);
    check_close(vals(x.grad()), {2, 2 * std::exp(1.0)});
  }
  CHECK(node.expired());  // y was the last owner
  // The same for the built-in nodes.
  {
    TD y = k::exp(x);
    node = y.grad_fn();
  }
  CHECK(node.expired());
}

TEST_CASE("custom function: two tensor inputs, one needing no grad", "[autograd]") {
  TD a = leaf({1, 2});
  TD w = vec({3, 0.5});
  ScaledPow::seen_needs.clear();
  TD y = ScaledPow::apply(a, 2.0, w);
  check_close(vals(y), {9, 0.5});
  REQUIRE(y.grad_fn()->next_edges().size() == 2);
  CHECK(y.grad_fn()->next_edges()[0].valid());
  CHECK_FALSE(y.grad_fn()->next_edges()[1].valid());
  k::sum(y).backward();
  CHECK(ScaledPow::seen_needs == std::vector<bool>{true, false, false});
  check_close(vals(a.grad()), {9, 0.25});  // w^2
  CHECK_FALSE(w.grad().defined());

  // Now w needs grad and a does not.
  TD a2 = vec({1, 2});
  TD w2 = leaf({3, 0.5});
  k::sum(ScaledPow::apply(a2, 2.0, w2)).backward();
  CHECK(ScaledPow::seen_needs == std::vector<bool>{false, true, false});
  check_close(vals(w2.grad()), {6, 2});  // 2 a w
  CHECK_FALSE(a2.grad().defined());

  // Neither: no node at all.
  TD y3 = ScaledPow::apply(a2, 2.0, w);
  CHECK_FALSE(y3.requires_grad());
}

TEST_CASE("custom function: several outputs", "[autograd]") {
  TD x = leaf({0.3, 1.2});
  std::vector<TD> sc = SinCos::apply(x);
  REQUIRE(sc.size() == 2);
  CHECK(sc[0].grad_fn() == sc[1].grad_fn());
  CHECK(sc[0].output_nr() == 0);
  CHECK(sc[1].output_nr() == 1);
  CHECK(sc[0].grad_fn()->name() == "CustomFunctionBackward");
  // Only the first output used: the second's gradient arrives as zeros.
  k::sum(sc[0]).backward({}, true);
  check_close(vals(x.grad()), {std::cos(0.3), std::cos(1.2)});
  x.zero_grad();
  k::sum(sc[0] * 2.0 + sc[1] * 3.0).backward();
  check_close(vals(x.grad()),
              {2 * std::cos(0.3) - 3 * std::sin(0.3), 2 * std::cos(1.2) - 3 * std::sin(1.2)});
}

TEST_CASE("custom function: saved tensors are version-checked and freed", "[autograd]") {
  SECTION("an input modified in place") {
    TD x = leaf({1, 2});
    TD y = Cube::apply(x);
    {
      k::NoGradGuard no_grad;
      x *= 2.0;
    }
    const std::string msg =
        kiln_test::thrown_message<k::AutogradError>([&] { k::sum(y).backward(); });
    CHECK_THAT(msg, Contains("CubeBackward") && Contains("in-place"));
  }
  SECTION("an output modified in place") {
    TD x = leaf({1, 2});
    TD y = Exp::apply(x);
    {
      k::NoGradGuard no_grad;
      y.zero_();
    }
    CHECK_THROWS_AS(k::sum(y).backward(), k::AutogradError);
  }
  SECTION("a second backward") {
    TD x = leaf({1, 2});
    TD c = Cube::apply(x);
    k::sum(c).backward();
    const std::string msg =
        kiln_test::thrown_message<k::AutogradError>([&] { k::sum(c).backward(); });
    CHECK_THAT(msg, Contains("CubeBackward") && Contains("second time"));
  }
}

TEST_CASE("custom function: a backward returning the wrong gradients", "[autograd]") {
  TD x = leaf({1, 2});
  const std::string shape =
      kiln_test::thrown_message<k::AutogradError>([&] { k::sum(WrongShape::apply(x)).backward(); });
  CHECK_THAT(shape, Contains("CustomFunctionBackward") && Contains("[7]") && Contains("[2]"));
  const std::string count =
      kiln_test::thrown_message<k::AutogradError>([&] { k::sum(WrongCount::apply(x)).backward(); });
  CHECK_THAT(count, Contains("2 gradients") && Contains("1 tensor argument"));
}

}  // namespace
