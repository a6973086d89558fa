// SPDX-License-Identifier: BSD-3-Clause
// kiln's scans, the reductions Python lacked, matrix products and comparisons: cumsum,
// cumprod, logsumexp, norm, max / min (with dim: torch.return_types), outer, dot, mm,
// mv, bmm, addmm, baddbmm, allclose and equal.
#include <pybind11/stl.h>

#include <optional>
#include <vector>

#include "oplib_args.hpp"

namespace kiln::python {

namespace {

// cumsum / cumprod: integers and bool give int64 (as torch); `dtype` converts the input
// first and the result to it.
template <bool Prod>
DynTensor scan_of(const DynTensor& x_in, int64_t dim, const py::object& dtype) {
  const DynTensor x = dtype.is_none() ? x_in : to_dtype(x_in, to_scalar_type(dtype));
  const DynTensor r = dispatch(x.dtype(), [&]<class T>() {
    return DynTensor(Prod ? kiln::cumprod(x.as<T>(), dim) : kiln::cumsum(x.as<T>(), dim));
  });
  return dtype.is_none() ? r : to_dtype(r, x.dtype());
}

DynTensor logsumexp_of(const DynTensor& x, const py::object& dim, bool keepdim) {
  const Dims d = dims_arg(dim);
  return dispatch_floating(float_dtype_of(x), "logsumexp", [&]<class T>() {
    return DynTensor(Tensor<T, CPU>(kiln::logsumexp(cast_to<T>(x), d, keepdim)));
  });
}

// The vector p-norm (torch.norm with a number p; the Python side maps "fro" and "nuc").
DynTensor norm_of(const DynTensor& x, double p, const py::object& dim, bool keepdim) {
  const Dims d = dim.is_none() ? Dims{} : dims_arg(dim);
  return dispatch_floating(x.dtype(), "norm", [&]<class T>() {
    return DynTensor(Tensor<T, CPU>(kiln::norm(x.as<T>(), p, d, keepdim)));
  });
}

// torch.max / torch.min: over everything (dim None), along a dim (values and indices),
// or elementwise against another tensor.
template <bool Max>
py::object extremum_of(const DynTensor& x, const py::object& dim, bool keepdim) {
  const char* op = Max ? "max" : "min";
  if (py::isinstance<DynTensor>(dim)) {
    const DynTensor& o = dim.cast<const DynTensor&>();
    return py::cast(dispatch_non_bool(promote_types(x.dtype(), o.dtype()), op, [&]<class T>() {
      return Max ? DynTensor(Tensor<T, CPU>(kiln::maximum(cast_to<T>(x), cast_to<T>(o))))
                 : DynTensor(Tensor<T, CPU>(kiln::minimum(cast_to<T>(x), cast_to<T>(o))));
    }));
  }
  if (dim.is_none())
    return py::cast(dispatch_non_bool(x.dtype(), op, [&]<class T>() {
      return Max ? DynTensor(Tensor<T, CPU>(kiln::amax(x.as<T>())))
                 : DynTensor(Tensor<T, CPU>(kiln::amin(x.as<T>())));
    }));
  const int64_t d = dim.cast<int64_t>();
  return dispatch_non_bool(x.dtype(), op, [&]<class T>() {
    ValuesIndices<T> r = Max ? kiln::max(x.as<T>(), d, keepdim) : kiln::min(x.as<T>(), d, keepdim);
    return make_return(op, DynTensor(r.values), DynTensor(r.indices));
  });
}

// Matrix products want one dtype, as torch's ("expected scalar type Float but found
// Double"), and no bool.
ScalarType product_dtype(const char* op, std::initializer_list<const DynTensor*> ts) {
  const ScalarType st = (*ts.begin())->dtype();
  for (const DynTensor* t : ts)
    KILN_CHECK(t->dtype() == st, DTypeError, "[", op,
               "] expected both operands to have one dtype, got ", scalar_type_name(st), " and ",
               scalar_type_name(t->dtype()));
  KILN_CHECK(st != ScalarType::Bool, DTypeError, "[", op, "] not supported for bool tensors");
  return st;
}

enum class Product { Outer, Dot, Mm, Mv, Bmm };

template <Product P>
DynTensor product_of(const DynTensor& a, const DynTensor& b) {
  static const char* names[] = {"outer", "dot", "mm", "mv", "bmm"};
  const char* op = names[static_cast<int>(P)];
  return dispatch_non_bool(product_dtype(op, {&a, &b}), op, [&]<class T>() {
    const Tensor<T, CPU>& x = a.as<T>();
    const Tensor<T, CPU>& y = b.as<T>();
    if constexpr (P == Product::Outer) return DynTensor(Tensor<T, CPU>(kiln::outer(x, y)));
    if constexpr (P == Product::Dot) return DynTensor(Tensor<T, CPU>(kiln::dot(x, y)));
    if constexpr (P == Product::Mm) return DynTensor(Tensor<T, CPU>(kiln::mm(x, y)));
    if constexpr (P == Product::Mv) return DynTensor(Tensor<T, CPU>(kiln::mv(x, y)));
    return DynTensor(Tensor<T, CPU>(kiln::bmm(x, y)));
  });
}

template <bool Batched>
DynTensor addmm_of(const DynTensor& input, const DynTensor& m1, const DynTensor& m2, double beta,
                   double alpha) {
  const char* op = Batched ? "baddbmm" : "addmm";
  return dispatch_non_bool(product_dtype(op, {&input, &m1, &m2}), op, [&]<class T>() {
    if constexpr (Batched)
      return DynTensor(kiln::baddbmm(input.as<T>(), m1.as<T>(), m2.as<T>(), beta, alpha));
    else
      return DynTensor(kiln::addmm(input.as<T>(), m1.as<T>(), m2.as<T>(), beta, alpha));
  });
}

bool allclose_of(const DynTensor& a, const DynTensor& b, double rtol, double atol, bool equal_nan) {
  KILN_CHECK(a.dtype() == b.dtype(), DTypeError, "[allclose] ", scalar_type_name(a.dtype()),
             " did not match ", scalar_type_name(b.dtype()));
  return dispatch(a.dtype(), [&]<class T>() {
    return kiln::allclose(a.as<T>(), b.as<T>(), rtol, atol, equal_nan);
  });
}

bool equal_of(const DynTensor& a, const DynTensor& b) {
  const ScalarType st = promote_types(a.dtype(), b.dtype());
  return dispatch(st, [&]<class T>() { return kiln::equal(cast_to<T>(a), cast_to<T>(b)); });
}

}  // namespace

void bind_oplib_math(py::module_& m) {
  using py::arg;
  auto cls = py::reinterpret_borrow<py::class_<DynTensor>>(m.attr("Tensor"));
  define_return_type(m, "max", {"values", "indices"});
  define_return_type(m, "min", {"values", "indices"});

  for (auto [name, fn] :
       {std::pair{"cumsum", &scan_of<false>}, std::pair{"cumprod", &scan_of<true>}}) {
    m.def(name, fn, arg("input"), arg("dim"), py::kw_only(), arg("dtype") = py::none());
    cls.def(name, fn, arg("dim"), py::kw_only(), arg("dtype") = py::none());
  }
  m.def("logsumexp", &logsumexp_of, arg("input"), arg("dim"), arg("keepdim") = false);
  cls.def("logsumexp", &logsumexp_of, arg("dim"), arg("keepdim") = false);
  m.def("_vector_norm_p", &norm_of, arg("input"), arg("p"), arg("dim"), arg("keepdim"));
  for (auto [name, fn] :
       {std::pair{"max", &extremum_of<true>}, std::pair{"min", &extremum_of<false>}}) {
    m.def(name, fn, arg("input"), arg("dim") = py::none(), arg("keepdim") = false);
    cls.def(name, fn, arg("dim") = py::none(), arg("keepdim") = false);
  }

  for (auto [name, fn] :
       {std::pair{"outer", &product_of<Product::Outer>},
        std::pair{"ger", &product_of<Product::Outer>}, std::pair{"dot", &product_of<Product::Dot>},
        std::pair{"mm", &product_of<Product::Mm>}, std::pair{"mv", &product_of<Product::Mv>},
        std::pair{"bmm", &product_of<Product::Bmm>}}) {
    m.def(name, fn, arg("input"), arg("other"));
    cls.def(name, fn, arg("other"));
  }
  for (auto [name, fn] :
       {std::pair{"addmm", &addmm_of<false>}, std::pair{"baddbmm", &addmm_of<true>}}) {
    m.def(name, fn, arg("input"), arg("mat1"), arg("mat2"), py::kw_only(), arg("beta") = 1.0,
          arg("alpha") = 1.0);
    cls.def(name, fn, arg("mat1"), arg("mat2"), py::kw_only(), arg("beta") = 1.0,
            arg("alpha") = 1.0);
  }
  m.def("allclose", &allclose_of, arg("input"), arg("other"), arg("rtol") = 1e-5,
        arg("atol") = 1e-8, arg("equal_nan") = false);
  cls.def("allclose", &allclose_of, arg("other"), arg("rtol") = 1e-5, arg("atol") = 1e-8,
          arg("equal_nan") = false);
  m.def("equal", &equal_of, arg("input"), arg("other"));
  cls.def("equal", &equal_of, arg("other"));
}

}  // namespace kiln::python
