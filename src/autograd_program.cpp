// SPDX-License-Identifier: BSD-3-Clause
// Backward programs (Note [Backward programs] in include/kiln/autograd/program.hpp): the
// builder, the node, the tiled driver that feeds the per-ISA kernels, and the create_graph
// interpreter on recorded ops. Compiled once for the CPU floating dtypes.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/autograd/lazy_ops.hpp"
#include "kiln/tensor.hpp"

namespace kiln::autograd::detail {

// ---- the kernels, one build per ISA ------------------------------------------------------------

#define KILN_DECLARE_KERNEL(ns)                                                                    \
  namespace ns {                                                                                   \
  void program_tile(const KInstr* code, int count, float* const* val, float* const* adj, int n);   \
  void program_tile(const KInstr* code, int count, double* const* val, double* const* adj, int n); \
  }
KILN_DECLARE_KERNEL(kernel_default)
#if KILN_PROGRAM_AVX2
KILN_DECLARE_KERNEL(kernel_avx2)
#endif
#if KILN_PROGRAM_AVX512
KILN_DECLARE_KERNEL(kernel_avx512)
#endif
#undef KILN_DECLARE_KERNEL

namespace {

template <class C>
using TileFn = void (*)(const KInstr*, int, C* const*, C* const*, int);

struct KernelSet {
  const char* name;
  TileFn<float> f32;
  TileFn<double> f64;
};

#define KILN_KERNEL_SET(ns, label) \
  KernelSet { label, &ns::program_tile, &ns::program_tile }

std::vector<KernelSet> available_kernels() {
  std::vector<KernelSet> v{KILN_KERNEL_SET(kernel_default, "default")};
#if KILN_PROGRAM_AVX2
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    v.push_back(KILN_KERNEL_SET(kernel_avx2, "avx2"));
#endif
#if KILN_PROGRAM_AVX512
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    v.push_back(KILN_KERNEL_SET(kernel_avx512, "avx512"));
#endif
  return v;
}
#undef KILN_KERNEL_SET

const std::vector<KernelSet>& kernels() {
  static const std::vector<KernelSet> all = available_kernels();
  return all;
}

// The widest set this CPU runs, or the one KILN_CPU_CAPABILITY names (default, avx2,
// avx512), like ATen's ATEN_CPU_CAPABILITY. Atomic: set_program_kernel may switch it
// while another thread runs a backward.
std::atomic<const KernelSet*>& active_kernel() {
  static std::atomic<const KernelSet*> active = [] {
    const KernelSet* pick = &kernels().back();
    if (const char* want = std::getenv("KILN_CPU_CAPABILITY"))
      for (const KernelSet& k : kernels())
        if (std::string_view(want) == k.name) pick = &k;
    return pick;
  }();
  return active;
}

}  // namespace

std::vector<std::string> program_kernels() {
  std::vector<std::string> names;
  for (const KernelSet& k : kernels()) names.emplace_back(k.name);
  return names;
}
std::string program_kernel() { return active_kernel().load()->name; }
void set_program_kernel(const std::string& name) {
  std::string names;
  for (const KernelSet& k : kernels()) {
    if (name == k.name) {
      active_kernel().store(&k);
      return;
    }
    names += names.empty() ? k.name : std::string(", ") + k.name;
  }
  throw ValueError(kiln::detail::str_cat("[autograd] no backward kernel '", name,
                                         "' on this CPU; it has: ", names));
}

namespace {

template <class C>
TileFn<C> tile_fn() {
  if constexpr (std::is_same_v<C, float>)
    return active_kernel().load()->f32;
  else
    return active_kernel().load()->f64;
}

// ---- the node ----------------------------------------------------------------------------------

// A tile is at most kMaxTile elements, and a program's values and gradients for one tile
// take at most kScratchBytes (L2/L3). Long tiles matter more than L1: each kernel loop
// streams its leaves and gradients straight from and to memory (Note [Tiles in place]),
// and the hardware prefetchers need long runs. On the chain benchmark (16M floats, one
// thread) tiles of 1K, 4K and 16K elements took 73, 61 and 52 ms; 64K gained nothing more.
constexpr int64_t kMaxTile = 16384;
constexpr size_t kScratchBytes = 2048 * 1024;

template <class T>
class ProgramNode final : public Node {
 public:
  using C = decltype(expr::detail::to_opmath(T()));

