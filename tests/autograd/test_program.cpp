// SPDX-License-Identifier: BSD-3-Clause
// Backward programs (Note [Backward programs]): every kernel build this CPU runs (default,
// AVX2, AVX-512) against plain loops, on outputs that span several tiles and threads, with
// transposed and broadcast leaves, a leaf used twice, reductions, half precision, the
// create_graph path, and the per-type node that expressions a program cannot hold keep.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "autograd/autograd_check.hpp"
#include "kiln/kiln.hpp"

namespace {

namespace k = kiln;
namespace ag = kiln::autograd;
using k::Tensor;
using kiln_test::vals;

/// Runs `body` once with each backward kernel this CPU has, then restores the default.
template <class F>
void for_each_kernel(F body) {
  const std::string before = ag::detail::program_kernel();
  for (const std::string& name : ag::detail::program_kernels()) {
    ag::detail::set_program_kernel(name);
    INFO("backward kernel " << name);
    body();
  }
  ag::detail::set_program_kernel(before);
}

/// Values in [-2, 2) from a fixed pattern (no RNG: the expected values are loops).
template <class T>
Tensor<T> pattern(const k::Shape& shape, double phase) {
  Tensor<T> t(shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data()[i] =
        static_cast<T>(static_cast<float>(2.0 * std::sin(0.37 * static_cast<double>(i) + phase)));
  return t;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 5; ++i) {
    if (std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i]))) continue;
    ++bad;
    FAIL_CHECK("element " << i << ": got " << got[i] << ", want " << want[i]);
  }
}

TEST_CASE("the fused chain over several tiles and threads, on every kernel", "[autograd]") {
  // y = a*b + c*d - sin(e) with a transposed, c broadcast along rows and d along columns.
  // 37 x 700 has rows that end in partial tiles (copied through scratch); 3 x 32768 has
  // whole tiles of 16K, which use the contiguous leaves and gradients in place.
  const auto shape =
      GENERATE(std::pair<int64_t, int64_t>{37, 700}, std::pair<int64_t, int64_t>{3, 32768});
  const int64_t R = shape.first, C = shape.second;
  INFO("shape " << R << " x " << C);
  for_each_kernel([&] {
    const Tensor<double> abuf = pattern<double>({C, R}, 0.1);
    Tensor<double> a = abuf.t();
    Tensor<double> b = pattern<double>({R, C}, 0.2);
    Tensor<double> c = pattern<double>({C}, 0.3);
    Tensor<double> d = pattern<double>({R, 1}, 0.4);
    Tensor<double> e = pattern<double>({R, C}, 0.5);
    for (auto* t : {&a, &b, &c, &d, &e}) t->requires_grad_();
    Tensor<double> y = a * b + c * d - k::sin(e);
    CHECK(y.grad_fn()->name() == "FusedBackward[sub(add(mul(x, x), mul(x, x)), sin(x))]");
    Tensor<double> g = pattern<double>({R, C}, 0.6);
    y.backward(g);
    std::vector<double> ga, gb, gc(C, 0.0), gd(R, 0.0), ge;
    for (int64_t i = 0; i < R; ++i)
      for (int64_t j = 0; j < C; ++j) {
        const double gij = g(i, j);
        ga.push_back(gij * b(i, j));
        gb.push_back(gij * a(i, j));
        gc[j] += gij * d(i, 0);
        gd[i] += gij * c(j);
        ge.push_back(-gij * std::cos(e(i, j)));
      }
    check_close(vals(a.grad()), ga, 1e-12);
    check_close(vals(b.grad()), gb, 1e-12);
    check_close(vals(c.grad()), gc, 1e-12);
    check_close(vals(d.grad()), gd, 1e-12);
    check_close(vals(e.grad()), ge, 1e-12);
  });
}

