// SPDX-License-Identifier: BSD-3-Clause
// What a Tensor<T, D> records: typed gradients, saved tensors, leaf accumulators, and the
// helpers every differentiable op uses to add its node (Note [Recording an op]).
// Included at the end of tensor.hpp (include that, not this).
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiln/autograd/grad_mode.hpp"
#include "kiln/autograd/node.hpp"
#include "kiln/expr/functors/binary.hpp"
#include "kiln/expr/make.hpp"
#include "kiln/expr/reduce_cpu.hpp"

namespace kiln {

// ---- AnyTensor ---------------------------------------------------------------------------------

namespace autograd::detail {
template <class T, class D>
const Shape& any_shape(const void* p) {
  return static_cast<const Tensor<T, D>*>(p)->shape();
}
template <class T, class D>
AnyTensor any_add(const AnyTensor& a, const AnyTensor& b) {
  const Tensor<T, D>& x = a.as<T, D>();
  const Tensor<T, D>& y = b.as<T, D>();
  // Outside create_graph a buffer nobody else holds is summed in place.
  if (!GradMode::is_enabled() && !x.requires_grad() && a.use_count() == 1 &&
      x.storage().use_count() == 1 && x.is_contiguous() && x.shape() == y.shape()) {
    x.copy_(expr::make_binary(expr::op::Add{}, x, y));
    return a;
  }
  return Tensor<T, D>(expr::make_binary(expr::op::Add{}, x, y));
}
template <class T, class D>
AnyTensor any_zeros(const Shape& s) {
  Tensor<T, D> z(s);
  z.zero_();
  return z;
}
template <class T, class D>
bool any_has_nan(const AnyTensor& a) {
  if constexpr (!is_floating_v<T> || !std::is_same_v<D, CPU>) {
    return false;
  } else {
    const Tensor<T, D> c = a.as<T, D>().contiguous();
    const T* p = c.data();
    for (int64_t i = 0; i < c.numel(); ++i)
      if (std::isnan(static_cast<double>(p[i]))) return true;
    return false;
  }
}
template <class T, class D>
bool any_requires_grad(const AnyTensor& a) {
  return a.as<T, D>().requires_grad();
}
template <class T, class D>
inline const AnyTensorOps any_tensor_ops{scalar_type_v<T>,        D::name,
                                         &any_shape<T, D>,        &any_add<T, D>,
                                         &any_zeros<T, D>,        &any_has_nan<T, D>,
                                         &any_requires_grad<T, D>};
}  // namespace autograd::detail

template <class T, class D>
AnyTensor::AnyTensor(Tensor<T, D> t) {
  if (!t.defined()) return;
  p_ = std::make_shared<const Tensor<T, D>>(std::move(t));
  ops_ = &autograd::detail::any_tensor_ops<T, D>;
}

template <class T, class D>
const Tensor<T, D>& AnyTensor::as() const {
  KILN_CHECK(defined(), AutogradError, "[autograd] expected a gradient of dtype ", scalar_type_v<T>,
             " but it is undefined");
  const AnyTensorOps* want = &autograd::detail::any_tensor_ops<T, D>;
  KILN_CHECK(ops_ == want, AutogradError, "[autograd] expected a gradient of dtype ",
             scalar_type_v<T>, " on ", D::name, " but got ", ops_->dtype, " on ", ops_->device);
  return *static_cast<const Tensor<T, D>*>(p_.get());
}

namespace autograd {

/// The node whose backward is running on this thread (named in saved-tensor errors).
const Node* current_node();
/// Sets current_node() for its lifetime (the engine does this around apply()).
class CurrentNodeGuard {
 public:
  explicit CurrentNodeGuard(const Node* n);
  ~CurrentNodeGuard();
  CurrentNodeGuard(const CurrentNodeGuard&) = delete;
  CurrentNodeGuard& operator=(const CurrentNodeGuard&) = delete;

