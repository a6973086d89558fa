// SPDX-License-Identifier: BSD-3-Clause
// Philox4x32-10 from Random123, inline for host and device code. Only compiled parts
// (src/, cuda/) include this; users see the declarations in generator.hpp.
#pragma once

#include <Random123/philox.h>

#include <array>
#include <cstdint>

#include "kiln/core/config.hpp"
#include "kiln/core/generator.hpp"

namespace kiln::detail {

/// Four 32-bit words for counter block `block` of stream `st`: the counter is
/// (block, offset), the key the seed.
KILN_HD inline std::array<uint32_t, 4> philox_block_inline(PhiloxState st, uint64_t block) {
  r123::Philox4x32 rng;
  r123::Philox4x32::ctr_type ctr = {
      {static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
       static_cast<uint32_t>(st.offset), static_cast<uint32_t>(st.offset >> 32)}};
  r123::Philox4x32::key_type key = {
      {static_cast<uint32_t>(st.seed), static_cast<uint32_t>(st.seed >> 32)}};
  auto r = rng(ctr, key);
  return {r[0], r[1], r[2], r[3]};
}

}  // namespace kiln::detail
