// SPDX-License-Identifier: BSD-3-Clause
// nn::Module: the base of every layer and model (torch.nn.Module): registered parameters,
// buffers and child modules, their hierarchical names, train/eval, zero_grad, state_dict.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiln/autograd/grad_mode.hpp"
#include "kiln/core/device.hpp"
#include "kiln/nn/ordered_dict.hpp"
#include "kiln/tensor.hpp"

namespace kiln::nn {

/// A model's parameters and floating buffers by hierarchical name ("features.0.weight"),
/// and, in `integer_buffers`, its int64 buffers (BatchNorm's num_batches_tracked), which
/// torch keeps as int64 whatever the model's dtype. A plain OrderedDict converts to one.
template <class T = float, class D = CPU>
struct StateDict : OrderedDict<Tensor<T, D>> {
  using OrderedDict<Tensor<T, D>>::OrderedDict;
  StateDict() = default;
  StateDict(OrderedDict<Tensor<T, D>> floating)  // NOLINT(google-explicit-constructor)
      : OrderedDict<Tensor<T, D>>(std::move(floating)) {}

  OrderedDict<Tensor<int64_t, D>> integer_buffers;
};

/// `sd` with its floating entries converted to dtype U (integer buffers are shared):
/// what loads a model's state into its twin of another dtype (Note [Typed modules]).
template <class U, class T, class D>
StateDict<U, D> to(const StateDict<T, D>& sd) {
  StateDict<U, D> out;
  for (const auto& [name, t] : sd) out.insert(name, t.template to<U>().contiguous());
  out.integer_buffers = sd.integer_buffers;
  return out;
}

// Note [Typed modules]
// A module's dtype and device are template parameters (Linear<float, CPU>), so feeding a
// float CPU model a double or a CUDA tensor is a compile error, as DESIGN.md §2.3 asks:
// forward takes Tensor<T, D>. Modules live in std::shared_ptr (children are shared with
// the parent, as torch's attributes are), are not copyable, and hold their parameters as
// Tensor handles: the registry and the layer's member (`weight`) alias one tensor, so an
// optimizer's in-place update is seen by both. Loading a state dict therefore copies into
// the existing tensors rather than rebinding them.
//
// The same types make "model.to(torch.float64)" a new object, not a mutation: a model of
// another dtype is another C++ type. Build the twin (a user's model is a class template
// over T, as the built-in layers are) and copy the state across with
// `nn::convert_into(twin, model)`, which converts every parameter and buffer.

template <class T = float, class D = CPU>
class Module {
 public:
  static_assert(is_floating_v<T>,
                "kiln::nn::Module<T>: T must be a floating dtype (float, double, half, bfloat16)");
  using value_type = T;
  using device_type = D;
  using TensorT = Tensor<T, D>;

  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  /// The class name printed in repr ("Linear").
  const std::string& type_name() const { return type_name_; }
  /// What repr prints between the parentheses ("in_features=4, out_features=2, bias=True").
  virtual std::string extra_repr() const { return {}; }

  // ---- registry ------------------------------------------------------------------------
  /// Parameters by hierarchical name, this module's first, then each child's in
  /// registration order (torch's named_parameters). Shared tensors are listed once.
  OrderedDict<TensorT> named_parameters(bool recurse = true) const;
  std::vector<TensorT> parameters(bool recurse = true) const;
  OrderedDict<TensorT> named_buffers(bool recurse = true) const;
  std::vector<TensorT> buffers(bool recurse = true) const;
  /// The int64 buffers (BatchNorm's num_batches_tracked), by hierarchical name.
  OrderedDict<Tensor<int64_t, D>> named_integer_buffers(bool recurse = true) const;
  OrderedDict<std::shared_ptr<Module>> named_children() const { return children_; }
  std::vector<std::shared_ptr<Module>> children() const { return children_.values(); }
  /// This module ("") and every descendant, depth first, by hierarchical name.
  std::vector<std::pair<std::string, Module*>> named_modules();
  /// Calls fn on every descendant, then on this module (torch's apply).
  void apply(const std::function<void(Module&)>& fn);