 private:
  const Node* prev_;
};

// ---- saved tensors -----------------------------------------------------------------------------

/// A tensor kept for backward, with the storage version it had when saved: if it is
/// modified in place before backward runs, unpack() throws naming the op. Saving an op's
/// own output keeps only a weak link to its node (a strong one would be a cycle).
template <class T, class D>
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor<T, D>& t, bool is_output = false)
      : data_(t.detach()), version_(t.storage().version()), defined_(t.defined()) {
    if (!t.requires_grad()) return;
    if (is_output && t.grad_fn()) {
      weak_fn_ = t.grad_fn();
      output_nr_ = t.output_nr();
      is_output_ = true;
    } else {
      meta_ = t.autograd_meta();
    }
  }
  bool defined() const { return defined_; }
  /// The saved tensor, re-attached to its place in the graph (so create_graph works).
  Tensor<T, D> unpack() const {
    const Node* n = current_node();
    const std::string op = n ? n->name() : std::string("backward");
    KILN_CHECK(!released_, AutogradError, "[", op,
               "] trying to backward through the graph a second time (or to access saved "
               "tensors after they were freed): the saved tensors of ",
               op, " were freed by the first backward; pass retain_graph=true to keep them");
    if (!defined_) return {};
    KILN_CHECK(data_.storage().version() == version_, AutogradError, "[", op,
               "] one of the variables needed for gradient computation has been modified by an "
               "in-place operation: a tensor of shape ",
               data_.shape(), " and dtype ", scalar_type_v<T>, " saved by ", op, " is at version ",
               data_.storage().version(), "; expected version ", version_, " instead");
    Tensor<T, D> t = data_;
    if (meta_) {
      t.set_autograd_meta(meta_);
    } else if (is_output_) {
      if (auto fn = weak_fn_.lock())
        t.set_autograd_meta(std::make_shared<AutogradMeta>(std::move(fn), output_nr_));
    }
    return t;
  }
  void release() {
    data_ = Tensor<T, D>();
    meta_.reset();
    weak_fn_.reset();
    released_ = true;
  }

 private:
  Tensor<T, D> data_;
  uint64_t version_ = 0;
  std::shared_ptr<AutogradMeta> meta_;
  std::weak_ptr<Node> weak_fn_;
  uint32_t output_nr_ = 0;
  bool is_output_ = false;
  bool defined_ = false;
  bool released_ = false;
};

template <class T, class D>
SavedTensor<T, D> save(const Tensor<T, D>& t) {
  return SavedTensor<T, D>(t);
}
template <class T, class D>
SavedTensor<T, D> save_output(const Tensor<T, D>& t) {
  return SavedTensor<T, D>(t, true);
}

// ---- leaves ------------------------------------------------------------------------------------

/// The node at the end of every path to a leaf: adds the gradient into leaf.grad().
template <class T, class D>
class AccumulateGrad final : public Node {
 public:
  AccumulateGrad(std::shared_ptr<AutogradMeta> meta, const Shape& shape);
  std::string name() const override;
  bool is_accumulator() const override { return true; }
  std::vector<AnyTensor> apply(std::vector<AnyTensor>&& grads) override;
  const std::vector<GradHook>* tensor_hooks() const override { return &meta_->hooks; }
  /// Adds g into meta.grad: the first gradient is kept (stolen when nobody else holds
  /// it, else copied, so .grad never aliases another tensor), later ones are summed in
  /// place, or out of place while create_graph records the sum.
  static void accumulate(AutogradMeta& meta, const AnyTensor& ga);

 private:
  std::shared_ptr<AutogradMeta> meta_;
};

