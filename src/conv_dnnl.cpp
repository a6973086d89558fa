// SPDX-License-Identifier: BSD-3-Clause
// Float convolutions on oneDNN's primitives (what PyTorch runs on CPU), with a cache of
// primitives keyed by shape so that repeated calls do not re-create them.
#include <array>
#include <dnnl.hpp>
#include <memory>
#include <string>
#include <unordered_map>

#include "conv_impl.hpp"
#include "kiln/core/error.hpp"
#include "kiln/core/parallel.hpp"
#include "plan_cache.hpp"

// Note [oneDNN convolution primitives]
// kiln's tensors are NCHW; oneDNN's fast kernels want blocked layouts (nChw16c activations,
// OIhw16i16o weights on AVX-512). Each primitive is created with format `any`, so oneDNN
// picks its layout, and the operands are reordered to it and back — as PyTorch does for
// NCHW tensors. A reorder is a memory-bound copy, small next to the convolution.
//
// Creating a primitive descriptor (oneDNN searches its implementations and generates JIT
// code) costs far more than a small convolution, so plans (primitive + reorders) are
// cached, keyed by every shape and parameter and by the thread count: oneDNN fixes its
// work split when a primitive is created, and a primitive made for two threads would run
// on two even after kiln::set_num_threads(1). Scratchpads are user-managed and come from
// kiln's caching allocator per call, so one plan may run on several threads at once.
// Shapes for which oneDNN offers only its reference (naive loop) implementation are
// declined and go to im2col + GEMM instead.