TEST_CASE("every program op's derivative on every kernel", "[autograd]") {
  // x in (0.1, 0.9): inside every op's domain. 300 elements: a full tile and a partial one.
  Tensor<double> base(k::Shape{300});
  for (int64_t i = 0; i < 300; ++i) base.data()[i] = 0.1 + 0.8 * static_cast<double>(i) / 300.0;
  struct Case {
    const char* name;
    Tensor<double> (*f)(const Tensor<double>&);
    double (*df)(double);
  };
  const std::vector<Case> cases = {
      {"neg", [](const Tensor<double>& x) { return Tensor<double>(-x); },
       [](double) { return -1.0; }},
      {"square", [](const Tensor<double>& x) { return Tensor<double>(k::square(x)); },
       [](double v) { return 2 * v; }},
      {"sqrt", [](const Tensor<double>& x) { return Tensor<double>(k::sqrt(x)); },
       [](double v) { return 0.5 / std::sqrt(v); }},
      {"rsqrt", [](const Tensor<double>& x) { return Tensor<double>(k::rsqrt(x)); },
       [](double v) { return -0.5 * std::pow(v, -1.5); }},
      {"pow", [](const Tensor<double>& x) { return Tensor<double>(k::pow(x, 2.5)); },
       [](double v) { return 2.5 * std::pow(v, 1.5); }},
      {"exp", [](const Tensor<double>& x) { return Tensor<double>(k::exp(x)); },
       [](double v) { return std::exp(v); }},
      {"log1p", [](const Tensor<double>& x) { return Tensor<double>(k::log1p(x)); },
       [](double v) { return 1 / (1 + v); }},
      {"tan", [](const Tensor<double>& x) { return Tensor<double>(k::tan(x)); },
       [](double v) { return 1 / (std::cos(v) * std::cos(v)); }},
      {"asin", [](const Tensor<double>& x) { return Tensor<double>(k::asin(x)); },
       [](double v) { return 1 / std::sqrt(1 - v * v); }},
      {"atan", [](const Tensor<double>& x) { return Tensor<double>(k::atan(x)); },
       [](double v) { return 1 / (1 + v * v); }},
      {"tanh", [](const Tensor<double>& x) { return Tensor<double>(k::tanh(x)); },
       [](double v) { return 1 - std::tanh(v) * std::tanh(v); }},
      {"erf", [](const Tensor<double>& x) { return Tensor<double>(k::erf(x)); },
       [](double v) { return 2 / std::sqrt(3.14159265358979323846) * std::exp(-v * v); }},
      {"sigmoid", [](const Tensor<double>& x) { return Tensor<double>(k::sigmoid(x)); },
       [](double v) {
         const double s = 1 / (1 + std::exp(-v));
         return s * (1 - s);
       }},
      {"softplus", [](const Tensor<double>& x) { return Tensor<double>(k::softplus(x, 2.0)); },
       [](double v) { return 1 / (1 + std::exp(-2 * v)); }},
      {"clamp", [](const Tensor<double>& x) { return Tensor<double>(k::clamp(x, 0.3, 0.6)); },
       [](double v) { return v > 0.3 && v < 0.6 ? 1.0 : 0.0; }},
      {"div", [](const Tensor<double>& x) { return Tensor<double>(1.5 / x); },
       [](double v) { return -1.5 / (v * v); }},
      {"atan2", [](const Tensor<double>& x) { return Tensor<double>(k::atan2(x, 0.5 + x * 0.0)); },
       [](double v) { return 0.5 / (v * v + 0.25); }},
      {"maximum",
       [](const Tensor<double>& x) { return Tensor<double>(k::maximum(x, x * 0.0 + 0.5)); },
       [](double v) { return v > 0.5    ? 1.0
                             : v == 0.5 ? 0.5
                                        : 0.0; }},  // ties share
      {"where",
       [](const Tensor<double>& x) { return Tensor<double>(k::where(x > 0.5, x * x, -x)); },
       [](double v) { return v > 0.5 ? 2 * v : -1.0; }},
  };
  for_each_kernel([&] {
    for (const Case& c : cases) {
      INFO("op " << c.name);
      Tensor<double> x = base.clone().requires_grad_();
      k::sum(c.f(x)).backward();
      std::vector<double> want;
      for (int64_t i = 0; i < 300; ++i) want.push_back(c.df(base.data()[i]));
      check_close(vals(x.grad()), want, 1e-9);
    }
  });
}