template <class T, class D>
AccumulateGrad<T, D>::AccumulateGrad(std::shared_ptr<AutogradMeta> meta, const Shape& shape)
    : meta_(std::move(meta)) {
  add_input_meta({shape, &detail::any_tensor_ops<T, D>});
}
template <class T, class D>
std::string AccumulateGrad<T, D>::name() const {
  return "AccumulateGrad";
}
template <class T, class D>
std::vector<AnyTensor> AccumulateGrad<T, D>::apply(std::vector<AnyTensor>&& grads) {
  std::lock_guard<std::mutex> lock(meta_->grad_mutex);
  accumulate(*meta_, grads[0]);
  return {};
}
template <class T, class D>
void AccumulateGrad<T, D>::accumulate(AutogradMeta& meta, const AnyTensor& ga) {
  const Tensor<T, D>& g = ga.as<T, D>();
  if (!meta.grad.defined()) {
    const bool stealable = ga.use_count() == 1 && g.storage().use_count() == 1 &&
                           g.is_contiguous() && g.storage_offset() == 0 &&
                           static_cast<std::size_t>(g.numel()) * sizeof(T) == g.storage().nbytes();
    if (GradMode::is_enabled())
      meta.grad = stealable ? g : g.clone();
    else
      meta.grad = stealable ? g.detach() : g.detach().clone();
    return;
  }
  const Tensor<T, D>& old = meta.grad.as<T, D>();
  if (GradMode::is_enabled() || old.requires_grad())
    meta.grad = Tensor<T, D>(expr::make_binary(expr::op::Add{}, old, g));
  else
    old.copy_(expr::make_binary(expr::op::Add{}, old, g));
}

// ---- edges and history -------------------------------------------------------------------------

template <class T, class D>
std::shared_ptr<Node> grad_accumulator(const Tensor<T, D>& t) {
  const auto& meta = t.autograd_meta();
  std::lock_guard<std::mutex> lock(meta->accumulator_mutex);
  if (auto acc = meta->grad_accumulator.lock()) return acc;
  auto acc = std::make_shared<AccumulateGrad<T, D>>(meta, t.shape());
  meta->grad_accumulator = acc;
  return acc;
}

/// Where the gradient of `t` goes: its grad_fn, its leaf accumulator, or nowhere.
template <class T, class D>
Edge gradient_edge(const Tensor<T, D>& t) {
  if (!t.requires_grad()) return {};
  if (auto fn = t.grad_fn()) return {std::move(fn), t.output_nr()};
  return {grad_accumulator(t), 0};
}

inline bool any_requires_grad() { return false; }
/// Whether an op on these operands must be recorded: grad mode is on and one of them
/// requires grad.
template <class T, class D, class... Rest>
bool any_requires_grad(const Tensor<T, D>& t, const Rest&... rest) {
  return t.requires_grad() || any_requires_grad(rest...);
}
template <class... Ts>
bool needs_grad(const Ts&... ts) {
  return GradMode::is_enabled() && any_requires_grad(ts...);
}

/// Edges to each operand (an invalid edge for one that needs no gradient).
template <class... Ts>
std::vector<Edge> collect_edges(const Ts&... ts) {
  return {gradient_edge(ts)...};
}

/// Makes `out` the next output of `node`: it requires grad and its grad_fn is `node`.
template <class T, class D>
void set_history(Tensor<T, D>& out, const std::shared_ptr<Node>& node) {
  const uint32_t nr = node->add_input_meta({out.shape(), &detail::any_tensor_ops<T, D>});
  out.set_autograd_meta(std::make_shared<AutogradMeta>(node, nr));
}

// Note [Recording an op]
// A differentiable op computes its result with grad mode off (so its internals record
// nothing), then, when needs_grad(inputs...), records one node:
//
//   if (autograd::needs_grad(a, b))
//     autograd::record("MmBackward", out, autograd::collect_edges(a, b),
//                      [sa = autograd::save(a), sb = autograd::save(b), ...](auto& g) {
//                        const auto& go = g[0].template as<T, D>();
//                        return autograd::grads(mm(go, sb.unpack().t()), ...);
//                      });
//
// The backward closure gets one gradient per forward output and returns one per edge
// (undefined where an input needs none). It is written with kiln's own differentiable
// ops, so when the engine runs it with create_graph it records a graph in turn: that is
// what makes double backward work. Saved tensors must be SavedTensor (version checks,
// no cycles), never captured Tensor handles of the inputs.

