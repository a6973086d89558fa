// SPDX-License-Identifier: BSD-3-Clause
// Autograd controls: grad-mode guards, detach, retain_grad, tensor hooks, zero_grad and
// set_grad, and anomaly mode naming the op whose backward produced NaN.
#include <catch2/catch.hpp>
#include <cmath>
#include <optional>
#include <string>
#include <thread>
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

TEST_CASE("NoGradGuard records nothing; EnableGradGuard inside it records again", "[autograd]") {
  TD x = leaf({1, 2, 3});
  REQUIRE(ag::GradMode::is_enabled());
  {
    k::NoGradGuard no_grad;
    CHECK_FALSE(ag::GradMode::is_enabled());
    TD y = x * x;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    CHECK(vals(y) == std::vector<double>{1, 4, 9});
    CHECK(x.view({3, 1}).grad_fn() == nullptr);
    CHECK_FALSE(x.slice(0, 1, 2).requires_grad());
    CHECK(k::sum(x).grad_fn() == nullptr);
    CHECK(k::mean(k::sin(x)).grad_fn() == nullptr);
    {
      k::EnableGradGuard enable;
      CHECK(ag::GradMode::is_enabled());
      TD z = x * 3.0;
      REQUIRE(z.grad_fn());
      k::sum(z).backward();
      CHECK(vals(x.grad()) == std::vector<double>{3, 3, 3});
    }
    CHECK_FALSE(ag::GradMode::is_enabled());
    // In-place writes into a leaf that requires grad are allowed here (optimizer steps).
    x -= x.grad() * 0.5;
    CHECK(vals(x) == std::vector<double>{-0.5, 0.5, 1.5});
    CHECK(x.requires_grad());
  }
  CHECK(ag::GradMode::is_enabled());
  CHECK(TD(x * x).requires_grad());
}

TEST_CASE("a graph built before NoGradGuard runs backward inside it", "[autograd]") {
  TD x = leaf({1, 2});
  TD y = k::sum(x * x);
  k::NoGradGuard no_grad;
  y.backward();
  CHECK(vals(x.grad()) == std::vector<double>{2, 4});
  CHECK_FALSE(x.grad().requires_grad());
  CHECK_FALSE(ag::GradMode::is_enabled());  // restored after the pass
}

TEST_CASE("grad mode is per thread", "[autograd]") {
  TD x = leaf({1, 2});
  k::NoGradGuard no_grad;
  bool other_enabled = false, other_recorded = false;
  std::thread t([&] {
    other_enabled = ag::GradMode::is_enabled();
    TD y = x * x;
    other_recorded = y.requires_grad();
  });
  t.join();
  CHECK(other_enabled);
  CHECK(other_recorded);
  CHECK_FALSE(ag::GradMode::is_enabled());
}

TEST_CASE("detach shares storage and cuts the graph", "[autograd]") {
  TD x = leaf({1, 2, 3});
  TD d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  CHECK(d.is_alias_of(x));
  CHECK(x.requires_grad());  // the original keeps its flag
  TD h = x * x;
  TD hd = h.detach();
  CHECK_FALSE(hd.requires_grad());
  CHECK(hd.grad_fn() == nullptr);
  CHECK(h.grad_fn() != nullptr);
  // y = x * stop_gradient(x * x): dy/dx = x^2 only.
  k::sum(x * hd).backward();
  CHECK(vals(x.grad()) == std::vector<double>{1, 4, 9});
}

TEST_CASE("retain_grad keeps the gradient of a non-leaf", "[autograd]") {
  TD x = leaf({1, 2, 3});
  TD h = x * 2.0;
  TD other = x * 5.0;
  CHECK_FALSE(h.retains_grad());
  h.retain_grad();
  CHECK(h.retains_grad());
  TD y = k::sum(h * h + other);
  y.backward({}, true);
  CHECK(vals(h.grad()) == std::vector<double>{4, 8, 12});  // 2h
  CHECK(vals(x.grad()) == std::vector<double>{8 + 5, 16 + 5, 24 + 5});
  CHECK_FALSE(other.grad().defined());
  // A second backward accumulates into the retained gradient too.
  y.backward();
  CHECK(vals(h.grad()) == std::vector<double>{8, 16, 24});
  // A retained gradient that flows on unchanged through a view: the leaf's .grad must
  // not alias it, since both are accumulated in place later.
  TD w = leaf({1, 2});
  TD v = w.view({2, 1});
  v.retain_grad();
  TD s = k::sum(v * 3.0);
  s.backward({}, true);
  CHECK_FALSE(w.grad().is_alias_of(v.grad()));
  s.backward();
  CHECK(vals(v.grad()) == std::vector<double>{6, 6});
  CHECK(vals(w.grad()) == std::vector<double>{6, 6});
  // On a leaf, retain_grad changes nothing.
  x.retain_grad();
  CHECK_FALSE(x.retains_grad());
  CHECK_THROWS_AS(vec({1}).retain_grad(), k::AutogradError);
}

