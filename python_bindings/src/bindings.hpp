// SPDX-License-Identifier: BSD-3-Clause
// What the binding files share: kiln.dtype's C++ side and each file's bind_* function.
#pragma once

#include <pybind11/pybind11.h>

#include "dyn_tensor.hpp"

namespace kiln::python {

/// kiln.float32, kiln.int64, ...: a ScalarType as a Python object.
struct DType {
  ScalarType type;
};

/// A kiln.dtype argument's ScalarType.
ScalarType to_scalar_type(const py::object& dtype);
/// requires_grad_ on any dtype: floating tensors only, as torch.
void set_requires_grad(DynTensor& x, bool on);

void bind_tensor(py::module_& m);
void bind_factories(py::module_& m);
void bind_ops(py::module_& m);
void bind_index(py::module_& m);
void bind_functions(py::module_& m);
void bind_autograd(py::module_& m);
void bind_function(py::module_& m);
void bind_dlpack(py::module_& m);
void bind_nn(py::module_& m);
void bind_nn_layers(py::module_& m);
void bind_nn_losses(py::module_& m);
void bind_nn_sequence(py::module_& m);
void bind_data(py::module_& m);
void bind_optim(py::module_& m);
void bind_io(py::module_& m);
void bind_elementwise_more(py::module_& m);
void bind_oplib_index(py::module_& m);
void bind_oplib_shape(py::module_& m);
void bind_oplib_math(py::module_& m);
void bind_linalg(py::module_& m);

}  // namespace kiln::python
