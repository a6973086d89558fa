// SPDX-License-Identifier: BSD-3-Clause
// The autograd graph: type-erased gradients (AnyTensor), Nodes joined by Edges, and the
// per-tensor AutogradMeta. Typed parts (what a Tensor<T, D> records) are in record.hpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kiln/core/dtype.hpp"
#include "kiln/core/shape.hpp"

namespace kiln {

template <class T, class D>
class Tensor;

class AnyTensor;

/// What the engine needs to do with a gradient whose dtype it does not know; one static
/// table per (dtype, device), filled in by record.hpp.
struct AnyTensorOps {
  ScalarType dtype;
  const char* device;
  const Shape& (*shape)(const void*);
  AnyTensor (*add)(const AnyTensor&, const AnyTensor&);
  AnyTensor (*zeros)(const Shape&);
  bool (*has_nan)(const AnyTensor&);
  bool (*requires_grad)(const AnyTensor&);
};

/// A tensor of any dtype and device: how gradients travel through the engine.
class AnyTensor {
 public:
  AnyTensor() = default;
  template <class T, class D>
  AnyTensor(Tensor<T, D> t);  // NOLINT: implicit, like a base-class conversion
  bool defined() const { return p_ != nullptr; }
  const Shape& shape() const { return ops_->shape(p_.get()); }
  ScalarType dtype() const { return ops_->dtype; }
  const AnyTensorOps& ops() const { return *ops_; }
  /// How many AnyTensor copies share this handle (in-place reuse needs exactly one).
  long use_count() const { return p_.use_count(); }
  /// The typed handle; throws AutogradError if the dtype or device differ.
  template <class T, class D>
  const Tensor<T, D>& as() const;

 private:
  std::shared_ptr<const void> p_;
  const AnyTensorOps* ops_ = nullptr;
};

namespace autograd {

class Node;

/// Where a gradient goes: input `input_nr` of node `fn` (the gradient of `fn`'s forward
/// output number `input_nr`). An edge without a function leads nowhere.
struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;
  bool valid() const { return fn != nullptr; }
};

/// Shape and dtype of one forward output of a node: what its gradient must look like.
struct InputMeta {
  Shape shape;
  const AnyTensorOps* ops = nullptr;
};

/// A hook run on a gradient before it is used; returns a replacement or an undefined
/// AnyTensor to keep it.
using GradHook = std::function<AnyTensor(const AnyTensor&)>;

struct AutogradMeta;

// Note [Autograd graph]
// Each differentiable op run with grad mode on creates one Node: the backward of that op.
// Its next_edges point at the nodes of its inputs (the grad_fn of a non-leaf input, the
// AccumulateGrad of a leaf). Forward outputs hold their node strongly through their
// AutogradMeta; a node holds its inputs' nodes strongly through its edges; nothing holds
// a node's own outputs strongly (saved outputs keep only a weak link), so graphs are
// acyclic and freed when the last output goes. Releases of Node references are
// trampolined (release_node), so freeing a 100,000-node chain does not recurse 100,000
// destructors deep.
class Node {
 public:
  Node();
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// What the forward op was, e.g. "MulBackward" or "FusedBackward[add(mul, sin)]".
  virtual std::string name() const = 0;
  /// Gradients of the forward inputs (one per next edge, undefined where an input needs
  /// none) from the gradients of the forward outputs (one per output, never undefined:
  /// the engine fills missing ones with zeros).
  virtual std::vector<AnyTensor> apply(std::vector<AnyTensor>&& grads) = 0;
  /// Frees what the node saved for backward (after a backward without retain_graph).
  virtual void release_variables() {}
  /// Whether this node accumulates into a leaf's .grad (AccumulateGrad).
  virtual bool is_accumulator() const { return false; }

  uint64_t sequence_nr() const { return sequence_nr_; }
  const std::vector<Edge>& next_edges() const { return next_edges_; }
  std::vector<Edge>& next_edges() { return next_edges_; }
  const std::vector<InputMeta>& input_meta() const { return input_meta_; }
  uint32_t add_input_meta(InputMeta m) {
    input_meta_.push_back(std::move(m));
    return static_cast<uint32_t>(input_meta_.size() - 1);
  }
  uint32_t num_outputs() const { return static_cast<uint32_t>(input_meta_.size()); }

  /// Hooks on the gradient of forward output `nr` (tensor.register_hook on a non-leaf),
  /// run in registration order; retain-grad hooks run after them.
  void add_pre_hook(uint32_t nr, GradHook h);
  void add_retain_hook(uint32_t nr, GradHook h);
  AnyTensor run_pre_hooks(uint32_t nr, AnyTensor g) const;

  /// Held by the engine while it runs this node's hooks, apply and release_variables, and
  /// by hook registration: two backward passes that share the node (retain_graph) take
  /// turns on it, and a pass that frees its buffers cannot do so under another's apply.
  /// Recursive, so that a hook or a custom backward may register hooks on its own node.
  std::recursive_mutex& mutex() const { return mutex_; }

 protected:
  /// Hooks kept outside the node, run before its own on input 0: a leaf's (its
  /// AccumulateGrad is made lazily and held only by graphs, so it cannot own them).
  virtual const std::vector<GradHook>* tensor_hooks() const { return nullptr; }

 private:
  uint64_t sequence_nr_;
  std::vector<Edge> next_edges_;
  std::vector<InputMeta> input_meta_;
  std::vector<std::pair<uint32_t, GradHook>> pre_hooks_, retain_hooks_;
  mutable std::recursive_mutex mutex_;
};

/// Drops a reference to a node without recursing through a long chain of sole owners.
void release_node(std::shared_ptr<Node>&& n) noexcept;

/// Per-tensor autograd state, shared by every copy of one Tensor handle (not by views:
/// a view gets its own meta whose grad_fn leads back to the base).
struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  uint32_t output_nr = 0;
  std::weak_ptr<Node> grad_accumulator;  // leaves: the AccumulateGrad node, made lazily
  std::vector<GradHook> hooks;           // leaves: register_hook, run by AccumulateGrad
  AnyTensor grad;
  std::mutex grad_mutex;  // two backward passes may accumulate into one leaf at once
  // Guards grad_accumulator only. Not grad_mutex: accumulating under create_graph records
  // ops whose edges may lead back to this very leaf (when the gradient is the leaf itself).
  std::mutex accumulator_mutex;

  AutogradMeta() = default;
  AutogradMeta(std::shared_ptr<Node> fn, uint32_t nr)
      : requires_grad(true), grad_fn(std::move(fn)), output_nr(nr) {}
  ~AutogradMeta() { release_node(std::move(grad_fn)); }
};

/// Runs the graph backward from `roots` (with gradients `grads`, same length),
/// accumulating into the .grad of every leaf reached (loss.backward()).
void run_backward(const std::vector<Edge>& roots, std::vector<AnyTensor> grads, bool retain_graph,
                  bool create_graph);
/// Like run_backward, but returns the gradients arriving at `inputs` instead of
/// accumulating into .grad (autograd::grad). `allow_unused` false makes an input that
/// the outputs do not depend on an error.
std::vector<AnyTensor> run_grad(const std::vector<Edge>& roots, std::vector<AnyTensor> grads,
                                const std::vector<Edge>& inputs, bool retain_graph,
                                bool create_graph, bool allow_unused);

}  // namespace autograd
}  // namespace kiln
