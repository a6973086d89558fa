// SPDX-License-Identifier: BSD-3-Clause
// User-defined differentiable ops with their own forward and backward, like
// torch.autograd.Function (see docs/autograd.md for an example).
#pragma once

#include <any>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kiln/tensor.hpp"

namespace kiln::autograd {

namespace detail {
template <class X>
struct is_tensor : std::false_type {};
template <class T, class D>
struct is_tensor<Tensor<T, D>> : std::true_type {};
template <class X>
inline constexpr bool is_tensor_v = is_tensor<std::remove_cvref_t<X>>::value;

template <class X>
struct output_traits;
template <class T, class D>
struct output_traits<Tensor<T, D>> {
  using value_type = T;
  using device_type = D;
  static std::vector<Tensor<T, D>*> list(Tensor<T, D>& t) { return {&t}; }
};
template <class T, class D>
struct output_traits<std::vector<Tensor<T, D>>> {
  using value_type = T;
  using device_type = D;
  static std::vector<Tensor<T, D>*> list(std::vector<Tensor<T, D>>& v) {
    std::vector<Tensor<T, D>*> r;
    for (auto& t : v) r.push_back(&t);
    return r;
  }
};
}  // namespace detail

/// What forward() leaves for backward(): saved tensors (version-checked like any saved
/// tensor) and any other data.
class AutogradContext {
 public:
  /// Keeps tensors for backward; they may be inputs or outputs of forward.
  template <class T, class D, class... More>
  void save_for_backward(const Tensor<T, D>& t, const More&... more) {
    pending_.push_back([t](const std::vector<const void*>& outs) {
      auto saved = std::make_shared<SavedTensor<T, D>>();
      // An output is saved as an output (a weak link to this node, no cycle).
      for (const void* o : outs) {
        const auto* out = static_cast<const Tensor<T, D>*>(o);
        if (out && out->storage() == t.storage() && out->storage_offset() == t.storage_offset() &&
            out->shape() == t.shape() && out->strides() == t.strides()) {
          *saved = save_output(*out);
          return Saved{saved};
        }
      }
      *saved = save(t);
      return Saved{saved};
    });
    if constexpr (sizeof...(More) > 0) save_for_backward(more...);
  }
  /// The tensors given to save_for_backward, in order, all of dtype T.
  template <class T, class D = CPU>
  std::vector<Tensor<T, D>> get_saved_variables() const {
    std::vector<Tensor<T, D>> r;
    for (const Saved& s : saved_) {
      auto p = std::static_pointer_cast<SavedTensor<T, D>>(s.p);
      r.push_back(p->unpack());
    }
    return r;
  }
  /// Whether the i-th tensor argument of forward needs a gradient.
  bool needs_input_grad(size_t i) const { return i < needs_.size() && needs_[i]; }
  /// Non-tensor state for backward (sizes, flags, scalars).
  std::unordered_map<std::string, std::any> saved_data;

 private:
  struct Saved {
    std::shared_ptr<void> p;
  };
  template <class Derived>
  friend struct Function;
  template <class Derived, class T, class D>
  friend class CustomNode;

  std::vector<std::function<Saved(const std::vector<const void*>&)>> pending_;
  std::vector<Saved> saved_;
  std::vector<bool> needs_;
};

/// The node of a custom function.
template <class Derived, class T, class D>
class CustomNode final : public Node {
 public:
  std::string name() const override {
    if constexpr (requires { Derived::name; })
      return std::string(Derived::name) + "Backward";
    else
      return "CustomFunctionBackward";
  }
  std::vector<AnyTensor> apply(std::vector<AnyTensor>&& grads) override {
    KILN_CHECK(!released_, AutogradError, "[", name(),
               "] trying to backward through the graph a second time (or to access saved "
               "tensors after they were freed): pass retain_graph=true to the first backward");
    std::vector<Tensor<T, D>> g;
    for (AnyTensor& a : grads) g.push_back(a.as<T, D>());
    std::vector<AnyTensor> r = Derived::backward(ctx, std::move(g));
    KILN_CHECK(r.size() == next_edges().size(), AutogradError, "[", name(), "] backward returned ",
               r.size(), " gradients but forward took ", next_edges().size(),
               " tensor arguments (return an undefined tensor for "
               "arguments without a gradient)");
    for (size_t i = 0; i < r.size(); ++i)
      if (!next_edges()[i].valid()) r[i] = AnyTensor();
    return r;
  }
  void release_variables() override {
    ctx.saved_.clear();
    ctx.saved_data.clear();
    released_ = true;
  }

  AutogradContext ctx;

 private:
  bool released_ = false;
};

/// Base of a user-defined differentiable op (CRTP):
///
///   struct Cube : kiln::autograd::Function<Cube> {
///     static Tensor<double> forward(AutogradContext& ctx, const Tensor<double>& x) {
///       ctx.save_for_backward(x);
///       return x * x * x;
///     }
///     static std::vector<AnyTensor> backward(AutogradContext& ctx,
///                                            std::vector<Tensor<double>> g) {
///       auto x = ctx.get_saved_variables<double>()[0];
///       return {Tensor<double>(g[0] * 3.0 * x * x)};
///     }
///   };
///   auto y = Cube::apply(x);
///
/// forward runs with grad mode off and returns a Tensor or a vector of Tensors of one
/// dtype; backward gets one gradient per output and returns one per tensor argument of
/// forward (undefined where there is none). A backward written with kiln ops is itself
/// differentiable under create_graph.
template <class Derived>
struct Function {
  template <class... Args>
  static auto apply(Args&&... args) {
    std::vector<Edge> edges;
    auto visit = [&](const auto& a) {
      if constexpr (detail::is_tensor_v<decltype(a)>) edges.push_back(gradient_edge(a));
    };
    (visit(args), ...);
    bool any = false;
    for (const Edge& e : edges) any = any || e.valid();
    any = any && GradMode::is_enabled();

    AutogradContext ctx;
    for (const Edge& e : edges) ctx.needs_.push_back(e.valid());
    auto out = [&] {
      AutoGradMode off(false);
      return Derived::forward(ctx, std::forward<Args>(args)...);
    }();
    using Traits = detail::output_traits<std::remove_cvref_t<decltype(out)>>;
    using T = typename Traits::value_type;
    using D = typename Traits::device_type;
    if (!any) return out;

    auto node = std::make_shared<CustomNode<Derived, T, D>>();
    node->next_edges() = std::move(edges);
    std::vector<const void*> outs;
    for (Tensor<T, D>* t : Traits::list(out)) {
      if constexpr (is_floating_v<T>) set_history(*t, node);
      outs.push_back(t);
    }
    for (auto& p : ctx.pending_) ctx.saved_.push_back(p(outs));
    ctx.pending_.clear();
    node->ctx = std::move(ctx);
    return out;
  }
};

}  // namespace kiln::autograd
