// SPDX-License-Identifier: BSD-3-Clause
// Uses an installed kiln through find_package(kiln) and kiln::kiln.
#include <kiln/core/error.hpp>

#include <cstdio>

int main() {
  try {
    KILN_CHECK(false, kiln::ShapeError, "[consumer] shapes ", 2, " and ", 3, " differ");
  } catch (const kiln::ShapeError& e) {
    std::printf("kiln consumer: caught kiln::ShapeError: %s\n", e.what());
    return 0;
  }
  std::printf("kiln consumer: KILN_CHECK did not throw\n");
  return 1;
}