  // ---- modes and gradients -------------------------------------------------------------
  /// Sets training mode here and in every descendant (Dropout and BatchNorm read it).
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  /// Resets every parameter's gradient: to undefined (set_to_none, torch's default) or
  /// to zeros.
  void zero_grad(bool set_to_none = true);
  /// Sets requires_grad on every parameter (freezing or unfreezing the model).
  void requires_grad_(bool on = true);

  // ---- state ---------------------------------------------------------------------------
  /// Parameters then buffers by hierarchical name (int64 buffers in `integer_buffers`);
  /// the tensors alias the module's own (detached: they carry no gradient history).
  /// clone() them to keep a snapshot.
  StateDict<T, D> state_dict() const;
  /// Copies `sd` into this module's parameters and buffers. Validates everything first:
  /// a shape that differs is always an error; with `strict`, so are missing and
  /// unexpected keys. On any error it throws one kiln::ValueError naming every offending
  /// key, and nothing is loaded.
  void load_state_dict(const StateDict<T, D>& sd, bool strict = true);

  /// The module tree as PyTorch prints it.
  std::string repr() const;

 protected:
  /// Registers (and returns, aliasing it) a parameter; it requires grad unless told not to.
  TensorT register_parameter(const std::string& name, TensorT t, bool requires_grad = true);
  /// Registers (and returns) a buffer: state saved in state_dict but not trained.
  TensorT register_buffer(const std::string& name, TensorT t);
  /// Registers an int64 buffer (a counter such as BatchNorm's num_batches_tracked).
  Tensor<int64_t, D> register_buffer(const std::string& name, Tensor<int64_t, D> t);
  /// Registers a child module under `name` and returns it.
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    static_assert(std::is_base_of_v<Module, M>,
                  "kiln::nn: a child module must have the parent's dtype and device");
    check_name(name, "register_module");
    KILN_CHECK(m, ValueError, "[register_module] module '", name, "' is null");
    children_.insert(name, m);
    return m;
  }
  /// Replaces the parameter `name` (e.g. after re-initialising it as a new tensor).
  void replace_parameter(const std::string& name, TensorT t);

 private:
  void check_name(const std::string& name, const char* op) const;
  void collect(OrderedDict<TensorT>& out, const std::string& prefix, bool params,
               bool recurse) const;
  void collect_modules(std::vector<std::pair<std::string, Module*>>& out,
                       const std::string& prefix);
  void repr_into(std::string& out, int indent) const;

  std::string type_name_;
  OrderedDict<TensorT> params_, buffers_;
  OrderedDict<Tensor<int64_t, D>> integer_buffers_;
  OrderedDict<std::shared_ptr<Module>> children_;
  bool training_ = true;
};

/// Copies `src`'s parameters and buffers into `dst`, a model of the same architecture in
/// dtype U, converting them: model.to(dtype) for typed models (Note [Typed modules]).
/// Validates like load_state_dict; on error nothing is copied.
template <class U, class T, class D>
void convert_into(Module<U, D>& dst, const Module<T, D>& src, bool strict = true) {
  dst.load_state_dict(to<U>(src.state_dict()), strict);
}

template <class T, class D>
std::ostream& operator<<(std::ostream& os, const Module<T, D>& m) {
  return os << m.repr();
}

/// A module with one tensor in and one out: what Sequential chains.
template <class T = float, class D = CPU>
class UnaryModule : public Module<T, D> {
 public:
  using Module<T, D>::Module;
  virtual Tensor<T, D> forward(const Tensor<T, D>& x) = 0;
  Tensor<T, D> operator()(const Tensor<T, D>& x) { return forward(x); }
  /// An expression is evaluated first; one of another dtype or device does not compile
  /// (Note [Typed modules]).
  template <expr::Expr E>
  requires(!std::is_same_v<std::remove_cvref_t<E>, Tensor<T, D>>) Tensor<T, D>
  operator()(const E& e) {
    static_assert(std::is_same_v<expr::value_t<E>, T> && std::is_same_v<expr::device_t<E>, D>,
                  "kiln::nn: the input's dtype or device differs from the module's "
                  "(Module<T, Device>); convert the input with .to<T>() / .to<Device>()");
    return forward(Tensor<T, D>(e));
  }
};

}  // namespace kiln::nn

#include "kiln/nn/module_impl.hpp"
