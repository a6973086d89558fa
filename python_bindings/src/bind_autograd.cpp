// SPDX-License-Identifier: BSD-3-Clause
// kiln.autograd.grad, Tensor.register_hook and retain_grad.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <vector>

#include "bindings.hpp"

namespace kiln::python {

namespace {

// torch.autograd.grad: every tensor must share one floating dtype (the C++ engine's
// grad is typed). Unused inputs give None with allow_unused, as torch's.
std::vector<std::optional<DynTensor>> autograd_grad(const std::vector<DynTensor>& outputs,
                                                    const std::vector<DynTensor>& inputs,
                                                    const std::vector<DynTensor>& grad_outputs,
                                                    std::optional<bool> retain_graph,
                                                    bool create_graph, bool allow_unused) {
  KILN_CHECK(!outputs.empty() && !inputs.empty(), ValueError,
             "[autograd.grad] outputs and inputs must not be empty");
  const ScalarType st = outputs[0].dtype();
  for (const auto* list : {&outputs, &inputs, &grad_outputs})
    for (const DynTensor& t : *list)
      KILN_CHECK(t.dtype() == st, DTypeError,
                 "[autograd.grad] every tensor must have one dtype; got ", scalar_type_name(st),
                 " and ", scalar_type_name(t.dtype()));
  return dispatch_floating(st, "autograd.grad", [&]<class T>() {
    auto typed = [](const std::vector<DynTensor>& v) {
      std::vector<Tensor<T, CPU>> out;
      for (const DynTensor& t : v) out.push_back(t.as<T>());
      return out;
    };
    std::vector<Tensor<T, CPU>> g;
    {
      py::gil_scoped_release release;
      g = autograd::grad(typed(outputs), typed(inputs), typed(grad_outputs), retain_graph,
                         create_graph, allow_unused);
    }
    std::vector<std::optional<DynTensor>> out;
    for (const Tensor<T, CPU>& t : g) {
      if (t.defined())
        out.emplace_back(DynTensor(t));
      else
        out.emplace_back(std::nullopt);
    }
    return out;
  });
}

// A Python callable held by C++ code that may run, and drop it, without the GIL.
struct PyCallable {
  py::object fn;
  ~PyCallable() {
    py::gil_scoped_acquire gil;
    fn = py::object();
  }
};

void register_hook(const DynTensor& x, py::object fn) {
  KILN_CHECK(PyCallable_Check(fn.ptr()), DTypeError, "[register_hook] the hook must be callable");
  dispatch_floating(x.dtype(), "register_hook", [&]<class T>() {
    const Tensor<T, CPU>& t = x.as<T>();
    KILN_CHECK(t.requires_grad(), Error,
               "[register_hook] cannot register a hook on a tensor that doesn't require "
               "gradient");
    auto held = std::make_shared<PyCallable>();
    held->fn = std::move(fn);
    t.register_hook([held](const Tensor<T, CPU>& g) -> Tensor<T, CPU> {
      py::gil_scoped_acquire gil;
      const py::object r = held->fn(DynTensor(g));
      if (r.is_none()) return {};
      return cast_to<T>(r.cast<const DynTensor&>());
    });
  });
}

}  // namespace

void bind_autograd(py::module_& m) {
  using py::arg;
  m.def("_autograd_grad", &autograd_grad, arg("outputs"), arg("inputs"),
        arg("grad_outputs") = std::vector<DynTensor>{}, arg("retain_graph") = py::none(),
        arg("create_graph") = false, arg("allow_unused") = false);
  auto cls = py::reinterpret_borrow<py::class_<DynTensor>>(m.attr("Tensor"));
  cls.def("register_hook", &register_hook, arg("hook"));
  // .grad = None drops the gradient (what optimizers' zero_grad(set_to_none) does).
  cls.def(
      "_zero_grad",
      [](const DynTensor& x, bool set_to_none) {
        dispatch_floating(x.dtype(), "zero_grad",
                          [&]<class T>() { x.as<T>().zero_grad(set_to_none); });
      },
      py::arg("set_to_none") = true);
  cls.def("retain_grad", [](const DynTensor& x) {
    dispatch_floating(x.dtype(), "retain_grad", [&]<class T>() { x.as<T>().retain_grad(); });
  });
}

}  // namespace kiln::python
