// SPDX-License-Identifier: BSD-3-Clause
// The autograd engine: runs a graph of Nodes in dependency order (Note [Autograd engine]).
#include <algorithm>
#include <atomic>
#include <queue>
#include <string>
#include <unordered_map>
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

void Node::add_pre_hook(uint32_t nr, GradHook h) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  pre_hooks_.emplace_back(nr, std::move(h));
}
void Node::add_retain_hook(uint32_t nr, GradHook h) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  retain_hooks_.emplace_back(nr, std::move(h));
}
AnyTensor Node::run_pre_hooks(uint32_t nr, AnyTensor g) const {
  auto run = [&](const GradHook& h) {
    if (!g.defined()) return;
    AnyTensor r = h(g);
    if (r.defined()) {
      KILN_CHECK(r.shape() == g.shape() && r.dtype() == g.dtype(), AutogradError,
                 "[hook] a hook on ",
                 is_accumulator() ? std::string("a leaf tensor's gradient")
                                  : "the gradient of the output of " + name(),
                 " returned a tensor of shape ", r.shape(), " and dtype ", r.dtype(),
                 " for a gradient of shape ", g.shape(), " and dtype ", g.dtype());
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

// The nodes of one pass are numbered densely in discovery order (one hash lookup per
// edge, while collecting); everything else the pass keeps per node is a vector indexed
// by that number, and each node's edges are resolved to numbers once.
struct GraphTask {
  std::vector<Node*> nodes;
  std::vector<int> edge_begin;  // node i's edges are edge_to[edge_begin[i] ...]
  std::vector<int> edge_to;     // the number of each edge's node; -1 for an empty edge
  std::vector<int> deps;
  std::vector<std::vector<AnyTensor>> buffers;
  std::vector<char> queued;
  // run_grad only: where to capture, and which nodes must run.
  std::unordered_map<Node*, std::vector<std::pair<uint32_t, size_t>>> captures;
  std::vector<const std::vector<std::pair<uint32_t, size_t>>*> capture_at;
  std::vector<char> must_run;
  bool capture_mode = false;

  const int* edges_of(int i) const { return edge_to.data() + edge_begin[i]; }
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

// Numbers every node reachable from `roots` and counts, for each, the edges leading
// into it. Returns the roots' numbers (-1 for an empty edge).
std::vector<int> collect(const std::vector<Edge>& roots, GraphTask& task) {
  std::unordered_map<Node*, int> id;
  id.reserve(64);
  std::vector<int> stack, root_ids;
  auto number = [&](Node* n) {
    const auto [it, fresh] = id.try_emplace(n, static_cast<int>(task.nodes.size()));
    if (fresh) {
      task.nodes.push_back(n);
      task.deps.push_back(0);
      task.edge_begin.push_back(0);
      stack.push_back(it->second);
    }
    return it->second;
  };
  for (const Edge& r : roots) root_ids.push_back(r.fn ? number(r.fn.get()) : -1);
  while (!stack.empty()) {
    const int i = stack.back();
    stack.pop_back();
    task.edge_begin[i] = static_cast<int>(task.edge_to.size());
    for (const Edge& e : task.nodes[i]->next_edges()) {
      if (!e.fn) {
        task.edge_to.push_back(-1);
        continue;
      }
      const int j = number(e.fn.get());
      ++task.deps[j];
      task.edge_to.push_back(j);
    }
  }
  const size_t n = task.nodes.size();
  task.buffers.resize(n);
  task.queued.assign(n, 0);
  if (task.capture_mode) {
    task.capture_at.assign(n, nullptr);
    for (const auto& [fn, slots] : task.captures)
      if (auto it = id.find(fn); it != id.end()) task.capture_at[it->second] = &slots;
  }
  return root_ids;
}

// Marks the nodes that lead to a capture target (run_grad), visiting children before
// parents: a Kahn order of the graph, walked backwards.
void mark_needed(GraphTask& task) {
  const int n = static_cast<int>(task.nodes.size());
  std::vector<int> indeg = task.deps, topo, ready;
  topo.reserve(n);
  for (int i = 0; i < n; ++i)
    if (indeg[i] == 0) ready.push_back(i);
  while (!ready.empty()) {
    const int i = ready.back();
    ready.pop_back();
    topo.push_back(i);
    const int* to = task.edges_of(i);
    for (size_t k = 0; k < task.nodes[i]->next_edges().size(); ++k)
      if (to[k] >= 0 && --indeg[to[k]] == 0) ready.push_back(to[k]);
  }
  std::vector<char> reaches(n, 0);
  task.must_run.assign(n, 0);
  for (auto it = topo.rbegin(); it != topo.rend(); ++it) {
    const int i = *it;
    const int* to = task.edges_of(i);
    bool child = false;
    for (size_t k = 0; k < task.nodes[i]->next_edges().size(); ++k)
      child = child || (to[k] >= 0 && reaches[to[k]]);
    if (child) task.must_run[i] = 1;
    if (child || task.capture_at[i]) reaches[i] = 1;
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
  const std::vector<int> root_ids = collect(roots, task);
  if (task.capture_mode) mark_needed(task);
  std::vector<AnyTensor> captured(n_captures);

  // Ready nodes run in decreasing sequence number, accumulators first.
  auto later = [&](int a, int b) { return ReadyCmp{}(task.nodes[a], task.nodes[b]); };
  std::priority_queue<int, std::vector<int>, decltype(later)> ready(later);
  for (size_t r = 0; r < roots.size(); ++r) {
    const int i = root_ids[r];
    if (i < 0) continue;
    accumulate(task.buffers[i], task.nodes[i], roots[r].input_nr, std::move(grads[r]));
    if (task.deps[i] == 0 && !task.queued[i]) {
      task.queued[i] = 1;
      ready.push(i);
    }
  }

  while (!ready.empty()) {
    const int i = ready.top();
    ready.pop();
    Node* fn = task.nodes[i];
    std::unique_lock<std::recursive_mutex> node_lock(fn->mutex());
    std::vector<AnyTensor> in = std::move(task.buffers[i]);
    in.resize(fn->num_outputs());
    bool any = false;
    for (uint32_t k = 0; k < in.size(); ++k) {
      in[k] = fn->run_pre_hooks(k, std::move(in[k]));
      any = any || in[k].defined();
    }
    if (task.capture_mode && task.capture_at[i])
      for (auto [nr, slot] : *task.capture_at[i]) captured[slot] = in[nr];

    const bool run = task.capture_mode ? task.must_run[i] != 0 : true;
    std::vector<AnyTensor> out;
    bool ran = false;
    if (run && any) {
      for (uint32_t k = 0; k < in.size(); ++k)
        if (!in[k].defined()) in[k] = fn->input_meta()[k].ops->zeros(fn->input_meta()[k].shape);
      {
        CurrentNodeGuard current(fn);
        out = fn->apply(std::move(in));
      }
      ran = true;
      if (!retain_graph) fn->release_variables();
    }
    node_lock.unlock();
    if (ran) check_outputs(fn, out);
    const std::vector<Edge>& edges = fn->next_edges();
    out.resize(edges.size());
    const int* to = task.edges_of(i);
    for (size_t k = 0; k < edges.size(); ++k) {
      const int j = to[k];
      if (j < 0) continue;
      if (task.capture_mode && !task.must_run[j] && !task.capture_at[j]) continue;
      accumulate(task.buffers[j], task.nodes[j], edges[k].input_nr, std::move(out[k]));
      if (--task.deps[j] == 0 && !task.queued[j]) {
        task.queued[j] = 1;
        ready.push(j);
      }
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
