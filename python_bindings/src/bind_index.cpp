// SPDX-License-Identifier: BSD-3-Clause
// Tensor.__getitem__ / __setitem__ with torch's rules: ints, slices with steps, None,
// Ellipsis, and one advanced index (a bool mask or an integer tensor or list).
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"

namespace kiln::python {

namespace {

// Note [Python indexing]
// Basic items (int, slice, None, Ellipsis) become views, applied left to right, so the
// result shares memory as torch's does. One advanced item (a bool mask over the next k
// dims, or an integer tensor / list over the next dim) becomes a gather: index_select
// over the dim (reshaped to the index's shape), or, for a mask, nonzero over the
// flattened masked dims. Its result dims sit where the item stood, which is torch's rule
// for a single advanced index. Several advanced items (torch's broadcasting of index
// tensors) are refused with IndexError for now.

struct Advanced {
  int dim = 0;                   // the first dim it indexes, in the basic-indexed view
  Tensor<bool, CPU> mask;        // a bool mask over dims [dim, dim + mask.dim())
  Tensor<int64_t, CPU> indices;  // or integer positions along dim
};

struct Parsed {
  DynTensor view;  // every basic item applied
  std::optional<Advanced> advanced;
};

// A list or tensor used as an index: bool → mask, integers → int64 positions.
DynTensor index_tensor(const py::handle& h) {
  if (py::isinstance<DynTensor>(h)) return h.cast<DynTensor>();
  return py::module_::import("kiln").attr("tensor")(h).cast<DynTensor>();
}

int64_t consumed_dims(const py::handle& item) {
  if (item.is_none() || item.is(py::ellipsis())) return 0;
  if (py::isinstance<DynTensor>(item)) {
    const DynTensor& t = item.cast<const DynTensor&>();
    return t.dtype() == ScalarType::Bool ? t.shape().size() : 1;
  }
  return 1;  // int or slice (lists are tensors by now: see parse)
}

Parsed parse(const DynTensor& x, const py::object& index) {
  const py::tuple given =
      py::isinstance<py::tuple>(index) ? index.cast<py::tuple>() : py::make_tuple(index);
  // A list index becomes a tensor once, here.
  std::vector<py::object> items;
  for (const py::handle& it : given)
    items.push_back(py::isinstance<py::list>(it) ? py::cast(index_tensor(it))
                                                 : py::reinterpret_borrow<py::object>(it));
  int64_t used = 0;
  int ellipses = 0;
  for (const py::handle& it : items) {
    used += consumed_dims(it);
    ellipses += it.is(py::ellipsis());
  }
  const int64_t ndim = x.shape().size();
  KILN_CHECK(ellipses <= 1, IndexError, "[index] an index can only have a single ellipsis ('...')");
  KILN_CHECK(used <= ndim, IndexError, "[index] too many indices for tensor of dimension ", ndim);

  Parsed p{x, std::nullopt};
  int d = 0;    // the next dim of p.view to index
  int src = 0;  // ... and of x, for messages
  for (const py::handle& it : items) {
    DynTensor& v = p.view;
    if (it.is_none()) {
      v = std::visit([&](const auto& t) { return DynTensor(t.unsqueeze(d)); }, v.t);
      ++d;
    } else if (it.is(py::ellipsis())) {
      d += static_cast<int>(ndim - used);
      src += static_cast<int>(ndim - used);
    } else if (py::isinstance<py::bool_>(it)) {
      throw IndexError("[index] indexing with a Python bool is not supported; use a bool tensor");
    } else if (py::isinstance<py::int_>(it)) {
      const int64_t size = v.shape()[d];
      int64_t i = it.cast<int64_t>();
      KILN_CHECK(i >= -size && i < size, IndexError, "[index] index ", i,
                 " is out of bounds for dimension ", src, " with size ", size);
      if (i < 0) i += size;
      v = std::visit([&](const auto& t) { return DynTensor(t.select(d, i)); }, v.t);
      ++src;
    } else if (py::isinstance<py::slice>(it)) {
      py::ssize_t start, stop, step, len;
      if (!it.cast<py::slice>().compute(v.shape()[d], &start, &stop, &step, &len))
        throw py::error_already_set();
      KILN_CHECK(step > 0, ValueError, "[index] step must be greater than zero");
      const int64_t end = start + (len > 0 ? (len - 1) * step + 1 : 0);
      v = std::visit([&](const auto& t) { return DynTensor(t.slice(d, start, end, step)); }, v.t);
      ++d;
      ++src;
    } else if (py::isinstance<DynTensor>(it)) {
      KILN_CHECK(!p.advanced, IndexError,
                 "[index] only one tensor or list index per indexing expression is supported "
                 "so far");
      const DynTensor idx = index_tensor(it);
      Advanced a;
      a.dim = d;
      if (idx.dtype() == ScalarType::Bool) {
        a.mask = idx.as<bool>();
        for (int k = 0; k < a.mask.dim(); ++k)
          KILN_CHECK(a.mask.shape()[k] == v.shape()[d + k], IndexError,
                     "[index] the shape of the mask ", a.mask.shape(), " at index ", k,
                     " does not match the shape of the indexed tensor ", v.shape(), " at index ",
                     d + k);
        d += a.mask.dim();
        src += a.mask.dim();
      } else {
        KILN_CHECK(is_integral_type(idx.dtype()), IndexError,
                   "[index] tensors used as indices must be long, int, byte or bool tensors, "
                   "got ",
                   scalar_type_name(idx.dtype()));
        const Tensor<int64_t, CPU> raw = cast_to<int64_t>(idx);
        const int64_t size = v.shape()[d];
        if (raw.numel() > 0) {
          const int64_t lo = kiln::amin(raw).item(), hi = kiln::amax(raw).item();
          KILN_CHECK(lo >= -size && hi < size, IndexError, "[index] index ", lo < -size ? lo : hi,
                     " is out of bounds for dimension ", src, " with size ", size);
        }
        a.indices = Tensor<int64_t, CPU>(kiln::where(raw < int64_t(0), raw + size, raw));
        ++d;
        ++src;
      }
      p.advanced = a;
    } else {
      throw IndexError(
          "[index] only integers, slices (`:`), ellipsis (`...`), None and long "
          "or bool tensors are valid indices, got " +
          py::str(py::type::of(it)).cast<std::string>());
    }
  }
  return p;
}

// The view's dims [d, d + k) flattened into one (k >= 1).
template <class T>
Tensor<T, CPU> flatten_range(const Tensor<T, CPU>& t, int d, int k) {
  return k == 1 ? t : t.flatten(d, d + k - 1);
}

template <class T>
Tensor<T, CPU> gather_advanced(const Tensor<T, CPU>& t, const Advanced& a) {
  if (a.mask.defined()) {
    const int k = a.mask.dim();
    if (k == 0) return t.unsqueeze(a.dim);  // x[True-tensor]: torch adds a dim of 1
    const Tensor<int64_t, CPU> nz = kiln::nonzero(a.mask.reshape({a.mask.numel()}));
    const Tensor<int64_t, CPU> pos = nz.reshape({nz.shape()[0]});
    return kiln::index_select(flatten_range(t, a.dim, k), a.dim, pos);
  }
  const Tensor<T, CPU> g = kiln::index_select(t, a.dim, a.indices.reshape({a.indices.numel()}));
  Shape s;
  for (int i = 0; i < a.dim; ++i) s.push_back(g.shape()[i]);
  for (int i = 0; i < a.indices.dim(); ++i) s.push_back(a.indices.shape()[i]);
  for (int i = a.dim + 1; i < g.dim(); ++i) s.push_back(g.shape()[i]);
  return g.reshape(s);
}

DynTensor getitem(const DynTensor& x, const py::object& index) {
  const Parsed p = parse(x, index);
  if (!p.advanced) return p.view;
  return std::visit([&](const auto& t) { return DynTensor(gather_advanced(t, *p.advanced)); },
                    p.view.t);
}

// x[index] = value: value (a number or a tensor, cast to x's dtype) is broadcast to the
// indexed positions and written in place.
void setitem(const DynTensor& x, const py::object& index, const py::object& value) {
  const Parsed p = parse(x, index);
  dispatch(x.dtype(), [&]<class T>() {
    const Tensor<T, CPU>& view = p.view.as<T>();
    std::optional<T> number;
    Tensor<T, CPU> source;
    if (py::isinstance<DynTensor>(value)) {
      source = cast_to<T>(value.cast<const DynTensor&>());
    } else if (py::isinstance<py::bool_>(value) || py::isinstance<py::int_>(value) ||
               py::isinstance<py::float_>(value)) {
      number = py_number_as<T>(value);
    } else {
      source = cast_to<T>(py::module_::import("kiln").attr("tensor")(value).cast<DynTensor>());
    }
    if (!p.advanced) {
      if (number)
        view.fill_(*number);
      else
        view.copy_(source);
      return;
    }
    const Advanced& a = *p.advanced;
    if (a.mask.defined()) {
      // The mask over dims [dim, dim + k) of the view, broadcast over the others.
      Shape ms;
      for (int i = 0; i < a.dim; ++i) ms.push_back(1);
      for (int i = 0; i < a.mask.dim(); ++i) ms.push_back(a.mask.shape()[i]);
      for (int i = a.dim + a.mask.dim(); i < view.dim(); ++i) ms.push_back(1);
      const Tensor<bool, CPU> mask = a.mask.reshape(ms).expand(view.shape()).contiguous();
      if (number) {
        kiln::masked_fill_(view, mask, *number);
      } else {
        // Row-major order over the view's shape lists the masked positions as x[mask]
        // lays them out ([before..., nnz, after...]), so the value, broadcast to that
        // shape, is scattered in its own order.
        Shape sel;
        for (int i = 0; i < a.dim; ++i) sel.push_back(view.shape()[i]);
        sel.push_back(kiln::sum(kiln::cast<int64_t>(a.mask)).item());
        for (int i = a.dim + a.mask.dim(); i < view.dim(); ++i) sel.push_back(view.shape()[i]);
        kiln::masked_scatter_(view, mask, source.expand(sel).contiguous());
      }
      return;
    }
    // Integer positions along one dim: each selected slice gets its part of the value.
    const Tensor<int64_t, CPU> pos = a.indices.reshape({a.indices.numel()}).contiguous();
    Tensor<T, CPU> src;
    if (!number) {
      Shape s;
      for (int i = 0; i < a.dim; ++i) s.push_back(view.shape()[i]);
      s.push_back(pos.numel());
      for (int i = a.dim + 1; i < view.dim(); ++i) s.push_back(view.shape()[i]);
      KILN_CHECK(a.indices.dim() <= 1, IndexError,
                 "[index] assigning through a multi-dimensional integer index is not supported "
                 "yet");
      src = source.expand(s);
    }
    for (int64_t k = 0; k < pos.numel(); ++k) {
      const Tensor<T, CPU> slot = view.select(a.dim, pos.data()[k]);
      if (number)
        slot.fill_(*number);
      else
        slot.copy_(src.select(a.dim, k));
    }
  });
}

}  // namespace

void bind_index(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<DynTensor>>(m.attr("Tensor"));
  cls.def("__getitem__", &getitem);
  cls.def("__setitem__", &setitem);
  cls.def("__iter__", [](const DynTensor& x) {
    KILN_CHECK(x.shape().size() > 0, DTypeError, "[iter] iteration over a 0-d tensor");
    py::list rows;
    for (int64_t i = 0; i < x.shape()[0]; ++i)
      rows.append(std::visit([&](const auto& t) { return DynTensor(t.select(0, i)); }, x.t));
    return py::iter(rows);
  });
}

}  // namespace kiln::python
