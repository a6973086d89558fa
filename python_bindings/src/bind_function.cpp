// SPDX-License-Identifier: BSD-3-Clause
// kiln.autograd.Function's C++ half: the graph node whose backward calls the Python
// backward, and the saved tensors it keeps for it.
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "bindings.hpp"

namespace kiln::python {

namespace {

// Note [Python functions]
// Function.apply (python/kiln/autograd.py) runs forward under no_grad, then hands the
// outputs to function_apply, which makes one PyFunctionNode: its edges lead to the tensor
// arguments, and every floating output not marked non-differentiable becomes one of its
// outputs (a new handle on the same memory: an input returned as is keeps its own
// history). The engine runs backward with the GIL released, so apply() takes it, calls
// cls.backward(ctx, *grads) and checks what comes back as torch does (one entry per
// positional argument of forward, None where there is no gradient; a gradient of another
// dtype is cast, one of a broadcast shape summed). A Python exception there propagates
// through the engine as error_already_set and reaches the caller of backward() as itself.
//
// Ownership, so that a graph is freed with its last output: outputs own the node, the
// node owns ctx and the saved tensors, and ctx holds only a weak reference back (NodeRef).
// Saved tensors live in the node as SavedTensor, so they are version-checked, and a saved
// output keeps a weak link to its node instead of a strong one (no cycle). The Python
// objects the node holds are released with the GIL held, whatever thread frees the node.

// A SavedTensor of any dtype (std::monostate: None was saved).
template <class V>
struct saved_variant;
template <class... Ts>
struct saved_variant<std::variant<Tensor<Ts, CPU>...>> {
  using type = std::variant<std::monostate, autograd::SavedTensor<Ts, CPU>...>;
};
using AnySaved = saved_variant<AnyCPU>::type;

DynTensor from_any(const AnyTensor& a) {
  return dispatch(a.dtype(), [&]<class T>() { return DynTensor(a.as<T, CPU>()); });
}

// A Python object owned by C++ code that may drop it without the GIL.
struct PyRef {
  py::object obj;
  PyRef() = default;
  explicit PyRef(py::object o) : obj(std::move(o)) {}
  PyRef(const PyRef&) = delete;
  PyRef& operator=(const PyRef&) = delete;
  ~PyRef() { reset(); }
  void reset() {
    if (!obj) return;
    if (!Py_IsInitialized()) {
      obj.release();  // the interpreter is gone: leak rather than touch it
      return;
    }
    py::gil_scoped_acquire gil;
    obj = py::object();
  }
};

// What backward gets for one forward output.
struct OutputSlot {
  enum Kind { Graph, NonDifferentiable, Other } kind = Other;
  uint32_t nr = 0;  // Graph: the node's output number
  Shape shape;      // NonDifferentiable: for its zero gradient
  ScalarType dtype = ScalarType::Float;
};

// A forward argument: whether it is a tensor, and if so its edge number and metadata.
struct InputSlot {
  bool tensor = false;
  int edge = -1;
  Shape shape;
  ScalarType dtype = ScalarType::Float;
};

class PyFunctionNode final : public autograd::Node {
 public:
  PyFunctionNode(py::object cls, std::string name) : cls_(std::move(cls)), name_(std::move(name)) {}

  std::string name() const override { return name_; }