  ProgramNode(std::vector<Instr> code, std::vector<Tensor<T, CPU>> inputs,
              std::vector<uint64_t> versions, std::vector<int> input_slot, size_t nslots,
              Shape out_shape, const char* name, Shape keep_shape, double scale, bool reduction)
      : code_(std::move(code)),
        inputs_(std::move(inputs)),
        versions_(std::move(versions)),
        input_slot_(std::move(input_slot)),
        nslots_(nslots),
        out_shape_(std::move(out_shape)),
        name_(name),
        keep_shape_(std::move(keep_shape)),
        scale_(scale),
        reduction_(reduction) {}

  std::string name() const override {
    if (name_) return name_;
    std::string s;
    put_name(s, static_cast<int>(code_.size()) - 1);
    return fused_node_name(nullptr, s);
  }
  void release_variables() override {
    inputs_.clear();
    inputs_.shrink_to_fit();
    released_ = true;
  }

  std::vector<AnyTensor> apply(std::vector<AnyTensor>&& grads) override {
    if (released_) throw_freed(name());
    for (size_t k = 0; k < inputs_.size(); ++k) {
      if (versions_[k] == kConstant) continue;
      const uint64_t now = inputs_[k].storage().version();
      if (now != versions_[k]) throw_modified(name(), inputs_[k].shape(), now, versions_[k]);
    }
    Tensor<T, CPU> g = grads[0].as<T, CPU>();
    if (reduction_) g = g.reshape(keep_shape_).expand(out_shape_);
    const Flags f = flags();
    if (GradMode::is_enabled()) return lazy_backward(g, f);
    return tiled_backward(g, f);
  }

  static constexpr uint64_t kConstant = ~uint64_t{0};

 private:
  struct Flags {
    explicit Flags(int n) : bits(static_cast<size_t>(4 * n), 0) {}
    Flags(Flags&&) = default;  // the views below point into bits' buffer, which moves
    std::vector<char> bits;
    char* grad = bits.data();              // a leaf that requires grad lies below it
    char* reach = grad + bits.size() / 4;  // its gradient is computed in this backward
    char* val = reach + bits.size() / 4;   // its value is computed
    char* need = val + bits.size() / 4;    // a parent reads its value
  };

  // Which gradients and values the backward needs (Note [Values the backward reads]).
  // Every program op but the mask ops is differentiable, so an instruction needs its
  // gradient exactly when a leaf that requires grad lies below it through such ops.
  Flags flags() const {
    const int n = static_cast<int>(code_.size());
    Flags f(n);
    for (int i = 0; i < n; ++i) {
      const Instr& in = code_[i];
      switch (in.op) {
        case Opc::leaf:
          f.grad[i] = input_slot_[in.input] >= 0;
          break;
        case Opc::constant:
        case Opc::scalar:
          break;
        default:
          f.grad[i] =
              !is_mask_op(in.op) && ((in.a >= 0 && f.grad[in.a]) || (in.b >= 0 && f.grad[in.b]));
      }
    }
    // A leaf under a comparison alone (x in `where(x > 0, a, b)`) requires grad but is
    // never reached: its slot must not add a gradient nobody wrote.
    f.reach[n - 1] = f.grad[n - 1];
    for (int i = n - 1; i >= 0; --i) {
      const Instr& in = code_[i];
      if (!f.reach[i] || is_mask_op(in.op)) continue;
      if (in.a >= 0) f.reach[in.a] = f.grad[in.a];
      if (in.b >= 0) f.reach[in.b] = f.grad[in.b];
    }
    char* need = f.need;
    for (int i = n - 1; i >= 0; --i) {
      const Instr& in = code_[i];
      if (in.op == Opc::leaf || in.op == Opc::constant || in.op == Opc::scalar) {
        f.val[i] = need[i];
        continue;
      }
      if (in.op == Opc::identity) {
        f.val[i] = need[i];
        need[in.a] = need[in.a] || need[i];
        continue;
      }
      const OpInfo info = op_info(in.op);
      const bool deriv = f.reach[i];
      f.val[i] = need[i] || (deriv && info.reads_output);
      const bool operands = f.val[i] || (deriv && info.reads_inputs);
      if (in.a >= 0) need[in.a] = need[in.a] || operands;
      if (in.b >= 0) need[in.b] = need[in.b] || operands;
      if (in.c >= 0) need[in.c] = need[in.c] || f.val[i] || deriv;
    }
    return f;
  }

