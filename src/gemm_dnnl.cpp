// SPDX-License-Identifier: BSD-3-Clause
// Float GEMM on oneDNN's matmul primitive, with a cache of primitives keyed by shape.
#include "gemm_dnnl.hpp"

#include <omp.h>

#include <array>
#include <bit>
#include <cstring>
#include <dnnl.hpp>
#include <memory>
#include <string>
#include <unordered_map>

#include "kiln/core/allocator.hpp"
#include "kiln/core/error.hpp"
#include "kiln/core/parallel.hpp"
#include "plan_cache.hpp"

// Note [oneDNN matmul primitives]
// dnnl_sgemm re-plans every call and packs a transposed B more slowly than a plain one;
// oneDNN's matmul primitive (its brgemm kernels) runs the products of a training step
// 2-6% faster on the same CPU, a transposed-weight `linear` the most (bench_autograd's MLP
// step: 1.28 -> 1.25 ms at one thread, 0.78 -> 0.71 ms at two), but large square products
// up to 6% slower (bench_gemm), so blas::gemm sends only products up to 2^25
// multiply-adds here (matmul_primitive_pays). linear's bias rides in the primitive's
// epilogue (sgemm_bias) instead of being copied into C first. Creating a primitive costs far more
// than a small product, so primitives are cached, keyed by everything fixed at creation:
// transposes, sizes, leading dimensions, alpha and beta, and the thread count (oneDNN fixes its
// work split when a primitive is created). Scratchpads are user-managed and come from kiln's
// caching allocator per call, so one primitive may run on several threads at once.

namespace kiln::blas::detail {
namespace {

using dnnl::memory;
using Key = std::array<int64_t, 12>;

struct Plan {
  dnnl::matmul prim;
  memory::desc a, b, c, bias, scratch;
  std::size_t scratch_bytes = 0;
};

const dnnl::engine& cpu_engine() {
  static const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

// A row-major m x n operand with leading dimension ld, read transposed when `trans`.
memory::desc operand(int64_t rows, int64_t cols, int64_t ld, bool trans) {
  return memory::desc({rows, cols}, memory::data_type::f32,
                      trans ? memory::dims{1, ld} : memory::dims{ld, 1});
}

struct Args {
  bool ta, tb;
  int64_t m, n, k, lda, ldb, ldc;
  float alpha, beta;
  bool bias;
};

std::shared_ptr<Plan> build(const Args& g) {
  auto plan = std::make_shared<Plan>();
  plan->a = operand(g.m, g.k, g.lda, g.ta);
  plan->b = operand(g.k, g.n, g.ldb, g.tb);
  plan->c = operand(g.m, g.n, g.ldc, false);
  if (g.bias) plan->bias = memory::desc({1, g.n}, memory::data_type::f32, memory::format_tag::ab);
  const float alpha = g.alpha, beta = g.beta;
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (alpha != 1.f) attr.set_output_scales(0, {alpha});
  if (beta != 0.f) {
    dnnl::post_ops ops;
    ops.append_sum(beta);  // C = alpha * A·B + beta * C
    attr.set_post_ops(ops);
  }
  const dnnl::matmul::desc desc = g.bias ? dnnl::matmul::desc(plan->a, plan->b, plan->bias, plan->c)
                                         : dnnl::matmul::desc(plan->a, plan->b, plan->c);
  const dnnl::matmul::primitive_desc pd(desc, attr, cpu_engine());
  if (std::string(pd.impl_info_str()).find("ref") != std::string::npos) return nullptr;
  plan->scratch = pd.scratchpad_desc();
  plan->scratch_bytes = plan->scratch.get_size();
  plan->prim = dnnl::matmul(pd);
  return plan;
}

using Cache = kiln::detail::PlanCache<Plan, 12, 256>;
Cache& cache() {
  static Cache c;
  return c;
}

}  // namespace

bool sgemm_matmul(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                  int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
                  const float* bias) {
  const int threads = omp_in_parallel() ? 1 : get_num_threads();
  const Args args{ta, tb, m, n, k, lda, ldb, ldc, alpha, beta, bias != nullptr};
  const Key key{ta,
                tb,
                m,
                n,
                k,
                lda,
                ldb,
                ldc,
                std::bit_cast<int32_t>(alpha),
                std::bit_cast<int32_t>(beta),
                threads,
                bias != nullptr};
  const std::shared_ptr<Plan> plan = cache().get(key, [&]() -> std::shared_ptr<Plan> {
    try {
      return build(args);
    } catch (const dnnl::error&) {
      return nullptr;  // no implementation: dnnl_sgemm takes it
    }
  });
  if (!plan) return false;
  const auto& eng = cpu_engine();
  try {
    thread_local dnnl::stream stream(eng);
    const std::size_t bytes = std::max<std::size_t>(plan->scratch_bytes, 1);
    void* scratch = cpu::allocate(bytes);
    struct Release {
      void* p;
      std::size_t n;
      ~Release() { cpu::deallocate(p, n); }
    } release{scratch, bytes};
    std::unordered_map<int, memory> io{
        {DNNL_ARG_SRC, memory(plan->a, eng, const_cast<float*>(a))},
        {DNNL_ARG_WEIGHTS, memory(plan->b, eng, const_cast<float*>(b))},
        {DNNL_ARG_DST, memory(plan->c, eng, c)},
        {DNNL_ARG_SCRATCHPAD, memory(plan->scratch, eng, scratch)}};
    if (bias) io.emplace(DNNL_ARG_BIAS, memory(plan->bias, eng, const_cast<float*>(bias)));
    plan->prim.execute(stream, io);
    stream.wait();
  } catch (const dnnl::error& e) {
    throw Error(kiln::detail::str_cat("[gemm] oneDNN failed to run a matmul primitive (status ",
                                      int(e.status), ") for m=", m, " n=", n, " k=", k, ": ",
                                      e.what()));
  }
  return true;
}

}  // namespace kiln::blas::detail