/// A node whose backward is a closure (what record() makes).
template <class F>
class FunctionNode final : public Node {
 public:
  FunctionNode(std::string name, std::vector<Edge> edges, F f)
      : name_(std::move(name)), f_(std::make_unique<F>(std::move(f))) {
    next_edges() = std::move(edges);
  }
  std::string name() const override { return name_; }
  std::vector<AnyTensor> apply(std::vector<AnyTensor>&& grads) override {
    KILN_CHECK(f_, AutogradError, "[", name_,
               "] trying to backward through the graph a second time (or to access saved "
               "tensors after they were freed): pass retain_graph=true to the first backward");
    return (*f_)(grads);
  }
  void release_variables() override { f_.reset(); }
  F& closure() { return *f_; }

 private:
  std::string name_;
  std::unique_ptr<F> f_;
};

/// Records `out = op(inputs)` with the given backward closure (Note [Recording an op]).
/// Returns the node, to which more outputs may be attached with set_history.
template <class T, class D, class F>
std::shared_ptr<Node> record(std::string name, Tensor<T, D>& out, std::vector<Edge> edges,
                             F&& backward) {
  auto node = std::make_shared<FunctionNode<std::decay_t<F>>>(std::move(name), std::move(edges),
                                                              std::forward<F>(backward));
  set_history(out, node);
  return node;
}

/// Like record(), for backward formulas that use the op's own output (exp, softmax...):
/// the closure is called as backward(grads, output), the output saved without a cycle.
template <class T, class D, class F>
std::shared_ptr<Node> record_with_output(std::string name, Tensor<T, D>& out,
                                         std::vector<Edge> edges, F&& backward) {
  struct WithOutput {
    std::decay_t<F> f;
    SavedTensor<T, D> y;
    std::vector<AnyTensor> operator()(std::vector<AnyTensor>& g) { return f(g, y.unpack()); }
  };
  auto node = std::make_shared<FunctionNode<WithOutput>>(std::move(name), std::move(edges),
                                                         WithOutput{std::forward<F>(backward), {}});
  set_history(out, node);
  node->closure().y = save_output(out);
  return node;
}

template <class T, class D>
std::vector<AnyTensor> grads_of(Tensor<T, D> t) {
  std::vector<AnyTensor> r;
  r.emplace_back(std::move(t));
  return r;
}

/// The gradients a backward closure returns, from typed tensors (undefined allowed).
template <class... Ts>
std::vector<AnyTensor> grads(Ts&&... ts) {
  return {AnyTensor(std::forward<Ts>(ts))...};
}

// ---- primitives that views need -----------------------------------------------------------

namespace detail {
/// Dims of `from` that sum_to must reduce to reach `to` (leading ones and size-1 ones).
inline uint32_t sum_to_mask(const Shape& from, const Shape& to) {
  uint32_t mask = 0;
  const int lead = from.size() - to.size();
  for (int d = 0; d < from.size(); ++d)
    if (d < lead || (to[d - lead] == 1 && from[d] != 1)) mask |= 1u << d;
  return mask;
}
}  // namespace detail

/// Sums `g` over broadcast dims so that it has shape `to` (the gradient of expand).
/// Differentiable: its backward is expand.
template <class T, class D>
Tensor<T, D> sum_to(const Tensor<T, D>& g, const Shape& to) {
  if (g.shape() == to) return g;
  const uint32_t mask = detail::sum_to_mask(g.shape(), to);
  Tensor<T, D> keep;
  {
    AutoGradMode off(false);
    Shape ks;
    for (int d = g.dim() - to.size(); d < g.dim(); ++d)
      ks.push_back(mask >> d & 1u ? 1 : g.shape()[d]);
    Tensor<T, D> r(ks);
    if (r.numel() > 0) {
      using A = acc_t<T>;
      expr::reduce_cpu<A>(g, mask, r.data(), expr::op::SumReduce{},
                          [](A a, int64_t) { return static_cast<T>(a); });
    }
    keep = r.view(to);
  }
  if (needs_grad(g)) {
    const Shape from = g.shape();
    record("SumToBackward", keep, collect_edges(g),
           [from](std::vector<AnyTensor>& gs) { return grads(gs[0].as<T, D>().expand(from)); });
  }
  return keep;
}

