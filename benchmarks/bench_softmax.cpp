// SPDX-License-Identifier: BSD-3-Clause
// softmax over the last dim of a [4096, 4096] float tensor (64 MiB in, 64 MiB out): kiln vs
// a hand-written -ffast-math OpenMP loop (per row: max, then exp(x - max) stored with its
// sum, then a scaling sweep while the row is in cache), at 1 and 2 threads.
//   kiln softmax(x, -1)       the target: <= 1.3x the hand loop's time
//   kiln log_softmax(x, -1)   context
//   kiln softmax(x, 0)        context: rows down the columns (Note [Softmax down columns])
// Run: build/bench/benchmarks/bench_softmax [--quick]

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "harness.hpp"
#include "kiln/kiln.hpp"
#include "loops.hpp"

namespace {

constexpr int64_t kRows = 4096, kCols = 4096, kN = kRows * kCols;

namespace ref = kbench::ref;
using kiln::Tensor;

// Float64 oracle of softmax along rows (log: log_softmax).
std::vector<double> oracle(const float* x, bool log) {
  std::vector<double> y(static_cast<std::size_t>(kN));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < kRows; ++i) {
    const float* xr = x + i * kCols;
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < kCols; ++j) m = std::max(m, static_cast<double>(xr[j]));
    for (int64_t j = 0; j < kCols; ++j) s += std::exp(xr[j] - m);
    for (int64_t j = 0; j < kCols; ++j)
      y[i * kCols + j] = log ? xr[j] - m - std::log(s) : std::exp(xr[j] - m) / s;
  }
  return y;
}

// Softmax: max relative error (every value is > 0). log_softmax: max |err| / (1 + |ref|).
double max_err(const float* y, const std::vector<double>& ref, bool log) {
  double m = 0;
#pragma omp parallel for reduction(max : m) schedule(static)
  for (int64_t i = 0; i < kN; ++i) {
    const double r = ref[i];
    double d = std::fabs(y[i] - r) / (log ? 1.0 + std::fabs(r) : r);
    if (d != d) d = INFINITY;
    m = std::max(m, d);
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int reps = quick ? 3 : 9, warmup = quick ? 1 : 2;
  kbench::print_header("bench_softmax", "row softmax vs a hand-written -ffast-math loop");
  std::printf("   x: [4096, 4096] floats in [-8, 8) (64 MiB); softmax along the last dim\n");
  kbench::Verdicts verdicts;

  Tensor<float> x({kRows, kCols});
  kbench::fill_uniform(x.data(), kN, 31, -8, 8);
  std::vector<float> y(static_cast<std::size_t>(kN));

  // ---- validation -------------------------------------------------------------------------------
  std::printf("\nvalidation (oracle: float64 loops)\n");
  const auto o_soft = oracle(x.data(), false), o_log = oracle(x.data(), true);
  const double tol = 1e-5;
  const Tensor<float> xt = x.t().contiguous();
  for (int threads : {1, 2}) {
    kbench::set_threads(threads);
    kiln::set_num_threads(threads);
    const std::string t = " @" + std::to_string(threads) + "t";
    const Tensor<float> ks = kiln::softmax(x, -1);
    verdicts.check("softmax(x, -1): kiln" + t, max_err(ks.data(), o_soft, false), tol);
    ref::fm::row_softmax(y.data(), x.data(), kRows, kCols);
    verdicts.check("softmax rows: hand -ffast-math" + t, max_err(y.data(), o_soft, false), tol);
    const Tensor<float> kl = kiln::log_softmax(x, -1);
    verdicts.check("log_softmax(x, -1): kiln" + t, max_err(kl.data(), o_log, true), tol);
    // The same rows as the columns of a contiguous tensor (Note [Softmax down columns]).
    const Tensor<float> kc = kiln::softmax(xt, 0).t().contiguous();
    verdicts.check("softmax(x.t().contiguous(), 0): kiln" + t, max_err(kc.data(), o_soft, false),
                   tol);
  }
  if (verdicts.wrong()) return verdicts.finish("bench_softmax");

  // ---- timing ----------------------------------------------------------------------------------
  const double bytes = 2.0 * kN * sizeof(float);  // read x, write y
  for (int threads : {1, 2}) {
    kbench::set_threads(threads);
    kiln::set_num_threads(threads);
    std::printf("\n======== %d thread%s ========\n", threads, threads > 1 ? "s" : "");
    kbench::Suite s("softmax on [4096, 4096], " + std::to_string(threads) +
                        " thread(s); x + y: " + kbench::working_set(bytes),
                    warmup, reps);
    const int k_soft = s.add(
        "kiln softmax(x, -1)",
        [&] {
          const Tensor<float> r = kiln::softmax(x, -1);
          kbench::do_not_optimize(r);
        },
        bytes);
    const int h_soft = s.add(
        "hand softmax rows -ffast-math",
        [&] { ref::fm::row_softmax(y.data(), x.data(), kRows, kCols); }, bytes);
    const int n_soft = s.add(
        "hand softmax rows, no -ffast-math",
        [&] { ref::nofm::row_softmax(y.data(), x.data(), kRows, kCols); }, bytes);
    const int k_log = s.add(
        "kiln log_softmax(x, -1)",
        [&] {
          const Tensor<float> r = kiln::log_softmax(x, -1);
          kbench::do_not_optimize(r);
        },
        bytes);
    const int k_col = s.add(
        "kiln softmax(x, 0) (down columns)",
        [&] {
          const Tensor<float> r = kiln::softmax(x, 0);
          kbench::do_not_optimize(r);
        },
        bytes);
    s.run();
    s.print(h_soft);

    const std::string tag = " @" + std::to_string(threads) + "t: ";
    verdicts.target("softmax(x, -1)" + tag + "kiln time / hand time",
                    s.paired_ratio(k_soft, h_soft), "<=", 1.3);
    std::printf(
        "  ratio%skiln softmax / hand no-fast-math = %.2fx; kiln log_softmax / hand softmax = "
        "%.2fx;\n  kiln softmax(x, 0) / kiln softmax(x, -1) = %.2fx (context, no target)\n",
        tag.c_str(), s.paired_ratio(k_soft, n_soft), s.paired_ratio(k_log, h_soft),
        s.paired_ratio(k_col, k_soft));
  }

  std::printf(
      "\nGB/s count x read once and y written once; x base = time / hand -ffast-math time.\n"
      "PASS/MISS figures and ratios are medians of per-round ratios (variants timed back to "
      "back).\n"
      "Timing targets are informative on a shared machine: a MISS does not fail the program.\n");
  return verdicts.finish("bench_softmax");
}