  std::vector<AnyTensor> apply(std::vector<AnyTensor>&& grads) override {
    py::gil_scoped_acquire gil;
    KILN_CHECK(!released_, AutogradError, "[", name_,
               "] trying to backward through the graph a second time (or to access saved "
               "tensors after they were freed): pass retain_graph=True to the first backward");
    py::list args;
    args.append(ctx_.obj);
    for (const OutputSlot& s : outputs_) {
      if (s.kind == OutputSlot::Graph) {
        args.append(py::cast(from_any(grads[s.nr])));
      } else if (s.kind == OutputSlot::NonDifferentiable && materialize_) {
        args.append(
            py::cast(dispatch(s.dtype, [&]<class T>() { return DynTensor(zeros<T>(s.shape)); })));
      } else {
        args.append(py::none());
      }
    }
    const py::object r = cls_.obj.attr("backward")(*py::tuple(args));
    const py::tuple got = py::isinstance<py::tuple>(r) ? r.cast<py::tuple>() : py::make_tuple(r);
    const std::size_t n = inputs_.size();
    std::size_t extra_ok = got.size();
    while (extra_ok > n && got[extra_ok - 1].is_none()) --extra_ok;  // trailing Nones are fine
    KILN_CHECK(got.size() >= n && extra_ok <= n, AutogradError, "[", name_,
               "] function backward returned an incorrect number of gradients (expected ", n,
               ", got ", got.size(), ")");
    std::vector<AnyTensor> out(next_edges().size());
    for (std::size_t i = 0; i < n; ++i) {
      const py::handle g = got[i];
      const InputSlot& in = inputs_[i];
      if (g.is_none()) continue;
      KILN_CHECK(in.tensor, AutogradError, "[", name_,
                 "] function backward returned a gradient different than None at position ", i + 1,
                 ", but the corresponding forward input was not a tensor");
      KILN_CHECK(py::isinstance<DynTensor>(g), DTypeError, "[", name_,
                 "] function backward returned a ", py::str(py::type::of(g)).cast<std::string>(),
                 " at position ", i + 1, "; expected a tensor or None");
      if (!next_edges()[static_cast<std::size_t>(in.edge)].valid()) continue;
      const DynTensor& gt = g.cast<const DynTensor&>();
      out[static_cast<std::size_t>(in.edge)] =
          dispatch_floating(in.dtype, "autograd.Function", [&]<class T>() {
            Tensor<T, CPU> t = cast_to<T>(gt);
            if (t.shape() != in.shape) {
              KILN_CHECK(broadcasts_to(in.shape, t.shape()), AutogradError, "[", name_,
                         "] function backward returned an invalid gradient at index ", i, " - got ",
                         t.shape(), " but expected shape compatible with ", in.shape);
              t = autograd::sum_to(t, in.shape);
            }
            return AnyTensor(t);
          });
    }
    return out;
  }

  void release_variables() override {
    std::vector<AnySaved> drop;
    drop.swap(saved_);  // SavedTensors hold no Python objects: no GIL needed
    released_ = true;
  }

  py::object saved_tensors() const {
    KILN_CHECK(!released_, AutogradError, "[", name_,
               "] trying to backward through the graph a second time (or to access saved "
               "tensors after they were freed): the saved tensors were freed by the first "
               "backward; pass retain_graph=True to keep them");
    py::tuple out(saved_.size());
    for (std::size_t i = 0; i < saved_.size(); ++i)
      out[i] = std::visit(
          [](const auto& s) -> py::object {
            if constexpr (std::is_same_v<std::decay_t<decltype(s)>, std::monostate>)
              return py::none();
            else
              return py::cast(DynTensor(s.unpack()));
          },
          saved_[i]);
    return out;
  }

