// SPDX-License-Identifier: BSD-3-Clause
// torch.nn.functional's argument conventions as kiln's C++ types, shared by the nn
// binding files: int-or-pair sizes, optional tensors, reductions and one layer dtype.
#pragma once

#include <pybind11/stl.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "kiln/nn/loss_reduction.hpp"
#include "kiln/ops/conv.hpp"

namespace kiln::python {

// torch's `int | tuple[int, int]` arguments; None gives an empty pair (pooling's stride
// then defaults to the kernel size).
inline IntPair int_pair(const py::object& o, const char* what) {
  if (o.is_none()) return {};
  if (py::isinstance<py::int_>(o)) return IntPair(o.cast<int64_t>());
  const auto v = o.cast<std::vector<int64_t>>();
  KILN_CHECK(v.size() == 1 || v.size() == 2, ValueError, "[kiln.nn] ", what,
             " must be an int or a pair, got ", v.size(), " values");
  return v.size() == 1 ? IntPair(v[0]) : IntPair(v[0], v[1]);
}

// torch's `int | tuple[int]` arguments of the 1-d layers.
inline int64_t int_single(const py::object& o, const char* what) {
  if (py::isinstance<py::int_>(o)) return o.cast<int64_t>();
  const auto v = o.cast<std::vector<int64_t>>();
  KILN_CHECK(v.size() == 1, ValueError, "[kiln.nn] ", what, " must be an int or a 1-tuple, got ",
             v.size(), " values");
  return v[0];
}

// The dtype of a floating layer: all its tensors must share it (no silent promotion of a
// model's weights).
inline ScalarType layer_dtype(const char* op, const DynTensor& x,
                              std::initializer_list<const DynTensor*> others) {
  for (const DynTensor* o : others)
    KILN_CHECK(!o || o->dtype() == x.dtype(), DTypeError, "[", op,
               "] expected all tensors to have one dtype, got ", scalar_type_name(x.dtype()),
               " and ", scalar_type_name(o->dtype()));
  return x.dtype();
}

inline const DynTensor* ptr(const std::optional<DynTensor>& o) { return o ? &*o : nullptr; }

// An optional tensor argument as the C++ convention: undefined when None.
template <class T>
Tensor<T, CPU> typed_or_undefined(const std::optional<DynTensor>& o) {
  return o ? o->as<T>() : Tensor<T, CPU>();
}

inline nn::Reduction reduction_of(const std::string& r) {
  if (r == "mean") return nn::Reduction::mean;
  if (r == "sum") return nn::Reduction::sum;
  if (r == "none") return nn::Reduction::none;
  throw ValueError("[kiln.nn] " + r + " is not a valid value for reduction");
}

}  // namespace kiln::python
