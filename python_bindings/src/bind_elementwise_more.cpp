// SPDX-License-Identifier: BSD-3-Clause
// The rest of kiln's elementwise functors as kiln functions and Tensor methods: asin ...
// cosh, exp2, reciprocal, neg, sign, trunc, atan2, the logical ops, and in-place `_`
// variants of the unary functors.
#include <pybind11/stl.h>

#include <limits>
#include <optional>
#include <string>

#include "oplib_args.hpp"

namespace kiln::python {

namespace {

// A float-valued functor of one tensor: integer and bool inputs are computed in float32.
template <class Op>
DynTensor unary_float(const DynTensor& x) {
  return dispatch_floating(float_dtype_of(x), Op::name, [&]<class T>() {
    return DynTensor(Tensor<T, CPU>(expr::make_unary(Op{}, cast_to<T>(x))));
  });
}

// A functor that keeps the input's dtype (neg, sign, trunc); bool as torch treats it.
template <class Op>
DynTensor unary_same(const DynTensor& x) {
  if (x.dtype() == ScalarType::Bool) {
    KILN_CHECK(std::string(Op::name) != "neg", DTypeError,
               "[neg] negation, the `-` operator, on a bool tensor is not supported; use the "
               "`~` or `logical_not()` operator instead");
    // sign and trunc of a bool are the bool itself.
    return DynTensor(x.as<bool>().clone());
  }
  return dispatch_non_bool(x.dtype(), Op::name, [&]<class T>() {
    return DynTensor(Tensor<T, CPU>(expr::make_unary(Op{}, x.as<T>())));
  });
}

// x.op_(): the functor written into x's own elements. A float-valued functor needs a
// floating x (torch: "result type Float can't be cast to the desired output type Long").
template <class Op, bool FloatValued>
DynTensor& unary_inplace(DynTensor& x) {
  const std::string name = std::string(Op::name) + "_";
  auto run = [&]<class T>() {
    x.as<T>().apply_(Op{});
    return 0;
  };
  if constexpr (FloatValued) {
    KILN_CHECK(is_floating_type(x.dtype()), DTypeError, "[", name,
               "] result type Float can't be cast to the desired output type ",
               scalar_type_name(x.dtype()));
    dispatch_floating(x.dtype(), name.c_str(), run);
  } else {
    dispatch_non_bool(x.dtype(), name.c_str(), run);
  }
  return x;
}

DynTensor atan2_of(const DynTensor& a, const DynTensor& b) {
  const ScalarType common = promote_types(a.dtype(), b.dtype());
  const ScalarType st = is_floating_type(common) ? common : kDefaultFloat;
  return dispatch_floating(st, "atan2", [&]<class T>() {
    return DynTensor(Tensor<T, CPU>(kiln::atan2(cast_to<T>(a), cast_to<T>(b))));
  });
}

enum class Logical { And, Or, Xor };

template <Logical L>
DynTensor logical_of(const DynTensor& a, const DynTensor& b) {
  const Tensor<bool, CPU> x = cast_to<bool>(a), y = cast_to<bool>(b);
  if constexpr (L == Logical::And) return DynTensor(Tensor<bool, CPU>(kiln::logical_and(x, y)));
  if constexpr (L == Logical::Or) return DynTensor(Tensor<bool, CPU>(kiln::logical_or(x, y)));
  return DynTensor(Tensor<bool, CPU>(kiln::logical_xor(x, y)));
}

DynTensor logical_not_of(const DynTensor& a) {
  return DynTensor(Tensor<bool, CPU>(kiln::logical_not(cast_to<bool>(a))));
}

// x.clamp_(min, max): either bound may be None.
DynTensor& clamp_inplace(DynTensor& x, std::optional<double> lo, std::optional<double> hi) {
  KILN_CHECK(lo || hi, ValueError, "[clamp_] at least one of 'min' or 'max' must not be None");
  dispatch_non_bool(x.dtype(), "clamp_", [&]<class T>() {
    x.as<T>().clamp_(lo ? *lo : -std::numeric_limits<double>::infinity(),
                     hi ? *hi : std::numeric_limits<double>::infinity());
    return 0;
  });
  return x;
}

template <class Op>
void def_float(py::module_& m, py::class_<DynTensor>& cls,
               std::initializer_list<const char*> names) {
  for (const char* n : names) {
    m.def(n, &unary_float<Op>, py::arg("input"));
    cls.def(n, &unary_float<Op>);
  }
}

template <class Op>
void def_same(py::module_& m, py::class_<DynTensor>& cls,
              std::initializer_list<const char*> names) {
  for (const char* n : names) {
    m.def(n, &unary_same<Op>, py::arg("input"));
    cls.def(n, &unary_same<Op>);
  }
}

}  // namespace

void bind_elementwise_more(py::module_& m) {
  using py::arg;
  namespace op = expr::op;
  auto cls = py::reinterpret_borrow<py::class_<DynTensor>>(m.attr("Tensor"));

  def_float<op::Asin>(m, cls, {"asin", "arcsin"});
  def_float<op::Acos>(m, cls, {"acos", "arccos"});
  def_float<op::Atan>(m, cls, {"atan", "arctan"});
  def_float<op::Sinh>(m, cls, {"sinh"});
  def_float<op::Cosh>(m, cls, {"cosh"});
  def_float<op::Exp2>(m, cls, {"exp2"});
  def_float<op::Reciprocal>(m, cls, {"reciprocal"});
  def_same<op::Neg>(m, cls, {"neg", "negative"});
  def_same<op::Sign>(m, cls, {"sign"});
  def_same<op::Trunc>(m, cls, {"trunc", "fix"});

  for (const char* n : {"atan2", "arctan2"}) {
    m.def(n, &atan2_of, arg("input"), arg("other"));
    cls.def(n, &atan2_of, arg("other"));
  }
  for (auto [n, fn] : {std::pair{"logical_and", &logical_of<Logical::And>},
                       std::pair{"logical_or", &logical_of<Logical::Or>},
                       std::pair{"logical_xor", &logical_of<Logical::Xor>}}) {
    m.def(n, fn, arg("input"), arg("other"));
    cls.def(n, fn, arg("other"));
  }
  m.def("logical_not", &logical_not_of, arg("input"));
  cls.def("logical_not", &logical_not_of);

  // In place: torch's Tensor.op_() for the functors kiln has.
  using Inplace = DynTensor& (*)(DynTensor&);
  static const std::pair<const char*, Inplace> inplace[] = {
      {"neg_", &unary_inplace<op::Neg, false>},
      {"negative_", &unary_inplace<op::Neg, false>},
      {"abs_", &unary_inplace<op::Abs, false>},
      {"sign_", &unary_inplace<op::Sign, false>},
      {"trunc_", &unary_inplace<op::Trunc, false>},
      {"square_", &unary_inplace<op::Square, false>},
      {"relu_", &unary_inplace<op::Relu, false>},
      {"floor_", &unary_inplace<op::Floor, true>},
      {"ceil_", &unary_inplace<op::Ceil, true>},
      {"round_", &unary_inplace<op::Round, true>},
      {"sqrt_", &unary_inplace<op::Sqrt, true>},
      {"rsqrt_", &unary_inplace<op::Rsqrt, true>},
      {"reciprocal_", &unary_inplace<op::Reciprocal, true>},
      {"exp_", &unary_inplace<op::Exp, true>},
      {"exp2_", &unary_inplace<op::Exp2, true>},
      {"expm1_", &unary_inplace<op::Expm1, true>},
      {"log_", &unary_inplace<op::Log, true>},
      {"log2_", &unary_inplace<op::Log2, true>},
      {"log1p_", &unary_inplace<op::Log1p, true>},
      {"sin_", &unary_inplace<op::Sin, true>},
      {"cos_", &unary_inplace<op::Cos, true>},
      {"tan_", &unary_inplace<op::Tan, true>},
      {"asin_", &unary_inplace<op::Asin, true>},
      {"acos_", &unary_inplace<op::Acos, true>},
      {"atan_", &unary_inplace<op::Atan, true>},
      {"sinh_", &unary_inplace<op::Sinh, true>},
      {"cosh_", &unary_inplace<op::Cosh, true>},
      {"tanh_", &unary_inplace<op::Tanh, true>},
      {"erf_", &unary_inplace<op::Erf, true>},
      {"sigmoid_", &unary_inplace<op::Sigmoid, true>},
  };
  for (const auto& [n, fn] : inplace) cls.def(n, fn);
  cls.def("clamp_", &clamp_inplace, arg("min") = py::none(), arg("max") = py::none());
  cls.def(
      "fill_",
      [](DynTensor& x, const py::object& value) -> DynTensor& {
        dispatch(x.dtype(), [&]<class T>() { x.as<T>().fill_(value_as<T>(value, "fill_")); });
        return x;
      },
      arg("value"));
}

}  // namespace kiln::python
