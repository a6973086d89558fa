// SPDX-License-Identifier: BSD-3-Clause
// Printing tensors the way PyTorch does: `std::cout << t`, kiln::to_string(t), print options.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/core/device.hpp"
#include "kiln/core/dtype.hpp"
#include "kiln/core/shape.hpp"
#include "kiln/expr/node.hpp"
#include "kiln/tensor.hpp"

namespace kiln {

/// torch.set_printoptions' knobs, with torch's defaults.
struct PrintOptions {
  int precision = 4;             // digits after the point (fixed and scientific)
  int64_t threshold = 1000;      // more elements than this: summarise with "..."
  int64_t edgeitems = 3;         // items shown at each end of a summarised dim (>= 1)
  int linewidth = 80;            // characters per line before a row wraps
  std::optional<bool> sci_mode;  // force (true) or forbid (false) scientific notation
};

/// Sets the options every later print uses (all threads). Throws ValueError on a negative
/// precision or threshold, edgeitems < 1 or linewidth < 1.
void set_printoptions(const PrintOptions& options);
/// The options in effect.
PrintOptions get_printoptions();

namespace detail {
// Note [Printing]
// Template code only gathers the elements that will be shown: print_plan() picks their
// offsets (all of them, or the edge items of each long dim when the tensor is summarised),
// the header reads them as double (floating dtypes) or int64 (integers and bool), and
// format_tensor() in src/print.cpp does all the formatting, once for every dtype.
struct PrintPlan {
  PrintOptions options;          // a snapshot, so one print uses one set of options
  bool summarize = false;        // numel > threshold
  std::vector<int64_t> offsets;  // element offsets (from data()) in printing order
};
PrintPlan print_plan(const Shape& shape, const Strides& strides);
/// `device` >= 0: the CUDA device the elements were copied from (torch's device suffix).
std::string format_tensor(const PrintPlan& plan, ScalarType dtype, const Shape& shape,
                          std::span<const double> floats, std::span<const int64_t> ints,
                          int device = -1);

template <class T>
std::string format_host(const Tensor<T, CPU>& t, int device);
}  // namespace detail

/// What `print(t)` shows in PyTorch: `tensor([1., 2.])`, `tensor([[1, 2],\n        [3, 4]])`,
/// with "..." for summarised parts, a dtype suffix for non-default dtypes and
/// `device='cuda:N'` for a CUDA tensor (its elements are copied to the host first).
template <class T, class D>
std::string to_string(const Tensor<T, D>& t) {
  if (!t.defined()) return "tensor(undefined)";
  if constexpr (std::is_same_v<D, CPU>)
    return detail::format_host(t, -1);
  else
    return detail::format_host(t.template to<CPU>(), t.get_device());
}

template <class T>
std::string detail::format_host(const Tensor<T, CPU>& t, int device) {
  const detail::PrintPlan plan = detail::print_plan(t.shape(), t.strides());
  const T* p = t.data();
  std::vector<double> floats;
  std::vector<int64_t> ints;
  if constexpr (is_floating_v<T>) {
    floats.reserve(plan.offsets.size());
    for (int64_t off : plan.offsets)
      floats.push_back(static_cast<double>(static_cast<opmath_t<T>>(p[off])));
  } else {
    ints.reserve(plan.offsets.size());
    for (int64_t off : plan.offsets) ints.push_back(static_cast<int64_t>(p[off]));
  }
  return detail::format_tensor(plan, t.dtype(), t.shape(), floats, ints, device);
}

template <class T, class D>
std::ostream& operator<<(std::ostream& os, const Tensor<T, D>& t) {
  return os << to_string(t);
}

/// Prints an unevaluated expression by evaluating it (`std::cout << a * 2 + b`).
template <expr::Expr E>
requires(!std::is_same_v<std::remove_cvref_t<E>, Tensor<expr::value_t<E>, expr::device_t<E>>>)
    std::string to_string(const E& e) {
  return to_string(Tensor<expr::value_t<E>, expr::device_t<E>>(e));
}
template <expr::Expr E>
requires(!std::is_same_v<std::remove_cvref_t<E>, Tensor<expr::value_t<E>, expr::device_t<E>>>)
    std::ostream&
    operator<<(std::ostream& os, const E& e) {
  return os << to_string(e);
}

}  // namespace kiln
