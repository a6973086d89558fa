// SPDX-License-Identifier: BSD-3-Clause
// kiln.autograd.grad, Tensor.register_hook and retain_grad, and the identity node behind
// nn.Module's backward hooks.
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

// Note [Module backward hooks]
// torch's register_full_backward_hook wraps a module's tensor inputs and outputs in one
// identity node each; the node's backward sees every gradient of the group at once, which
// per-tensor hooks cannot (each would fire alone, and an input's hook would also see
// gradients from uses outside the module). This records that node: the outputs alias
// `xs` (same storage, new history), and on backward `fn(grads)` runs once with the list
// of gradients and returns None (keep them) or a list of replacements (None: no gradient).
std::vector<DynTensor> backward_hook_identity(const std::vector<DynTensor>& xs, py::object fn) {
  KILN_CHECK(PyCallable_Check(fn.ptr()), DTypeError, "[backward hook] the hook must be callable");
  std::vector<autograd::Edge> edges;
  for (const DynTensor& x : xs)
    dispatch_floating(x.dtype(), "backward hook", [&]<class T>() {
      KILN_CHECK(x.as<T>().requires_grad(), ValueError,
                 "[backward hook] every wrapped tensor must require grad");
      edges.push_back(autograd::gradient_edge(x.as<T>()));
    });
  auto held = std::make_shared<PyCallable>();
  held->fn = std::move(fn);
  std::vector<ScalarType> dtypes;
  std::vector<Shape> shapes;
  for (const DynTensor& x : xs) {
    dtypes.push_back(x.dtype());
    shapes.push_back(x.shape());
  }
  auto backward = [held, dtypes, shapes](std::vector<AnyTensor>& g) -> std::vector<AnyTensor> {
    py::gil_scoped_acquire gil;
    py::list in;
    for (const AnyTensor& a : g)
      in.append(dispatch_floating(a.dtype(), "backward hook",
                                  [&]<class T>() { return DynTensor(a.as<T, CPU>()); }));
    const py::object r = held->fn(in);
    if (r.is_none()) return g;
    const auto out = r.cast<std::vector<std::optional<DynTensor>>>();
    KILN_CHECK(out.size() == g.size(), ValueError, "[backward hook] returned ", out.size(),
               " gradients, expected ", g.size());
    std::vector<AnyTensor> res(g.size());
    for (size_t i = 0; i < out.size(); ++i) {
      if (!out[i]) continue;
      KILN_CHECK(out[i]->shape() == shapes[i], ShapeError, "[backward hook] gradient ", i,
                 " has shape ", out[i]->shape(), ", expected ", shapes[i]);
      res[i] = dispatch_floating(dtypes[i], "backward hook",
                                 [&]<class T>() { return AnyTensor(cast_to<T>(*out[i])); });
    }
    return res;
  };
  auto node = std::make_shared<autograd::FunctionNode<decltype(backward)>>(
      "BackwardHookFunctionBackward", std::move(edges), std::move(backward));
  std::vector<DynTensor> outs;
  for (const DynTensor& x : xs)
    outs.push_back(dispatch_floating(x.dtype(), "backward hook", [&]<class T>() {
      Tensor<T, CPU> y = x.as<T>().detach();
      autograd::set_history(y, node);
      return DynTensor(y);
    }));
  return outs;
}

}  // namespace

void bind_autograd(py::module_& m) {
  using py::arg;
  m.def("_autograd_grad", &autograd_grad, arg("outputs"), arg("inputs"),
        arg("grad_outputs") = std::vector<DynTensor>{}, arg("retain_graph") = py::none(),
        arg("create_graph") = false, arg("allow_unused") = false);
  auto cls = py::reinterpret_borrow<py::class_<DynTensor>>(m.attr("Tensor"));
  cls.def("register_hook", &register_hook, arg("hook"));
  m.def("_backward_hook_identity", &backward_hook_identity, arg("tensors"), arg("fn"));
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
