// SPDX-License-Identifier: BSD-3-Clause
// Argument conventions shared by the op-library and linalg binding files: index and mask
// tensors, number arguments in a tensor's dtype, dims, and torch.return_types tuples.
#pragma once

#include <pybind11/stl.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "bindings.hpp"

namespace kiln::python {

/// Calls f.template operator()<T>() for every dtype but bool, which throws a DTypeError
/// naming `op` (torch refuses bool in arithmetic-like ops).
template <class F>
decltype(auto) dispatch_non_bool(ScalarType st, const char* op, F&& f) {
  KILN_CHECK(st != ScalarType::Bool, DTypeError, "[", op, "] not supported for bool tensors");
  return dispatch(st, [&]<class T>() {
    if constexpr (std::is_same_v<T, bool>)
      return decltype(f.template operator()<float>())();
    else
      return f.template operator()<T>();
  });
}

/// The dtype a floating op computes in: integers and bool go to float32, as torch's.
inline ScalarType float_dtype_of(const DynTensor& x) {
  return is_floating_type(x.dtype()) ? x.dtype() : kDefaultFloat;
}

/// An index argument: torch wants int64 (gather, scatter, index_select, ...).
inline Tensor<int64_t, CPU> index_arg(const DynTensor& i, const char* op, const char* what) {
  KILN_CHECK(i.dtype() == ScalarType::Int64, DTypeError, "[", op, "] expected ", what,
             " to be an int64 tensor, got ", scalar_type_name(i.dtype()));
  return i.as<int64_t>();
}

/// A mask argument: a bool tensor.
inline Tensor<bool, CPU> mask_arg(const DynTensor& m, const char* op) {
  KILN_CHECK(m.dtype() == ScalarType::Bool, DTypeError, "[", op,
             "] expected mask to be a bool tensor, got ", scalar_type_name(m.dtype()));
  return m.as<bool>();
}

/// A second tensor that must have x's dtype (torch refuses to mix them in scatter & co).
inline void check_same_dtype(const DynTensor& x, const DynTensor& y, const char* op,
                             const char* what) {
  KILN_CHECK(x.dtype() == y.dtype(), DTypeError, "[", op, "] expected self and ", what,
             " to have the same dtype, got ", scalar_type_name(x.dtype()), " and ",
             scalar_type_name(y.dtype()));
}

/// A Python number, or a one-element tensor, as dtype T (a float truncates toward zero
/// into an integer dtype, as torch's fill values do).
template <class T>
T value_as(const py::handle& h, const char* op) {
  if (py::isinstance<DynTensor>(h)) {
    const DynTensor& t = h.cast<const DynTensor&>();
    KILN_CHECK(numel_of(t.shape()) == 1, ValueError, "[", op,
               "] expected a number or a tensor of one element, got a tensor of shape ", t.shape());
    return cast_to<T>(t).contiguous().data()[0];
  }
  KILN_CHECK(
      py::isinstance<py::bool_>(h) || py::isinstance<py::int_>(h) || py::isinstance<py::float_>(h),
      DTypeError, "[", op, "] expected a number, got ",
      py::str(py::type::of(h)).cast<std::string>());
  if (py::isinstance<py::float_>(h)) {
    if constexpr (std::is_same_v<T, bool>)
      return h.cast<double>() != 0;
    else
      return static_cast<T>(h.cast<double>());
  }
  return py_number_as<T>(h);
}

/// An int or a sequence of ints.
inline Dims dims_arg(const py::handle& o) {
  if (py::isinstance<py::int_>(o)) return Dims{o.cast<int64_t>()};
  return to_dims(o.cast<std::vector<int64_t>>());
}

/// torch.return_types: named tuples such as sort's (values, indices), made once in
/// kiln._C.return_types.
inline void define_return_type(py::module_& m, const char* name,
                               std::initializer_list<const char*> fields) {
  if (!py::hasattr(m, "return_types")) m.def_submodule("return_types");
  py::list names;
  for (const char* f : fields) names.append(f);
  py::object t = py::module_::import("collections").attr("namedtuple")(name, names);
  t.attr("__module__") = "kiln.return_types";
  m.attr("return_types").attr(name) = t;
}

template <class... Args>
py::object make_return(const char* name, Args&&... args) {
  return py::module_::import("kiln._C")
      .attr("return_types")
      .attr(name)(py::cast(std::forward<Args>(args))...);
}

}  // namespace kiln::python