  void put_name(std::string& s, int i) const {
    const Instr& in = code_[i];
    switch (in.op) {
      case Opc::leaf:
        s += "x";
        return;
      case Opc::scalar:
        s += "scalar";
        return;
      case Opc::constant:
        in.name(s);
        return;
      case Opc::identity:
        s += "to_";
        s += dtype_name_v<T>;
        s += "(";
        put_name(s, in.a);
        s += ")";
        return;
      default:
        s += op_info(in.op).name;
        s += "(";
        if (in.c >= 0) {
          put_name(s, in.c);
          s += ", ";
        }
        put_name(s, in.a);
        if (in.b >= 0) {
          s += ", ";
          put_name(s, in.b);
        }
        s += ")";
    }
  }

  // ---- the tiled pass ----

  std::vector<AnyTensor> tiled_backward(const Tensor<T, CPU>& g, const Flags& f) const {
    const int n = static_cast<int>(code_.size());
    std::vector<KInstr> kcode(n);
    bool has_identity = false;
    for (int i = 0; i < n; ++i) {
      const Instr& in = code_[i];
      KInstr& k = kcode[i];
      k.op = in.op;
      k.fwd = f.val[i];
      k.a = in.a;
      k.b = in.b;
      k.c = in.c;
      k.scalar = in.scalar;
      std::memcpy(k.state, in.state, kOpState);
      has_identity = has_identity || in.op == Opc::identity;
      if (in.op == Opc::leaf || in.op == Opc::constant || in.op == Opc::scalar) continue;
      k.ga = f.reach[i] && in.a >= 0 && f.reach[in.a] && in.op != Opc::identity;
      k.gb = f.reach[i] && in.b >= 0 && f.reach[in.b];
    }

    // Each slot's reached leaf instructions, as chains: slot_first[s], then next[i].
    std::vector<int> links(nslots_ + n, -1);
    int* slot_first = links.data();
    int* next = links.data() + nslots_;
    for (int i = n - 1; i >= 0; --i)
      if (code_[i].op == Opc::leaf && f.reach[i]) {
        const int s = input_slot_[code_[i].input];
        next[i] = slot_first[s];
        slot_first[s] = i;
      }
    // One output-shaped buffer per reached slot; each tile writes its own part of it.
    std::vector<Tensor<T, CPU>> bufs(nslots_);
    for (size_t s = 0; s < nslots_; ++s)
      if (slot_first[s] >= 0) bufs[s] = Tensor<T, CPU>(out_shape_);
    std::vector<Strides> all;
    all.reserve(inputs_.size() + 2);
    all.push_back(contiguous_strides(out_shape_));
    all.push_back(broadcast_strides(g.shape(), g.strides(), out_shape_));
    for (const auto& t : inputs_)
      all.push_back(broadcast_strides(t.shape(), t.strides(), out_shape_));
    const expr::Layout l = expr::coalesce_layout(out_shape_, all);
    const int nd = l.nd;
    int64_t total = 1;
    for (int k = 0; k < nd; ++k) total *= l.extent[k];
    if (total == 0) return outputs(bufs);
    // Per operand (0: the slot buffers, 1: g, 2...: inputs): its strides along the
    // layout's dims, then its data (reusing `all`, whose strides were consumed above).
    std::vector<int64_t> st(all.size() * kMaxDims);
    for (size_t k = 0; k < all.size(); ++k) expr::layout_strides(l, all[k], &st[k * kMaxDims]);

    const T* gdata = g.data();
    const TileFn<C> tile = tile_fn<C>();
    const int64_t inner = l.extent[nd - 1];
    const C scale = static_cast<C>(scale_);
    // Tiles never cross a row; their length is a multiple of the widest packet, which the
    // kernels always run whole.
    const int64_t fit = static_cast<int64_t>(kScratchBytes / (2 * sizeof(C))) / n / 16 * 16;
    const int tile_len = static_cast<int>(
        std::min<int64_t>({kMaxTile, std::max<int64_t>(fit, 16), (inner + 15) / 16 * 16}));

    // Note [Tiles in place]: a whole tile of a contiguous leaf, of the incoming gradient
    // and of a gradient buffer is used where it lies instead of being copied through the
    // scratch buffers (same dtype only; not across same-dtype casts, whose instructions
    // share buffers). A partial tile is always copied: the kernels run whole packets.
    const bool in_place = std::is_same_v<T, C> && !has_identity;
    parallel_for(total, kParallelGrain / 4, 64, [&](int64_t b, int64_t end) {
      C* mem = scratch(static_cast<size_t>(2 * n) * static_cast<size_t>(tile_len));
      std::vector<C*> ptrs(static_cast<size_t>(4 * n));
      // own_*: each instruction's scratch (after the aliasing below); val/adj: what this
      // tile uses, which may point into the tensors instead (Note [Tiles in place]).
      C** own_val = ptrs.data();
      C** own_adj = own_val + n;
      C** val = own_adj + n;
      C** adj = val + n;
      for (int i = 0; i < n; ++i) {
        own_val[i] = mem + static_cast<size_t>(i) * tile_len;
        own_adj[i] = mem + static_cast<size_t>(n + i) * tile_len;
      }
      // A same-dtype cast shares its operand's value and passes its gradient through.
      for (int i = 0; i < n; ++i)
        if (code_[i].op == Opc::identity) own_val[i] = own_val[code_[i].a];
      for (int i = n - 1; i >= 0; --i)
        if (code_[i].op == Opc::identity) own_adj[code_[i].a] = own_adj[i];
      std::copy(own_val, own_val + 2 * n, val);

      int64_t coords[kMaxDims] = {};
      int64_t row = b / inner, j0 = b % inner;
      for (int k = nd - 2; k >= 0; --k) {
        coords[k] = row % l.extent[k];
        row /= l.extent[k];
      }
      auto row_offset = [&](size_t k) {
        int64_t o = 0;
        for (int d = 0; d + 1 < nd; ++d) o += coords[d] * st[k * kMaxDims + d];
        return o;
      };
      auto inner_stride = [&](size_t k) { return st[k * kMaxDims + nd - 1]; };
      while (b < end) {
        const int64_t j1 = std::min(inner, j0 + (end - b));
        const int64_t ob = row_offset(0), og = row_offset(1);
        for (int64_t j = j0; j < j1; j += tile_len) {
          const int len = static_cast<int>(std::min<int64_t>(tile_len, j1 - j));
          const bool whole = in_place && len % 16 == 0;
          for (int i = 0; i < n; ++i) {
            const Instr& in = code_[i];
            if (!kcode[i].fwd || (in.op != Opc::leaf && in.op != Opc::constant)) continue;
            const size_t k = 2 + static_cast<size_t>(in.input);
            const T* src = inputs_[in.input].data() + row_offset(k);
            if (whole && inner_stride(k) == 1) {
              val[i] = const_cast<C*>(reinterpret_cast<const C*>(src + j));
            } else {
              val[i] = own_val[i];
              load(src, j, inner_stride(k), len, val[i]);
            }
          }
          if (whole && inner_stride(1) == 1 && scale == C(1)) {
            adj[n - 1] = const_cast<C*>(reinterpret_cast<const C*>(gdata + og + j));
          } else {
            adj[n - 1] = own_adj[n - 1];
            load(gdata + og, j, inner_stride(1), len, adj[n - 1]);
            if (scale != C(1))
              for (int e = 0; e < len; ++e) adj[n - 1][e] *= scale;
          }
          // A root that is a leaf (sum of a tensor) has the incoming gradient as its own.
          const bool direct_out = whole && inner_stride(0) == 1 && n > 1;
          if (n > 1)
            for (size_t s = 0; s < nslots_; ++s) {
              const int first = slot_first[s];
              if (first < 0) continue;
              adj[first] =
                  direct_out ? reinterpret_cast<C*>(bufs[s].data() + ob + j) : own_adj[first];
            }
          tile(kcode.data(), n, val, adj, len);
          for (size_t s = 0; s < nslots_; ++s) {
            const int first = slot_first[s];
            if (first < 0) continue;
            C* sum = adj[first];
            for (int u = next[first]; u >= 0; u = next[u]) {
              const C* p = adj[u];
              for (int e = 0; e < len; ++e) sum[e] += p[e];
            }
            if (!direct_out) store(bufs[s].data() + ob, j, inner_stride(0), len, sum);
          }
        }
        b += j1 - j0;
        j0 = 0;
        for (int k = nd - 2; k >= 0; --k) {
          if (++coords[k] < l.extent[k]) break;
          coords[k] = 0;
        }
      }
    });
    return outputs(bufs);
  }

