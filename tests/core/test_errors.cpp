// SPDX-License-Identifier: BSD-3-Clause
// The error hierarchy and KILN_CHECK / KILN_ASSERT.
#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kiln/core/error.hpp"
#include "kiln/core/shape.hpp"

using Catch::Matchers::Contains;

TEMPLATE_TEST_CASE("every kiln error is a kiln::Error and a std::runtime_error", "[core][errors]",
                   kiln::ShapeError, kiln::DTypeError, kiln::DeviceError, kiln::IOError,
                   kiln::IndexError, kiln::ValueError, kiln::LinAlgError, kiln::OutOfMemoryError) {
  STATIC_REQUIRE(std::is_base_of_v<kiln::Error, TestType>);
  STATIC_REQUIRE(std::is_base_of_v<std::runtime_error, TestType>);
  try {
    throw TestType("boom");
  } catch (const kiln::Error& e) {
    CHECK(std::string(e.what()) == "boom");
    CHECK(dynamic_cast<const TestType*>(&e) != nullptr);
  }
}

TEST_CASE("LinAlgError is a ValueError", "[core][errors]") {
  STATIC_REQUIRE(std::is_base_of_v<kiln::ValueError, kiln::LinAlgError>);
}

TEST_CASE("KILN_CHECK throws the named type with the streamed message", "[core][errors]") {
  const kiln::Shape a{2, 3}, b{4};
  try {
    KILN_CHECK(a == b, kiln::ShapeError, "[matmul] inner dims differ: ", a, " vs ", b, " (", 1.5,
               ")");
    FAIL("KILN_CHECK did not throw");
  } catch (const kiln::ShapeError& e) {
    CHECK(std::string(e.what()) == "[matmul] inner dims differ: [2, 3] vs [4] (1.5)");
  }
  // The message is only built on failure.
  int built = 0;
  auto part = [&] {
    ++built;
    return "x";
  };
  KILN_CHECK(true, kiln::ValueError, part());
  CHECK(built == 0);
  CHECK_THROWS_AS([&] { KILN_CHECK(false, kiln::ValueError, part()); }(), kiln::ValueError);
  CHECK(built == 1);
  // Usable as one statement in an unbraced if/else.
  bool ok = true;
  if (ok)
    KILN_CHECK(ok, kiln::IndexError, "never");
  else
    FAIL("unreachable");
}

TEST_CASE("KILN_ASSERT checks internal invariants in debug builds", "[core][errors]") {
#ifndef NDEBUG
  CHECK_THROWS_WITH([] { KILN_ASSERT(1 + 1 == 3); }(),
                    Contains("kiln internal error") && Contains("1 + 1 == 3"));
  CHECK_THROWS_AS([] { KILN_ASSERT(false); }(), kiln::Error);
#else
  CHECK_NOTHROW([] { KILN_ASSERT(false); }());
#endif
  CHECK_NOTHROW([] { KILN_ASSERT(true); }());
}

TEST_CASE("str_cat streams every argument", "[core][errors]") {
  CHECK(kiln::detail::str_cat("a", 1, ' ', 2.5, std::string("z")) == "a1 2.5z");
}
