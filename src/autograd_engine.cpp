// SPDX-License-Identifier: BSD-3-Clause
// The autograd engine: runs a graph of Nodes in dependency order (Note [Autograd engine]).
#include <algorithm>
#include <atomic>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "kiln/autograd/grad_mode.hpp"
#include "kiln/autograd/node.hpp"
#include "kiln/core/error.hpp"
#include "kiln/tensor.hpp"

namespace kiln::autograd {

namespace {
std::atomic<bool> g_anomaly{false};
std::atomic<uint64_t> g_next_sequence_nr{0};

// Release trampoline (Note [Autograd graph]): while one release runs on this thread,
// nested releases are queued instead of recursing.
thread_local bool t_releasing = false;
thread_local std::vector<std::shared_ptr<Node>>* t_pending = nullptr;
thread_local const Node* t_current = nullptr;
}  // namespace

const Node* current_node() { return t_current; }
CurrentNodeGuard::CurrentNodeGuard(const Node* n) : prev_(t_current) { t_current = n; }
CurrentNodeGuard::~CurrentNodeGuard() { t_current = prev_; }

bool AnomalyMode::is_enabled() { return g_anomaly.load(std::memory_order_relaxed); }
void AnomalyMode::set_enabled(bool on) { g_anomaly.store(on, std::memory_order_relaxed); }

Node::Node() : sequence_nr_(g_next_sequence_nr.fetch_add(1, std::memory_order_relaxed)) {}

Node::~Node() {
  for (Edge& e : next_edges_) release_node(std::move(e.fn));
}

void release_node(std::shared_ptr<Node>&& n) noexcept {
  if (!n) return;
  if (t_releasing) {
    // Only a sole owner's release can cascade; other references just drop a count.
    if (n.use_count() == 1)
      t_pending->push_back(std::move(n));
    else
      n.reset();
    return;
  }
  std::vector<std::shared_ptr<Node>> pending;
  t_releasing = true;
  t_pending = &pending;
  n.reset();
  while (!pending.empty()) {
    std::shared_ptr<Node> next = std::move(pending.back());
    pending.pop_back();
    next.reset();  // may queue more
  }
  t_pending = nullptr;
  t_releasing = false;
}

void Node::add_pre_hook(uint32_t nr, GradHook h) { pre_hooks_.emplace_back(nr, std::move(h)); }
void Node::add_retain_hook(uint32_t nr, GradHook h) {
  retain_hooks_.emplace_back(nr, std::move(h));
}
AnyTensor Node::run_pre_hooks(uint32_t nr, AnyTensor g) const {
  auto run = [&](const GradHook& h) {
    if (!g.defined()) return;
    AnyTensor r = h(g);
    if (r.defined()) {
      KILN_CHECK(r.shape() == g.shape() && r.dtype() == g.dtype(), AutogradError,
                 "[hook] a hook on the gradient of ", name(), " returned a tensor of shape ",
                 r.shape(), " and dtype ", r.dtype(), " for a gradient of shape ", g.shape(),
                 " and dtype ", g.dtype());
      g = std::move(r);
    }
  };
  if (const std::vector<GradHook>* hooks = tensor_hooks(); hooks && nr == 0)
    for (const GradHook& h : *hooks) run(h);
  for (const auto* hooks : {&pre_hooks_, &retain_hooks_})
    for (const auto& [k, h] : *hooks)
      if (k == nr) run(h);
  return g;
}

// Note [Autograd engine]
// A backward pass is one local GraphTask: nothing is shared between passes, so threads
// can run backward on independent graphs at once. Dependency counts come from an
// iterative walk (no recursion: chains of 100,000 nodes are fine). Ready nodes run in
// decreasing sequence number, i.e. reverse creation order, which keeps the gradient
// buffers that are alive at once few. Each node's incoming gradients are summed in a
// buffer; missing ones are zero-filled from the node's InputMeta; a node whose incoming
// gradients are all undefined is skipped and passes "undefined" on.
namespace {

struct ReadyCmp {
  bool operator()(Node* a, Node* b) const {
    // Accumulators first: a leaf's gradient is final as soon as it is ready.
    if (a->is_accumulator() != b->is_accumulator()) return b->is_accumulator();
    return a->sequence_nr() < b->sequence_nr();
  }
};

struct GraphTask {
  std::unordered_map<Node*, int> deps;
  std::unordered_map<Node*, std::vector<AnyTensor>> buffers;
  // run_grad only: where to capture, and which nodes must run.
  std::unordered_map<Node*, std::vector<std::pair<uint32_t, size_t>>> captures;
  std::unordered_set<Node*> must_run;
  bool capture_mode = false;
};

void accumulate(std::vector<AnyTensor>& buf, Node* fn, uint32_t nr, AnyTensor g) {
  if (buf.size() < fn->num_outputs()) buf.resize(fn->num_outputs());
  KILN_CHECK(nr < buf.size(), AutogradError, "[backward] an edge into ", fn->name(),
             " names its output ", nr, " but it has ", buf.size());
  if (!g.defined()) return;
  if (!buf[nr].defined())
    buf[nr] = std::move(g);
  else
    buf[nr] = buf[nr].ops().add(buf[nr], g);
}

std::vector<Node*> collect(const std::vector<Edge>& roots, GraphTask& task) {
  std::vector<Node*> stack, order;
  std::unordered_set<Node*> seen;
  for (const Edge& r : roots)
    if (r.fn && seen.insert(r.fn.get()).second) stack.push_back(r.fn.get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    order.push_back(n);
    for (const Edge& e : n->next_edges()) {
      if (!e.fn) continue;
      ++task.deps[e.fn.get()];
      if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
    }
  }
  return order;
}

// Marks the nodes that lead to a capture target (run_grad), visiting children before
// parents: a Kahn order of the graph, walked backwards.
void mark_needed(const std::vector<Node*>& nodes, GraphTask& task) {
  std::unordered_map<Node*, int> indeg = task.deps;
  std::vector<Node*> topo, ready;
  for (Node* n : nodes)
    if (indeg[n] == 0) ready.push_back(n);
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    topo.push_back(n);
    for (const Edge& e : n->next_edges())
      if (e.fn && --indeg[e.fn.get()] == 0) ready.push_back(e.fn.get());
  }
  std::unordered_set<Node*> reaches;
  for (auto it = topo.rbegin(); it != topo.rend(); ++it) {
    Node* n = *it;
    bool child = false;
    for (const Edge& e : n->next_edges()) child = child || (e.fn && reaches.count(e.fn.get()));
    if (child) task.must_run.insert(n);
    if (child || task.captures.count(n)) reaches.insert(n);
  }
}

void check_outputs(Node* fn, const std::vector<AnyTensor>& out) {
  KILN_CHECK(out.size() == fn->next_edges().size(), AutogradError, "[backward] function ",
             fn->name(), " returned ", out.size(), " gradients but expected ",
             fn->next_edges().size());
  for (size_t i = 0; i < out.size(); ++i) {
    const Edge& e = fn->next_edges()[i];
    if (!e.fn || !out[i].defined()) continue;
    const InputMeta& m = e.fn->input_meta()[e.input_nr];
    KILN_CHECK(out[i].shape() == m.shape, AutogradError, "[backward] function ", fn->name(),
               " returned an invalid gradient at index ", i, " - got ", out[i].shape(),
               " but expected shape compatible with ", m.shape);
    KILN_CHECK(out[i].dtype() == m.ops->dtype, AutogradError, "[backward] function ", fn->name(),
               " returned an invalid gradient at index ", i, " - expected dtype ", m.ops->dtype,
               " but got ", out[i].dtype());
    if (AnomalyMode::is_enabled())
      KILN_CHECK(!out[i].ops().has_nan(out[i]), AutogradError, "[anomaly] function '", fn->name(),
                 "' returned nan values in its ", i,
                 "th output: the backward of that forward op produced NaN");
  }
}

std::vector<AnyTensor> execute(const std::vector<Edge>& roots, std::vector<AnyTensor> grads,
                               GraphTask& task, size_t n_captures, bool retain_graph,
                               bool create_graph) {
  KILN_CHECK(roots.size() == grads.size(), AutogradError, "[backward] got ", roots.size(),
             " outputs but ", grads.size(), " gradients");
  AutoGradMode mode(create_graph);
  const std::vector<Node*> nodes = collect(roots, task);
  if (task.capture_mode) mark_needed(nodes, task);
  std::vector<AnyTensor> captured(n_captures);

  std::priority_queue<Node*, std::vector<Node*>, ReadyCmp> ready;
  std::unordered_set<Node*> queued;
  for (size_t i = 0; i < roots.size(); ++i) {
    Node* fn = roots[i].fn.get();
    if (!fn) continue;
    accumulate(task.buffers[fn], fn, roots[i].input_nr, std::move(grads[i]));
    if (task.deps[fn] == 0 && queued.insert(fn).second) ready.push(fn);
  }

  while (!ready.empty()) {
    Node* fn = ready.top();
    ready.pop();
    std::vector<AnyTensor> in = std::move(task.buffers[fn]);
    task.buffers.erase(fn);
    in.resize(fn->num_outputs());
    bool any = false;
    for (uint32_t k = 0; k < in.size(); ++k) {
      in[k] = fn->run_pre_hooks(k, std::move(in[k]));
      any = any || in[k].defined();
    }
    if (auto it = task.captures.find(fn); it != task.captures.end())
      for (auto [nr, slot] : it->second) captured[slot] = in[nr];

    const bool run = task.capture_mode ? task.must_run.count(fn) > 0 : true;
    std::vector<AnyTensor> out;
    if (run && any) {
      for (uint32_t k = 0; k < in.size(); ++k)
        if (!in[k].defined()) in[k] = fn->input_meta()[k].ops->zeros(fn->input_meta()[k].shape);
      {
        CurrentNodeGuard current(fn);
        out = fn->apply(std::move(in));
      }
      check_outputs(fn, out);
      if (!retain_graph) fn->release_variables();
    }
    out.resize(fn->next_edges().size());
    for (size_t i = 0; i < out.size(); ++i) {
      const Edge& e = fn->next_edges()[i];
      if (!e.fn) continue;
      Node* next = e.fn.get();
      if (task.capture_mode && !task.must_run.count(next) && !task.captures.count(next)) continue;
      accumulate(task.buffers[next], next, e.input_nr, std::move(out[i]));
      if (--task.deps[next] == 0 && queued.insert(next).second) ready.push(next);
    }
  }
  return captured;
}

}  // namespace

void run_backward(const std::vector<Edge>& roots, std::vector<AnyTensor> grads, bool retain_graph,
                  bool create_graph) {
  GraphTask task;
  execute(roots, std::move(grads), task, 0, retain_graph, create_graph);
}

std::vector<AnyTensor> run_grad(const std::vector<Edge>& roots, std::vector<AnyTensor> grads,
                                const std::vector<Edge>& inputs, bool retain_graph,
                                bool create_graph, bool allow_unused) {
  GraphTask task;
  task.capture_mode = true;
  for (size_t i = 0; i < inputs.size(); ++i) {
    KILN_CHECK(inputs[i].fn, AutogradError, "[grad] input ", i,
               " does not require grad, so it has no gradient");
    task.captures[inputs[i].fn.get()].emplace_back(inputs[i].input_nr, i);
  }
  std::vector<AnyTensor> out =
      execute(roots, std::move(grads), task, inputs.size(), retain_graph, create_graph);
  for (size_t i = 0; i < out.size(); ++i)
    KILN_CHECK(out[i].defined() || allow_unused, AutogradError, "[grad] input ", i,
               " is not used by the graph of the outputs; pass allow_unused=true to get an "
               "undefined gradient for it");
  return out;
}

}  // namespace kiln::autograd
