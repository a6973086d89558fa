// SPDX-License-Identifier: BSD-3-Clause
// kiln's reordering, splitting and triangle ops and the remaining views for Python: flip,
// roll, repeat, tile, split, chunk, unbind, tril, triu, diag, diagonal, narrow, select,
// expand, expand_as and broadcast_to.
#include <pybind11/stl.h>

#include <optional>
#include <vector>

#include "oplib_args.hpp"

namespace kiln::python {

namespace {

template <class F>
DynTensor each(const DynTensor& x, F&& f) {
  return std::visit([&](const auto& t) { return DynTensor(f(t)); }, x.t);
}

template <class F>
py::tuple pieces_of(const DynTensor& x, F&& f) {
  return std::visit(
      [&](const auto& t) {
        const auto parts = f(t);
        py::tuple out(parts.size());
        for (std::size_t i = 0; i < parts.size(); ++i) out[i] = DynTensor(parts[i]);
        return out;
      },
      x.t);
}

// torch's `*sizes` arguments: f(2, 3) and f((2, 3)) alike.
std::vector<int64_t> sizes_of(const py::args& args) {
  if (args.size() == 1 && !py::isinstance<py::int_>(args[0]))
    return args[0].cast<std::vector<int64_t>>();
  return args.cast<std::vector<int64_t>>();
}

// expand's target: -1 keeps the size of the matching existing dim.
Shape expand_shape(const Shape& s, const std::vector<int64_t>& sizes) {
  const int64_t n = static_cast<int64_t>(sizes.size()), nd = s.size();
  KILN_CHECK(n >= nd, Error, "[expand] the number of sizes provided (", n,
             ") must be greater or equal to the number of dimensions in the tensor (", nd, ")");
  Shape out;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = i - (n - nd);
    if (sizes[i] == -1) {
      KILN_CHECK(j >= 0, Error,
                 "[expand] the expanded size -1 is not allowed in a leading, "
                 "non-existing dimension ",
                 i);
      out.push_back(s[static_cast<int>(j)]);
    } else {
      out.push_back(sizes[i]);
    }
  }
  return out;
}

DynTensor flip_of(const DynTensor& x, const py::object& dims) {
  const Dims d = dims_arg(dims);
  return each(x, [&](const auto& t) { return kiln::flip(t, d); });
}

DynTensor roll_of(const DynTensor& x, const py::object& shifts, const py::object& dims) {
  const Dims s = dims_arg(shifts);
  const Dims d = dims.is_none() ? Dims{} : dims_arg(dims);
  return each(x, [&](const auto& t) { return kiln::roll(t, s, d); });
}

DynTensor tile_of(const DynTensor& x, const py::object& dims) {
  const Dims d = dims_arg(dims);
  return each(x, [&](const auto& t) { return kiln::tile(t, d); });
}

// torch.split: an int is a piece length, a list the lengths of every piece.
py::tuple split_of(const DynTensor& x, const py::object& split_size, int64_t dim) {
  if (py::isinstance<py::int_>(split_size)) {
    const int64_t n = split_size.cast<int64_t>();
    return pieces_of(x, [&](const auto& t) { return kiln::split(t, n, dim); });
  }
  const auto sizes = split_size.cast<std::vector<int64_t>>();
  return pieces_of(x, [&](const auto& t) { return kiln::split_with_sizes(t, sizes, dim); });
}

py::tuple split_with_sizes_of(const DynTensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  return pieces_of(x, [&](const auto& t) { return kiln::split_with_sizes(t, sizes, dim); });
}

py::tuple chunk_of(const DynTensor& x, int64_t chunks, int64_t dim) {
  return pieces_of(x, [&](const auto& t) { return kiln::chunk(t, chunks, dim); });
}

py::tuple unbind_of(const DynTensor& x, int64_t dim) {
  return pieces_of(x, [&](const auto& t) { return kiln::unbind(t, dim); });
}

template <bool Lower>
DynTensor triangle_of(const DynTensor& x, int64_t diagonal) {
  return each(
      x, [&](const auto& t) { return Lower ? kiln::tril(t, diagonal) : kiln::triu(t, diagonal); });
}

DynTensor diag_of(const DynTensor& x, int64_t diagonal) {
  return each(x, [&](const auto& t) { return kiln::diag(t, diagonal); });
}

DynTensor diagonal_of(const DynTensor& x, int64_t offset, int64_t dim1, int64_t dim2) {
  return each(x, [&](const auto& t) { return kiln::diagonal(t, offset, dim1, dim2); });
}

DynTensor narrow_of(const DynTensor& x, int64_t dim, int64_t start, int64_t length) {
  return each(x, [&](const auto& t) { return t.narrow(dim, start, length); });
}

DynTensor select_of(const DynTensor& x, int64_t dim, int64_t index) {
  return each(x, [&](const auto& t) { return t.select(dim, index); });
}

DynTensor broadcast_to_of(const DynTensor& x, const std::vector<int64_t>& size) {
  const Shape s = expand_shape(x.shape(), size);
  return each(x, [&](const auto& t) { return t.expand(s); });
}

}  // namespace

