// SPDX-License-Identifier: BSD-3-Clause
// Run-time misuse of expressions: shapes that do not broadcast throw kiln::ShapeError when
// the expression is built, naming the op and both shapes; writes of the wrong shape throw
// before touching the destination.
#include <catch2/catch.hpp>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"

namespace {

using TF = kiln::Tensor<float>;
using Catch::Contains;

// Runs f, which must throw E; returns the message.
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("threw the wrong exception type: " << e.what());
  }
  FAIL("did not throw");
  return {};
}

}  // namespace

TEST_CASE("shapes that do not broadcast throw ShapeError naming the op and both shapes",
          "[expr][errors]") {
  const TF a = kiln::zeros<float>({2, 3}), b = kiln::zeros<float>({4});
  struct Row {
    const char* op;
    std::function<void()> build;
  };
  // Building the expression is enough: shapes are checked when nodes are made.
  const Row rows[] = {
      {"[add]", [&] { (void)(a + b); }},
      {"[sub]", [&] { (void)(a - b); }},
      {"[mul]", [&] { (void)(a * b); }},
      {"[div]", [&] { (void)(a / b); }},
      {"[add]", [&] { (void)kiln::add(a, b); }},
      {"[pow]", [&] { (void)kiln::pow(a, b); }},
      {"[atan2]", [&] { (void)kiln::atan2(a, b); }},
      {"[fmod]", [&] { (void)kiln::fmod(a, b); }},
      {"[maximum]", [&] { (void)kiln::maximum(a, b); }},
      {"[minimum]", [&] { (void)kiln::minimum(a, b); }},
      {"[eq]", [&] { (void)(a == b); }},
      {"[lt]", [&] { (void)(a < b); }},
      {"[ge]", [&] { (void)kiln::ge(a, b); }},
      {"[logical_and]", [&] { (void)(a && b); }},
      {"[logical_xor]", [&] { (void)kiln::logical_xor(a, b); }},
      {"[mul]", [&] { (void)(kiln::sin(a) * kiln::exp(b)); }},
      {"[sub]", [&] { (void)((a + 1) - (b * 2)); }},
  };
  for (const Row& r : rows) {
    INFO(r.op);
    const std::string msg = message_of<kiln::ShapeError>(r.build);
    CHECK_THAT(msg, Contains(r.op) && Contains("[2, 3]") && Contains("[4]"));
  }
  // The error is a kiln::Error and a std::runtime_error.
  CHECK_THROWS_AS(a + b, kiln::Error);
  CHECK_THROWS_AS(a + b, std::runtime_error);
}

TEST_CASE("where checks all three shapes", "[expr][errors]") {
  const kiln::Tensor<bool> c = kiln::zeros<bool>({2, 3});
  const TF ok = kiln::zeros<float>({3}), bad = kiln::zeros<float>({5});
  CHECK_NOTHROW(kiln::where(c, ok, ok));
  CHECK_THAT(message_of<kiln::ShapeError>([&] { (void)kiln::where(c, bad, ok); }),
             Contains("[where]") && Contains("[2, 3]") && Contains("[5]"));
  CHECK_THAT(message_of<kiln::ShapeError>([&] { (void)kiln::where(c, ok, bad); }),
             Contains("[where]") && Contains("[5]"));
  CHECK_THAT(
      message_of<kiln::ShapeError>([&] { (void)kiln::where(kiln::zeros<bool>({4}), ok, 1.0f); }),
      Contains("[where]") && Contains("[4]") && Contains("[3]"));
}

TEST_CASE("a result that does not fit the destination throws ShapeError", "[expr][errors]") {
  const TF small = kiln::full<float>({3}, 7.0f);
  const TF big = kiln::zeros<float>({2, 3});
  SECTION("copy_ of a bigger shape into a smaller tensor") {
    const std::string msg = message_of<kiln::ShapeError>([&] { small.copy_(big); });
    CHECK_THAT(msg, Contains("[copy_]") && Contains("[2, 3]") && Contains("[3]"));
    CHECK_THAT(message_of<kiln::ShapeError>([&] { small.copy_(big * 2 + 1); }),
               Contains("[2, 3]") && Contains("[3]"));
  }
  SECTION("copy_ of the same rank but another length") {
    CHECK_THAT(message_of<kiln::ShapeError>([&] { small.copy_(kiln::zeros<float>({4})); }),
               Contains("[4]") && Contains("[3]"));
    CHECK_THROWS_AS(big.copy_(kiln::zeros<float>({2, 1, 3})), kiln::ShapeError);
  }
  SECTION("compound assignment whose right-hand side grows the shape") {
    CHECK_THAT(message_of<kiln::ShapeError>([&] { small += big; }),
               Contains("[2, 3]") && Contains("[3]"));
    CHECK_THROWS_AS(big += kiln::zeros<float>({4}), kiln::ShapeError);
  }
  // Nothing was written by the failed calls.
  for (int i = 0; i < 3; ++i) CHECK(small.data()[i] == 7.0f);
  // y = expr of another shape is not an error: it rebinds, like torch.
  TF y = small;
  CHECK_NOTHROW(y = big + 1);
  CHECK(y.shape() == kiln::Shape{2, 3});
}

TEST_CASE("writing into an undefined tensor throws ValueError", "[expr][errors]") {
  const TF undefined;
  CHECK_THAT(message_of<kiln::ValueError>([&] { undefined.copy_(kiln::zeros<float>({2})); }),
             Contains("[copy_]") && Contains("undefined"));
  CHECK_THROWS_AS(undefined.fill_(1), kiln::ValueError);
}
