// SPDX-License-Identifier: BSD-3-Clause
// kiln.where, cat, stack, softmax, log_softmax, clamp, maximum, minimum, argmax, argmin,
// prod, var, std, all, any (functions, and methods where torch has them).
#include <pybind11/stl.h>

#include <optional>
#include <vector>

#include "bindings.hpp"

namespace kiln::python {

namespace {

// The dtype several tensors are joined or selected in (promote_types over all of them).
ScalarType common_dtype(const std::vector<DynTensor>& ts, const char* op) {
  KILN_CHECK(!ts.empty(), ValueError, "[", op, "] expected a non-empty list of tensors");
  ScalarType st = ts[0].dtype();
  for (const DynTensor& t : ts) st = promote_types(st, t.dtype());
  return st;
}

// A floating op's input dtype: integers and bool are computed in float32, as torch's.
ScalarType floating_of(const DynTensor& x) {
  return is_floating_type(x.dtype()) ? x.dtype() : kDefaultFloat;
}

// where's branches: each a tensor or a number (a number takes the other branch's dtype,
// lifted to float32 when it is a float beside an integer tensor).
DynTensor where_of(const DynTensor& cond, const py::object& a, const py::object& b) {
  KILN_CHECK(cond.dtype() == ScalarType::Bool, DTypeError,
             "[where] expected condition to be a bool tensor, got ",
             scalar_type_name(cond.dtype()));
  const bool ta = py::isinstance<DynTensor>(a), tb = py::isinstance<DynTensor>(b);
  KILN_CHECK(ta || tb, DTypeError, "[where] at least one of input and other must be a tensor");
  auto number_kind = [](const py::object& o) {
    return py::isinstance<py::float_>(o)  ? ScalarType::Float
           : py::isinstance<py::bool_>(o) ? ScalarType::Bool
                                          : ScalarType::Int64;
  };
  ScalarType st;
  if (ta && tb) {
    st = promote_types(a.cast<const DynTensor&>().dtype(), b.cast<const DynTensor&>().dtype());
  } else {
    const DynTensor& t = (ta ? a : b).cast<const DynTensor&>();
    const ScalarType n = number_kind(ta ? b : a);
    st = t.dtype();
    if (is_floating_type(n) && !is_floating_type(st)) st = kDefaultFloat;
    if (n == ScalarType::Int64 && st == ScalarType::Bool) st = ScalarType::Int64;
  }
  return dispatch(st, [&]<class T>() {
    auto side = [&](const py::object& o) {
      if (py::isinstance<DynTensor>(o)) return cast_to<T>(o.cast<const DynTensor&>());
      return full<T>(Shape{}, py_number_as<T>(o));
    };
    return DynTensor(Tensor<T, CPU>(kiln::where(cond.as<bool>(), side(a), side(b))));
  });
}

template <bool Stack>
DynTensor join(const std::vector<DynTensor>& ts, int64_t dim) {
  const ScalarType st = common_dtype(ts, Stack ? "stack" : "cat");
  return dispatch(st, [&]<class T>() {
    std::vector<Tensor<T, CPU>> typed;
    typed.reserve(ts.size());
    for (const DynTensor& t : ts) typed.push_back(cast_to<T>(t));
    return DynTensor(Stack ? kiln::stack(typed, dim) : kiln::cat(typed, dim));
  });
}

template <bool Log>
DynTensor softmax_of(const DynTensor& x, int64_t dim) {
  return dispatch_floating(floating_of(x), Log ? "log_softmax" : "softmax", [&]<class T>() {
    const Tensor<T, CPU> t = cast_to<T>(x);
    return DynTensor(Log ? kiln::log_softmax(t, dim) : kiln::softmax(t, dim));
  });
}

DynTensor clamp_of(const DynTensor& x, std::optional<double> lo, std::optional<double> hi) {
  KILN_CHECK(lo || hi, ValueError, "[clamp] at least one of 'min' or 'max' must not be None");
  return dispatch(x.dtype(), [&]<class T>() {
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError("[clamp] not supported for bool tensors");
      return DynTensor();
    } else {
      const Tensor<T, CPU>& t = x.as<T>();
      if (lo && hi) return DynTensor(Tensor<T, CPU>(kiln::clamp(t, *lo, *hi)));
      if (lo) return DynTensor(Tensor<T, CPU>(kiln::clamp_min(t, *lo)));
      return DynTensor(Tensor<T, CPU>(kiln::clamp_max(t, *hi)));
    }
  });
}

template <bool Max>
DynTensor extremum_of(const DynTensor& a, const DynTensor& b) {
  const ScalarType st = promote_types(a.dtype(), b.dtype());
  return dispatch(st, [&]<class T>() {
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError(std::string("[") + (Max ? "maximum" : "minimum") +
                       "] not supported for bool tensors");
      return DynTensor();
    } else if constexpr (Max) {
      return DynTensor(Tensor<T, CPU>(kiln::maximum(cast_to<T>(a), cast_to<T>(b))));
    } else {
      return DynTensor(Tensor<T, CPU>(kiln::minimum(cast_to<T>(a), cast_to<T>(b))));
    }
  });
}

