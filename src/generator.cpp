// SPDX-License-Identifier: BSD-3-Clause
// The default Philox generator (see include/kiln/core/generator.hpp).
#include "kiln/core/generator.hpp"

#include <mutex>

#include "kiln/core/philox.hpp"

namespace kiln {
namespace {
struct DefaultGenerator {
  std::mutex mu;
  uint64_t seed = 67280421310721ull;  // torch's default_rng_seed_val
  uint64_t offset = 0;
};
DefaultGenerator& default_generator() {
  static DefaultGenerator g;
  return g;
}
}  // namespace

void manual_seed(uint64_t seed) {
  auto& g = default_generator();
  std::lock_guard<std::mutex> lock(g.mu);
  g.seed = seed;
  g.offset = 0;
}

uint64_t initial_seed() {
  auto& g = default_generator();
  std::lock_guard<std::mutex> lock(g.mu);
  return g.seed;
}

namespace detail {
std::array<uint32_t, 4> philox_block(PhiloxState st, uint64_t block) {
  return philox_block_inline(st, block);
}

PhiloxState next_philox_state() {
  auto& g = default_generator();
  std::lock_guard<std::mutex> lock(g.mu);
  return {g.seed, g.offset++};
}
}  // namespace detail
}  // namespace kiln