void bind_oplib_shape(py::module_& m) {
  using py::arg;
  auto cls = py::reinterpret_borrow<py::class_<DynTensor>>(m.attr("Tensor"));

  m.def("flip", &flip_of, arg("input"), arg("dims"));
  cls.def("flip",
          [](const DynTensor& x, py::args dims) { return flip_of(x, py::cast(sizes_of(dims))); });
  m.def("roll", &roll_of, arg("input"), arg("shifts"), arg("dims") = py::none());
  cls.def("roll", &roll_of, arg("shifts"), arg("dims") = py::none());
  cls.def("repeat", [](const DynTensor& x, py::args repeats) {
    const Dims r = to_dims(sizes_of(repeats));
    return each(x, [&](const auto& t) { return kiln::repeat(t, r); });
  });
  m.def("tile", &tile_of, arg("input"), arg("dims"));
  cls.def("tile",
          [](const DynTensor& x, py::args dims) { return tile_of(x, py::cast(sizes_of(dims))); });
  m.def("split", &split_of, arg("tensor"), arg("split_size_or_sections"), arg("dim") = 0);
  cls.def("split", &split_of, arg("split_size"), arg("dim") = 0);
  m.def("split_with_sizes", &split_with_sizes_of, arg("input"), arg("split_sizes"), arg("dim") = 0);
  cls.def("split_with_sizes", &split_with_sizes_of, arg("split_sizes"), arg("dim") = 0);
  m.def("chunk", &chunk_of, arg("input"), arg("chunks"), arg("dim") = 0);
  cls.def("chunk", &chunk_of, arg("chunks"), arg("dim") = 0);
  m.def("unbind", &unbind_of, arg("input"), arg("dim") = 0);
  cls.def("unbind", &unbind_of, arg("dim") = 0);
  for (auto [name, fn] :
       {std::pair{"tril", &triangle_of<true>}, std::pair{"triu", &triangle_of<false>}}) {
    m.def(name, fn, arg("input"), arg("diagonal") = 0);
    cls.def(name, fn, arg("diagonal") = 0);
  }
  m.def("diag", &diag_of, arg("input"), arg("diagonal") = 0);
  cls.def("diag", &diag_of, arg("diagonal") = 0);
  m.def("diagonal", &diagonal_of, arg("input"), arg("offset") = 0, arg("dim1") = 0,
        arg("dim2") = 1);
  cls.def("diagonal", &diagonal_of, arg("offset") = 0, arg("dim1") = 0, arg("dim2") = 1);
  m.def("narrow", &narrow_of, arg("input"), arg("dim"), arg("start"), arg("length"));
  cls.def("narrow", &narrow_of, arg("dim"), arg("start"), arg("length"));
  m.def("select", &select_of, arg("input"), arg("dim"), arg("index"));
  cls.def("select", &select_of, arg("dim"), arg("index"));
  m.def("broadcast_to", &broadcast_to_of, arg("input"), arg("size"));
  cls.def("broadcast_to", &broadcast_to_of, arg("size"));
  cls.def("expand",
          [](const DynTensor& x, py::args sizes) { return broadcast_to_of(x, sizes_of(sizes)); });
  cls.def("expand_as", [](const DynTensor& x, const DynTensor& other) {
    const Shape& s = other.shape();
    return broadcast_to_of(x, std::vector<int64_t>(s.begin(), s.end()));
  });
}

}  // namespace kiln::python