TEST_CASE("programs in float and half, a leaf used twice, sum and mean", "[autograd]") {
  // 5 x 333: partial tiles; 4 x 1024: whole tiles used in place.
  const auto shape =
      GENERATE(std::pair<int64_t, int64_t>{5, 333}, std::pair<int64_t, int64_t>{4, 1024});
  const int64_t R = shape.first, C = shape.second;
  INFO("shape " << R << " x " << C);
  for_each_kernel([&] {
    Tensor<float> x = pattern<float>({R, C}, 0.7).requires_grad_();
    // x appears three times; the mean's 1/n reaches every element.
    k::mean(x * x + k::tanh(x) * x).backward();
    const Tensor<float> xv = x.detach();
    std::vector<double> want;
    for (int64_t i = 0; i < xv.numel(); ++i) {
      const double v = xv.data()[i], t = std::tanh(v);
      want.push_back((2 * v + (1 - t * t) * v + t) / static_cast<double>(xv.numel()));
    }
    check_close(vals(x.grad()), want, 1e-5);

    Tensor<k::half> h = pattern<k::half>({700}, 0.8).requires_grad_();
    k::sum(k::exp(h * k::half(0.5))).backward();
    std::vector<double> hw;
    for (int64_t i = 0; i < 700; ++i) {
      const double v = static_cast<double>(h.detach().data()[i]);
      hw.push_back(0.5 * std::exp(0.5 * v));
    }
    check_close(vals(h.grad()), hw, 2e-3);
  });
}

TEST_CASE("create_graph runs the program on recorded ops", "[autograd]") {
  // d/dx sum(x^3 * sin(x)) = 3x^2 sin x + x^3 cos x; its derivative (a Hessian-vector
  // product with v = 1): 6x sin x + 6x^2 cos x - x^3 sin x.
  Tensor<double> x = pattern<double>({300}, 0.9).requires_grad_();
  Tensor<double> y = k::sum(x * x * x * k::sin(x));
  const auto g = kiln_test::dgrad({y}, {x}, {}, true, true);
  REQUIRE(g[0].requires_grad());
  k::sum(g[0]).backward();
  const Tensor<double> xv = x.detach();
  std::vector<double> want;
  for (int64_t i = 0; i < 300; ++i) {
    const double v = xv.data()[i];
    want.push_back(6 * v * std::sin(v) + 6 * v * v * std::cos(v) - v * v * v * std::sin(v));
  }
  check_close(vals(x.grad()), want, 1e-10);
}

TEST_CASE("comparisons and logical ops run inside programs", "[autograd]") {
  // Masks become 0/1 values of the program's dtype; no gradient flows through them.
  Tensor<double> base(k::Shape{300});
  for (int64_t i = 0; i < 300; ++i) base.data()[i] = -1.0 + 2.0 * static_cast<double>(i) / 299.0;
  Tensor<bool> flag(k::Shape{300});
  for (int64_t i = 0; i < 300; ++i) flag.data()[i] = i % 3 == 0;
  for_each_kernel([&] {
    auto grad_of = [&](auto f) {
      Tensor<double> x = base.clone().requires_grad_();
      Tensor<double> y = f(x);
      k::sum(y).backward();
      return std::make_pair(y.grad_fn()->name(), vals(x.grad()));
    };
    auto want = [&](auto df) {
      std::vector<double> w;
      for (int64_t i = 0; i < 300; ++i) w.push_back(df(base.data()[i], flag.data()[i]));
      return w;
    };
    {
      const auto [name, g] = grad_of([](const Tensor<double>& x) {
        return Tensor<double>(k::where(k::logical_and(x > -0.5, !(x >= 0.5)), x * x, -x));
      });
      CHECK(name ==
            "FusedBackward[where(logical_and(gt(x, scalar), logical_not(ge(x, scalar))), "
            "mul(x, x), neg(x))]");
      check_close(g, want([](double v, bool) { return v > -0.5 && v < 0.5 ? 2 * v : -1.0; }),
                  1e-12);
    }
    {
      const auto [name, g] = grad_of([](const Tensor<double>& x) {
        return Tensor<double>(k::cast<double>(k::logical_xor(x > 0.0, x < 0.25)) * x);
      });
      CHECK(name == "FusedBackward[mul(to_float64(logical_xor(gt(x, scalar), lt(x, scalar))), x)]");
      check_close(g, want([](double v, bool) { return (v > 0) != (v < 0.25) ? 1.0 : 0.0; }), 1e-12);
    }
    {
      // A bool tensor as the condition is a constant of the program.
      const auto [name, g] = grad_of([&](const Tensor<double>& x) {
        return Tensor<double>(k::where(flag, k::exp(x), x * 3.0));
      });
      CHECK(name == "FusedBackward[where(x, exp(x), mul(x, scalar))]");
      check_close(g, want([](double v, bool f) { return f ? std::exp(v) : 3.0; }), 1e-12);
    }
  });
  // create_graph through a comparison: d2/dx2 of where(x > 0, x^3, x^2) is 6x or 2.
  Tensor<double> x = base.clone().requires_grad_();
  const auto g =
      kiln_test::dgrad({k::sum(k::where(x > 0.0, x * x * x, x * x))}, {x}, {}, true, true);
  k::sum(g[0]).backward();
  std::vector<double> w;
  for (int64_t i = 0; i < 300; ++i) {
    const double v = base.data()[i];
    w.push_back(v > 0 ? 6 * v : 2.0);
  }
  check_close(vals(x.grad()), w, 1e-10);

  // The same through logical ops, which create_graph runs as the functors on 0/1 values:
  // (x > 0) xor not(x < 0.5) holds where exactly one of x > 0 and x >= 0.5 does.
  Tensor<double> z = base.clone().requires_grad_();
  const auto gz =
      kiln_test::dgrad({k::sum(k::where(k::logical_xor(z > 0.0, !(z < 0.5)), z * z * z, z * z))},
                       {z}, {}, true, true);
  k::sum(gz[0]).backward();
  std::vector<double> wz;
  for (int64_t i = 0; i < 300; ++i) {
    const double v = base.data()[i];
    wz.push_back(v > 0 && v < 0.5 ? 6 * v : 2.0);
  }
  check_close(vals(z.grad()), wz, 1e-10);
}