  // Per-thread scratch for a tile's values and gradients: reused across nodes, so a
  // backward allocates none (a node's apply never runs inside another's tile loop).
  static C* scratch(size_t count) {
    thread_local std::vector<C> buf;
    if (buf.size() < count) buf.resize(count);
    return buf.data();
  }

  static void load(const T* row, int64_t j, int64_t s, int len, C* dst) {
    if (s == 1) {
      const T* p = row + j;
      for (int e = 0; e < len; ++e) dst[e] = static_cast<C>(p[e]);
    } else if (s == 0) {
      const C v = static_cast<C>(row[0]);
      for (int e = 0; e < len; ++e) dst[e] = v;
    } else {
      const T* p = row + j * s;
      for (int e = 0; e < len; ++e) dst[e] = static_cast<C>(p[e * s]);
    }
  }
  static void store(T* row, int64_t j, int64_t s, int len, const C* src) {
    T* p = row + j * s;
    if (s == 1) {
      for (int e = 0; e < len; ++e) p[e] = static_cast<T>(src[e]);
    } else {
      for (int e = 0; e < len; ++e) p[e * s] = static_cast<T>(src[e]);
    }
  }

  // Broadcast inputs: sum the output-shaped gradient down to the input's shape.
  std::vector<AnyTensor> outputs(std::vector<Tensor<T, CPU>>& bufs) const {
    std::vector<AnyTensor> out(nslots_);
    for (size_t k = 0; k < inputs_.size(); ++k) {
      const int s = input_slot_[k];
      if (s < 0 || out[s].defined() || !bufs[s].defined()) continue;
      const Shape& shape = inputs_[k].shape();
      out[s] = shape == out_shape_ ? bufs[s] : sum_to(bufs[s], shape);
    }
    return out;
  }

