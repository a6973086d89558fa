// SPDX-License-Identifier: BSD-3-Clause
// Dataset readers compiled in C++: Fashion-MNIST's IDX files (what
// kiln.datasets.FashionMNIST wraps).
#include <pybind11/stl.h>

#include <string>

#include "bindings.hpp"
#include "kiln/data/fashion_mnist.hpp"

namespace kiln::python {

void bind_data(py::module_& m) {
  using py::arg;
  m.def(
      "_fashion_mnist",
      [](const std::string& root, bool train, bool normalize) {
        data::FashionMNIST ds(root, train, normalize);
        return py::make_tuple(DynTensor(ds.data()), DynTensor(ds.targets()));
      },
      arg("root") = std::string(data::FashionMNIST::kDefaultRoot), arg("train") = true,
      arg("normalize") = true);
  m.attr("_FASHION_MNIST_ROOT") = data::FashionMNIST::kDefaultRoot;
  m.attr("_FASHION_MNIST_MEAN") = data::FashionMNIST::kMean;
  m.attr("_FASHION_MNIST_STD") = data::FashionMNIST::kStd;
}

}  // namespace kiln::python