/// A zero tensor of shape `in_shape` with `g` written into the elements `view(zeros)`
/// selects: the gradient of slice, select, diagonal and other views that drop elements.
/// Differentiable: its backward is `view` itself.
template <class T, class D, class V>
Tensor<T, D> embed(const Tensor<T, D>& g, const Shape& in_shape, V view) {
  Tensor<T, D> z(in_shape);
  {
    AutoGradMode off(false);
    z.zero_();
    view(z).copy_(g);
  }
  if (needs_grad(g))
    record("EmbedBackward", z, collect_edges(g),
           [view](std::vector<AnyTensor>& gs) { return grads(view(gs[0].as<T, D>())); });
  return z;
}

/// Records a view `out` of `in` whose gradient is `backward(g)` (a Tensor of in's shape).
template <class T, class D, class B>
void record_view(const Tensor<T, D>& in, Tensor<T, D>& out, const char* name, B backward) {
  out.set_autograd_meta(nullptr);
  if (!needs_grad(in)) return;
  record(name, out, collect_edges(in),
         [backward](std::vector<AnyTensor>& gs) { return grads(backward(gs[0].as<T, D>())); });
}

/// The node of every view Tensor records (see ViewSpec in fwd.hpp). One class per dtype,
/// compiled in src/ for the CPU dtypes, instead of one closure type per view method.
template <class T, class D>
class ViewNode final : public Node {
 public:
  ViewNode(ViewSpec spec, std::vector<Edge> edges);
  std::string name() const override;
  std::vector<AnyTensor> apply(std::vector<AnyTensor>&& grads) override;

 private:
  ViewSpec spec_;
};

template <class T, class D>
ViewNode<T, D>::ViewNode(ViewSpec spec, std::vector<Edge> edges) : spec_(std::move(spec)) {
  next_edges() = std::move(edges);
}
template <class T, class D>
std::string ViewNode<T, D>::name() const {
  return spec_.name;
}
template <class T, class D>
std::vector<AnyTensor> ViewNode<T, D>::apply(std::vector<AnyTensor>&& grads) {
  using K = ViewSpec::Kind;
  const Tensor<T, D>& g = grads[0].as<T, D>();
  const ViewSpec& s = spec_;
  switch (s.kind) {
    case K::slice:
      return grads_of(embed(g, s.in_shape, [s](const Tensor<T, D>& z) {
        return z.slice(s.dim, s.start, s.end, s.step);
      }));
    case K::select:
      return grads_of(
          embed(g, s.in_shape, [s](const Tensor<T, D>& z) { return z.select(s.dim, s.start); }));
    case K::transpose:
      return grads_of(g.transpose(s.dim, s.start));
    case K::permute: {
      const int n = s.dims.size();
      Dims inverse(n);
      for (int i = 0; i < n; ++i) inverse[wrap_dim(s.dims[i], n, "permute")] = i;
      return grads_of(g.permute(inverse));
    }
    case K::reshape:
      return grads_of(g.reshape(s.in_shape));
    case K::expand:
      return grads_of(sum_to(g, s.in_shape));
    case K::identity:
      break;
  }
  return grads_of(g);
}