  PyRef cls_;
  PyRef ctx_;
  std::string name_;
  std::vector<InputSlot> inputs_;
  std::vector<OutputSlot> outputs_;
  std::vector<AnySaved> saved_;
  bool materialize_ = true;
  bool released_ = false;
};

// ctx's link to its node: weak, so that ctx (owned by the node) makes no cycle.
struct NodeRef {
  std::weak_ptr<PyFunctionNode> node;
  std::shared_ptr<PyFunctionNode> get() const {
    auto n = node.lock();
    KILN_CHECK(n, AutogradError,
               "[autograd.Function] the graph of this function was freed (no output of it is "
               "alive); its saved tensors are gone");
    return n;
  }
};

bool contains(const py::tuple& objs, const py::handle& h) {
  for (const py::handle& o : objs)
    if (o.is(h)) return true;
  return false;
}

// The graph part of Function.apply (Note [Python functions]): `outputs` is what forward
// returned (a tensor, a tuple, or anything else), ctx's _to_save, _non_differentiable and
// _materialize_grads what forward asked for. Returns the outputs with their history.
py::object function_apply(const py::object& cls, const py::object& ctx, const py::tuple& args,
                          const py::object& outputs) {
  std::vector<autograd::Edge> edges;
  std::vector<InputSlot> inputs;
  bool any = false;
  for (const py::handle& a : args) {
    InputSlot in;
    if (py::isinstance<DynTensor>(a)) {
      const DynTensor& t = a.cast<const DynTensor&>();
      in.tensor = true;
      in.edge = static_cast<int>(edges.size());
      in.shape = t.shape();
      in.dtype = t.dtype();
      edges.push_back(std::visit([](const auto& x) { return autograd::gradient_edge(x); }, t.t));
      any = any || edges.back().valid();
    }
    inputs.push_back(in);
  }
  if (!any || !autograd::GradMode::is_enabled()) return outputs;

  const bool single = !py::isinstance<py::tuple>(outputs);
  const py::tuple outs = single ? py::make_tuple(outputs) : outputs.cast<py::tuple>();
  const py::tuple non_diff = py::tuple(ctx.attr("_non_differentiable"));
  const py::tuple to_save = py::tuple(ctx.attr("_to_save"));

  auto node =
      std::make_shared<PyFunctionNode>(cls, cls.attr("__name__").cast<std::string>() + "Backward");
  node->next_edges() = std::move(edges);
  node->inputs_ = std::move(inputs);
  node->materialize_ = ctx.attr("_materialize_grads").cast<bool>();

  py::tuple result(outs.size());
  std::vector<std::pair<py::handle, DynTensor>> attached;  // forward's output → its new handle
  for (std::size_t i = 0; i < outs.size(); ++i) {
    const py::handle o = outs[i];
    OutputSlot s;
    s.kind = OutputSlot::Other;
    if (!py::isinstance<DynTensor>(o)) {
      node->outputs_.push_back(s);
      result[i] = o;
      continue;
    }
    const DynTensor& t = o.cast<const DynTensor&>();
    if (!is_floating_type(t.dtype()) || contains(non_diff, o)) {
      s.kind = OutputSlot::NonDifferentiable;
      s.shape = t.shape();
      s.dtype = t.dtype();
      node->outputs_.push_back(s);
      result[i] = o;
      continue;
    }
    DynTensor fresh = dispatch_floating(t.dtype(), "autograd.Function", [&]<class T>() {
      Tensor<T, CPU> h = t.as<T>().detach();
      autograd::set_history(h, node);
      return DynTensor(h);
    });
    s.kind = OutputSlot::Graph;
    s.nr = node->num_outputs() - 1;
    node->outputs_.push_back(s);
    attached.emplace_back(o, fresh);
    result[i] = py::cast(fresh);
  }

  // A saved forward output is saved as the output it became (a weak link to the node).
  for (const py::handle& h : to_save) {
    if (h.is_none()) {
      node->saved_.emplace_back(std::monostate{});
      continue;
    }
    KILN_CHECK(py::isinstance<DynTensor>(h), DTypeError,
               "[save_for_backward] can only save tensors (or None), got ",
               py::str(py::type::of(h)).cast<std::string>(),
               "; keep other values as ctx attributes");
    const DynTensor* as_output = nullptr;
    for (const auto& [o, fresh] : attached)
      if (o.is(h)) as_output = &fresh;
    const DynTensor& t = as_output ? *as_output : h.cast<const DynTensor&>();
    node->saved_.push_back(std::visit(
        [&](const auto& x) -> AnySaved {
          return as_output ? autograd::save_output(x) : autograd::save(x);
        },
        t.t));
  }
  ctx.attr("_to_save") = py::tuple();
  ctx.attr("_node") = NodeRef{node};
  node->ctx_.obj = ctx;
  return single ? py::object(result[0]) : py::object(result);
}

}  // namespace

void bind_function(py::module_& m) {
  py::class_<NodeRef>(m, "_FunctionNodeRef")
      .def("saved_tensors", [](const NodeRef& r) { return r.get()->saved_tensors(); })
      .def("name", [](const NodeRef& r) { return r.get()->name(); });
  m.def("_function_apply", &function_apply, py::arg("cls"), py::arg("ctx"), py::arg("args"),
        py::arg("outputs"));
}

}  // namespace kiln::python
