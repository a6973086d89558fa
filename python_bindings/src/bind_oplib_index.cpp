// SPDX-License-Identifier: BSD-3-Clause
// kiln's index, mask and ordering ops for Python: gather, scatter(_add), index_select,
// index_add, take_along_dim, masked_fill/select/scatter, nonzero, sort, argsort, topk and
// unique, as functions, methods and in-place `_` methods where torch has them.
#include <pybind11/stl.h>

#include <optional>
#include <vector>

#include "kiln/ops/sort.hpp"
#include "oplib_args.hpp"

namespace kiln::python {

namespace {

DynTensor gather_of(const DynTensor& x, int64_t dim, const DynTensor& index) {
  const Tensor<int64_t, CPU> i = index_arg(index, "gather", "index");
  return dispatch(x.dtype(), [&]<class T>() { return DynTensor(kiln::gather(x.as<T>(), dim, i)); });
}

// scatter's src: a tensor of x's dtype, or a number (torch's `value` overload).
template <bool Inplace>
DynTensor scatter_of(DynTensor& x, int64_t dim, const DynTensor& index, const py::object& src) {
  const char* op = Inplace ? "scatter_" : "scatter";
  const Tensor<int64_t, CPU> i = index_arg(index, op, "index");
  return dispatch(x.dtype(), [&]<class T>() {
    const Tensor<T, CPU>& t = x.as<T>();
    if (py::isinstance<DynTensor>(src)) {
      const DynTensor& s = src.cast<const DynTensor&>();
      check_same_dtype(x, s, op, "src");
      if constexpr (Inplace) {
        kiln::scatter_(t, dim, i, s.as<T>());
        return x;
      } else {
        return DynTensor(kiln::scatter(t, dim, i, s.as<T>()));
      }
    }
    const T v = value_as<T>(src, op);
    if constexpr (Inplace) {
      kiln::scatter_(t, dim, i, v);
      return x;
    } else {
      return DynTensor(kiln::scatter(t, dim, i, v));
    }
  });
}

template <bool Inplace>
DynTensor scatter_add_of(DynTensor& x, int64_t dim, const DynTensor& index, const DynTensor& src) {
  const char* op = Inplace ? "scatter_add_" : "scatter_add";
  const Tensor<int64_t, CPU> i = index_arg(index, op, "index");
  check_same_dtype(x, src, op, "src");
  return dispatch(x.dtype(), [&]<class T>() {
    if constexpr (Inplace) {
      kiln::scatter_add_(x.as<T>(), dim, i, src.as<T>());
      return x;
    } else {
      return DynTensor(kiln::scatter_add(x.as<T>(), dim, i, src.as<T>()));
    }
  });
}

DynTensor index_select_of(const DynTensor& x, int64_t dim, const DynTensor& index) {
  const Tensor<int64_t, CPU> i = index_arg(index, "index_select", "index");
  return dispatch(x.dtype(),
                  [&]<class T>() { return DynTensor(kiln::index_select(x.as<T>(), dim, i)); });
}

template <bool Inplace>
DynTensor index_add_of(DynTensor& x, int64_t dim, const DynTensor& index, const DynTensor& source,
                       const py::object& alpha) {
  const char* op = Inplace ? "index_add_" : "index_add";
  const Tensor<int64_t, CPU> i = index_arg(index, op, "index");
  check_same_dtype(x, source, op, "source");
  return dispatch(x.dtype(), [&]<class T>() {
    const T a = value_as<T>(alpha, op);
    if constexpr (Inplace) {
      kiln::index_add_(x.as<T>(), dim, i, source.as<T>(), a);
      return x;
    } else {
      return DynTensor(kiln::index_add(x.as<T>(), dim, i, source.as<T>(), a));
    }
  });
}

DynTensor take_along_dim_of(const DynTensor& x, const DynTensor& indices,
                            std::optional<int64_t> dim) {
  const Tensor<int64_t, CPU> i = index_arg(indices, "take_along_dim", "indices");
  return dispatch(x.dtype(), [&]<class T>() {
    if (dim) return DynTensor(kiln::take_along_dim(x.as<T>(), i, *dim));
    return DynTensor(kiln::take_along_dim(x.as<T>(), i));
  });
}

template <bool Inplace>
DynTensor masked_fill_of(DynTensor& x, const DynTensor& mask, const py::object& value) {
  const char* op = Inplace ? "masked_fill_" : "masked_fill";
  const Tensor<bool, CPU> m = mask_arg(mask, op);
  return dispatch(x.dtype(), [&]<class T>() {
    const T v = value_as<T>(value, op);
    if constexpr (Inplace) {
      kiln::masked_fill_(x.as<T>(), m, v);
      return x;
    } else {
      return DynTensor(kiln::masked_fill(x.as<T>(), m, v));
    }
  });
}

DynTensor masked_select_of(const DynTensor& x, const DynTensor& mask) {
  const Tensor<bool, CPU> m = mask_arg(mask, "masked_select");
  return dispatch(x.dtype(),
                  [&]<class T>() { return DynTensor(kiln::masked_select(x.as<T>(), m)); });
}

template <bool Inplace>
DynTensor masked_scatter_of(DynTensor& x, const DynTensor& mask, const DynTensor& source) {
  const char* op = Inplace ? "masked_scatter_" : "masked_scatter";
  const Tensor<bool, CPU> m = mask_arg(mask, op);
  check_same_dtype(x, source, op, "source");
  return dispatch(x.dtype(), [&]<class T>() {
    if constexpr (Inplace) {
      kiln::masked_scatter_(x.as<T>(), m, source.as<T>());
      return x;
    } else {
      return DynTensor(kiln::masked_scatter(x.as<T>(), m, source.as<T>()));
    }
  });
}

// torch.nonzero: [n, ndim] int64, or with as_tuple one 1-d tensor per dim.
py::object nonzero_of(const DynTensor& x, bool as_tuple) {
  const Tensor<int64_t, CPU> nz =
      dispatch(x.dtype(), [&]<class T>() { return kiln::nonzero(x.as<T>()); });
  if (!as_tuple) return py::cast(DynTensor(nz));
  // torch treats a 0-d input as 1-d here.
  const int64_t nd = std::max<int64_t>(x.shape().size(), 1);
  py::tuple out(nd);
  for (int64_t d = 0; d < nd; ++d)
    out[d] = DynTensor(x.shape().size() == 0 ? nz.reshape(Shape{-1}).contiguous()
                                             : nz.select(1, d).contiguous());
  return out;
}

DynTensor argwhere_of(const DynTensor& x) {
  return dispatch(x.dtype(), [&]<class T>() { return DynTensor(kiln::argwhere(x.as<T>())); });
}

py::object sort_of(const DynTensor& x, int64_t dim, bool descending, bool stable) {
  return dispatch(x.dtype(), [&]<class T>() {
    ValuesIndices<T> r = kiln::sort(x.as<T>(), dim, descending, stable);
    return make_return("sort", DynTensor(r.values), DynTensor(r.indices));
  });
}

DynTensor argsort_of(const DynTensor& x, int64_t dim, bool descending, bool stable) {
  return dispatch(x.dtype(), [&]<class T>() {
    return DynTensor(kiln::argsort(x.as<T>(), dim, descending, stable));
  });
}

DynTensor msort_of(const DynTensor& x) {
  return dispatch(x.dtype(), [&]<class T>() { return DynTensor(kiln::sort(x.as<T>(), 0).values); });
}

py::object topk_of(const DynTensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
  return dispatch(x.dtype(), [&]<class T>() {
    ValuesIndices<T> r = kiln::topk(x.as<T>(), k, dim, largest, sorted);
    return make_return("topk", DynTensor(r.values), DynTensor(r.indices));
  });
}

// torch.unique: the values alone, or a tuple with the inverse and/or the counts.
py::object unique_of(const DynTensor& x, bool sorted, bool return_inverse, bool return_counts,
                     const py::object& dim) {
  KILN_CHECK(dim.is_none(), ValueError,
             "[unique] dim is not supported; kiln's unique works on the flattened input");
  return dispatch(x.dtype(), [&]<class T>() -> py::object {
    UniqueResult<T> r = kiln::unique(x.as<T>(), sorted, return_inverse, return_counts);
    if (!return_inverse && !return_counts) return py::cast(DynTensor(r.values));
    py::list out;
    out.append(DynTensor(r.values));
    if (return_inverse) out.append(DynTensor(r.inverse));
    if (return_counts) out.append(DynTensor(r.counts));
    return py::tuple(out);
  });
}

}  // namespace

void bind_oplib_index(py::module_& m) {
  using py::arg;
  auto cls = py::reinterpret_borrow<py::class_<DynTensor>>(m.attr("Tensor"));
  define_return_type(m, "sort", {"values", "indices"});
  define_return_type(m, "topk", {"values", "indices"});

  m.def("gather", &gather_of, arg("input"), arg("dim"), arg("index"));
  cls.def("gather", &gather_of, arg("dim"), arg("index"));
  m.def("scatter", &scatter_of<false>, arg("input"), arg("dim"), arg("index"), arg("src"));
  cls.def("scatter", &scatter_of<false>, arg("dim"), arg("index"), arg("src"));
  cls.def("scatter_", &scatter_of<true>, arg("dim"), arg("index"), arg("src"));
  m.def("scatter_add", &scatter_add_of<false>, arg("input"), arg("dim"), arg("index"), arg("src"));
  cls.def("scatter_add", &scatter_add_of<false>, arg("dim"), arg("index"), arg("src"));
  cls.def("scatter_add_", &scatter_add_of<true>, arg("dim"), arg("index"), arg("src"));
  m.def("index_select", &index_select_of, arg("input"), arg("dim"), arg("index"));
  cls.def("index_select", &index_select_of, arg("dim"), arg("index"));
  m.def("index_add", &index_add_of<false>, arg("input"), arg("dim"), arg("index"), arg("source"),
        py::kw_only(), arg("alpha") = 1);
  cls.def("index_add", &index_add_of<false>, arg("dim"), arg("index"), arg("source"), py::kw_only(),
          arg("alpha") = 1);
  cls.def("index_add_", &index_add_of<true>, arg("dim"), arg("index"), arg("source"), py::kw_only(),
          arg("alpha") = 1);
  m.def("take_along_dim", &take_along_dim_of, arg("input"), arg("indices"),
        arg("dim") = py::none());
  cls.def("take_along_dim", &take_along_dim_of, arg("indices"), arg("dim") = py::none());

  m.def("masked_fill", &masked_fill_of<false>, arg("input"), arg("mask"), arg("value"));
  cls.def("masked_fill", &masked_fill_of<false>, arg("mask"), arg("value"));
  cls.def("masked_fill_", &masked_fill_of<true>, arg("mask"), arg("value"));
  m.def("masked_select", &masked_select_of, arg("input"), arg("mask"));
  cls.def("masked_select", &masked_select_of, arg("mask"));
  m.def("masked_scatter", &masked_scatter_of<false>, arg("input"), arg("mask"), arg("source"));
  cls.def("masked_scatter", &masked_scatter_of<false>, arg("mask"), arg("source"));
  cls.def("masked_scatter_", &masked_scatter_of<true>, arg("mask"), arg("source"));
  m.def("nonzero", &nonzero_of, arg("input"), py::kw_only(), arg("as_tuple") = false);
  cls.def("nonzero", &nonzero_of, py::kw_only(), arg("as_tuple") = false);
  m.def("argwhere", &argwhere_of, arg("input"));
  cls.def("argwhere", &argwhere_of);

  m.def("sort", &sort_of, arg("input"), arg("dim") = -1, arg("descending") = false,
        arg("stable") = false);
  cls.def("sort", &sort_of, arg("dim") = -1, arg("descending") = false, arg("stable") = false);
  m.def("argsort", &argsort_of, arg("input"), arg("dim") = -1, arg("descending") = false,
        arg("stable") = false);
  cls.def("argsort", &argsort_of, arg("dim") = -1, arg("descending") = false,
          arg("stable") = false);
  m.def("msort", &msort_of, arg("input"));
  cls.def("msort", &msort_of);
  m.def("topk", &topk_of, arg("input"), arg("k"), arg("dim") = -1, arg("largest") = true,
        arg("sorted") = true);
  cls.def("topk", &topk_of, arg("k"), arg("dim") = -1, arg("largest") = true, arg("sorted") = true);
  m.def("unique", &unique_of, arg("input"), arg("sorted") = true, arg("return_inverse") = false,
        arg("return_counts") = false, arg("dim") = py::none());
  cls.def("unique", &unique_of, arg("sorted") = true, arg("return_inverse") = false,
          arg("return_counts") = false, arg("dim") = py::none());
}

}  // namespace kiln::python
