// SPDX-License-Identifier: BSD-3-Clause
// Formatting helpers for modules' extra_repr, matching how PyTorch prints arguments.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "kiln/ops/conv.hpp"

namespace kiln::nn::detail {

inline std::string py_bool(bool b) { return b ? "True" : "False"; }

/// A float as Python's repr prints it: the shortest form that reads back ("0.5", "1e-05").
inline std::string py_float(double v) {
  char buf[32];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  if (s.find_first_of(".eninf") == std::string::npos) s += ".0";
  return s;
}

/// An IntPair as torch prints a 2-tuple: "(3, 3)".
inline std::string py_pair(const IntPair& p) {
  return "(" + std::to_string(p.h()) + ", " + std::to_string(p.w()) + ")";
}

/// A shape as Python prints a tuple: "(5,)", "(2, 3)".
inline std::string py_tuple(const Shape& s) {
  std::string out = "(";
  for (int i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

}  // namespace kiln::nn::detail
