// SPDX-License-Identifier: BSD-3-Clause
// Runs every registered gradcheck case, and checks that no differentiable op lacks one.
#include <catch2/catch.hpp>

#include <set>

#include "autograd/differentiable_ops.hpp"
#include "autograd/gradcheck_registry.hpp"

using kiln::test::gradcheck_registry;

TEST_CASE("gradcheck: every registered case", "[autograd][gradcheck]") {
  const auto& cases = gradcheck_registry();
  REQUIRE(!cases.empty());
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    DYNAMIC_SECTION(c.op << " #" << i) {
      CHECK_NOTHROW(kiln::autograd::gradcheck(c.fn, c.inputs(), c.eps, c.atol, c.rtol));
      if (c.gradgrad)
        CHECK_NOTHROW(kiln::autograd::gradgradcheck(c.fn, c.inputs(), c.eps, c.atol, c.rtol));
    }
  }
}

TEST_CASE("gradcheck: every differentiable op has a case", "[autograd][gradcheck]") {
  std::set<std::string> have;
  for (const auto& c : gradcheck_registry()) have.insert(c.op);
  for (const char* op : kiln::test::kDifferentiableOps) {
    INFO("op without a gradcheck case: " << op);
    CHECK(have.count(op) == 1);
  }
}