namespace kiln::conv_impl {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

enum class Kind : int64_t { Forward, BackwardData, BackwardWeights };

using Key = std::array<int64_t, 20>;

Key make_key(Kind kind, const Geom& g, bool bias) {
  return {static_cast<int64_t>(kind),
          g.n,
          g.c,
          g.h,
          g.w,
          g.o,
          g.kh,
          g.kw,
          g.oh,
          g.ow,
          g.sh,
          g.sw,
          g.ph,
          g.pw,
          g.dh,
          g.dw,
          g.groups,
          bias,
          get_num_threads(),
          0};
}

// One operand of a primitive: its layout in the user's (NCHW) memory, the layout the
// primitive wants, and the reorder between them (user to primitive for inputs, back for
// the output) when they differ.
struct Operand {
  int arg = 0;
  memory::desc user, prim;
  dnnl::reorder reorder;
  bool reordered = false;
};

struct Plan {
  dnnl::primitive prim;
  Operand in[2], out;
  bool bias = false;
  std::size_t scratch_bytes = 0;
};

const dnnl::engine& cpu_engine() {
  static const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

memory::desc md(const memory::dims& d, tag t) { return memory::desc(d, memory::data_type::f32, t); }

Operand operand(int arg, const memory::desc& user, const memory::desc& prim, bool input) {
  Operand o;
  o.arg = arg;
  o.user = user;
  o.prim = prim;
  if (user != prim) {
    o.reordered = true;
    const auto& eng = cpu_engine();
    o.reorder = dnnl::reorder(input ? dnnl::reorder::primitive_desc(eng, user, eng, prim)
                                    : dnnl::reorder::primitive_desc(eng, prim, eng, user));
  }
  return o;
}

bool is_reference(const dnnl::primitive_desc_base& pd) {
  return std::string(pd.impl_info_str()).find("ref") != std::string::npos;
}

std::shared_ptr<Plan> build(Kind kind, const Geom& g, bool has_bias) {
  const auto& eng = cpu_engine();
  const memory::dims src{g.n, g.c, g.h, g.w}, dst{g.n, g.o, g.oh, g.ow};
  const bool grouped = g.groups > 1;
  const memory::dims wei = grouped ? memory::dims{g.groups, g.og(), g.cg(), g.kh, g.kw}
                                   : memory::dims{g.o, g.cg(), g.kh, g.kw};
  const memory::desc src_user = md(src, tag::nchw), dst_user = md(dst, tag::nchw);
  const memory::desc wei_user = md(wei, grouped ? tag::goihw : tag::oihw);
  const memory::desc src_any = md(src, tag::any), dst_any = md(dst, tag::any),
                     wei_any = md(wei, tag::any);
  const memory::desc bias_md = md({g.o}, tag::x);
  // torch pads both sides alike, and so does this when oneDNN's output-size formula then
  // gives oh; a transposed convolution's backward can need a smaller oh (Note [Transposed
  // convolution] in conv.cpp), and then the right padding is what makes the formula exact.
  auto right_pad = [](int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d) {
    const int64_t span = (k - 1) * d + 1;
    return (in + 2 * p - span) / s + 1 == out ? p : (out - 1) * s + span - in - p;
  };
  const memory::dims strides{g.sh, g.sw}, dil{g.dh - 1, g.dw - 1}, pad_l{g.ph, g.pw};
  const memory::dims pad_r{right_pad(g.h, g.oh, g.kh, g.sh, g.ph, g.dh),
                           right_pad(g.w, g.ow, g.kw, g.sw, g.pw, g.dw)};
  if (pad_r[0] + g.sh <= 0 || pad_r[1] + g.sw <= 0) return nullptr;  // oneDNN rejects these
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const auto algo = dnnl::algorithm::convolution_direct;

  auto plan = std::make_shared<Plan>();
  using fwd = dnnl::convolution_forward;
  // forward_training, as PyTorch asks: for forward_inference oneDNN 2.6 prefers its brgconv
  // kernels with NHWC activations, whose reorder back to NCHW is a slow transposition
  // (5-10x slower than from nChw16c on the benchmarked layers).
  const auto prop = dnnl::prop_kind::forward_training;
  const fwd::desc fd =
      has_bias
          ? fwd::desc(prop, algo, src_any, wei_any, bias_md, dst_any, strides, dil, pad_l, pad_r)
          : fwd::desc(prop, algo, src_any, wei_any, dst_any, strides, dil, pad_l, pad_r);
  const fwd::primitive_desc fpd(fd, attr, eng);
  if (kind == Kind::Forward) {
    if (is_reference(fpd)) return nullptr;
    plan->prim = fwd(fpd);
    plan->in[0] = operand(DNNL_ARG_SRC, src_user, fpd.src_desc(), true);
    plan->in[1] = operand(DNNL_ARG_WEIGHTS, wei_user, fpd.weights_desc(), true);
    plan->out = operand(DNNL_ARG_DST, dst_user, fpd.dst_desc(), false);
    plan->bias = has_bias;
    plan->scratch_bytes = fpd.scratchpad_desc().get_size();
  } else if (kind == Kind::BackwardData) {
    using bwd = dnnl::convolution_backward_data;
    const bwd::primitive_desc pd(
        bwd::desc(algo, src_any, wei_any, dst_any, strides, dil, pad_l, pad_r), attr, eng, fpd);
    if (is_reference(pd)) return nullptr;
    plan->prim = bwd(pd);
    plan->in[0] = operand(DNNL_ARG_DIFF_DST, dst_user, pd.diff_dst_desc(), true);
    plan->in[1] = operand(DNNL_ARG_WEIGHTS, wei_user, pd.weights_desc(), true);
    plan->out = operand(DNNL_ARG_DIFF_SRC, src_user, pd.diff_src_desc(), false);
    plan->scratch_bytes = pd.scratchpad_desc().get_size();
  } else {
    using bwd = dnnl::convolution_backward_weights;
    const bwd::primitive_desc pd(
        bwd::desc(algo, src_any, wei_any, dst_any, strides, dil, pad_l, pad_r), attr, eng, fpd);
    if (is_reference(pd)) return nullptr;
    plan->prim = bwd(pd);
    plan->in[0] = operand(DNNL_ARG_SRC, src_user, pd.src_desc(), true);
    plan->in[1] = operand(DNNL_ARG_DIFF_DST, dst_user, pd.diff_dst_desc(), true);
    plan->out = operand(DNNL_ARG_DIFF_WEIGHTS, wei_user, pd.diff_weights_desc(), false);
    plan->scratch_bytes = pd.scratchpad_desc().get_size();
  }
  return plan;
}

// Plans by shape; a null plan records a shape oneDNN declined (im2col + GEMM takes it).
using Cache = kiln::detail::PlanCache<Plan, 20, 128>;
Cache& cache() {
  static Cache c;
  return c;
}

std::shared_ptr<Plan> get_plan(Kind kind, const Geom& g, bool bias) {
  return cache().get(make_key(kind, g, bias), [&]() -> std::shared_ptr<Plan> {
    try {
      return build(kind, g, bias);
    } catch (const dnnl::error&) {
      return nullptr;
    }
  });
}

// Note [Staggered scratch buffers]
// Large buffers tend to start at the same offset within a 4 KiB page (the reordered
// operands here are often whole pages long, and kiln's tensors come from the same
// allocator). A kernel streaming from one and into another at equal page offsets suffers
// 4K aliasing (loads falsely wait on stores); memory-bound convolutions (depthwise, small
// channel counts) ran 20% slower. Each scratch sub-buffer therefore starts 17 cache lines
// further into its page than the previous one.
constexpr std::size_t kStagger = 17 * 64;
std::size_t round_up(std::size_t n) { return (n + 63) / 64 * 64 + kStagger; }

void run_plan(const Plan& p, const void* in0, const void* in1, const float* bias, void* out) {
  const auto& eng = cpu_engine();
  dnnl::stream stream(eng);
  // One scratch block holds the reordered operands and the primitive's scratchpad.
  std::size_t bytes = round_up(p.scratch_bytes);
  for (const Operand* o : {&p.in[0], &p.in[1], &p.out})
    if (o->reordered) bytes += round_up(o->prim.get_size());
  Scratch<char> buf(bytes);
  char* next = buf.get();
  auto take = [&](std::size_t n) {  // Note [Staggered scratch buffers]
    char* r = next + kStagger;
    next += round_up(n);
    return r;
  };

  std::unordered_map<int, memory> args;
  const void* inputs[2] = {in0, in1};
  for (int i = 0; i < 2; ++i) {
    const Operand& o = p.in[i];
    memory user(o.user, eng, const_cast<void*>(inputs[i]));
    if (o.reordered) {
      memory mine(o.prim, eng, take(o.prim.get_size()));
      o.reorder.execute(stream, user, mine);
      args.emplace(o.arg, mine);
    } else {
      args.emplace(o.arg, user);
    }
  }
  memory out_user(p.out.user, eng, out);
  memory out_prim =
      p.out.reordered ? memory(p.out.prim, eng, take(p.out.prim.get_size())) : out_user;
  args.emplace(p.out.arg, out_prim);
  if (p.bias)
    args.emplace(DNNL_ARG_BIAS,
                 memory(md({p.out.user.dims()[1]}, tag::x), eng, const_cast<float*>(bias)));
  if (p.scratch_bytes)
    args.emplace(DNNL_ARG_SCRATCHPAD,
                 memory(memory::desc({static_cast<memory::dim>(p.scratch_bytes)},
                                     memory::data_type::u8, tag::x),
                        eng, take(p.scratch_bytes)));
  p.prim.execute(stream, args);
  if (p.out.reordered) p.out.reorder.execute(stream, out_prim, out_user);
  stream.wait();
}

void run(const Plan& p, const void* in0, const void* in1, const float* bias, void* out) {
  try {
    run_plan(p, in0, in1, bias, out);
  } catch (const dnnl::error& e) {
    throw Error(detail::str_cat("[conv] oneDNN failed to run a convolution primitive (status ",
                                int(e.status), "): ", e.what()));
  }
}

}  // namespace

bool forward_dnnl(const Geom& g, const float* x, const float* w, const float* bias, float* y) {
  const auto plan = get_plan(Kind::Forward, g, bias != nullptr);
  if (!plan) return false;
  run(*plan, x, w, bias, y);
  return true;
}

bool backward_input_dnnl(const Geom& g, const float* gy, const float* w, float* gx) {
  const auto plan = get_plan(Kind::BackwardData, g, false);
  if (!plan) return false;
  run(*plan, gy, w, nullptr, gx);
  return true;
}

bool backward_weight_dnnl(const Geom& g, const float* x, const float* gy, float* gw) {
  const auto plan = get_plan(Kind::BackwardWeights, g, false);
  if (!plan) return false;
  run(*plan, x, gy, nullptr, gw);
  return true;
}

int64_t dnnl_cache_size() { return cache().size(); }

}  // namespace kiln::conv_impl
