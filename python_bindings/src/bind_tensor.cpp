// SPDX-License-Identifier: BSD-3-Clause
// kiln.dtype and kiln.Tensor's metadata, conversions, views, printing, numpy interop and
// autograd members.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings.hpp"

namespace kiln::python {

namespace {

py::tuple shape_tuple(const Shape& s) {
  py::tuple out(s.size());
  for (int i = 0; i < s.size(); ++i) out[i] = s[i];
  return out;
}

// One element as a Python bool, int or float (what item() and tolist() give).
template <class T>
py::object to_py(T v) {
  if constexpr (std::is_same_v<T, bool>)
    return py::bool_(v);
  else if constexpr (is_floating_v<T>)
    return py::float_(static_cast<double>(v));
  else
    return py::int_(static_cast<int64_t>(v));
}

template <class T>
py::object tolist_rec(const Tensor<T, CPU>& t, int dim, int64_t offset) {
  if (dim == t.dim()) return to_py(t.data()[offset]);
  py::list out;
  for (int64_t i = 0; i < t.shape()[dim]; ++i)
    out.append(tolist_rec(t, dim + 1, offset + i * t.strides()[dim]));
  return out;
}

// numpy's dtype for a kiln dtype; bfloat16 has none.
py::dtype numpy_dtype(ScalarType st) {
  switch (st) {
    case ScalarType::Bool:
      return py::dtype::of<bool>();
    case ScalarType::UInt8:
      return py::dtype::of<uint8_t>();
    case ScalarType::Int8:
      return py::dtype::of<int8_t>();
    case ScalarType::Int16:
      return py::dtype::of<int16_t>();
    case ScalarType::Int32:
      return py::dtype::of<int32_t>();
    case ScalarType::Int64:
      return py::dtype::of<int64_t>();
    case ScalarType::Half:
      return py::dtype("float16");
    case ScalarType::Float:
      return py::dtype::of<float>();
    case ScalarType::Double:
      return py::dtype::of<double>();
    case ScalarType::BFloat16:
      break;
  }
  throw DTypeError("[numpy] numpy has no bfloat16; convert first, e.g. t.float().numpy()");
}

// A numpy view of the tensor's memory; the array keeps the tensor's storage alive.
py::array to_numpy(const DynTensor& x) {
  return std::visit(
      [&](const auto& t) -> py::array {
        using T = typename std::remove_cvref_t<decltype(t)>::value_type;
        if constexpr (is_floating_v<T>)
          KILN_CHECK(!t.requires_grad(), Error,
                     "[numpy] can't call numpy() on a tensor that requires grad; use "
                     "t.detach().numpy()");
        const py::dtype dt = numpy_dtype(x.dtype());
        std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
        for (int d = 0; d < t.dim(); ++d)
          strides.push_back(static_cast<py::ssize_t>(t.strides()[d] * sizeof(T)));
        auto* keep = new DynTensor(t);
        py::capsule owner(keep, [](void* p) { delete static_cast<DynTensor*>(p); });
        return py::array(dt, shape, strides, static_cast<const void*>(t.data()), owner);
      },
      x.t);
}

DynTensor reshape(const DynTensor& x, const std::vector<int64_t>& shape, const char* op) {
  // torch's -1: the one dim inferred from the others.
  Shape s;
  int64_t known = 1, infer = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      KILN_CHECK(infer < 0, Error, "[", op, "] only one dimension can be inferred");
      infer = static_cast<int64_t>(i);
      s.push_back(1);
    } else {
      KILN_CHECK(shape[i] >= 0, Error, "[", op, "] invalid shape dimension ", shape[i]);
      known *= shape[i];
      s.push_back(shape[i]);
    }
  }
  const int64_t n = numel_of(x.shape());
  if (infer >= 0) {
    KILN_CHECK(known != 0 && n % known == 0, ShapeError, "[", op, "] shape '", s,
               "' is invalid for input of size ", n);
    s[static_cast<int>(infer)] = n / known;
  }
  return std::visit([&](const auto& t) { return DynTensor(t.reshape(s)); }, x.t);
}

std::vector<int64_t> int_args(const py::args& args) {
  // size(2, 3) and size((2, 3)) alike, as torch's.
  if (args.size() == 1 && !py::isinstance<py::int_>(args[0]))
    return args[0].cast<std::vector<int64_t>>();
  return args.cast<std::vector<int64_t>>();
}

}  // namespace

ScalarType to_scalar_type(const py::object& dtype) { return dtype.cast<DType>().type; }

