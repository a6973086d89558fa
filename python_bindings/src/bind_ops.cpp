// SPDX-License-Identifier: BSD-3-Clause
// Operators and functions on kiln.Tensor: each promotes its operands with the C++ rules,
// then calls kiln's own templates (Note [Dynamic tensors]).
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"

namespace kiln::python {

namespace {

enum class Bin {
  Add,
  Sub,
  Mul,
  Div,
  FloorDiv,
  Mod,
  Fmod,
  Pow,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  And,
  Or,
  Xor,
  Shl,
  Shr
};

const char* bin_name(Bin op) {
  static const char* names[] = {"add",       "sub",  "mul",        "div",        "floor_divide",
                                "remainder", "fmod", "pow",        "eq",         "ne",
                                "lt",        "le",   "gt",         "ge",         "and",
                                "or",        "xor",  "left_shift", "right_shift"};
  return names[static_cast<int>(op)];
}

// A Python number as an operand: its category decides promotion (torch's rule: a number
// only lifts a tensor to a higher category, bool < integer < floating).
struct Number {
  enum Kind { Bool, Int, Float } kind;
  double f;
  int64_t i;
};

std::optional<Number> as_number(const py::handle& h) {
  if (py::isinstance<py::bool_>(h))
    return Number{Number::Bool, double(h.cast<bool>()), h.cast<bool>()};
  if (py::isinstance<py::int_>(h)) {
    const int64_t v = h.cast<int64_t>();
    return Number{Number::Int, double(v), v};
  }
  if (py::isinstance<py::float_>(h)) return Number{Number::Float, h.cast<double>(), 0};
  return std::nullopt;
}

ScalarType category_dtype(ScalarType t, const Number& n) {
  const int tc = t == ScalarType::Bool ? 0 : is_floating_type(t) ? 2 : 1;
  const int nc = static_cast<int>(n.kind);
  if (tc >= nc) return t;
  return nc == 1 ? ScalarType::Int64 : kDefaultFloat;
}

// The dtype the operands are computed in: true division and pow of integers go to float.
ScalarType compute_dtype(Bin op, ScalarType common) {
  if (op == Bin::Div && !is_floating_type(common)) return kDefaultFloat;
  return common;
}

template <class T>
T number_as(const Number& n) {
  if constexpr (is_floating_v<T>)
    return T(n.f);
  else if constexpr (std::is_same_v<T, bool>)
    return n.i != 0;
  else
    return static_cast<T>(n.i);
}

// Integer x // 0, x % 0 and fmod(x, 0) raise, as torch's (the functors give 0: a kernel
// cannot raise), before anything is computed.
template <class T, class Y>
void check_divisor(Bin op, const Y& y) {
  bool zero;
  if constexpr (std::is_same_v<Y, T>)
    zero = y == T(0);
  else
    zero = kiln::any(y == T(0)).item();
  KILN_CHECK(!zero, Error, "[", bin_name(op), "] ZeroDivisionError: integer division by zero");
}

// x op y for x, y each a Tensor<T> or a T (one of them a tensor).
template <class T, class X, class Y>
DynTensor compute(Bin op, const X& x, const Y& y) {
  using TT = Tensor<T, CPU>;
  constexpr bool is_b = std::is_same_v<T, bool>;
  constexpr bool is_f = is_floating_v<T>;
  constexpr bool is_i = !is_b && !is_f;
  auto unsupported = [&]() -> DynTensor {
    throw DTypeError(std::string("[") + bin_name(op) + "] not supported for " +
                     std::string(scalar_type_name(scalar_type_v<T>)) + " tensors");
  };
  switch (op) {
    case Bin::Add:
      if constexpr (is_b)
        return DynTensor(Tensor<bool, CPU>(kiln::logical_or(x, y)));
      else
        return DynTensor(TT(x + y));
    case Bin::Mul:
      if constexpr (is_b)
        return DynTensor(Tensor<bool, CPU>(kiln::logical_and(x, y)));
      else
        return DynTensor(TT(x * y));
    case Bin::Sub:
      if constexpr (is_b)
        throw DTypeError(
            "[sub] subtraction, the `-` operator, with two bool tensors is not supported; use "
            "the `^` or `logical_xor()` operator instead");
      else
        return DynTensor(TT(x - y));
    case Bin::Div:
      if constexpr (is_f)
        return DynTensor(TT(x / y));
      else
        return unsupported();
    case Bin::FloorDiv:
    case Bin::Mod:
    case Bin::Fmod:
      if constexpr (is_b) {
        return unsupported();
      } else {
        if constexpr (is_i) check_divisor<T>(op, y);
        if (op == Bin::FloorDiv) return DynTensor(TT(kiln::floor_divide(x, y)));
        if (op == Bin::Mod) return DynTensor(TT(kiln::remainder(x, y)));
        return DynTensor(TT(kiln::fmod(x, y)));
      }
    case Bin::Pow:
      if constexpr (is_b)
        return unsupported();
      else
        return DynTensor(TT(kiln::pow(x, y)));
    case Bin::Eq:
      return DynTensor(Tensor<bool, CPU>(x == y));
    case Bin::Ne:
      return DynTensor(Tensor<bool, CPU>(x != y));
    case Bin::Lt:
      return DynTensor(Tensor<bool, CPU>(x < y));
    case Bin::Le:
      return DynTensor(Tensor<bool, CPU>(x <= y));
    case Bin::Gt:
      return DynTensor(Tensor<bool, CPU>(x > y));
    case Bin::Ge:
      return DynTensor(Tensor<bool, CPU>(x >= y));
    case Bin::And:
      if constexpr (is_f)
        return unsupported();
      else
        return DynTensor(TT(kiln::bitwise_and(x, y)));
    case Bin::Or:
      if constexpr (is_f)
        return unsupported();
      else
        return DynTensor(TT(kiln::bitwise_or(x, y)));
    case Bin::Xor:
      if constexpr (is_f)
        return unsupported();
      else
        return DynTensor(TT(kiln::bitwise_xor(x, y)));
    case Bin::Shl:
      if constexpr (is_i)
        return DynTensor(TT(kiln::left_shift(x, y)));
      else
        return unsupported();
    case Bin::Shr:
      if constexpr (is_i)
        return DynTensor(TT(kiln::right_shift(x, y)));
      else
        return unsupported();
  }
  return unsupported();
}

// tensor op other, or other op tensor when `reflected` (other a tensor or a number).
py::object binary(Bin op, const DynTensor& self, const py::object& other, bool reflected) {
  if (py::isinstance<DynTensor>(other)) {
    const DynTensor& o = other.cast<const DynTensor&>();
    const DynTensor& a = reflected ? o : self;
    const DynTensor& b = reflected ? self : o;
    const ScalarType st = compute_dtype(op, promote_types(a.dtype(), b.dtype()));
    return py::cast(
        dispatch(st, [&]<class T>() { return compute<T>(op, cast_to<T>(a), cast_to<T>(b)); }));
  }
  const std::optional<Number> n = as_number(other);
  if (!n) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
  const ScalarType st = compute_dtype(op, category_dtype(self.dtype(), *n));
  return py::cast(dispatch(st, [&]<class T>() {
    const Tensor<T, CPU> t = cast_to<T>(self);
    const T v = number_as<T>(*n);
    return reflected ? compute<T>(op, v, t) : compute<T>(op, t, v);
  }));
}

// In place (a += b): computed as a + b, then written into a's own elements, which keeps
// a's dtype (torch refuses a result dtype that a cannot hold).
DynTensor& inplace(Bin op, DynTensor& self, const py::object& other) {
  const py::object r = binary(op, self, other, false);
  KILN_CHECK(!r.is(py::reinterpret_borrow<py::object>(Py_NotImplemented)), DTypeError, "[",
             bin_name(op), "_] unsupported operand type ",
             py::str(py::type::of(other)).cast<std::string>());
  const DynTensor& v = r.cast<const DynTensor&>();
  KILN_CHECK(promote_types(self.dtype(), v.dtype()) == self.dtype(), DTypeError, "[", bin_name(op),
             "_] result type ", scalar_type_name(v.dtype()),
             " can't be cast to the desired output type ", scalar_type_name(self.dtype()));
  dispatch(self.dtype(), [&]<class T>() { self.as<T>().copy_(cast_to<T>(v)); });
  return self;
}

// A floating function of one tensor: integer and bool inputs are computed in float32,
// as torch's.
template <class F>
DynTensor unary_float(const DynTensor& x, const char* op, F&& f) {
  const ScalarType st = is_floating_type(x.dtype()) ? x.dtype() : kDefaultFloat;
  return dispatch_floating(st, op, [&]<class T>() { return DynTensor(f(cast_to<T>(x))); });
}

DynTensor abs_of(const DynTensor& x) {
  return dispatch(x.dtype(), [&]<class T>() {
    if constexpr (std::is_same_v<T, bool>)
      return x;
    else
      return DynTensor(Tensor<T, CPU>(kiln::abs(x.as<T>())));
  });
}

// ~x: integers and bool.
DynTensor bitwise_not_of(const DynTensor& x) {
  return dispatch(x.dtype(), [&]<class T>() {
    if constexpr (is_floating_v<T>) {
      throw DTypeError(std::string("[bitwise_not] not supported for ") +
                       std::string(scalar_type_name(scalar_type_v<T>)) + " tensors");
      return DynTensor();
    } else {
      return DynTensor(Tensor<T, CPU>(kiln::bitwise_not(x.as<T>())));
    }
  });
}

DynTensor matmul_of(const DynTensor& a, const DynTensor& b) {
  const ScalarType st = promote_types(a.dtype(), b.dtype());
  return dispatch_floating(st, "matmul", [&]<class T>() {
    return DynTensor(Tensor<T, CPU>(kiln::matmul(cast_to<T>(a), cast_to<T>(b))));
  });
}

// amax / amin: every dtype but bool.
template <bool Max>
DynTensor extreme(const DynTensor& x, const Dims& d, bool k, const char* name) {
  return dispatch(x.dtype(), [&]<class T>() {
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError(std::string("[") + name + "] not supported for bool tensors");
      return DynTensor();
    } else if constexpr (Max) {
      return DynTensor(Tensor<T, CPU>(kiln::amax(x.as<T>(), d, k)));
    } else {
      return DynTensor(Tensor<T, CPU>(kiln::amin(x.as<T>(), d, k)));
    }
  });
}

}  // namespace