template <bool Max>
DynTensor arg_extremum(const DynTensor& x, std::optional<int64_t> dim, bool keepdim) {
  return dispatch(x.dtype(), [&]<class T>() {
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError(std::string("[") + (Max ? "argmax" : "argmin") +
                       "] not supported for bool tensors");
      return DynTensor();
    } else {
      const Tensor<T, CPU>& t = x.as<T>();
      if (!dim) return DynTensor(Max ? kiln::argmax(t) : kiln::argmin(t));
      return DynTensor(Max ? kiln::argmax(t, *dim, keepdim) : kiln::argmin(t, *dim, keepdim));
    }
  });
}

DynTensor prod_of(const DynTensor& x, const py::object& dim, bool keepdim) {
  const Dims d = reduce_dims(x, dim);
  if (!is_floating_type(x.dtype()))
    return DynTensor(Tensor<int64_t, CPU>(kiln::prod(cast_to<int64_t>(x), d, keepdim)));
  return dispatch_floating(x.dtype(), "prod", [&]<class T>() {
    return DynTensor(Tensor<T, CPU>(kiln::prod(x.as<T>(), d, keepdim)));
  });
}

template <bool Std>
DynTensor spread_of(const DynTensor& x, const py::object& dim, int64_t correction, bool keepdim) {
  const Dims d = reduce_dims(x, dim);
  return dispatch_floating(x.dtype(), Std ? "std" : "var", [&]<class T>() {
    const Tensor<T, CPU>& t = x.as<T>();
    return DynTensor(Tensor<T, CPU>(Std ? Tensor<T, CPU>(kiln::std(t, d, correction, keepdim))
                                        : Tensor<T, CPU>(kiln::var(t, d, correction, keepdim))));
  });
}

template <bool All>
DynTensor truth_of(const DynTensor& x, const py::object& dim, bool keepdim) {
  const Dims d = reduce_dims(x, dim);
  const Tensor<bool, CPU> b = cast_to<bool>(x);
  return DynTensor(All ? kiln::all(b, d, keepdim) : kiln::any(b, d, keepdim));
}

}  // namespace

void bind_functions(py::module_& m) {
  using py::arg;
  auto cls = py::reinterpret_borrow<py::class_<DynTensor>>(m.attr("Tensor"));
  m.def("where", &where_of, arg("condition"), arg("input"), arg("other"));
  m.def("cat", &join<false>, arg("tensors"), arg("dim") = 0);
  m.def("concat", &join<false>, arg("tensors"), arg("dim") = 0);
  m.def("stack", &join<true>, arg("tensors"), arg("dim") = 0);
  for (auto [name, fn] :
       {std::pair{"softmax", &softmax_of<false>}, std::pair{"log_softmax", &softmax_of<true>}}) {
    m.def(name, fn, arg("input"), arg("dim"));
    cls.def(name, fn, arg("dim"));
  }
  m.def("clamp", &clamp_of, arg("input"), arg("min") = py::none(), arg("max") = py::none());
  cls.def("clamp", &clamp_of, arg("min") = py::none(), arg("max") = py::none());
  m.def("maximum", &extremum_of<true>, arg("input"), arg("other"));
  m.def("minimum", &extremum_of<false>, arg("input"), arg("other"));
  cls.def("maximum", &extremum_of<true>, arg("other"));
  cls.def("minimum", &extremum_of<false>, arg("other"));
  for (auto [name, fn] :
       {std::pair{"argmax", &arg_extremum<true>}, std::pair{"argmin", &arg_extremum<false>}}) {
    m.def(name, fn, arg("input"), arg("dim") = py::none(), arg("keepdim") = false);
    cls.def(name, fn, arg("dim") = py::none(), arg("keepdim") = false);
  }
  m.def("prod", &prod_of, arg("input"), arg("dim") = py::none(), arg("keepdim") = false);
  cls.def("prod", &prod_of, arg("dim") = py::none(), arg("keepdim") = false);
  for (auto [name, fn] :
       {std::pair{"var", &spread_of<false>}, std::pair{"std", &spread_of<true>}}) {
    m.def(name, fn, arg("input"), arg("dim") = py::none(), py::kw_only(), arg("correction") = 1,
          arg("keepdim") = false);
    cls.def(name, fn, arg("dim") = py::none(), py::kw_only(), arg("correction") = 1,
            arg("keepdim") = false);
  }
  for (auto [name, fn] : {std::pair{"all", &truth_of<true>}, std::pair{"any", &truth_of<false>}}) {
    m.def(name, fn, arg("input"), arg("dim") = py::none(), arg("keepdim") = false);
    cls.def(name, fn, arg("dim") = py::none(), arg("keepdim") = false);
  }
}

}  // namespace kiln::python
