// SPDX-License-Identifier: BSD-3-Clause
// Convolution engines side by side: kiln's oneDNN path and its im2col + GEMM path, on the
// layers of a small CNN (batch 64, 28x28), forward and backward, at 1 and 2 threads, in
// GFLOP/s (2 * N * O * OH * OW * C / groups * kH * kW per call). benchmarks/torch_conv.py
// prints the same cases for PyTorch; docs/benchmarks.md holds the figures.
// Run: build/bench/benchmarks/bench_conv [--quick]

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "harness.hpp"
#include "kiln/kiln.hpp"
#include "kiln/ops/blas.hpp"

namespace {

using kiln::Tensor;
using Backend = kiln::detail::ConvBackend;

enum class Pass { Forward, BackwardInput, BackwardWeight };

struct Case {
  const char* name;
  Pass pass;
  int64_t n, c, h, w, o, k, pad, groups = 1;
  int64_t oh() const { return h + 2 * pad - k + 1; }
  double flops() const { return 2.0 * n * o * oh() * oh() * (c / groups) * k * k; }
};

const Case kCases[] = {
    {"fwd [64,32,28,28] x 64 3x3 pad 1", Pass::Forward, 64, 32, 28, 28, 64, 3, 1},
    {"fwd [64,1,28,28] x 32 3x3 pad 1", Pass::Forward, 64, 1, 28, 28, 32, 3, 1},
    {"fwd [64,32,14,14] x 64 3x3 pad 1", Pass::Forward, 64, 32, 14, 14, 64, 3, 1},
    {"bwd input [64,32,28,28] x 64 3x3", Pass::BackwardInput, 64, 32, 28, 28, 64, 3, 1},
    {"bwd weight [64,32,28,28] x 64 3x3", Pass::BackwardWeight, 64, 32, 28, 28, 64, 3, 1},
    {"fwd depthwise [64,32,28,28] 3x3 g=32", Pass::Forward, 64, 32, 28, 28, 32, 3, 1, 32},
};

struct Operands {
  Tensor<float> x, w, gy;
};

Operands make(const Case& c) {
  Operands r{Tensor<float>({c.n, c.c, c.h, c.w}), Tensor<float>({c.o, c.c / c.groups, c.k, c.k}),
             Tensor<float>({c.n, c.o, c.oh(), c.oh()})};
  kbench::fill_uniform(r.x.data(), r.x.numel(), 1, -1, 1);
  kbench::fill_uniform(r.w.data(), r.w.numel(), 2, -0.2f, 0.2f);
  kbench::fill_uniform(r.gy.data(), r.gy.numel(), 3, -1, 1);
  return r;
}

template <class T>
Tensor<T> run(const Case& c, const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& gy) {
  switch (c.pass) {
    case Pass::Forward:
      return kiln::conv2d(x, w, {}, 1, c.pad, 1, c.groups);
    case Pass::BackwardInput:
      return kiln::conv2d_backward_input(gy, w, x.shape(), 1, c.pad, 1, c.groups);
    case Pass::BackwardWeight:
      return kiln::conv2d_backward_weight(gy, x, w.shape(), 1, c.pad, 1, c.groups);
  }
  return {};
}

Tensor<float> run_with(Backend b, const Case& c, const Operands& op) {
  kiln::detail::set_conv_backend(b);
  Tensor<float> r = run(c, op.x, op.w, op.gy);
  kiln::detail::set_conv_backend(Backend::Auto);
  return r;
}

// max_i |a_i - ref_i| / scale_i, where scale_i is the sum of the magnitudes of the terms
// output i adds up (the same op on |x|, |w|, |gy|): what float rounding error grows with.
double err_vs(const Tensor<float>& a, const Tensor<double>& ref, const Tensor<double>& scale) {
  double m = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    double d = std::fabs(a.data()[i] - ref.data()[i]) / (1e-30 + scale.data()[i]);
    if (d != d) d = INFINITY;
    m = std::max(m, d);
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int reps = quick ? 3 : 7, warmup = quick ? 1 : 2;
  kbench::print_header("bench_conv", "convolution engines: oneDNN vs im2col + GEMM");
  std::printf("   %s\n", kiln::blas::backend_info().c_str());
  kbench::Verdicts verdicts;

  std::vector<Operands> ops;
  for (const Case& c : kCases) ops.push_back(make(c));

  // ---- validation against a float64 im2col + GEMM result ---------------------------------
  std::printf(
      "\nvalidation (oracle: the double-precision GEMM path; errors relative to the sum of "
      "|terms|)\n");
  for (std::size_t i = 0; i < std::size(kCases); ++i) {
    const Case& c = kCases[i];
    const Tensor<double> x = ops[i].x.to<double>(), w = ops[i].w.to<double>(),
                         gy = ops[i].gy.to<double>();
    const Tensor<double> ref = run<double>(c, x, w, gy);
    const Tensor<double> scale =
        run<double>(c, Tensor<double>(kiln::abs(x)), Tensor<double>(kiln::abs(w)),
                    Tensor<double>(kiln::abs(gy)));
    for (Backend b : {Backend::Auto, Backend::Gemm}) {
      const std::string what =
          std::string(c.name) + (b == Backend::Auto ? ": oneDNN" : ": im2col+GEMM");
      verdicts.check(what, err_vs(run_with(b, c, ops[i]), ref, scale), 1e-5);
    }
  }
  if (verdicts.wrong()) return verdicts.finish("bench_conv");
  // Time from an allocator cache that holds no validation leftovers, as in a program's
  // steady state: the 1-thread first-layer figure moved by 1.4x with the cache's history.
  kiln::cpu::empty_cache();

  // ---- timing ------------------------------------------------------------------------------
  struct Row {
    const char* name;
    int threads;
    double dnnl, gemm;  // GFLOP/s at the median
    double ratio;       // paired time(GEMM) / time(oneDNN)
  };
  std::vector<Row> rows;
  for (int threads : {1, 2}) {
    kbench::set_threads(threads);
    kiln::set_num_threads(threads);
    std::printf("\n======== %d thread%s ========\n", threads, threads > 1 ? "s" : "");
    for (std::size_t i = 0; i < std::size(kCases); ++i) {
      const Case& c = kCases[i];
      kbench::Suite s(std::string(c.name) + ", " + std::to_string(threads) + " thread(s)", warmup,
                      reps);
      const int d = s.add("kiln oneDNN", [&] {
        const Tensor<float> r = run_with(Backend::Auto, c, ops[i]);
        kbench::do_not_optimize(r);
      });
      const int g = s.add("kiln im2col+GEMM", [&] {
        const Tensor<float> r = run_with(Backend::Gemm, c, ops[i]);
        kbench::do_not_optimize(r);
      });
      s.run();
      s.print(d);
      const double gd = c.flops() / s.median(d) * 1e-9, gg = c.flops() / s.median(g) * 1e-9;
      std::printf("  GFLOP/s: oneDNN %.1f, im2col+GEMM %.1f\n", gd, gg);
      rows.push_back({c.name, threads, gd, gg, s.paired_ratio(g, d)});
    }
  }

  // ---- pooling (memory-bound; context for torch_conv.py's pooling lines) -----------------------
  const Tensor<float> px = ops[0].x;  // [64, 32, 28, 28]
  std::printf("\npooling on [64, 32, 28, 28] (%.1f MiB in)\n",
              static_cast<double>(px.numel()) * 4 / (1 << 20));
  for (int threads : {1, 2}) {
    kbench::set_threads(threads);
    kiln::set_num_threads(threads);
    kbench::Suite s("pooling, " + std::to_string(threads) + " thread(s)", warmup, reps);
    const double in = static_cast<double>(px.numel()) * 4;
    s.add(
        "max_pool2d 2x2", [&] { kbench::do_not_optimize(kiln::max_pool2d(px, 2)); }, in * 1.25);
    s.add(
        "max_pool2d_with_indices 2x2",
        [&] { kbench::do_not_optimize(kiln::max_pool2d_with_indices(px, 2)); }, in * 1.75);
    s.add(
        "avg_pool2d 3x3 s2 p1", [&] { kbench::do_not_optimize(kiln::avg_pool2d(px, 3, 2, 1)); },
        in * 1.25);
    s.add(
        "adaptive_avg_pool2d 1x1",
        [&] { kbench::do_not_optimize(kiln::adaptive_avg_pool2d(px, 1)); }, in);
    s.run();
    s.print(-1, "ms");
  }

  std::printf("\nsummary (GFLOP/s at the median; ratio = paired time GEMM / time oneDNN)\n");
  std::printf("  %-38s %7s %9s %12s %8s\n", "case", "threads", "oneDNN", "im2col+GEMM", "ratio");
  for (const Row& r : rows)
    std::printf("  %-38s %7d %9.1f %12.1f %8.2f\n", r.name, r.threads, r.dnnl, r.gemm, r.ratio);
  std::printf(
      "\nCompare with `python3 benchmarks/torch_conv.py` (same cases, PyTorch's oneDNN path).\n");
  return verdicts.finish("bench_conv");
}
