// SPDX-License-Identifier: BSD-3-Clause
// Tensor factories (torch's names and signatures) and numpy → kiln.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>
#include <vector>

#include "bindings.hpp"

namespace kiln::python {

namespace {

// zeros(2, 3), zeros((2, 3)) and zeros([2, 3]) alike.
Shape shape_of(const py::args& args) {
  std::vector<int64_t> v;
  if (args.size() == 1 && !py::isinstance<py::int_>(args[0]))
    v = args[0].cast<std::vector<int64_t>>();
  else
    v = args.cast<std::vector<int64_t>>();
  Shape s;
  KILN_CHECK(v.size() <= static_cast<std::size_t>(kMaxDims), ShapeError, "[kiln] at most ",
             kMaxDims, " dims, got ", v.size());
  for (int64_t d : v) {
    KILN_CHECK(d >= 0, ValueError, "[kiln] negative dimension ", d);
    s.push_back(d);
  }
  return s;
}

ScalarType dtype_or(const py::object& dtype, ScalarType fallback) {
  return dtype.is_none() ? fallback : to_scalar_type(dtype);
}

DynTensor finish(DynTensor t, bool requires_grad) {
  if (requires_grad) set_requires_grad(t, true);
  return t;
}

// The kiln dtype of a numpy dtype; anything else is refused by name.
ScalarType from_numpy_dtype(const py::dtype& dt) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'b') return ScalarType::Bool;
  if (kind == 'u' && size == 1) return ScalarType::UInt8;
  if (kind == 'i' && size == 1) return ScalarType::Int8;
  if (kind == 'i' && size == 2) return ScalarType::Int16;
  if (kind == 'i' && size == 4) return ScalarType::Int32;
  if (kind == 'i' && size == 8) return ScalarType::Int64;
  if (kind == 'f' && size == 2) return ScalarType::Half;
  if (kind == 'f' && size == 4) return ScalarType::Float;
  if (kind == 'f' && size == 8) return ScalarType::Double;
  throw DTypeError("[from_numpy] can't convert np.ndarray of type " +
                   py::str(dt).cast<std::string>() +
                   ". The only supported types are: float64, float32, float16, int64, int32, "
                   "int16, int8, uint8, and bool.");
}

// A tensor sharing the array's memory; the tensor keeps the array alive.
DynTensor from_numpy(py::array a) {
  const ScalarType st = from_numpy_dtype(a.dtype());
  KILN_CHECK(a.writeable(), ValueError,
             "[from_numpy] the array is not writeable; kiln tensors are, so pass a copy");
  Shape shape;
  Strides strides;
  for (py::ssize_t d = 0; d < a.ndim(); ++d) {
    KILN_CHECK(a.strides(d) >= 0, ValueError,
               "[from_numpy] at least one stride in the given numpy array is negative; pass a "
               "copy (array.copy())");
    KILN_CHECK(a.strides(d) % a.itemsize() == 0, ValueError,
               "[from_numpy] a stride is not a multiple of the element size");
    shape.push_back(a.shape(d));
    strides.push_back(a.strides(d) / a.itemsize());
  }
  auto* keep = new py::object(a);
  auto release = [keep](void*) {
    py::gil_scoped_acquire gil;
    delete keep;
  };
  return dispatch(st, [&]<class T>() {
    return DynTensor(from_blob<T>(static_cast<T*>(a.mutable_data()), shape, strides, release));
  });
}

// torch.tensor(data): a copy; the dtype inferred as torch does (bool, int64, float32)
// unless data is an array (its own dtype) or dtype is given.
DynTensor tensor_from(const py::object& data, const py::object& dtype, bool requires_grad) {
  py::module_ np = py::module_::import("numpy");
  py::array a;
  if (py::isinstance<DynTensor>(data)) {
    // A copy, detached (torch warns and does the same); any dtype, bfloat16 included.
    DynTensor t = std::visit([](const auto& x) { return DynTensor(x.detach().clone()); },
                             data.cast<const DynTensor&>().t);
    if (!dtype.is_none()) t = to_dtype(t, to_scalar_type(dtype));
    return finish(t, requires_grad);
  }
  if (py::isinstance<py::array>(data)) {
    a = data;
  } else {
    a = np.attr("array")(data);
    const char kind = a.dtype().kind();
    // Python floats are float64 to numpy and float32 (the default dtype) to torch; with a
    // dtype given they convert once, from the exact float64 values.
    if (kind == 'f' && dtype.is_none()) a = a.attr("astype")(np.attr("float32"));
    KILN_CHECK(kind == 'b' || kind == 'i' || kind == 'u' || kind == 'f', DTypeError,
               "[tensor] could not infer a dtype from ",
               py::str(py::type::of(data)).cast<std::string>(), " (numpy made it ",
               py::str(a.dtype()).cast<std::string>(), ")");
  }
  // C order without a copy where it already is (ascontiguousarray would turn a 0-d array
  // into 1-d); the clone below is the one copy.
  a = np.attr("asarray")(a, py::arg("order") = "C");
  if (!a.writeable()) a = np.attr("array")(a);
  DynTensor t = from_numpy(a);
  if (!dtype.is_none()) t = to_dtype(t, to_scalar_type(dtype));
  // Own the memory (the copy above is numpy's); kiln-allocated memory is aligned for SIMD.
  t = std::visit([](const auto& x) { return DynTensor(x.clone()); }, t.t);
  return finish(t, requires_grad);
}

