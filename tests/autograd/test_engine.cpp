// SPDX-License-Identifier: BSD-3-Clause
// The autograd engine against hand-computed gradients: leaves and grad_fn, backward and
// autograd::grad, accumulation, shared subgraphs, broadcast, non-contiguous and reduced
// precision leaves, higher order (create_graph), a 100,000-node chain, and threads.
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
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

void check_close(const std::vector<double>& got, const std::vector<double>& want,
                 double tol = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
    CHECK(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i])));
  }
}

TEST_CASE("leaves, requires_grad and grad_fn names", "[autograd]") {
  TD x = vec({1, 2, 3});
  CHECK_FALSE(x.requires_grad());
  CHECK(x.is_leaf());
  CHECK(x.grad_fn() == nullptr);
  TD c = x * x;  // nothing requires grad: nothing is recorded
  CHECK_FALSE(c.requires_grad());
  CHECK(c.grad_fn() == nullptr);

  x.requires_grad_();
  CHECK(x.requires_grad());
  CHECK(x.is_leaf());
  CHECK(x.grad_fn() == nullptr);
  CHECK_FALSE(x.grad().defined());

  TD y = x * x;
  CHECK(y.requires_grad());
  CHECK_FALSE(y.is_leaf());
  REQUIRE(y.grad_fn());
  CHECK(y.grad_fn()->name() == "MulBackward");
  // x used twice is one input of the node: one edge, to x's accumulator.
  REQUIRE(y.grad_fn()->next_edges().size() == 1);
  CHECK(y.grad_fn()->next_edges()[0].fn->name() == "AccumulateGrad");

  CHECK(TD(x * 2.0).grad_fn()->name() == "MulBackward");
  CHECK(TD(k::sin(x)).grad_fn()->name() == "SinBackward");
  CHECK(TD(x * y + k::sin(x)).grad_fn()->name() == "FusedBackward[add(mul(x, x), sin(x))]");
  CHECK(k::sum(x).grad_fn()->name() == "SumBackward");
  CHECK(k::sum(x * y).grad_fn()->name() == "SumBackward");
  CHECK(k::mean(x).grad_fn()->name() == "MeanBackward");
  CHECK(x.view({3, 1}).grad_fn()->name() == "ViewBackward");
  CHECK(x.slice(0, 1, 3).grad_fn()->name() == "SliceBackward");
  CHECK(x.unsqueeze(0).t().grad_fn()->name() == "TransposeBackward");
  CHECK(x.expand({2, 3}).grad_fn()->name() == "ExpandBackward");
  // A non-leaf input: the edge leads to the producer's node.
  TD z = k::exp(y);
  REQUIRE(z.grad_fn()->next_edges().size() == 1);
  CHECK(z.grad_fn()->next_edges()[0].fn == y.grad_fn());
}

TEST_CASE("backward of a scalar and of a non-scalar with a gradient", "[autograd]") {
  TD x = leaf({1, 2, 3});
  TD s = k::sum(x * x * x);
  CHECK(s.numel() == 1);
  s.backward();
  check_close(vals(x.grad()), {3, 12, 27});  // 3 x^2

  TD w = leaf({1, 2, 3});
  TD y = w * w;  // [3]
  y.backward(vec({1, 0.5, 2}));
  check_close(vals(w.grad()), {2, 2, 12});  // 2 w g
  // A one-element non-0-d tensor is a scalar too.
  TD v = leaf({4});
  TD u = v * v;
  u.backward();
  check_close(vals(v.grad()), {8});
}

TEST_CASE("autograd::grad returns gradients without touching .grad", "[autograd]") {
  TD x = leaf({1, 2, 3});
  TD y = leaf({4, 5, 6});
  TD s = k::sum(x * y + x);
  auto g = dgrad({s}, {x, y});
  REQUIRE(g.size() == 2);
  check_close(vals(g[0]), {5, 6, 7});  // y + 1
  check_close(vals(g[1]), {1, 2, 3});  // x
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(y.grad().defined());
  CHECK_FALSE(g[0].requires_grad());

  // grad_outputs for a non-scalar output; a non-leaf input.
  TD h = x * 2.0;
  TD o = h * h;  // 4 x^2
  auto gh = dgrad({o}, {h, x}, {vec({1, 10, 100})});
  check_close(vals(gh[0]), {2 * 2, 2 * 4 * 10, 2 * 6 * 100});  // 2h g
  check_close(vals(gh[1]), {8 * 1, 8 * 2 * 10, 8 * 3 * 100});  // 8x g

  // Two outputs: their gradients add up.
  TD a = x * x;
  TD b = k::sin(x);
  auto gab = dgrad({a, b}, {x}, {vec({1, 1, 1}), vec({2, 2, 2})});
  check_close(vals(gab[0]), {2 + 2 * std::cos(1.0), 4 + 2 * std::cos(2.0), 6 + 2 * std::cos(3.0)});

  // An input the outputs do not depend on.
  TD unused = leaf({7});
  TD s2 = k::sum(x * x);
  const std::string msg = kiln_test::thrown_message<k::AutogradError>([&] {
    dgrad({s2}, {x, unused}, {}, true);
  });
  CHECK_THAT(msg, Contains("allow_unused"));
  auto gu = dgrad({s2}, {x, unused}, {}, false, false, /*allow_unused=*/true);
  check_close(vals(gu[0]), {2, 4, 6});
  CHECK_FALSE(gu[1].defined());
  CHECK_FALSE(unused.grad().defined());
}

