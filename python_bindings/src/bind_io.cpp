// SPDX-License-Identifier: BSD-3-Clause
// Safetensors files through kiln's C++ reader and writer (what kiln.save / kiln.load,
// python/kiln/serialization.py, build on): named tensors plus string metadata.
#include <pybind11/stl.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "kiln/io/safetensors.hpp"

namespace kiln::python {

namespace {

using Named = std::vector<std::pair<std::string, DynTensor>>;

// Writes atomically (a temporary file renamed over `path`); tensors in the given order.
void save_of(const std::string& path, const Named& tensors,
             const std::map<std::string, std::string>& metadata) {
  py::gil_scoped_release release;
  io::SafetensorsFile f;
  for (const auto& [name, t] : tensors)
    f.tensors.insert(name, std::visit([](const auto& x) { return io::to_raw(x); }, t.t));
  f.metadata = metadata;
  io::save_safetensors(path, f);
}

// The tensors in file order, and the metadata; IOError (RuntimeError) names what is wrong
// with a damaged file.
std::pair<Named, std::map<std::string, std::string>> load_of(const std::string& path) {
  py::gil_scoped_release release;
  io::SafetensorsFile f = io::load_safetensors(path);
  Named out;
  for (const auto& [name, raw] : f.tensors)
    out.emplace_back(name, dispatch(raw.dtype, [&]<class T>() {
                       return DynTensor(io::from_raw<T>(raw, name));
                     }));
  return {std::move(out), std::move(f.metadata)};
}

}  // namespace

void bind_io(py::module_& m) {
  using py::arg;
  m.def("_save_safetensors", &save_of, arg("path"), arg("tensors"), arg("metadata"));
  m.def("_load_safetensors", &load_of, arg("path"));
}

}  // namespace kiln::python