#define KILN_PY_UNARY_FLOAT(name)                                      \
  m.def(#name, [](const DynTensor& x) {                                \
    return unary_float(x, #name, [](const auto& t) {                   \
      using T = typename std::remove_cvref_t<decltype(t)>::value_type; \
      return Tensor<T, CPU>(kiln::name(t));                            \
    });                                                                \
  });                                                                  \
  cls.def(#name, [](const DynTensor& x) {                              \
    return unary_float(x, #name, [](const auto& t) {                   \
      using T = typename std::remove_cvref_t<decltype(t)>::value_type; \
      return Tensor<T, CPU>(kiln::name(t));                            \
    });                                                                \
  });

void bind_ops(py::module_& m) {
  using py::arg;
  auto cls = py::reinterpret_borrow<py::class_<DynTensor>>(m.attr("Tensor"));

  struct Operator {
    const char* name;
    Bin op;
    bool reflected;
  };
  static const Operator operators[] = {
      {"__add__", Bin::Add, false},
      {"__radd__", Bin::Add, true},
      {"__sub__", Bin::Sub, false},
      {"__rsub__", Bin::Sub, true},
      {"__mul__", Bin::Mul, false},
      {"__rmul__", Bin::Mul, true},
      {"__truediv__", Bin::Div, false},
      {"__rtruediv__", Bin::Div, true},
      {"__floordiv__", Bin::FloorDiv, false},
      {"__rfloordiv__", Bin::FloorDiv, true},
      {"__mod__", Bin::Mod, false},
      {"__rmod__", Bin::Mod, true},
      {"__pow__", Bin::Pow, false},
      {"__rpow__", Bin::Pow, true},
      {"__eq__", Bin::Eq, false},
      {"__ne__", Bin::Ne, false},
      {"__lt__", Bin::Lt, false},
      {"__le__", Bin::Le, false},
      {"__gt__", Bin::Gt, false},
      {"__ge__", Bin::Ge, false},
      {"__and__", Bin::And, false},
      {"__rand__", Bin::And, true},
      {"__or__", Bin::Or, false},
      {"__ror__", Bin::Or, true},
      {"__xor__", Bin::Xor, false},
      {"__rxor__", Bin::Xor, true},
      {"__lshift__", Bin::Shl, false},
      {"__rlshift__", Bin::Shl, true},
      {"__rshift__", Bin::Shr, false},
      {"__rrshift__", Bin::Shr, true},
  };
  for (const Operator& o : operators) {
    const Bin op = o.op;
    const bool reflected = o.reflected;
    cls.def(o.name, [op, reflected](const DynTensor& self, const py::object& other) {
      return binary(op, self, other, reflected);
    });
  }
  // == compares elementwise; hashing is by identity, as torch's, so parameters can key
  // dicts and sets (an optimizer's state is keyed by parameter).
  cls.attr("__hash__") = py::module_::import("builtins").attr("object").attr("__hash__");
  static const Operator inplace_ops[] = {
      {"__iadd__", Bin::Add, false},           {"__isub__", Bin::Sub, false},
      {"__imul__", Bin::Mul, false},           {"__itruediv__", Bin::Div, false},
      {"__ifloordiv__", Bin::FloorDiv, false}, {"__imod__", Bin::Mod, false},
      {"__iand__", Bin::And, false},           {"__ior__", Bin::Or, false},
      {"__ixor__", Bin::Xor, false},           {"__ilshift__", Bin::Shl, false},
      {"__irshift__", Bin::Shr, false}};
  for (const Operator& o : inplace_ops) {
    const Bin op = o.op;
    cls.def(o.name, [op](DynTensor& self, const py::object& other) -> DynTensor& {
      return inplace(op, self, other);
    });
  }
  static const std::pair<const char*, Bin> functions[] = {{"add", Bin::Add},
                                                          {"sub", Bin::Sub},
                                                          {"mul", Bin::Mul},
                                                          {"div", Bin::Div},
                                                          {"pow", Bin::Pow},
                                                          {"eq", Bin::Eq},
                                                          {"ne", Bin::Ne},
                                                          {"lt", Bin::Lt},
                                                          {"le", Bin::Le},
                                                          {"gt", Bin::Gt},
                                                          {"ge", Bin::Ge},
                                                          {"floor_divide", Bin::FloorDiv},
                                                          {"remainder", Bin::Mod},
                                                          {"fmod", Bin::Fmod},
                                                          {"bitwise_and", Bin::And},
                                                          {"bitwise_or", Bin::Or},
                                                          {"bitwise_xor", Bin::Xor},
                                                          {"bitwise_left_shift", Bin::Shl},
                                                          {"bitwise_right_shift", Bin::Shr}};
  for (const auto& [name, op_] : functions) {
    const Bin op = op_;
    m.def(name, [op](const DynTensor& a, const py::object& b) { return binary(op, a, b, false); });
    cls.def(name,
            [op](const DynTensor& a, const py::object& b) { return binary(op, a, b, false); });
  }

  cls.def("__neg__", [](const DynTensor& x) {
    KILN_CHECK(x.dtype() != ScalarType::Bool, DTypeError,
               "[neg] negation, the `-` operator, on a bool tensor is not supported; use the "
               "`~` or `logical_not()` operator instead");
    return dispatch(x.dtype(), [&]<class T>() {
      if constexpr (std::is_same_v<T, bool>)
        return DynTensor();
      else
        return DynTensor(Tensor<T, CPU>(-x.as<T>()));
    });
  });
  cls.def("__pos__", [](const DynTensor& x) { return x; });
  cls.def("__invert__", &bitwise_not_of);
  cls.def("bitwise_not", &bitwise_not_of);
  m.def("bitwise_not", &bitwise_not_of, arg("input"));
  cls.def("__abs__", &abs_of);
  cls.def("abs", &abs_of);
  m.def("abs", &abs_of);

  KILN_PY_UNARY_FLOAT(exp)
  KILN_PY_UNARY_FLOAT(log)
  KILN_PY_UNARY_FLOAT(log2)
  KILN_PY_UNARY_FLOAT(log1p)
  KILN_PY_UNARY_FLOAT(expm1)
  KILN_PY_UNARY_FLOAT(sqrt)
  KILN_PY_UNARY_FLOAT(rsqrt)
  KILN_PY_UNARY_FLOAT(sin)
  KILN_PY_UNARY_FLOAT(cos)
  KILN_PY_UNARY_FLOAT(tan)
  KILN_PY_UNARY_FLOAT(tanh)
  KILN_PY_UNARY_FLOAT(sigmoid)
  KILN_PY_UNARY_FLOAT(erf)
  KILN_PY_UNARY_FLOAT(floor)
  KILN_PY_UNARY_FLOAT(ceil)
  KILN_PY_UNARY_FLOAT(round)
  KILN_PY_UNARY_FLOAT(relu)
  KILN_PY_UNARY_FLOAT(silu)
  KILN_PY_UNARY_FLOAT(gelu)
  KILN_PY_UNARY_FLOAT(square)

  // ---- reductions (torch's dim=None / int / tuple, keepdim) ---------------------------
  auto reduction = [&](const char* name, auto fn) {
    auto body = [fn, name](const DynTensor& x, const py::object& dim, bool keepdim) {
      // sum and prod of integers stay integers (int64, as torch); the rest are floating.
      return fn(x, reduce_dims(x, dim), keepdim, name);
    };
    m.def(name, body, arg("input"), arg("dim") = py::none(), arg("keepdim") = false);
    cls.def(name, body, arg("dim") = py::none(), arg("keepdim") = false);
  };
  reduction("sum", [](const DynTensor& x, const Dims& d, bool k, const char*) {
    if (is_floating_type(x.dtype()))
      return dispatch_floating(x.dtype(), "sum", [&]<class T>() {
        return DynTensor(Tensor<T, CPU>(kiln::sum(x.as<T>(), d, k)));
      });
    return DynTensor(Tensor<int64_t, CPU>(kiln::sum(cast_to<int64_t>(x), d, k)));
  });
  reduction("mean", [](const DynTensor& x, const Dims& d, bool k, const char* name) {
    return dispatch_floating(x.dtype(), name, [&]<class T>() {
      return DynTensor(Tensor<T, CPU>(kiln::mean(x.as<T>(), d, k)));
    });
  });
  reduction("amax", &extreme<true>);
  reduction("amin", &extreme<false>);

  m.def("matmul", &matmul_of, arg("input"), arg("other"));
  cls.def("__matmul__", &matmul_of);
  cls.def("matmul", &matmul_of);
  m.def("_set_grad_enabled", [](bool on) { autograd::GradMode::set_enabled(on); });
  m.def("is_grad_enabled", []() { return autograd::GradMode::is_enabled(); });
}

}  // namespace kiln::python
