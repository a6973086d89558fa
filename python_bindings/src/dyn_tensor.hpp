// SPDX-License-Identifier: BSD-3-Clause
// DynTensor: the dynamically typed tensor handle behind Python's kiln.Tensor, and the
// dispatch from a run-time dtype to the typed templates.
#pragma once

#include <pybind11/pybind11.h>

#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln::python {

namespace py = pybind11;

// Note [Dynamic tensors]
// Python picks dtypes at run time; kiln's tensors carry theirs in the type. A DynTensor is
// a variant over Tensor<T, CPU> for every ScalarType, in ScalarType's order, so the
// variant's index is the dtype. Every binding turns its DynTensor arguments into typed
// tensors once (dispatch / visit), promotes them with the C++ rules (promote_types), and
// calls the same templates a C++ user calls: no arithmetic happens here, and an op that a
// dtype does not support is refused by the same checks as in C++. The handle shares the
// typed tensor (storage, views and autograd history), so Python and C++ see one tensor.
using AnyCPU =
    std::variant<Tensor<bool>, Tensor<uint8_t>, Tensor<int8_t>, Tensor<int16_t>, Tensor<int32_t>,
                 Tensor<int64_t>, Tensor<half>, Tensor<bfloat16>, Tensor<float>, Tensor<double>>;

struct DynTensor {
  AnyCPU t;

  DynTensor() = default;
  template <class T>
  DynTensor(Tensor<T, CPU> x) : t(std::move(x)) {}  // NOLINT: implicit, as a base class
  ScalarType dtype() const { return static_cast<ScalarType>(t.index()); }
  template <class T>
  const Tensor<T, CPU>& as() const {
    return std::get<Tensor<T, CPU>>(t);
  }
  const Shape& shape() const {
    return std::visit([](const auto& x) -> const Shape& { return x.shape(); }, t);
  }
  bool defined() const {
    return std::visit([](const auto& x) { return x.defined(); }, t);
  }
};

/// Calls f.template operator()<T>() with the C++ type of `st`.
template <class F>
decltype(auto) dispatch(ScalarType st, F&& f) {
  switch (st) {
    case ScalarType::Bool:
      return f.template operator()<bool>();
    case ScalarType::UInt8:
      return f.template operator()<uint8_t>();
    case ScalarType::Int8:
      return f.template operator()<int8_t>();
    case ScalarType::Int16:
      return f.template operator()<int16_t>();
    case ScalarType::Int32:
      return f.template operator()<int32_t>();
    case ScalarType::Int64:
      return f.template operator()<int64_t>();
    case ScalarType::Half:
      return f.template operator()<half>();
    case ScalarType::BFloat16:
      return f.template operator()<bfloat16>();
    case ScalarType::Float:
      return f.template operator()<float>();
    case ScalarType::Double:
      return f.template operator()<double>();
  }
  throw ValueError("[kiln] unknown dtype");
}

/// Calls f.template operator()<T>() for a floating `st` and throws TypeError-mapped
/// DTypeError naming `op` otherwise.
template <class F>
decltype(auto) dispatch_floating(ScalarType st, const char* op, F&& f) {
  switch (st) {
    case ScalarType::Half:
      return f.template operator()<half>();
    case ScalarType::BFloat16:
      return f.template operator()<bfloat16>();
    case ScalarType::Float:
      return f.template operator()<float>();
    case ScalarType::Double:
      return f.template operator()<double>();
    default:
      break;
  }
  throw DTypeError(std::string("[") + op + "] expected a floating tensor, got " +
                   std::string(scalar_type_name(st)));
}

/// The tensor as dtype U (itself when it already is).
template <class U>
Tensor<U, CPU> cast_to(const DynTensor& x) {
  return std::visit([](const auto& v) { return v.template to<U>(); }, x.t);
}

/// The tensor converted to `st`.
inline DynTensor to_dtype(const DynTensor& x, ScalarType st) {
  if (x.dtype() == st) return x;
  return dispatch(st, [&]<class U>() { return DynTensor(cast_to<U>(x)); });
}

/// A list of Python ints as Dims (shapes, dim lists).
inline Dims to_dims(const std::vector<int64_t>& v) {
  KILN_CHECK(v.size() <= static_cast<std::size_t>(kMaxDims), ShapeError, "[kiln] at most ",
             kMaxDims, " dims, got ", v.size());
  Dims d;
  for (int64_t x : v) d.push_back(x);
  return d;
}

/// A Python number (bool, int or float) as dtype T: floats through double, ints exactly.
template <class T>
T py_number_as(const py::handle& h) {
  if constexpr (is_floating_v<T>)
    return T(h.cast<double>());
  else if constexpr (std::is_same_v<T, bool>)
    return h.cast<bool>();
  else
    return static_cast<T>(h.cast<int64_t>());
}

/// torch's `dim` argument of a reduction: None (every dim of x), an int or a sequence.
inline Dims reduce_dims(const DynTensor& x, const py::object& dim) {
  Dims d;
  if (dim.is_none()) {
    for (int i = 0; i < x.shape().size(); ++i) d.push_back(i);
  } else if (py::isinstance<py::int_>(dim)) {
    d.push_back(dim.cast<int64_t>());
  } else {
    d = to_dims(dim.cast<std::vector<int64_t>>());
  }
  return d;
}

/// torch's default floating dtype (float32).
inline constexpr ScalarType kDefaultFloat = ScalarType::Float;

}  // namespace kiln::python
