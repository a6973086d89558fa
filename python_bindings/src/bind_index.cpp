// SPDX-License-Identifier: BSD-3-Clause
// Tensor.__getitem__ / __setitem__ with torch's rules (ints, slices with steps, None,
// Ellipsis, bool masks, integer tensors and lists, several of them at once), index_put(_)
// and iteration.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"

namespace kiln::python {

namespace {

// Note [Python indexing]
// An index is read left to right, as torch's applySlicing does, into a view of x and a
// list of advanced indices. Basic items become views, so a purely basic index shares
// memory as in torch: an int selects (its dim goes away), a slice narrows, None inserts a
// dim of 1, Ellipsis stands for the dims nothing else names. Advanced items are recorded
// one entry per dim of the view and go to kiln::index / kiln::index_put_ together at the
// end (Note [Advanced indexing] in ops/index.hpp has the result's layout): an integer
// tensor or list is positions along its dim; a bool (or uint8, torch's legacy) mask over k
// dims becomes k position tensors, its nonzero() columns; a Python bool or a 0-d bool
// tensor inserts a dim of 1 indexed by [0] (True) or by nothing (False). An int, and a
// 0-d integer tensor, is a select even among advanced indices: that is torch's rule and
// differs from numpy's, which counts it as advanced, so x[0, :, [1, 2]] is [S1, 2] in
// torch and kiln but [2, S1] in numpy. A list that holds sequences, slices, None,
// Ellipsis or tensors is a tuple of indices (torch's legacy rule: x[[[0, 1], [1, 2]]] is
// x[[0, 1], [1, 2]]).
//
// Assignment writes through the same view: a copy_ for a basic index, one index_put_ for
// an advanced one. Its value loses leading dims of size 1 first, as in torch.

// Note [Assignment history]
// kiln's in-place ops refuse tensors that are part of the autograd graph, but torch code
// builds tensors by assignment (`out[:, 0] = v`, `h[mask] = 0`). So when x or the value
// requires grad (grad mode on), the write is done in place without recording, then x's
// handle gets a new history: one node whose backward gives x's old history the gradient
// with the written elements zeroed, and the value the gradient at those elements (summed
// over the dims it was broadcast along). torch does the same (CopySlices) and also
// updates every view of x's memory; kiln cannot, so it refuses the write when another
// tensor holds x's memory (a view of it, its base, or a tensor saved for backward): such
// a tensor would keep a history that no longer matches its data. A leaf that requires
// grad is refused, as in torch.

// One basic item, replayed on a gradient of x's shape (Note [Assignment history]).
struct Step {
  enum Kind { Unsqueeze, Select, Slice } kind;
  int dim;
  int64_t start = 0, end = 0, step = 1;
};

template <class T>
Tensor<T, CPU> apply_step(const Tensor<T, CPU>& t, const Step& s) {
  switch (s.kind) {
    case Step::Unsqueeze:
      return t.unsqueeze(s.dim);
    case Step::Select:
      return t.select(s.dim, s.start);
    case Step::Slice:
      return t.slice(s.dim, s.start, s.end, s.step);
  }
  return t;
}

template <class T>
Tensor<T, CPU> replay(Tensor<T, CPU> t, const std::vector<Step>& steps) {
  for (const Step& s : steps) t = apply_step(t, s);
  return t;
}

struct Parsed {
  DynTensor view;  // every basic item applied
  std::vector<Step> steps;
  IndexList indices;  // one entry per leading dim of view
  bool advanced = false;
};

// A list, tuple or array used as an index, as a tensor (an empty one holds positions).
DynTensor sequence_tensor(const py::handle& h) {
  DynTensor t = py::module_::import("kiln").attr("tensor")(h).cast<DynTensor>();
  if (numel_of(t.shape()) == 0 && is_floating_type(t.dtype())) t = to_dtype(t, ScalarType::Int64);
  return t;
}

bool is_sequence(const py::handle& h) {
  return py::isinstance<py::list>(h) || py::isinstance<py::tuple>(h) ||
         py::isinstance<py::array>(h);
}

// An int-like item (int, numpy integer), but not a bool, a tensor or an array.
bool is_int(const py::handle& h) {
  return !py::isinstance<py::bool_>(h) && !py::isinstance<DynTensor>(h) && !is_sequence(h) &&
         PyIndex_Check(h.ptr());
}

// torch's treatSequenceAsTuple, for a list index.
bool list_is_tuple(const py::list& l) {
  if (l.size() >= 32) return false;
  for (const py::handle& it : l)
    if (py::isinstance<DynTensor>(it) || is_sequence(it) || py::isinstance<py::slice>(it) ||
        it.is_none() || it.is(py::ellipsis()))
      return true;
  return false;
}

// The items of an index, each a Python int, slice, None, Ellipsis, bool or kiln tensor.
std::vector<py::object> index_items(const py::object& index) {
  std::vector<py::object> given;
  if (py::isinstance<py::tuple>(index) ||
      (py::isinstance<py::list>(index) && list_is_tuple(index.cast<py::list>()))) {
    for (const py::handle& it : index) given.push_back(py::reinterpret_borrow<py::object>(it));
  } else {
    given.push_back(index);
  }
  std::vector<py::object> items;
  for (const py::object& it : given) {
    if (is_sequence(it)) {
      items.push_back(py::cast(sequence_tensor(it)));
    } else if (is_int(it)) {
      items.push_back(py::int_(it));
    } else if (py::isinstance<DynTensor>(it)) {
      // A 0-d integer tensor is an int (torch's rule; 0-d bool and uint8 are bools).
      const DynTensor& t = it.cast<const DynTensor&>();
      const bool int0d = t.shape().size() == 0 && is_integral_type(t.dtype()) &&
                         t.dtype() != ScalarType::UInt8 && t.dtype() != ScalarType::Bool;
      if (int0d)
        items.push_back(py::int_(cast_to<int64_t>(t).item()));
      else if (t.shape().size() == 0 && t.dtype() == ScalarType::UInt8)
        items.push_back(py::bool_(cast_to<bool>(t).item()));
      else
        items.push_back(it);
    } else {
      items.push_back(it);
    }
  }
  return items;
}

bool is_mask(const DynTensor& t) {
  return t.dtype() == ScalarType::Bool || t.dtype() == ScalarType::UInt8;
}

int64_t consumed_dims(const py::handle& item) {
  if (item.is_none() || item.is(py::ellipsis()) || py::isinstance<py::bool_>(item)) return 0;
  if (py::isinstance<DynTensor>(item)) {
    const DynTensor& t = item.cast<const DynTensor&>();
    return is_mask(t) ? t.shape().size() : 1;
  }
  return 1;  // int or slice
}

template <class F>
DynTensor map_view(const DynTensor& v, F&& f) {
  return std::visit([&](const auto& t) { return DynTensor(f(t)); }, v.t);
}

Parsed parse(const DynTensor& x, const py::object& index) {
  const std::vector<py::object> items = index_items(index);
  int64_t used = 0;
  int ellipses = 0;
  for (const py::handle& it : items) {
    used += consumed_dims(it);
    ellipses += it.is(py::ellipsis());
  }
  const int64_t ndim = x.shape().size();
  KILN_CHECK(ellipses <= 1, IndexError, "[index] an index can only have a single ellipsis ('...')");
  KILN_CHECK(used <= ndim, IndexError, "[index] too many indices for tensor of dimension ", ndim);

  Parsed p{x, {}, {}, false};
  int d = 0;    // the next dim of p.view to index
  int src = 0;  // ... and of x, for messages
  auto step = [&](Step s) {
    p.view = map_view(p.view, [&](const auto& t) { return apply_step(t, s); });
    p.steps.push_back(s);
  };
  auto whole = [&]() {
    p.indices.emplace_back(std::nullopt);
    ++d;
  };
  auto positions = [&](Tensor<int64_t, CPU> t) {
    p.indices.emplace_back(std::move(t));
    p.advanced = true;
    ++d;
  };
  for (const py::handle& it : items) {
    if (it.is_none()) {
      step({Step::Unsqueeze, d});
      whole();
    } else if (it.is(py::ellipsis())) {
      for (int64_t k = 0; k < ndim - used; ++k) whole();
      src += static_cast<int>(ndim - used);
    } else if (py::isinstance<py::bool_>(it)) {
      // torch: a new dim of 1, indexed by [0] or by no position at all.
      step({Step::Unsqueeze, d});
      positions(it.cast<bool>() ? zeros<int64_t>({1}) : zeros<int64_t>({0}));
    } else if (py::isinstance<py::int_>(it)) {
      const int64_t size = p.view.shape()[d];
      int64_t i = it.cast<int64_t>();
      KILN_CHECK(i >= -size && i < size, IndexError, "[index] index ", i,
                 " is out of bounds for dimension ", src, " with size ", size);
      if (i < 0) i += size;
      step({Step::Select, d, i});
      ++src;
    } else if (py::isinstance<py::slice>(it)) {
      py::ssize_t start, stop, stride, len;
      if (!it.cast<py::slice>().compute(p.view.shape()[d], &start, &stop, &stride, &len))
        throw py::error_already_set();
      KILN_CHECK(stride > 0, ValueError, "[index] step must be greater than zero");
      const int64_t end = start + (len > 0 ? (len - 1) * stride + 1 : 0);
      step({Step::Slice, d, start, end, stride});
      whole();
      ++src;
    } else if (py::isinstance<DynTensor>(it)) {
      const DynTensor& idx = it.cast<const DynTensor&>();
      if (is_mask(idx)) {
        const Tensor<bool, CPU> mask = cast_to<bool>(idx);
        for (int k = 0; k < mask.dim(); ++k)
          KILN_CHECK(mask.shape()[k] == p.view.shape()[d + k], IndexError,
                     "[index] the shape of the mask ", mask.shape(), " at index ", k,
                     " does not match the shape of the indexed tensor ", p.view.shape(),
                     " at index ", d + k);
        if (mask.dim() == 0) {
          step({Step::Unsqueeze, d});
          positions(mask.item() ? zeros<int64_t>({1}) : zeros<int64_t>({0}));
        } else {
          const Tensor<int64_t, CPU> nz = kiln::nonzero(mask);  // [nnz, k]
          for (int k = 0; k < mask.dim(); ++k) positions(nz.select(1, k));
        }
        src += mask.dim();
      } else {
        KILN_CHECK(is_integral_type(idx.dtype()), IndexError,
                   "[index] tensors used as indices must be long, int, byte or bool tensors, "
                   "got ",
                   scalar_type_name(idx.dtype()));
        positions(cast_to<int64_t>(idx));
        ++src;
      }
    } else {
      throw IndexError(
          "[index] only integers, slices (`:`), ellipsis (`...`), None and long "
          "or bool tensors are valid indices, got " +
          py::str(py::type::of(it)).cast<std::string>());
    }
  }
  return p;
}

DynTensor getitem(const DynTensor& x, const py::object& index) {
  const Parsed p = parse(x, index);
  if (!p.advanced) return p.view;
  return map_view(p.view, [&](const auto& t) { return kiln::index(t, p.indices); });
}

// Drops leading dims of size 1 (torch's slicePrefix1sSize for assigned values).
template <class T>
Tensor<T, CPU> strip_leading_ones(const Tensor<T, CPU>& t) {
  int lead = 0;
  while (lead < t.dim() && t.shape()[lead] == 1) ++lead;
  if (lead == 0) return t;
  Shape s;
  for (int d = lead; d < t.dim(); ++d) s.push_back(t.shape()[d]);
  return t.reshape(s);
}

// A value to assign (a number, a tensor or a sequence) as a tensor of dtype T.
template <class T>
Tensor<T, CPU> value_tensor(const py::object& value) {
  if (py::isinstance<DynTensor>(value))
    return strip_leading_ones(cast_to<T>(value.cast<const DynTensor&>()));
  const bool number =
      py::isinstance<py::bool_>(value) || py::isinstance<py::float_>(value) || is_int(value);
  if (!number)
    return strip_leading_ones(
        cast_to<T>(py::module_::import("kiln").attr("tensor")(value).cast<DynTensor>()));
  T v;
  if constexpr (is_floating_v<T>)
    v = T(value.cast<double>());
  else if constexpr (std::is_same_v<T, bool>)
    v = value.cast<double>() != 0;
  else if (py::isinstance<py::float_>(value))
    v = static_cast<T>(value.cast<double>());  // truncated, as torch
  else
    v = static_cast<T>(value.cast<int64_t>());
  return full<T>(Shape{}, v);
}

// view[indices] = src (or +=, for an advanced index), without recording anything.
template <class T>
void write(const Tensor<T, CPU>& view, const IndexList& indices, bool advanced,
           const Tensor<T, CPU>& src, bool accumulate) {
  AutoGradMode off(false);
  if (advanced) {
    kiln::index_put_(view, indices, src, accumulate);
    return;
  }
  KILN_CHECK(broadcasts_to(src.shape(), view.shape()), ShapeError,
             "[index] shape mismatch: value tensor of shape ", src.shape(),
             " cannot be broadcast to indexing result of shape ", view.shape());
  view.copy_(src);
}

// The write, then a new history for x (Note [Assignment history]). `holders`: the handles
// of x's memory before the call, the value's excepted (1: x is the only one).
template <class T>
void write_with_history(DynTensor& x, const Parsed& p, const Tensor<T, CPU>& src, bool accumulate,
                        long holders) {
  const Tensor<T, CPU> old = x.as<T>();
  const char* op = accumulate ? "index_put_" : "index_put_ (assignment)";
  KILN_CHECK(!(old.requires_grad() && old.is_leaf()), AutogradError, "[", op,
             "] a leaf Variable that requires grad (shape ", old.shape(),
             ") is being used in an in-place operation; do it inside `with kiln.no_grad():`");
  using View = autograd::ViewNode<T, CPU>;
  if (old.requires_grad())
    KILN_CHECK(!dynamic_cast<const View*>(old.grad_fn().get()), AutogradError, "[", op,
               "] writing into a view (", old.grad_fn()->name(), ", shape ", old.shape(),
               ") of a tensor that requires grad is not supported; index the base tensor in "
               "one expression (x[0, 1:] = v rather than x[0][1:] = v) or clone() the view");
  KILN_CHECK(holders == 1, AutogradError, "[", op, "] the tensor written to (shape ", old.shape(),
             ") shares its memory with another tensor (a view of it, its base, or a tensor "
             "saved for backward), whose autograd history would not see this write; write "
             "into a clone() instead");
  write(p.view.as<T>(), p.indices, p.advanced, src.detach(), accumulate);
  Tensor<bool, CPU> mask;  // the written elements (not needed when accumulating)
  if (!accumulate && old.requires_grad()) {
    mask = zeros<bool>(old.shape());
    write(replay(mask, p.steps), p.indices, p.advanced, full<bool>(Shape{}, true), false);
  }
  Tensor<T, CPU> fresh = old.detach();
  autograd::record(accumulate ? "IndexPutBackward" : "CopySlices", fresh,
                   autograd::collect_edges(old, src),
                   [mask, steps = p.steps, si = detail::save_indices(p.indices),
                    advanced = p.advanced, accumulate, nx = old.requires_grad(),
                    nv = src.requires_grad(), vs = src.shape()](std::vector<AnyTensor>& g) {
                     const Tensor<T, CPU>& go = g[0].as<T, CPU>();
                     Tensor<T, CPU> gx, gv;
                     if (nx) gx = accumulate ? go : Tensor<T, CPU>(kiln::where(mask, T(0), go));
                     if (nv) {
                       Tensor<T, CPU> r = replay(go, steps);
                       if (advanced) r = kiln::index(r, detail::unpack_indices(si));
                       gv = autograd::sum_to(r, vs);
                     }
                     return autograd::grads(gx, gv);
                   });
  x.t = fresh;
}

// x[index] = value (accumulate: +=), the value cast to x's dtype and broadcast to the
// indexed elements.
void assign(DynTensor& x, const Parsed& p, const py::object& value, bool accumulate, long holders) {
  dispatch(x.dtype(), [&]<class T>() {
    const Tensor<T, CPU> src = value_tensor<T>(value);
    if constexpr (is_floating_v<T>) {
      if (autograd::GradMode::is_enabled() && (x.as<T>().requires_grad() || src.requires_grad())) {
        write_with_history(x, p, src, accumulate, holders);
        return;
      }
    }
    write(p.view.as<T>(), p.indices, p.advanced, src, accumulate);
  });
}

// Handles of x's memory other than the value's (Note [Assignment history]).
long other_holders(const DynTensor& x, const py::object& value) {
  return std::visit(
      [&](const auto& t) {
        long n = t.storage().use_count();
        if (py::isinstance<DynTensor>(value)) {
          const DynTensor& v = value.cast<const DynTensor&>();
          const bool shares = std::visit(
              [&](const auto& u) { return u.storage().impl() == t.storage().impl(); }, v.t);
          if (shares && &v != &x) --n;
        }
        return n;
      },
      x.t);
}

void setitem(DynTensor& x, const py::object& index, const py::object& value) {
  const long holders = other_holders(x, value);
  Parsed p;
  {
    AutoGradMode off(false);  // the view is only where the write goes
    p = parse(x, index);
  }
  assign(x, p, value, false, holders);
}

// The entries of index_put's `indices` (a tuple of tensors or None) as an IndexList over
// x's leading dims; masks become their nonzero() columns.
Parsed put_target(const DynTensor& x, const py::object& indices) {
  Parsed p{x, {}, {}, true};
  for (const py::handle& h : indices) {
    if (h.is_none()) {
      p.indices.emplace_back(std::nullopt);
      continue;
    }
    const DynTensor t = py::isinstance<DynTensor>(h) ? h.cast<DynTensor>() : sequence_tensor(h);
    if (is_mask(t)) {
      const Tensor<bool, CPU> mask = cast_to<bool>(t);
      KILN_CHECK(mask.dim() > 0, IndexError, "[index_put_] a 0-d mask is not supported here");
      const Tensor<int64_t, CPU> nz = kiln::nonzero(mask);
      for (int k = 0; k < mask.dim(); ++k) p.indices.emplace_back(nz.select(1, k));
    } else {
      KILN_CHECK(is_integral_type(t.dtype()), IndexError,
                 "[index_put_] tensors used as indices must be long, int, byte or bool tensors, "
                 "got ",
                 scalar_type_name(t.dtype()));
      p.indices.emplace_back(cast_to<int64_t>(t));
    }
  }
  return p;
}

py::object index_put_inplace(const py::object& self, const py::object& indices,
                             const py::object& values, bool accumulate) {
  DynTensor& x = self.cast<DynTensor&>();
  const long holders = other_holders(x, values);
  assign(x, put_target(x, indices), values, accumulate, holders);
  return self;
}

DynTensor index_put_copy(const DynTensor& x, const py::object& indices, const py::object& values,
                         bool accumulate) {
  const Parsed p = put_target(x, indices);
  return dispatch(x.dtype(), [&]<class T>() {
    return DynTensor(kiln::index_put(x.as<T>(), p.indices, value_tensor<T>(values), accumulate));
  });
}

}  // namespace

void bind_index(py::module_& m) {
  using py::arg;
  auto cls = py::reinterpret_borrow<py::class_<DynTensor>>(m.attr("Tensor"));
  cls.def("__getitem__", &getitem);
  cls.def("__setitem__", &setitem);
  cls.def("index_put_", &index_put_inplace, arg("indices"), arg("values"),
          arg("accumulate") = false);
  cls.def("index_put", &index_put_copy, arg("indices"), arg("values"), arg("accumulate") = false);
  m.def("index_put", &index_put_copy, arg("input"), arg("indices"), arg("values"),
        arg("accumulate") = false);
  cls.def("__iter__", [](const DynTensor& x) {
    KILN_CHECK(x.shape().size() > 0, DTypeError, "[iter] iteration over a 0-d tensor");
    py::list rows;
    for (int64_t i = 0; i < x.shape()[0]; ++i)
      rows.append(std::visit([&](const auto& t) { return DynTensor(t.select(0, i)); }, x.t));
    return py::iter(rows);
  });
}

}  // namespace kiln::python
