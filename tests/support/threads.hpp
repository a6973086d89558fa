// SPDX-License-Identifier: BSD-3-Clause
// ThreadsGuard: restores kiln's thread count when a test that changed it ends.
#pragma once

#include "kiln/core/parallel.hpp"

namespace kiln_test {

struct ThreadsGuard {
  int saved = kiln::get_num_threads();
  ~ThreadsGuard() { kiln::set_num_threads(saved); }
};

}  // namespace kiln_test
