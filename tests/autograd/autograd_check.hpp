// SPDX-License-Identifier: BSD-3-Clause
// Small helpers shared by the autograd tests that check gradients by hand: 1-D double
// tensors from a list, leaves, their values as a vector, and autograd::grad for doubles.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln_test {

using TD = kiln::Tensor<double>;

/// The elements of `t` in row-major order, as doubles (any dtype, any strides).
template <class T>
std::vector<double> vals(const kiln::Tensor<T>& t) {
  const kiln::Tensor<T> c = t.contiguous();
  std::vector<double> v;
  v.reserve(static_cast<size_t>(c.numel()));
  for (int64_t i = 0; i < c.numel(); ++i) v.push_back(static_cast<double>(c.data()[i]));
  return v;
}
/// A 1-D double tensor holding `v`.
inline TD vec(std::vector<double> v) { return kiln::from_vector<double>(v); }
/// vec(v) marked as a leaf that requires grad.
inline TD leaf(std::vector<double> v) { return vec(std::move(v)).requires_grad_(); }
/// kiln::autograd::grad for double tensors on the CPU, with torch's defaults.
inline std::vector<TD> dgrad(const std::vector<TD>& outputs, const std::vector<TD>& inputs,
                             const std::vector<TD>& grad_outputs = {},
                             std::optional<bool> retain_graph = {}, bool create_graph = false,
                             bool allow_unused = false) {
  return kiln::autograd::grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                              allow_unused);
}

}  // namespace kiln_test