TEST_CASE("gradients accumulate across backward calls", "[autograd]") {
  TD x = leaf({1, 2, 3});
  k::sum(x * x).backward();
  const TD first = x.grad();
  check_close(vals(first), {2, 4, 6});
  k::sum(k::sin(x)).backward();
  check_close(vals(x.grad()), {2 + std::cos(1.0), 4 + std::cos(2.0), 6 + std::cos(3.0)});
  // Accumulation is in place, into the same tensor (like torch without create_graph).
  CHECK(x.grad().is_alias_of(first));
  CHECK_FALSE(x.grad().requires_grad());

  // The same graph twice, kept with retain_graph.
  TD w = leaf({0.5, -1});
  TD s = k::sum(w * w * w);
  s.backward({}, true);
  s.backward();
  check_close(vals(w.grad()), {2 * 0.75, 2 * 3.0});
}

TEST_CASE("a tensor used twice and a diamond graph", "[autograd]") {
  TD x = leaf({0.5, 1, 2});
  // x appears in three places of one fused expression.
  k::sum(x * x + x * 3.0).backward();
  check_close(vals(x.grad()), {2 * 0.5 + 3, 2 + 3, 4 + 3});

  // x -> a, b -> a + b: two paths into one leaf, through separate nodes.
  TD w = leaf({0.5, 1, 2});
  TD a = w * 2.0;
  TD b = k::sin(w);
  k::sum(a + b).backward();
  check_close(vals(w.grad()), {2 + std::cos(0.5), 2 + std::cos(1.0), 2 + std::cos(2.0)});

  // An interior node used twice: h = v^2, y = h * h + h, dy/dv = (2h + 1) 2v.
  TD v = leaf({0.5, 1, 2});
  TD h = v * v;
  TD y = h * h + h;
  y.backward(vec({1, 1, 1}));
  std::vector<double> want;
  for (double e : {0.5, 1.0, 2.0}) want.push_back((2 * e * e + 1) * 2 * e);
  check_close(vals(v.grad()), want);
  CHECK_FALSE(h.grad().defined());  // not retained
}

TEST_CASE("a leaf first used where no gradient flows (where's condition, a comparison)",
          "[autograd]") {
  // The fused backward gives each input one gradient buffer, which the first use of the
  // input writes and later uses add to. A use in where's condition or under a cast of a
  // comparison is never written: it must not count as the first.
  // Fills the allocator's cached small blocks, so that a buffer never written shows.
  auto dirty_heap = [] {
    std::vector<TD> hold;
    for (int i = 0; i < 256; ++i) hold.push_back(k::full<double>({4}, 1e30));
  };
  TD x = leaf({0, 1, 2, -1});
  dirty_heap();
  k::sum(k::where(x > 0.5, x * 2.0, x * x)).backward();
  check_close(vals(x.grad()), {0, 2, 2, -2});

  TD w = leaf({0, 1, 2, -1});
  dirty_heap();
  k::sum(k::cast<double>(w > 0.5) * w).backward();
  check_close(vals(w.grad()), {0, 1, 1, 0});

  // Every use of u is unreached: u gets no gradient at all; v still does.
  TD u = leaf({0, 1, 2, -1});
  TD v = leaf({1, 1, 1, 1});
  k::sum(k::cast<double>(u > 0.5) * v).backward();
  CHECK_FALSE(u.grad().defined());
  check_close(vals(v.grad()), {0, 1, 1, 0});
}