template <class T, class D>
void record_view_spec(const Tensor<T, D>& in, Tensor<T, D>& out, const ViewSpec& spec) {
  out.set_autograd_meta(nullptr);
  if constexpr (is_floating_v<T>) {
    if (!needs_grad(in)) return;
    if constexpr (std::is_same_v<D, CUDA>)
      detail::cuda_autograd_unavailable(spec.name, in.shape());
    else
      set_history(out, std::make_shared<ViewNode<T, D>>(spec, collect_edges(in)));
  }
}

/// Checks an in-place write into `t` (op names it): autograd cannot rewrite history
/// through a leaf that requires grad, nor (yet) through a tensor in the graph.
template <class T, class D>
void check_inplace(const Tensor<T, D>& t, const char* op, bool source_requires_grad) {
  if (!GradMode::is_enabled()) return;
  if (t.requires_grad()) {
    KILN_CHECK(!t.is_leaf(), AutogradError, "[", op, "] a leaf tensor that requires grad (shape ",
               t.shape(),
               ") is being used in an in-place operation; do it inside a kiln::NoGradGuard");
    KILN_CHECK(false, AutogradError, "[", op,
               "] in-place operations on a tensor that is part of the autograd graph (grad_fn ",
               t.grad_fn()->name(), ", shape ", t.shape(),
               ") are not supported; use the out-of-place form");
  }
  KILN_CHECK(!source_requires_grad, AutogradError, "[", op,
             "] writing a value that requires grad into a tensor in place is not recorded by "
             "autograd; use the out-of-place form, or detach() the value");
}

}  // namespace autograd

// ---- Tensor's autograd members -----------------------------------------------------------------

template <class T, class D>
bool Tensor<T, D>::requires_grad() const {
  return meta_ && meta_->requires_grad;
}

