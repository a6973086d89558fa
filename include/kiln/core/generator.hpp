// SPDX-License-Identifier: BSD-3-Clause
// The counter-based random generator (Philox4x32-10): the same seed gives the same
// numbers whatever the thread count, because element i's bits depend only on
// (seed, call offset, i) — and a CUDA kernel can compute the same bits later.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include "kiln/core/config.hpp"

namespace kiln {

/// A Philox stream position: every draw of `n` counter blocks advances offset by one.
struct PhiloxState {
  uint64_t seed;
  uint64_t offset;
};

/// Sets the default generator's seed (and resets its offset), like torch.manual_seed.
void manual_seed(uint64_t seed);
/// The seed the default generator was last given.
uint64_t initial_seed();

namespace detail {
/// Reserves one stream of the default generator for one op (thread-safe).
PhiloxState next_philox_state();

/// Four 32-bit random words for counter block `block` of the stream `st`. Defined in
/// src/ so that users' files do not parse Random123 (about 100k lines); device code
/// includes kiln/core/philox.hpp for the inline version.
std::array<uint32_t, 4> philox_block(PhiloxState st, uint64_t block);

/// Uniform in [0, 1) with 24 random bits (float) or 53 (double).
KILN_HD inline float u32_to_unit_float(uint32_t x) { return (x >> 8) * (1.0f / 16777216.0f); }
KILN_HD inline double u64_to_unit_double(uint64_t x) {
  return (x >> 11) * (1.0 / 9007199254740992.0);
}
}  // namespace detail
}  // namespace kiln