TEST_CASE("broadcast leaves get gradients of their own shape", "[autograd]") {
  TD x = k::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
  TD b = leaf({10, 20, 30});                                        // [3]
  TD c = k::from_vector<double>({-1, 1}, {2, 1}).requires_grad_();  // [2, 1]
  TD s = k::scalar_tensor<double>(2).requires_grad_();              // 0-d
  k::sum(x * b + c * s).backward();
  CHECK(x.grad().shape() == k::Shape{2, 3});
  check_close(vals(x.grad()), {10, 20, 30, 10, 20, 30});
  CHECK(b.grad().shape() == k::Shape{3});
  check_close(vals(b.grad()), {1 + 4, 2 + 5, 3 + 6});
  CHECK(c.grad().shape() == k::Shape{2, 1});
  check_close(vals(c.grad()), {6, 6});
  CHECK(s.grad().shape() == k::Shape{});
  check_close(vals(s.grad()), {3 * -1 + 3 * 1});

  // expand() as a view: its backward sums.
  TD e = leaf({1, 2});
  TD m = e.unsqueeze(1).expand({2, 4});
  k::sum(m * m).backward();
  check_close(vals(e.grad()), {4 * 2 * 1, 4 * 2 * 2});
}

TEST_CASE("non-contiguous leaves", "[autograd]") {
  // x is the transpose of a [3, 2] buffer: x[i][j] = base[j][i].
  TD base = k::from_vector<double>({1, 2, 3, 4, 5, 6}, {3, 2});
  TD x = base.t();
  REQUIRE_FALSE(x.is_contiguous());
  x.requires_grad_();
  CHECK(x.is_leaf());
  TD w = k::from_vector<double>({1, -1, 2, -2, 3, -3}, {2, 3});
  k::sum(x * x * w).backward();
  REQUIRE(x.grad().shape() == k::Shape{2, 3});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) CHECK(x.grad()(i, j) == Approx(2 * x(i, j) * w(i, j)));

  // A strided slice as a leaf; the gradient flows through a view of it.
  TD buf = k::from_vector<double>({0, 1, 2, 3, 4, 5, 6, 7}, {8});
  TD s = buf.slice(0, 1, 8, 2);  // 1, 3, 5, 7
  s.requires_grad_();
  k::sum(k::square(s.view({2, 2}).t())).backward();
  check_close(vals(s.grad()), {2, 6, 10, 14});
  CHECK_FALSE(buf.requires_grad());
}

TEST_CASE("float, half and bfloat16 leaves", "[autograd]") {
  const std::vector<double> xs = {0.5, -1.25, 2};
  SECTION("float") {
    Tensor<float> x = k::from_vector<float>({0.5f, -1.25f, 2.f}).requires_grad_();
    Tensor<float> y = x * x * x + k::sin(x);
    y.backward(k::ones<float>({3}));
    const auto g = vals(x.grad());
    for (size_t i = 0; i < 3; ++i)
      CHECK(g[i] == Approx(3 * xs[i] * xs[i] + std::cos(xs[i])).epsilon(1e-5));
  }
  SECTION("half") {
    Tensor<k::half> x = k::from_vector<k::half>({k::half(0.5f), k::half(-1.25f), k::half(2.f)});
    x.requires_grad_();
    k::sum(x * x * x + k::sin(x)).backward();
    REQUIRE(x.grad().dtype() == k::ScalarType::Half);
    const auto g = vals(x.grad());
    for (size_t i = 0; i < 3; ++i)
      CHECK(g[i] == Approx(3 * xs[i] * xs[i] + std::cos(xs[i])).epsilon(1e-2));
  }
  SECTION("bfloat16, through a cast to float") {
    Tensor<k::bfloat16> x =
        k::from_vector<k::bfloat16>({k::bfloat16(0.5f), k::bfloat16(-1.25f), k::bfloat16(2.f)});
    x.requires_grad_();
    Tensor<float> xf = x.to<float>();
    CHECK(xf.requires_grad());
    k::sum(xf * xf * xf).backward();
    REQUIRE(x.grad().dtype() == k::ScalarType::BFloat16);
    const auto g = vals(x.grad());
    for (size_t i = 0; i < 3; ++i) CHECK(g[i] == Approx(3 * xs[i] * xs[i]).epsilon(2e-2));
  }
}