template <class T, class D>
Tensor<T, D>& Tensor<T, D>::requires_grad_(bool on) {
  KILN_CHECK(!on || is_floating_v<T>, DTypeError,
             "[requires_grad_] only tensors of floating-point dtype can require gradients, got ",
             scalar_type_v<T>, " (shape ", shape_, ")");
  KILN_CHECK(on || is_leaf(), AutogradError,
             "[requires_grad_] you can only change requires_grad of leaf tensors; use detach() "
             "to get a tensor outside the graph");
  if constexpr (std::is_same_v<D, CUDA>)
    if (on) autograd::detail::cuda_autograd_unavailable("requires_grad_", shape_);
  if (!meta_) {
    if (!on) return *this;
    meta_ = std::make_shared<autograd::AutogradMeta>();
  }
  meta_->requires_grad = on;
  return *this;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::grad() const {
  if (!meta_ || !meta_->grad.defined()) return {};
  return meta_->grad.template as<T, D>();
}

template <class T, class D>
void Tensor<T, D>::set_grad(const Tensor& g) {
  if (g.defined())
    KILN_CHECK(g.shape() == shape_, ShapeError, "[set_grad] assigned grad has shape ", g.shape(),
               " but the tensor has shape ", shape_);
  if (!meta_) {
    if (!g.defined()) return;
    meta_ = std::make_shared<autograd::AutogradMeta>();
  }
  std::lock_guard<std::mutex> lock(meta_->grad_mutex);
  meta_->grad = g.defined() ? AnyTensor(g) : AnyTensor();
}

template <class T, class D>
void Tensor<T, D>::zero_grad(bool set_to_none) const {
  if (!meta_ || !meta_->grad.defined()) return;
  std::lock_guard<std::mutex> lock(meta_->grad_mutex);
  if (set_to_none) {
    meta_->grad = AnyTensor();
  } else {
    AutoGradMode off(false);
    meta_->grad.template as<T, D>().detach().zero_();
  }
}

template <class T, class D>
std::shared_ptr<autograd::Node> Tensor<T, D>::grad_fn() const {
  return meta_ ? meta_->grad_fn : nullptr;
}

template <class T, class D>
bool Tensor<T, D>::is_leaf() const {
  return !meta_ || !meta_->grad_fn;
}

template <class T, class D>
uint32_t Tensor<T, D>::output_nr() const {
  return meta_ ? meta_->output_nr : 0;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::detach() const {
  Tensor r = *this;
  r.meta_.reset();
  return r;
}

template <class T, class D>
void Tensor<T, D>::backward(const Tensor& gradient, std::optional<bool> retain_graph,
                            bool create_graph) const {
  KILN_CHECK(requires_grad(), AutogradError, "[backward] the tensor (shape ", shape_,
             ") does not require grad and has no grad_fn: nothing to differentiate");
  Tensor g = gradient;
  if (!g.defined()) {
    KILN_CHECK(numel() == 1, AutogradError,
               "[backward] grad can be implicitly created only for scalar outputs; this tensor "
               "has shape ",
               shape_, ": pass a gradient of that shape");
    g = Tensor(shape_);
    g.fill_(T(1));
  }
  KILN_CHECK(g.shape() == shape_, ShapeError, "[backward] the gradient has shape ", g.shape(),
             " but the tensor has shape ", shape_);
  autograd::run_backward({autograd::gradient_edge(*this)}, {AnyTensor(g)},
                         retain_graph.value_or(create_graph), create_graph);
}

template <class T, class D>
void Tensor<T, D>::retain_grad() const {
  KILN_CHECK(requires_grad(), AutogradError,
             "[retain_grad] can't retain_grad on a tensor that does not require grad (shape ",
             shape_, ")");
  if (is_leaf() || meta_->retains_grad) return;
  meta_->retains_grad = true;
  std::weak_ptr<autograd::AutogradMeta> weak = meta_;
  meta_->grad_fn->add_retain_hook(meta_->output_nr, [weak](const AnyTensor& g) {
    if (auto m = weak.lock()) {
      std::lock_guard<std::mutex> lock(m->grad_mutex);
      autograd::AccumulateGrad<T, D>::accumulate(*m, g);
    }
    return AnyTensor();
  });
}

template <class T, class D>
bool Tensor<T, D>::retains_grad() const {
  return meta_ && meta_->retains_grad;
}

template <class T, class D>
template <class F>
void Tensor<T, D>::register_hook(F hook) const {
  KILN_CHECK(requires_grad(), AutogradError,
             "[register_hook] cannot register a hook on a tensor that doesn't require gradient "
             "(shape ",
             shape_, ")");
  autograd::GradHook h = [hook = std::move(hook)](const AnyTensor& g) -> AnyTensor {
    const Tensor& tg = g.template as<T, D>();
    if constexpr (std::is_void_v<std::invoke_result_t<F&, const Tensor&>>) {
      hook(tg);
      return AnyTensor();
    } else {
      Tensor r = hook(tg);
      return r.defined() ? AnyTensor(std::move(r)) : AnyTensor();
    }
  };
  if (is_leaf())
    meta_->hooks.push_back(std::move(h));
  else
    meta_->grad_fn->add_pre_hook(meta_->output_nr, std::move(h));
}

namespace autograd {

/// Gradients of `outputs` with respect to `inputs` (torch.autograd.grad), without
/// touching any .grad. `grad_outputs` may be empty for one-element outputs.
template <class T, class D>
std::vector<Tensor<T, D>> grad(const std::vector<Tensor<T, D>>& outputs,
                               const std::vector<Tensor<T, D>>& inputs,
                               const std::vector<Tensor<T, D>>& grad_outputs = {},
                               std::optional<bool> retain_graph = {}, bool create_graph = false,
                               bool allow_unused = false) {
  KILN_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), ValueError,
             "[grad] got ", outputs.size(), " outputs but ", grad_outputs.size(), " grad_outputs");
  std::vector<Edge> roots;
  std::vector<AnyTensor> gs;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor<T, D>& o = outputs[i];
    KILN_CHECK(o.requires_grad(), AutogradError, "[grad] output ", i, " (shape ", o.shape(),
               ") does not require grad and has no grad_fn");
    Tensor<T, D> g = grad_outputs.empty() ? Tensor<T, D>() : grad_outputs[i];
    if (!g.defined()) {
      KILN_CHECK(o.numel() == 1, AutogradError, "[grad] output ", i, " has shape ", o.shape(),
                 ": grad can be implicitly created only for scalar outputs");
      g = Tensor<T, D>(o.shape());
      g.fill_(T(1));
    }
    KILN_CHECK(g.shape() == o.shape(), ShapeError, "[grad] grad_outputs[", i, "] has shape ",
               g.shape(), " but output ", i, " has shape ", o.shape());
    roots.push_back(gradient_edge(o));
    gs.emplace_back(g);
  }
  std::vector<Edge> in;
  for (size_t i = 0; i < inputs.size(); ++i) {
    KILN_CHECK(inputs[i].requires_grad(), AutogradError, "[grad] input ", i, " (shape ",
               inputs[i].shape(), ") does not require grad");
    in.push_back(gradient_edge(inputs[i]));
  }
  std::vector<AnyTensor> r = run_grad(roots, std::move(gs), in, retain_graph.value_or(create_graph),
                                      create_graph, allow_unused);
  std::vector<Tensor<T, D>> out;
  for (AnyTensor& a : r) out.push_back(a.defined() ? a.as<T, D>() : Tensor<T, D>());
  return out;
}

