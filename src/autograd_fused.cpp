// SPDX-License-Identifier: BSD-3-Clause
// The parts of a fused node (include/kiln/autograd/fused.hpp) that need no expression
// type: its name and its errors. Compiled once, so that each expression a user file
// materialises instantiates only calls to them.
#include <cctype>
#include <string>
#include <string_view>

#include "kiln/core/error.hpp"
#include "kiln/tensor.hpp"  // ends with kiln/autograd/fused.hpp

namespace kiln::autograd::detail {

void name_piece(std::string& s, std::string_view piece) { s.append(piece); }

std::string fused_node_name(const char* prefix, const std::string& expr) {
  if (prefix) return prefix;
  const auto open = expr.find('(');
  // One op on leaves and scalars only: name it like torch ("MulBackward").
  if (open != std::string::npos && expr.find('(', open + 1) == std::string::npos) {
    std::string op = expr.substr(0, open);
    op[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(op[0])));
    return op + "Backward";
  }
  return "FusedBackward[" + expr + "]";
}

void throw_freed(const std::string& name) {
  throw AutogradError(kiln::detail::str_cat(
      "[", name,
      "] trying to backward through the graph a second time (or to access saved tensors after "
      "they were freed): pass retain_graph=true to the first backward"));
}

void throw_modified(const std::string& name, const Shape& shape, uint64_t now, uint64_t then) {
  throw AutogradError(kiln::detail::str_cat(
      "[", name,
      "] one of the variables needed for gradient computation has been "
      "modified by an in-place operation: a tensor of shape ",
      shape, " saved by ", name, " is at version ", now, "; expected version ", then, " instead"));
}

}  // namespace kiln::autograd::detail