TEST_CASE("create_graph: derivatives of derivatives", "[autograd]") {
  SECTION("x^3") {
    TD x = leaf({0.5, -1, 2});
    TD y = k::sum(x * x * x);
    TD g = dgrad({y}, {x}, {}, true, true)[0];
    CHECK(g.requires_grad());
    check_close(vals(g), {0.75, 3, 12});  // 3x^2
    TD gg = dgrad({k::sum(g)}, {x}, {}, true, true)[0];
    check_close(vals(gg), {3, -6, 12});  // 6x
    TD ggg = dgrad({k::sum(gg)}, {x})[0];
    check_close(vals(ggg), {6, 6, 6});
    CHECK_FALSE(x.grad().defined());
  }
  SECTION("sin") {
    TD x = leaf({0.3, 1.1, -2});
    TD g = dgrad({k::sum(k::sin(x))}, {x}, {}, true, true)[0];
    TD gg = dgrad({k::sum(g)}, {x}, {}, true, true)[0];
    TD ggg = dgrad({k::sum(gg)}, {x})[0];
    for (int i = 0; i < 3; ++i) {
      const double v = x(i);
      CHECK(g(i) == Approx(std::cos(v)));
      CHECK(gg(i) == Approx(-std::sin(v)));
      CHECK(ggg(i) == Approx(-std::cos(v)));
    }
  }
  SECTION("backward(create_graph) leaves a differentiable .grad") {
    TD x = leaf({0.5, 2});
    k::sum(x * x * x).backward({}, {}, true);
    TD g = x.grad();
    CHECK(g.requires_grad());
    check_close(vals(g), {0.75, 12});
    TD gg = dgrad({k::sum(g)}, {x})[0];
    check_close(vals(gg), {3, 12});
    // .grad's graph leads back to x (a reference cycle, as in torch): break it.
    x.set_grad({});
  }
  SECTION("backward(create_graph) with the leaf itself as the gradient") {
    // AddBackward passes the gradient through: x's accumulator receives x itself and
    // records a copy of it while accumulating (this used to deadlock on x's mutex).
    TD x = leaf({1, 2});
    TD y = x + 1.0;
    y.backward(x, {}, true);
    check_close(vals(x.grad()), {1, 2});
    CHECK(x.grad().requires_grad());
    CHECK_FALSE(x.grad().is_alias_of(x));
    x.set_grad({});
  }
}

TEST_CASE("create_graph: a Hessian-vector product through views and sums", "[autograd]") {
  // f(x) = x0 x2^2 + x1 x3^2 + sum(sin x), with a = (x0, x1) and b = (x2, x3) taken as
  // columns of x.view(2, 2).t().
  const std::vector<double> xs = {0.7, -0.4, 1.3, 0.2};
  const std::vector<double> v = {1, -2, 0.5, 3};
  TD x = leaf(xs);
  auto f = [](const TD& x) {
    TD m = x.view({2, 2}).t();  // [[x0, x2], [x1, x3]]
    TD a = m.select(1, 0), b = m.select(1, 1);
    return k::sum(a * b * b) + k::sum(k::sin(x));
  };
  TD fx = f(x);
  CHECK(fx.item() == Approx(xs[0] * xs[2] * xs[2] + xs[1] * xs[3] * xs[3] + std::sin(xs[0]) +
                            std::sin(xs[1]) + std::sin(xs[2]) + std::sin(xs[3])));
  TD g = dgrad({fx}, {x}, {}, true, true)[0];
  check_close(vals(g), {xs[2] * xs[2] + std::cos(xs[0]), xs[3] * xs[3] + std::cos(xs[1]),
                        2 * xs[0] * xs[2] + std::cos(xs[2]), 2 * xs[1] * xs[3] + std::cos(xs[3])});
  const std::vector<double> hv = {
      -std::sin(xs[0]) * v[0] + 2 * xs[2] * v[2],
      -std::sin(xs[1]) * v[1] + 2 * xs[3] * v[3],
      2 * xs[2] * v[0] + (2 * xs[0] - std::sin(xs[2])) * v[2],
      2 * xs[3] * v[1] + (2 * xs[1] - std::sin(xs[3])) * v[3],
  };
  SECTION("grad of <g, v>") {
    TD r = dgrad({k::sum(g * vec(v))}, {x})[0];
    check_close(vals(r), hv);
  }
  SECTION("grad of g with grad_outputs v") {
    TD r = dgrad({g}, {x}, {vec(v)})[0];
    check_close(vals(r), hv);
  }
}

// y * 1.0001 recorded as a closure node that saves its input (Note [Recording an op]).
TD scale_saved(const TD& a) {
  TD out;
  {
    k::AutoGradMode off(false);
    out = a * 1.0001;
  }
  if (ag::needs_grad(a))
    ag::record("ScaleBackward", out, ag::collect_edges(a),
               [sa = ag::save(a)](std::vector<k::AnyTensor>& g) {
                 (void)sa.unpack();  // version check
                 return ag::grads(TD(g[0].as<double, k::CPU>() * 1.0001));
               });
  return out;
}