void bind_tensor(py::module_& m) {
  py::class_<DType>(m, "dtype")
      .def_property_readonly("is_floating_point",
                             [](const DType& d) { return is_floating_type(d.type); })
      .def_property_readonly("itemsize", [](const DType& d) { return element_size(d.type); })
      .def("__repr__",
           [](const DType& d) { return "kiln." + std::string(scalar_type_name(d.type)); })
      .def("__eq__", [](const DType& a, const DType& b) { return a.type == b.type; })
      .def("__hash__", [](const DType& d) { return static_cast<int>(d.type); });
  for (ScalarType st : kAllScalarTypes)
    m.attr(std::string(scalar_type_name(st)).c_str()) = DType{st};

  py::class_<DynTensor> cls(m, "Tensor");
  // Tensor(t) is another handle to t (what Python subclasses such as nn.Parameter build
  // on); torch's Tensor(data) constructors are kiln.tensor here.
  cls.def(py::init<const DynTensor&>(), py::arg("data"));
  cls.def_property_readonly("shape", [](const DynTensor& x) { return shape_tuple(x.shape()); })
      .def_property_readonly("dtype", [](const DynTensor& x) { return DType{x.dtype()}; })
      .def_property_readonly("ndim", [](const DynTensor& x) { return x.shape().size(); })
      .def_property_readonly("device", [](const DynTensor&) { return py::str("cpu"); })
      .def("dim", [](const DynTensor& x) { return x.shape().size(); })
      .def("numel", [](const DynTensor& x) { return numel_of(x.shape()); })
      .def(
          "size",
          [](const DynTensor& x, std::optional<int64_t> dim) -> py::object {
            if (!dim) return shape_tuple(x.shape());
            return py::int_(std::visit([&](const auto& t) { return t.size(*dim); }, x.t));
          },
          py::arg("dim") = py::none())
      .def("stride",
           [](const DynTensor& x) {
             return std::visit(
                 [](const auto& t) {
                   py::tuple out(t.dim());
                   for (int i = 0; i < t.dim(); ++i) out[i] = t.strides()[i];
                   return out;
                 },
                 x.t);
           })
      .def("__len__",
           [](const DynTensor& x) {
             KILN_CHECK(x.shape().size() > 0, DTypeError, "[len] len() of a 0-d tensor");
             return x.shape()[0];
           })
      .def("is_contiguous",
           [](const DynTensor& x) {
             return std::visit([](const auto& t) { return t.is_contiguous(); }, x.t);
           })
      .def("contiguous",
           [](const DynTensor& x) {
             return std::visit([](const auto& t) { return DynTensor(t.contiguous()); }, x.t);
           })
      .def("clone",
           [](const DynTensor& x) {
             return std::visit([](const auto& t) { return DynTensor(t.clone()); }, x.t);
           })
      .def("__repr__",
           [](const DynTensor& x) {
             return std::visit(
                 [](const auto& t) {
                   std::string s = to_string(t);
                   using T = typename std::remove_cvref_t<decltype(t)>::value_type;
                   if constexpr (is_floating_v<T>) {
                     // torch's suffixes, inside the closing parenthesis.
                     std::string extra;
                     if (t.grad_fn())
                       extra = ", grad_fn=<" + t.grad_fn()->name() + ">";
                     else if (t.requires_grad())
                       extra = ", requires_grad=True";
                     if (!extra.empty()) s.insert(s.size() - 1, extra);
                   }
                   return s;
                 },
                 x.t);
           })
      .def("item",
           [](const DynTensor& x) {
             return std::visit(
                 [](const auto& t) {
                   KILN_CHECK(t.numel() == 1, Error, "[item] a Tensor with ", t.numel(),
                              " elements cannot be converted to Scalar");
                   using T = typename std::remove_cvref_t<decltype(t)>::value_type;
                   return to_py<T>(t.contiguous().data()[0]);
                 },
                 x.t);
           })
      .def("tolist",
           [](const DynTensor& x) {
             return std::visit([](const auto& t) { return tolist_rec(t, 0, 0); }, x.t);
           })
      .def("numpy", &to_numpy)
      .def(
          "__array__",
          [](const DynTensor& x, py::object dtype, py::object copy) {
            py::array a = to_numpy(x);
            if (!dtype.is_none()) return py::array(a.attr("astype")(dtype));
            (void)copy;
            return a;
          },
          py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      // ---- conversions ----------------------------------------------------------------
      .def("to", [](const DynTensor& x, const DType& d) { return to_dtype(x, d.type); })
      .def("type", [](const DynTensor& x, const DType& d) { return to_dtype(x, d.type); })
      .def("float", [](const DynTensor& x) { return to_dtype(x, ScalarType::Float); })
      .def("double", [](const DynTensor& x) { return to_dtype(x, ScalarType::Double); })
      .def("half", [](const DynTensor& x) { return to_dtype(x, ScalarType::Half); })
      .def("bfloat16", [](const DynTensor& x) { return to_dtype(x, ScalarType::BFloat16); })
      .def("long", [](const DynTensor& x) { return to_dtype(x, ScalarType::Int64); })
      .def("int", [](const DynTensor& x) { return to_dtype(x, ScalarType::Int32); })
      .def("bool", [](const DynTensor& x) { return to_dtype(x, ScalarType::Bool); })
      .def("is_floating_point", [](const DynTensor& x) { return is_floating_type(x.dtype()); })
      // ---- views ----------------------------------------------------------------------
      .def("reshape", [](const DynTensor& x,
                         py::args shape) { return reshape(x, int_args(shape), "reshape"); })
      .def("view",
           [](const DynTensor& x, py::args shape) {
             const bool contiguous =
                 std::visit([](const auto& t) { return t.is_contiguous(); }, x.t);
             KILN_CHECK(contiguous, Error,
                        "[view] view size is not compatible with input tensor's size and stride; "
                        "use .reshape(...) instead");
             return reshape(x, int_args(shape), "view");
           })
      .def("transpose",
           [](const DynTensor& x, int64_t a, int64_t b) {
             return std::visit([&](const auto& t) { return DynTensor(t.transpose(a, b)); }, x.t);
           })
      .def("t",
           [](const DynTensor& x) {
             KILN_CHECK(x.shape().size() <= 2, Error,
                        "[t] expects a tensor with <= 2 dimensions, "
                        "but self is ",
                        x.shape().size(), "D");
             if (x.shape().size() < 2) return x;
             return std::visit([](const auto& t) { return DynTensor(t.transpose(0, 1)); }, x.t);
           })
      .def_property_readonly("T",
                             [](const DynTensor& x) {
                               return std::visit(
                                   [](const auto& t) {
                                     Dims rev;
                                     for (int i = t.dim() - 1; i >= 0; --i) rev.push_back(i);
                                     return DynTensor(t.permute(rev));
                                   },
                                   x.t);
                             })
      .def("permute",
           [](const DynTensor& x, py::args dims) {
             const std::vector<int64_t> d = int_args(dims);
             return std::visit([&](const auto& t) { return DynTensor(t.permute(to_dims(d))); },
                               x.t);
           })
      .def("unsqueeze",
           [](const DynTensor& x, int64_t d) {
             return std::visit([&](const auto& t) { return DynTensor(t.unsqueeze(d)); }, x.t);
           })
      .def(
          "squeeze",
          [](const DynTensor& x, std::optional<int64_t> d) {
            return std::visit(
                [&](const auto& t) { return DynTensor(d ? t.squeeze(*d) : t.squeeze()); }, x.t);
          },
          py::arg("dim") = py::none())
      .def(
          "flatten",
          [](const DynTensor& x, int64_t start, int64_t end) {
            return std::visit([&](const auto& t) { return DynTensor(t.flatten(start, end)); }, x.t);
          },
          py::arg("start_dim") = 0, py::arg("end_dim") = -1)
      // ---- autograd -------------------------------------------------------------------
      .def_property(
          "requires_grad",
          [](const DynTensor& x) {
            return std::visit([](const auto& t) { return t.requires_grad(); }, x.t);
          },
          [](DynTensor& x, bool on) { set_requires_grad(x, on); })
      .def(
          "requires_grad_",
          [](DynTensor& x, bool on) {
            set_requires_grad(x, on);
            return x;
          },
          py::arg("requires_grad") = true)
      .def_property_readonly("grad",
                             [](const DynTensor& x) -> py::object {
                               return std::visit(
                                   [](const auto& t) -> py::object {
                                     using T =
                                         typename std::remove_cvref_t<decltype(t)>::value_type;
                                     if constexpr (is_floating_v<T>) {
                                       const Tensor<T, CPU> g = t.grad();
                                       if (g.defined()) return py::cast(DynTensor(g));
                                     }
                                     return py::none();
                                   },
                                   x.t);
                             })
      .def_property_readonly("is_leaf",
                             [](const DynTensor& x) {
                               return std::visit([](const auto& t) { return t.is_leaf(); }, x.t);
                             })
      .def_property_readonly("grad_fn",
                             [](const DynTensor& x) -> py::object {
                               return std::visit(
                                   [](const auto& t) -> py::object {
                                     const auto fn = t.grad_fn();
                                     if (!fn) return py::none();
                                     return py::str(fn->name());
                                   },
                                   x.t);
                             })
      .def("detach",
           [](const DynTensor& x) {
             return std::visit([](const auto& t) { return DynTensor(t.detach()); }, x.t);
           })
      .def(
          "backward",
          [](const DynTensor& x, std::optional<DynTensor> gradient,
             std::optional<bool> retain_graph, bool create_graph) {
            dispatch_floating(x.dtype(), "backward", [&]<class T>() {
              Tensor<T, CPU> g;
              if (gradient) g = cast_to<T>(*gradient);
              py::gil_scoped_release release;
              x.as<T>().backward(g, retain_graph, create_graph);
            });
          },
          py::arg("gradient") = py::none(), py::arg("retain_graph") = py::none(),
          py::arg("create_graph") = false)
      .def("zero_", [](DynTensor& x) {
        std::visit([](const auto& t) { t.zero_(); }, x.t);
        return x;
      });
}

void set_requires_grad(DynTensor& x, bool on) {
  std::visit(
      [&](auto& t) {
        using T = typename std::remove_cvref_t<decltype(t)>::value_type;
        if constexpr (is_floating_v<T>) {
          t.requires_grad_(on);
        } else {
          KILN_CHECK(!on, Error,
                     "[requires_grad_] only tensors of floating point dtype can "
                     "require gradients, got ",
                     scalar_type_name(scalar_type_v<T>));
        }
      },
      x.t);
}

}  // namespace kiln::python
