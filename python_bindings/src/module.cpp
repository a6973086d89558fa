// SPDX-License-Identifier: BSD-3-Clause
// kiln._C: the compiled half of the Python package (python/kiln re-exports it).
#include "bindings.hpp"

PYBIND11_MODULE(_C, m) {
  namespace py = pybind11;
  m.doc() = "kiln's C++ tensors, ops and autograd for Python";
  // kiln's errors as the Python exceptions torch raises for the same mistakes: a wrong
  // dtype is a TypeError, a bad index an IndexError, a bad argument a ValueError, and a
  // shape mismatch (like every other kiln::Error) a RuntimeError.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const kiln::DTypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const kiln::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const kiln::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const kiln::OutOfMemoryError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const kiln::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
  kiln::python::bind_tensor(m);
  kiln::python::bind_factories(m);
  kiln::python::bind_ops(m);
  kiln::python::bind_index(m);
  kiln::python::bind_functions(m);
  kiln::python::bind_autograd(m);
  kiln::python::bind_function(m);
  kiln::python::bind_dlpack(m);
  kiln::python::bind_nn(m);
  kiln::python::bind_nn_layers(m);
  kiln::python::bind_nn_losses(m);
  kiln::python::bind_nn_sequence(m);
  kiln::python::bind_data(m);
  kiln::python::bind_optim(m);
  kiln::python::bind_io(m);
  kiln::python::bind_elementwise_more(m);
  kiln::python::bind_oplib_index(m);
  kiln::python::bind_oplib_shape(m);
  kiln::python::bind_oplib_math(m);
  kiln::python::bind_linalg(m);
}