TEST_CASE("a 100,000-node chain runs backward and is freed without recursion", "[autograd][deep]") {
  // Fused nodes (saving their input tensor), closure nodes with a SavedTensor, and
  // views, in turn.
  constexpr int kNodes = 100000;
  TD x = leaf({1.0});
  std::weak_ptr<ag::Node> first;
  int scaled = 0;
  {
    TD y = x;
    for (int i = 0; i < kNodes; ++i) {
      switch (i % 4) {
        case 0:
        case 1:
          y = y * 1.0001;
          ++scaled;
          break;
        case 2:
          y = scale_saved(y);
          ++scaled;
          break;
        default:
          y = y.view({1});
      }
      if (i == 0) first = y.grad_fn();
    }
    CHECK(y.grad_fn()->name() == "ViewBackward");
    // Keep the saved tensors: freeing the chain then also walks them.
    y.backward({}, true);
    CHECK(x.grad().item() == Approx(std::pow(1.0001, scaled)).epsilon(1e-9));
    CHECK_FALSE(first.expired());
  }
  CHECK(first.expired());
}

TEST_CASE("threads run backward on independent graphs at once", "[autograd][threads]") {
  constexpr int kIters = 300;
  std::atomic<int> bad{0};
  auto work = [&](int id) {
    for (int it = 0; it < kIters; ++it) {
      const double a = 0.1 * id + 0.001 * it;
      TD x = leaf({a, a + 1, a - 1, 2 * a});
      TD y = x * x * x;
      TD s = k::sum(k::sin(y) + x.view({2, 2}).t().contiguous().view({4}) * 2.0);
      // One thread uses backward, the other autograd::grad.
      TD g;
      if (id == 0) {
        s.backward();
        g = x.grad();
      } else {
        g = dgrad({s}, {x})[0];
      }
      for (int i = 0; i < 4; ++i) {
        const double v = x(i);
        const double want = std::cos(v * v * v) * 3 * v * v + 2;
        if (!(std::abs(g(i) - want) <= 1e-12 * (1 + std::abs(want)))) ++bad;
      }
    }
  };
  std::thread t0(work, 0), t1(work, 1);
  t0.join();
  t1.join();
  CHECK(bad == 0);
}

TEST_CASE("threads accumulate into one shared leaf", "[autograd][threads]") {
  constexpr int kIters = 200;
  TD x = leaf({0.5, -1.5});
  auto work = [&] {
    for (int it = 0; it < kIters; ++it) k::sum(x * x).backward();
  };
  std::thread t0(work), t1(work);
  t0.join();
  t1.join();
  check_close(vals(x.grad()), {2 * kIters * 2 * 0.5, 2 * kIters * 2 * -1.5});
}

TEST_CASE("threads share one graph: nodes run one pass at a time", "[autograd][threads]") {
  constexpr int kIters = 200;
  // A graph of fused, view, reduction and matmul nodes, run by two threads at once.
  TD x = leaf({0.5, -1.5, 2.0, 0.25});
  TD m = k::matmul(x.view({2, 2}), x.view({2, 2}).t());
  TD s = k::sum(k::sin(m) * 3.0) + k::sum(x * x);
  const std::vector<double> want = vals(dgrad({s}, {x}, {}, true)[0]);
  std::atomic<int> bad{0};
  auto share = [&] {
    for (int it = 0; it < kIters; ++it) {
      const std::vector<double> g = vals(dgrad({s}, {x}, {}, true)[0]);
      for (int i = 0; i < 4; ++i)
        if (!(std::abs(g[i] - want[i]) <= 1e-12 * (1 + std::abs(want[i])))) ++bad;
    }
  };
  std::thread t0(share), t1(share);
  t0.join();
  t1.join();
  CHECK(bad == 0);

  // Without retain_graph the first pass through a node frees what it saved: the other
  // pass must then fail with a clear error, never read freed buffers.
  for (int it = 0; it < 50; ++it) {
    TD y = leaf({0.5, -1.5, 2.0, 0.25});
    TD t = k::sum(k::exp(k::matmul(y.view({2, 2}), y.view({2, 2}))));
    std::atomic<int> ok{0}, failed{0}, other{0};
    auto once = [&] {
      try {
        (void)dgrad({t}, {y});
        ++ok;
      } catch (const k::AutogradError& e) {
        const std::string msg = e.what();
        if (msg.find("second time") != std::string::npos)
          ++failed;
        else
          ++other;
      }
    };
    std::thread a(once), b(once);
    a.join();
    b.join();
    CHECK(ok + failed == 2);
    CHECK(failed >= 1);
    CHECK(other == 0);
  }
}

}  // namespace