TEST_CASE("a same-dtype cast inside a program passes gradients through", "[autograd]") {
  // kiln::cast<T> of a T expression returns it unchanged; a CastNode built by hand is the
  // program's identity instruction, which shares its operand's buffers.
  for (const int64_t n : {300, 1024}) {
    Tensor<float> x = pattern<float>({n}, 1.1).requires_grad_();
    Tensor<float> w = pattern<float>({n}, 1.2).requires_grad_();
    using Cast = k::expr::CastNode<float, Tensor<float>>;
    Tensor<float> y = Cast(x) * w + Cast(w);
    CHECK(y.grad_fn()->name() == "FusedBackward[add(mul(to_float32(x), x), to_float32(x))]");
    k::sum(y).backward();
    std::vector<double> gx, gw;
    for (int64_t i = 0; i < n; ++i) {
      gx.push_back(static_cast<double>(w.detach().data()[i]));
      gw.push_back(static_cast<double>(x.detach().data()[i]) + 1.0);
    }
    check_close(vals(x.grad()), gx, 1e-6);
    check_close(vals(w.grad()), gw, 1e-6);
  }
}

TEST_CASE("expressions a program cannot hold keep a node of their own type", "[autograd]") {
  // A cast between floating dtypes inside the expression: float leaf, double arithmetic.
  Tensor<float> x = pattern<float>({3, 5}, 1.0).requires_grad_();
  Tensor<double> y = k::cast<double>(x) * k::cast<double>(x) + 1.0;
  k::sum(y).backward();
  REQUIRE(x.grad().dtype() == k::ScalarType::Float);
  const Tensor<float> xv = x.detach();
  std::vector<double> want;
  for (int64_t i = 0; i < 15; ++i) want.push_back(2.0 * static_cast<double>(xv.data()[i]));
  check_close(vals(x.grad()), want, 1e-6);
}

TEST_CASE("set_program_kernel rejects a name this CPU has no kernel for", "[autograd]") {
  CHECK_THROWS_AS(ag::detail::set_program_kernel("sse9"), k::ValueError);
  CHECK_THROWS_WITH(ag::detail::set_program_kernel("sse9"),
                    Catch::Matchers::Contains("'sse9'") && Catch::Matchers::Contains("default"));
  CHECK(ag::detail::program_kernels().front() == "default");
}

}  // namespace
