// SPDX-License-Identifier: BSD-3-Clause
// Shape rules of pad (include/kiln/ops/pad.hpp).
#include "kiln/ops/pad.hpp"

#include <sstream>
#include <string>

namespace kiln {

namespace {
// pads may be longer than a Dims holds (two entries per dim).
std::string list_str(std::span<const int64_t> v) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ']';
  return os.str();
}
const char* mode_name(PadMode m) {
  switch (m) {
    case PadMode::Constant:
      return "constant";
    case PadMode::Reflect:
      return "reflect";
    case PadMode::Replicate:
      return "replicate";
    case PadMode::Circular:
      return "circular";
  }
  return "?";
}
}  // namespace

PadMode pad_mode_from_string(std::string_view mode) {
  for (PadMode m : {PadMode::Constant, PadMode::Reflect, PadMode::Replicate, PadMode::Circular})
    if (mode == mode_name(m)) return m;
  throw ValueError(detail::str_cat("[pad] unknown padding mode '", mode,
                                   "': expected constant, reflect, replicate or circular"));
}

namespace detail {

PadPlan pad_plan(const Shape& in, std::span<const int64_t> pads, PadMode mode, double value,
                 const char* op) {
  const int nd = in.size();
  KILN_CHECK(pads.size() % 2 == 0, ValueError, "[", op,
             "] padding length must be divisible by 2, got pads ", list_str(pads));
  KILN_CHECK(pads.size() / 2 <= static_cast<std::size_t>(nd), ValueError, "[", op,
             "] padding length too large: pads ", list_str(pads), " cover ", pads.size() / 2,
             " dims of a tensor of shape ", in);
  KILN_CHECK(mode == PadMode::Constant || value == 0, ValueError, "[", op, "] padding mode ",
             mode_name(mode), " doesn't take a value argument (got ", value, ")");
  PadPlan p{in, Dims(nd, 0), Dims(nd, 0)};
  for (std::size_t i = 0; i < pads.size() / 2; ++i) {
    const int d = nd - 1 - static_cast<int>(i);
    const int64_t l = pads[2 * i], r = pads[2 * i + 1], n = in[d];
    p.lo[d] = l;
    p.hi[d] = r;
    if (mode == PadMode::Constant) {
      // torch crops the left then the right: neither may take more than is there.
      KILN_CHECK(n + std::min<int64_t>(l, 0) + std::min<int64_t>(r, 0) >= 0, ValueError, "[", op,
                 "] padding (", l, ", ", r, ") of dimension ", d, " with size ", n,
                 " crops more than the dimension holds (shape ", in, ", pads ", list_str(pads),
                 ")");
    } else {
      KILN_CHECK(l >= 0 && r >= 0, ValueError, "[", op, "] negative padding (", l, ", ", r,
                 ") of dimension ", d, " is only supported in constant mode, not ", mode_name(mode),
                 " (shape ", in, ")");
      if (mode == PadMode::Reflect)
        KILN_CHECK((l == 0 || l < n) && (r == 0 || r < n), ValueError, "[", op,
                   "] reflect padding (", l, ", ", r, ") must be less than the size ", n,
                   " of dimension ", d, " (shape ", in, ")");
      if (mode == PadMode::Replicate)
        KILN_CHECK((l == 0 && r == 0) || n > 0, ValueError, "[", op, "] replicate padding (", l,
                   ", ", r, ") needs a non-empty dimension ", d, " (shape ", in, ")");
      if (mode == PadMode::Circular)
        KILN_CHECK(l <= n && r <= n, ValueError, "[", op, "] circular padding (", l, ", ", r,
                   ") wraps around more than once: dimension ", d, " has size ", n, " (shape ", in,
                   ")");
    }
    p.out[d] = n + l + r;
  }
  return p;
}

}  // namespace detail
}  // namespace kiln