TEST_CASE("register_hook observes and replaces gradients", "[autograd]") {
  SECTION("on a leaf, registered after the graph is built") {
    TD x = leaf({1, 2});
    TD y = k::sum(x * x);
    std::vector<double> seen;
    x.register_hook([&](const TD& g) { seen = vals(g); });
    x.register_hook([](const TD& g) { return TD(g * 10.0); });
    y.backward();
    CHECK(seen == std::vector<double>{2, 4});
    CHECK(vals(x.grad()) == std::vector<double>{20, 40});
  }
  SECTION("on a leaf, registered before the graph is built") {
    TD x = leaf({1, 2});
    int calls = 0;
    x.register_hook([&](const TD&) { ++calls; });
    x.register_hook([](const TD& g) { return TD(g * 10.0); });
    k::sum(x * x).backward();
    k::sum(x * 3.0).backward();
    CHECK(calls == 2);
    CHECK(vals(x.grad()) == std::vector<double>{20 + 30, 40 + 30});
  }
  SECTION("on a non-leaf: the replaced gradient flows on") {
    TD x = leaf({1, 2});
    TD h = x * 3.0;
    std::vector<double> seen;
    h.register_hook([&](const TD& g) { seen = vals(g); });
    h.register_hook([](const TD& g) { return TD(g * -1.0); });
    h.retain_grad();  // sees the hooked gradient
    k::sum(h * h).backward();
    CHECK(seen == std::vector<double>{6, 12});  // 2h
    CHECK(vals(h.grad()) == std::vector<double>{-6, -12});
    CHECK(vals(x.grad()) == std::vector<double>{-18, -36});
  }
  SECTION("hooks run in autograd::grad too") {
    TD x = leaf({1, 2});
    TD h = x * 3.0;
    h.register_hook([](const TD& g) { return TD(g * 2.0); });
    TD g = dgrad({k::sum(h)}, {x})[0];
    CHECK(vals(g) == std::vector<double>{6, 6});
    CHECK_FALSE(x.grad().defined());
  }
  SECTION("a hook returning the wrong shape") {
    TD x = leaf({1, 2});
    TD h = x * 3.0;
    h.register_hook([](const TD&) { return vec({1, 2, 3}); });
    const std::string msg =
        kiln_test::thrown_message<k::AutogradError>([&] { k::sum(h).backward(); });
    CHECK_THAT(msg, Contains("hook") && Contains("MulBackward") && Contains("[3]"));
  }
  SECTION("a leaf's hook returning the wrong shape names the leaf, not its accumulator") {
    TD x = leaf({1, 2});
    x.register_hook([](const TD&) { return vec({1, 2, 3}); });
    const std::string msg =
        kiln_test::thrown_message<k::AutogradError>([&] { k::sum(x * 3.0).backward(); });
    CHECK_THAT(msg, Contains("a leaf tensor's gradient") && Contains("shape [3]") &&
                        Contains("shape [2]"));
    CHECK_THAT(msg, !Contains("AccumulateGrad"));
  }
  SECTION("on a tensor that does not require grad") {
    CHECK_THROWS_AS(vec({1}).register_hook([](const TD&) {}), k::AutogradError);
  }
}

TEST_CASE("zero_grad and set_grad", "[autograd]") {
  TD x = leaf({1, 2});
  k::sum(x * x).backward();
  const TD g = x.grad();
  REQUIRE(vals(g) == std::vector<double>{2, 4});

  x.zero_grad(/*set_to_none=*/false);
  REQUIRE(x.grad().defined());
  CHECK(x.grad().is_alias_of(g));  // zeroed in place
  CHECK(vals(g) == std::vector<double>{0, 0});
  k::sum(x * 3.0).backward();
  CHECK(vals(x.grad()) == std::vector<double>{3, 3});

  x.zero_grad();  // set_to_none defaults to true
  CHECK_FALSE(x.grad().defined());
  k::sum(x * 3.0).backward();
  CHECK(vals(x.grad()) == std::vector<double>{3, 3});

  x.set_grad(vec({100, 200}));
  CHECK(vals(x.grad()) == std::vector<double>{100, 200});
  k::sum(x * x).backward();
  CHECK(vals(x.grad()) == std::vector<double>{102, 204});
  x.set_grad({});
  CHECK_FALSE(x.grad().defined());
  CHECK_THROWS_AS(x.set_grad(vec({1, 2, 3})), k::ShapeError);
  // zero_grad without a gradient is a no-op.
  TD y = leaf({1});
  y.zero_grad(false);
  CHECK_FALSE(y.grad().defined());
}

TEST_CASE("anomaly mode names the op whose backward produced NaN", "[autograd]") {
  // sqrt at 0: forward 0, backward 0 / (2 * 0) = NaN when the incoming gradient is 0.
  auto run = [] {
    TD x = leaf({0, 4});
    TD r = k::sqrt(x);
    TD z = r * 0.0;
    k::sum(z).backward();
    return x;
  };
  CHECK_FALSE(ag::AnomalyMode::is_enabled());
  {
    TD x = run();  // without anomaly mode, NaN just lands in .grad
    CHECK(std::isnan(x.grad()(0)));
    CHECK(x.grad()(1) == 0);
  }
  {
    ag::DetectAnomalyGuard anomaly;
    CHECK(ag::AnomalyMode::is_enabled());
    const std::string msg = kiln_test::thrown_message<k::AutogradError>(run);
    CHECK_THAT(msg, Contains("SqrtBackward") && Contains("nan"));
    CHECK_THAT(msg, !Contains("MulBackward"));
    // A clean backward is unaffected.
    TD y = leaf({1, 4});
    k::sum(k::sqrt(y)).backward();
    CHECK(vals(y.grad()) == std::vector<double>{0.5, 0.25});
  }
  CHECK_FALSE(ag::AnomalyMode::is_enabled());
}

}  // namespace