  // ---- create_graph: the same program on recorded ops ----

  std::vector<AnyTensor> lazy_backward(const Tensor<T, CPU>& g, const Flags& f) const {
    using L = Lazy<T, CPU>;
    const int n = static_cast<int>(code_.size());
    std::vector<L> val(n), adj(n);
    std::vector<LazyMask<CPU>> mask(n);
    // Mask instructions keep their mask and its 0/1 value (the operand of a logical op or
    // of a cast).
    auto set_mask = [&](int i, LazyMask<CPU> m) {
      val[i] = L{Tensor<T, CPU>(cast<T>(m.t))};
      mask[i] = std::move(m);
    };
    auto as_mask = [&](int i) {
      if (is_mask_op(code_[i].op)) return mask[i];
      return LazyMask<CPU>{Tensor<bool, CPU>(val[i].t != T(0))};
    };
    // Every value is computed: create_graph is rare, and a value no derivative reads
    // costs one recorded op, not a wrong answer.
    for (int i = 0; i < n; ++i) {
      const Instr& in = code_[i];
      switch (in.op) {
        case Opc::leaf:
        case Opc::constant:
          val[i] = L{inputs_[in.input]};
          break;
        case Opc::scalar:
          val[i] = L::lazy_lit(in.scalar);
          break;
        case Opc::identity:
          val[i] = val[in.a];
          break;
        case Opc::where:
          val[i] = L::lazy_select(as_mask(in.c), val[in.a], val[in.b]);
          break;
        default:
          // Mask ops (comparisons, logical ops on 0/1 values) give a LazyMask.
          visit_op(
              in.op, in.state,
              [&](const auto& op) {
                if constexpr (expr::is_differentiable_v<std::remove_cvref_t<decltype(op)>>)
                  val[i] = op(val[in.a]);
                else
                  set_mask(i, op(val[in.a]));
              },
              [&](const auto& op) {
                if constexpr (expr::is_differentiable_v<std::remove_cvref_t<decltype(op)>>)
                  val[i] = op(val[in.a], val[in.b]);
                else
                  set_mask(i, op(val[in.a], val[in.b]));
              });
      }
    }
    adj[n - 1] = L{scale_ == 1.0 ? g : Tensor<T, CPU>(g * static_cast<T>(scale_))};
    std::vector<AnyTensor> out(nslots_);
    for (int i = n - 1; i >= 0; --i) {
      const Instr& in = code_[i];
      if (!f.reach[i]) continue;
      const L& gi = adj[i];
      const bool ga = in.a >= 0 && f.reach[in.a], gb = in.b >= 0 && f.reach[in.b];
      switch (in.op) {
        case Opc::leaf: {
          Tensor<T, CPU> gg = gi.t;
          const Shape& shape = inputs_[in.input].shape();
          if (gg.shape() != shape) gg = sum_to(gg.expand(out_shape_), shape);
          AnyTensor& o = out[input_slot_[in.input]];
          o = o.defined() ? AnyTensor(Tensor<T, CPU>(o.as<T, CPU>() + gg)) : AnyTensor(gg);
          break;
        }
        case Opc::identity:
          adj[in.a] = gi;
          break;
        case Opc::where: {
          const expr::op::Where op;
          const LazyMask<CPU> c = as_mask(in.c);
          if (ga) adj[in.a] = op.grad_a(c, val[in.a], val[in.b], val[i], gi);
          if (gb) adj[in.b] = op.grad_b(c, val[in.a], val[in.b], val[i], gi);
          break;
        }
        default:
          visit_op(
              in.op, in.state,
              [&](const auto& op) {
                if constexpr (expr::is_differentiable_v<std::remove_cvref_t<decltype(op)>>)
                  adj[in.a] = op.grad(val[in.a], val[i], gi);
              },
              [&](const auto& op) {
                if constexpr (expr::is_differentiable_v<std::remove_cvref_t<decltype(op)>>) {
                  if (ga) adj[in.a] = op.grad_a(val[in.a], val[in.b], val[i], gi);
                  if (gb) adj[in.b] = op.grad_b(val[in.a], val[in.b], val[i], gi);
                }
              });
      }
    }
    return out;
  }

