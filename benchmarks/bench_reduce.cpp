// SPDX-License-Identifier: BSD-3-Clause
// Fused reductions on [8192, 8192] floats (256 MiB per array): kiln vs hand-written
// -ffast-math OpenMP loops and vs a STREAM triad measured in the same program.
//   sum(a*b)          reads a and b once, writes one number
//   sum(a*b, 1)       row sums of the product
//   logsumexp(x, 1)   row-wise, vs a two-pass (max, then sum of exp) hand loop
//   sum(x, 0)         column sums, for context
// Run: build/bench/benchmarks/bench_reduce [--quick]

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "harness.hpp"
#include "kiln/kiln.hpp"
#include "loops.hpp"

namespace {

constexpr int64_t kRows = 8192, kCols = 8192, kN = kRows * kCols;
constexpr float kTriadScale = 3.0f;

namespace ref = kbench::ref;
using kiln::Tensor;

// Float64 oracles (untimed): values and the sums of magnitudes that scale their errors.
struct Oracle {
  double total = 0, total_abs = 0;
  std::vector<double> row, row_abs, col, col_abs, lse;
};

Oracle make_oracle(const float* a, const float* b) {
  Oracle o;
  o.row.resize(kRows);
  o.row_abs.resize(kRows);
  o.lse.resize(kRows);
  o.col.assign(kCols, 0);
  o.col_abs.assign(kCols, 0);
  double total = 0, total_abs = 0;
#pragma omp parallel for reduction(+ : total, total_abs) schedule(static)
  for (int64_t i = 0; i < kRows; ++i) {
    double s = 0, sa = 0, m = -INFINITY;
    for (int64_t j = 0; j < kCols; ++j) {
      const double p = static_cast<double>(a[i * kCols + j]) * b[i * kCols + j];
      s += p;
      sa += std::fabs(p);
      m = std::max(m, static_cast<double>(a[i * kCols + j]));
    }
    double se = 0;
    for (int64_t j = 0; j < kCols; ++j) se += std::exp(static_cast<double>(a[i * kCols + j]) - m);
    o.row[i] = s;
    o.row_abs[i] = sa;
    o.lse[i] = std::log(se) + m;
    total += s;
    total_abs += sa;
  }
  o.total = total;
  o.total_abs = total_abs;
  for (int64_t i = 0; i < kRows; ++i)
    for (int64_t j = 0; j < kCols; ++j) {
      o.col[j] += a[i * kCols + j];
      o.col_abs[j] += std::fabs(a[i * kCols + j]);
    }
  return o;
}

// max_i |x[i] - v[i]| / scale[i]
double max_scaled_err(const float* x, const std::vector<double>& v,
                      const std::vector<double>& scale) {
  double m = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    double d = std::fabs(x[i] - v[i]) / std::max(scale[i], 1e-30);
    if (d != d) d = INFINITY;
    m = std::max(m, d);
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int reps = quick ? 3 : 9, warmup = quick ? 1 : 2;
  kbench::print_header("bench_reduce", "fused reductions vs triad and hand loops");
  std::printf("   a, b: [8192, 8192] floats (256 MiB each)\n");
  kbench::Verdicts verdicts;

  Tensor<float> a({kRows, kCols}), b({kRows, kCols}), c({kRows, kCols});
  kbench::fill_uniform(a.data(), kN, 11, -1, 1);
  kbench::fill_uniform(b.data(), kN, 12, -1, 1);
  std::memset(c.data(), 0, kN * sizeof(float));
  std::vector<float> out_rows(kRows), out_cols(kCols);
  float out_total = 0;

  // ---- validation -------------------------------------------------------------------------------
  std::printf(
      "\nvalidation (oracle: float64 loops; sums' errors relative to the sum of |terms|)\n");
  const Oracle o = make_oracle(a.data(), b.data());
  std::vector<double> lse_scale(kRows);
  for (int64_t i = 0; i < kRows; ++i) lse_scale[i] = 1.0 + std::fabs(o.lse[i]);
  const double tol_sum = 1e-5, tol_lse = 1e-5;
  for (int threads : {1, 2}) {
    kbench::set_threads(threads);
    const std::string t = " @" + std::to_string(threads) + "t";
    const float ks = kiln::sum(a * b).item();
    verdicts.check("sum(a*b): kiln" + t, std::fabs(ks - o.total) / o.total_abs, tol_sum);
    const float hs = ref::fm::sum_mul(a.data(), b.data(), kN);
    verdicts.check("sum(a*b): hand -ffast-math" + t, std::fabs(hs - o.total) / o.total_abs,
                   tol_sum);

    const Tensor<float> kr = kiln::sum(a * b, 1);
    if (kr.numel() != kRows) {
      std::printf("  sum(a*b, 1) has %lld elements, expected %lld\n",
                  static_cast<long long>(kr.numel()), static_cast<long long>(kRows));
      return 1;
    }
    verdicts.check("sum(a*b, 1): kiln" + t, max_scaled_err(kr.data(), o.row, o.row_abs), tol_sum);
    ref::fm::row_sum_mul(out_rows.data(), a.data(), b.data(), kRows, kCols);
    verdicts.check("sum(a*b, 1): hand -ffast-math" + t,
                   max_scaled_err(out_rows.data(), o.row, o.row_abs), tol_sum);

    const Tensor<float> kl = kiln::logsumexp(a, 1);
    verdicts.check("logsumexp(x, 1): kiln" + t, max_scaled_err(kl.data(), o.lse, lse_scale),
                   tol_lse);
    ref::fm::row_logsumexp(out_rows.data(), a.data(), kRows, kCols);
    verdicts.check("logsumexp(x, 1): hand -ffast-math" + t,
                   max_scaled_err(out_rows.data(), o.lse, lse_scale), tol_lse);

    const Tensor<float> kc = kiln::sum(a, 0);
    verdicts.check("sum(x, 0): kiln" + t, max_scaled_err(kc.data(), o.col, o.col_abs), tol_sum);
    ref::fm::col_sum(out_cols.data(), a.data(), kRows, kCols);
    verdicts.check("sum(x, 0): hand -ffast-math" + t,
                   max_scaled_err(out_cols.data(), o.col, o.col_abs), tol_sum);
  }
  if (verdicts.wrong()) return verdicts.finish("bench_reduce");

  // ---- timing ----------------------------------------------------------------------------------
  const double bytes_triad = 3.0 * kN * sizeof(float);
  const double bytes_two = 2.0 * kN * sizeof(float);
  const double bytes_one = 1.0 * kN * sizeof(float);
  for (int threads : {1, 2}) {
    kbench::set_threads(threads);
    kiln::set_num_threads(threads);
    std::printf("\n======== %d thread%s ========\n", threads, threads > 1 ? "s" : "");
    kbench::Suite s("reductions on [8192, 8192], " + std::to_string(threads) +
                        " thread(s); a*b: " + kbench::working_set(bytes_two) +
                        "; x alone: " + kbench::working_set(bytes_one),
                    warmup, reps);
    const int triad = s.add(
        "triad c = a + s*b (hand, roofline)",
        [&] { ref::fm::triad(c.data(), a.data(), b.data(), kTriadScale, kN); }, bytes_triad);
    const int k_sum = s.add(
        "kiln sum(a*b)", [&] { out_total = kiln::sum(a * b).item(); }, bytes_two);
    const int h_sum = s.add(
        "hand sum(a*b) -ffast-math",
        [&] {
          out_total = ref::fm::sum_mul(a.data(), b.data(), kN);
          kbench::do_not_optimize(out_total);
        },
        bytes_two);
    const int k_row = s.add(
        "kiln sum(a*b, 1)",
        [&] {
          const Tensor<float> r = kiln::sum(a * b, 1);
          kbench::do_not_optimize(r);
        },
        bytes_two);
    const int h_row = s.add(
        "hand row sums of a*b -ffast-math",
        [&] { ref::fm::row_sum_mul(out_rows.data(), a.data(), b.data(), kRows, kCols); },
        bytes_two);
    const int k_lse = s.add(
        "kiln logsumexp(x, 1)",
        [&] {
          const Tensor<float> r = kiln::logsumexp(a, 1);
          kbench::do_not_optimize(r);
        },
        bytes_one);
    const int h_lse = s.add(
        "hand logsumexp rows -ffast-math",
        [&] { ref::fm::row_logsumexp(out_rows.data(), a.data(), kRows, kCols); }, bytes_one);
    const int n_lse = s.add(
        "hand logsumexp rows, no -ffast-math",
        [&] { ref::nofm::row_logsumexp(out_rows.data(), a.data(), kRows, kCols); }, bytes_one);
    const int k_col = s.add(
        "kiln sum(x, 0)",
        [&] {
          const Tensor<float> r = kiln::sum(a, 0);
          kbench::do_not_optimize(r);
        },
        bytes_one);
    const int h_col = s.add(
        "hand column sums -ffast-math",
        [&] { ref::fm::col_sum(out_cols.data(), a.data(), kRows, kCols); }, bytes_one);
    s.run();
    s.print(triad);

    const std::string tag = " @" + std::to_string(threads) + "t: ";
    const double tr = s.gbps(triad);
    std::printf(
        "\n  triad %.1f GB/s; GB/s as %% of triad: sum(a*b) %.0f%% (hand %.0f%%), sum(a*b, 1) "
        "%.0f%% (hand %.0f%%),\n"
        "  logsumexp %.0f%% (hand %.0f%%), sum(x, 0) %.0f%% (hand %.0f%%)\n",
        tr, 100 * s.gbps(k_sum) / tr, 100 * s.gbps(h_sum) / tr, 100 * s.gbps(k_row) / tr,
        100 * s.gbps(h_row) / tr, 100 * s.gbps(k_lse) / tr, 100 * s.gbps(h_lse) / tr,
        100 * s.gbps(k_col) / tr, 100 * s.gbps(h_col) / tr);
    verdicts.target("sum(a*b)" + tag + "kiln time / hand time", s.paired_ratio(k_sum, h_sum),
                    "<=", 1.2);
    verdicts.target("sum(a*b)" + tag + "kiln GB/s as a fraction of triad",
                    s.paired_bandwidth_fraction(k_sum, triad), ">=", 0.85);
    verdicts.target("sum(a*b, 1)" + tag + "kiln time / hand time", s.paired_ratio(k_row, h_row),
                    "<=", 1.2);
    verdicts.target("sum(a*b, 1)" + tag + "kiln GB/s as a fraction of triad",
                    s.paired_bandwidth_fraction(k_row, triad), ">=", 0.85);
    std::printf(
        "  ratio logsumexp(x, 1)%skiln / hand -ffast-math = %.2fx, kiln / hand no-fast-math = "
        "%.2fx\n",
        tag.c_str(), s.paired_ratio(k_lse, h_lse), s.paired_ratio(k_lse, n_lse));
    std::printf("  ratio sum(x, 0)%skiln / hand = %.2fx (context, no target)\n", tag.c_str(),
                s.paired_ratio(k_col, h_col));
  }

  std::printf("\n");
  verdicts.check("sum(a*b): kiln, after timing",
                 std::fabs(kiln::sum(a * b).item() - o.total) / o.total_abs, tol_sum);
  std::printf(
      "\nGB/s count the inputs read once (the outputs are tiny); x base = time / triad time.\n"
      "PASS/MISS figures and ratios are medians of per-round ratios (variants timed back to "
      "back).\n"
      "Timing targets are informative on a shared machine: a MISS does not fail the program.\n");
  return verdicts.finish("bench_reduce");
}
