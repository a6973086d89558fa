// SPDX-License-Identifier: BSD-3-Clause
// thrown_message<E>(f): runs f, requires that it throws exactly an E (or a subclass), and
// returns the message, so a test can check what the message names.
#pragma once

#include <catch2/catch.hpp>
#include <exception>
#include <string>

namespace kiln_test {

template <class E, class F>
std::string thrown_message(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("threw an exception of the wrong type: " << e.what());
  }
  FAIL("threw nothing");
  return {};
}

}  // namespace kiln_test