// Defines a factory of torch's shape form, name(2, 3, dtype=..., requires_grad=...), whose
// dtype defaults to float32; make.template operator()<T>(shape) builds the tensor.
template <bool FloatingOnly, class Make>
void def_shape_factory(py::module_& m, const char* name, Make make) {
  m.def(
      name,
      [name, make](py::args shape, py::object dtype, bool requires_grad) {
        const ScalarType st = dtype_or(dtype, kDefaultFloat);
        const Shape s = shape_of(shape);
        auto build = [&]<class T>() { return DynTensor(make.template operator()<T>(s)); };
        if constexpr (FloatingOnly)
          return finish(dispatch_floating(st, name, build), requires_grad);
        else
          return finish(dispatch(st, build), requires_grad);
      },
      py::kw_only(), py::arg("dtype") = py::none(), py::arg("requires_grad") = false);
}

}  // namespace

void bind_factories(py::module_& m) {
  using py::arg;
  def_shape_factory<false>(m, "zeros", []<class T>(const Shape& s) { return zeros<T>(s); });
  def_shape_factory<false>(m, "ones", []<class T>(const Shape& s) { return ones<T>(s); });
  def_shape_factory<false>(m, "empty", []<class T>(const Shape& s) { return empty<T>(s); });
  def_shape_factory<true>(m, "rand", []<class T>(const Shape& s) { return rand<T>(s); });
  def_shape_factory<true>(m, "randn", []<class T>(const Shape& s) { return randn<T>(s); });
  m.def("from_numpy", &from_numpy, arg("array"));
  m.def("tensor", &tensor_from, arg("data"), py::kw_only(), arg("dtype") = py::none(),
        arg("requires_grad") = false);
  m.def(
      "full",
      [](const std::vector<int64_t>& size, py::object value, py::object dtype, bool rg) {
        // torch infers the dtype from the fill value: bool, int64 or the default float.
        ScalarType fallback = py::isinstance<py::bool_>(value)  ? ScalarType::Bool
                              : py::isinstance<py::int_>(value) ? ScalarType::Int64
                                                                : kDefaultFloat;
        const Shape s = to_dims(size);
        return finish(dispatch(dtype_or(dtype, fallback),
                               [&]<class T>() {
                                 const T v = py_number_as<T>(value);
                                 return DynTensor(full<T>(s, v));
                               }),
                      rg);
      },
      arg("size"), arg("fill_value"), py::kw_only(), arg("dtype") = py::none(),
      arg("requires_grad") = false);
  m.def(
      "arange",
      [](py::object start, py::object end, py::object step, py::object dtype, bool rg) {
        if (end.is_none()) {
          end = start;
          start = py::int_(0);
        }
        const bool all_int = py::isinstance<py::int_>(start) && py::isinstance<py::int_>(end) &&
                             py::isinstance<py::int_>(step);
        const double a = start.cast<double>(), b = end.cast<double>(), s = step.cast<double>();
        KILN_CHECK(s != 0, ValueError, "[arange] step must be nonzero");
        return finish(dispatch(dtype_or(dtype, all_int ? ScalarType::Int64 : kDefaultFloat),
                               [&]<class T>() { return DynTensor(arange<T>(a, b, s)); }),
                      rg);
      },
      arg("start"), arg("end") = py::none(), arg("step") = py::int_(1), py::kw_only(),
      arg("dtype") = py::none(), arg("requires_grad") = false);
  m.def(
      "linspace",
      [](double start, double end, int64_t steps, py::object dtype, bool rg) {
        return finish(
            dispatch_floating(dtype_or(dtype, kDefaultFloat), "linspace",
                              [&]<class T>() { return DynTensor(linspace<T>(start, end, steps)); }),
            rg);
      },
      arg("start"), arg("end"), arg("steps"), py::kw_only(), arg("dtype") = py::none(),
      arg("requires_grad") = false);
  m.def(
      "eye",
      [](int64_t n, std::optional<int64_t> mcols, py::object dtype, bool rg) {
        return finish(dispatch(dtype_or(dtype, kDefaultFloat),
                               [&]<class T>() { return DynTensor(eye<T>(n, mcols.value_or(-1))); }),
                      rg);
      },
      arg("n"), arg("m") = py::none(), py::kw_only(), arg("dtype") = py::none(),
      arg("requires_grad") = false);
  m.def(
      "randint",
      [](py::args args, py::object dtype) {
        // randint(high, size) or randint(low, high, size), as torch's.
        KILN_CHECK(args.size() == 2 || args.size() == 3, ValueError,
                   "[randint] expected randint(high, size) or randint(low, high, size)");
        const int64_t low = args.size() == 3 ? args[0].cast<int64_t>() : 0;
        const int64_t high = args[args.size() - 2].cast<int64_t>();
        const auto size = args[args.size() - 1].cast<std::vector<int64_t>>();
        const Shape s = to_dims(size);
        return dispatch(dtype_or(dtype, ScalarType::Int64),
                        [&]<class T>() { return DynTensor(randint<T>(low, high, s)); });
      },
      py::kw_only(), arg("dtype") = py::none());
  m.def(
      "manual_seed", [](uint64_t seed) { kiln::manual_seed(seed); }, arg("seed"));
}

}  // namespace kiln::python