// Compiled once in src/autograd_instances.cpp for the CPU floating dtypes: what every
// view and every backward pass needs, kept out of user files' compile time.
#define KILN_AUTOGRAD_EXTERN(T)                                                          \
  extern template class ViewNode<T, CPU>;                                                \
  extern template void record_view_spec<T, CPU>(const Tensor<T, CPU>&, Tensor<T, CPU>&,  \
                                                const ViewSpec&);                        \
  extern template Tensor<T, CPU> sum_to<T, CPU>(const Tensor<T, CPU>&, const Shape&);    \
  extern template class AccumulateGrad<T, CPU>;                                          \
  extern template AnyTensor detail::any_add<T, CPU>(const AnyTensor&, const AnyTensor&); \
  extern template AnyTensor detail::any_zeros<T, CPU>(const Shape&);                     \
  extern template bool detail::any_has_nan<T, CPU>(const AnyTensor&);                    \
  extern template std::vector<Tensor<T, CPU>> grad<T, CPU>(                              \
      const std::vector<Tensor<T, CPU>>&, const std::vector<Tensor<T, CPU>>&,            \
      const std::vector<Tensor<T, CPU>>&, std::optional<bool>, bool, bool);
KILN_AUTOGRAD_EXTERN(float)
KILN_AUTOGRAD_EXTERN(double)
KILN_AUTOGRAD_EXTERN(half)
KILN_AUTOGRAD_EXTERN(bfloat16)
#undef KILN_AUTOGRAD_EXTERN

}  // namespace autograd

#define KILN_TENSOR_AUTOGRAD_EXTERN(T)                                                            \
  extern template void Tensor<T, CPU>::backward(const Tensor<T, CPU>&, std::optional<bool>, bool) \
      const;                                                                                      \
  extern template void Tensor<T, CPU>::retain_grad() const;                                       \
  extern template void Tensor<T, CPU>::set_grad(const Tensor<T, CPU>&);                           \
  extern template void Tensor<T, CPU>::zero_grad(bool) const;                                     \
  extern template Tensor<T, CPU>& Tensor<T, CPU>::requires_grad_(bool);
KILN_TENSOR_AUTOGRAD_EXTERN(float)
KILN_TENSOR_AUTOGRAD_EXTERN(double)
KILN_TENSOR_AUTOGRAD_EXTERN(half)
KILN_TENSOR_AUTOGRAD_EXTERN(bfloat16)
#undef KILN_TENSOR_AUTOGRAD_EXTERN

}  // namespace kiln