  std::vector<Instr> code_;
  std::vector<Tensor<T, CPU>> inputs_;
  std::vector<uint64_t> versions_;
  std::vector<int> input_slot_;
  size_t nslots_;
  Shape out_shape_;
  const char* name_;
  Shape keep_shape_;
  double scale_;
  bool reduction_;
  bool released_ = false;
};

}  // namespace

// ---- the builder -------------------------------------------------------------------------------

template <class T>
ProgramBuilder<T>::ProgramBuilder() {
  code_.reserve(8);
  inputs_.reserve(4);
}

template <class T>
ProgramBuilder<T>::~ProgramBuilder() = default;

template <class T>
int ProgramBuilder<T>::leaf(const Tensor<T, CPU>& t) {
  int slot = -1;
  if (t.requires_grad()) {
    const AutogradMeta* key = t.autograd_meta().get();
    for (size_t s = 0; s < slot_keys_.size(); ++s)
      if (slot_keys_[s] == key) slot = static_cast<int>(s);
    if (slot < 0) {
      slot = static_cast<int>(slot_keys_.size());
      slot_keys_.push_back(key);
      edges_.push_back(gradient_edge(t));
    }
  }
  // The tensor itself, not a detached alias: under create_graph the backward's ops must
  // record edges to it (as an expression node holds its leaves; inputs make no cycle).
  return input(Opc::leaf, t, t.storage().version(), slot, nullptr);
}

template <class T>
int ProgramBuilder<T>::constant(Tensor<T, CPU> t, void (*name)(std::string&)) {
  return input(Opc::constant, std::move(t), ProgramNode<T>::kConstant, -1, name);
}

template <class T>
int ProgramBuilder<T>::input(Opc opc, Tensor<T, CPU> t, uint64_t version, int slot,
                             void (*name)(std::string&)) {
  Instr in;
  in.op = opc;
  in.input = static_cast<int32_t>(inputs_.size());
  in.name = name;
  inputs_.push_back(std::move(t));
  versions_.push_back(version);
  input_slot_.push_back(slot);
  code_.push_back(in);
  return static_cast<int>(code_.size()) - 1;
}

template <class T>
int ProgramBuilder<T>::scalar(double v) {
  const int i = op(Opc::scalar, nullptr, 0, -1);
  code_[i].scalar = v;
  return i;
}

template <class T>
int ProgramBuilder<T>::identity(int a) {
  return op(Opc::identity, nullptr, 0, a);
}

template <class T>
int ProgramBuilder<T>::op(Opc opc, const void* state, std::size_t bytes, int a, int b, int c) {
  Instr in;
  in.op = opc;
  in.a = a;
  in.b = b;
  in.c = c;
  if (bytes) std::memcpy(in.state, state, bytes);
  code_.push_back(in);
  return static_cast<int>(code_.size()) - 1;
}

template <class T>
void ProgramBuilder<T>::record(Tensor<T, CPU>& out, const Shape& expr_shape, const char* name,
                               Shape keep_shape, double scale, bool reduction) {
  auto node = std::make_shared<ProgramNode<T>>(
      std::move(code_), std::move(inputs_), std::move(versions_), std::move(input_slot_),
      slot_keys_.size(), expr_shape, name, std::move(keep_shape), scale, reduction);
  node->next_edges() = std::move(edges_);
  set_history(out, node);
}

template class ProgramBuilder<float>;
template class ProgramBuilder<double>;
template class ProgramBuilder<half>;
template class ProgramBuilder<bfloat16>;

}  // namespace kiln::autograd::detail
