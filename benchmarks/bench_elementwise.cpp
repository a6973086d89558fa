// SPDX-License-Identifier: BSD-3-Clause
// Fused elementwise chains: kiln vs a STREAM triad (the roofline), vs hand-written OpenMP
// loops (with and without -ffast-math) and vs op-by-op evaluation with temporaries.
//   (a) a = b + s*c, the triad, timed in every suite as its roofline
//   (b) y = a*b + c*d - sin(e)             16M floats, 6 arrays of traffic
//   (c) y = gelu(x*w + b)                  x [4096, 4096], w and b broadcast rows [4096]
//  (c') y = gelu(x*w + b)                  x, w, b all [16M]
// Run: build/bench/benchmarks/bench_elementwise [--quick]

#include <cstdio>
#include <cstring>
#include <string>

#include "harness.hpp"
#include "kiln/kiln.hpp"
#include "loops.hpp"

namespace {

constexpr int64_t kN = int64_t{1} << 24;  // 16M floats = 64 MiB per array
constexpr int64_t kRows = 4096, kCols = 4096;
constexpr float kTriadScale = 3.0f;
constexpr double kTol = 1e-5;  // max |kiln - ref| / (1 + |ref|)

namespace ref = kbench::ref;
using kiln::Tensor;

struct Targets {
  double min_of_triad = 0.85;    // kiln GB/s >= 85% of the triad's
  double max_vs_hand = 1.15;     // kiln time <= 1.15x the -ffast-math hand loop
  double min_vs_op_by_op = 3.0;  // op-by-op time >= 3x kiln's
};

// Ids of the interleaved variants of one chain's suite.
struct ChainIds {
  int triad, kiln, hand_fm, ops;
};
// Context figures timed apart (slow, not interleaved): seconds per call.
struct Context {
  double hand_nofm, ops_nocache;
};

// The hand loop without -ffast-math, and op-by-op with kiln's CPU block cache disabled
// so that every temporary is a fresh allocation whose pages fault in on first touch
// (what eager PyTorch pays on glibc malloc). Both are slow, so they get fewer rounds.
template <class F, class G>
Context run_context(const std::string& title, const std::string& nofm_name, F&& nofm, G&& ops,
                    double bytes, int reps) {
  const std::size_t limit = kiln::cpu::memory_stats().cache_limit_bytes;
  kiln::cpu::set_cache_limit(0);
  kbench::Suite s(title, 1, reps);
  s.add(nofm_name, nofm, bytes);
  s.add("kiln op-by-op, allocator cache off", ops, bytes);
  s.run();
  s.print();
  kiln::cpu::set_cache_limit(limit);
  return {s.median(0), s.median(1)};
}

void chain_verdicts(kbench::Verdicts& v, const kbench::Suite& s, const ChainIds& id,
                    const Context& ctx, double bytes, const std::string& what, int threads) {
  const Targets t;
  const std::string tag = what + " @" + std::to_string(threads) + "t: ";
  const double triad = s.gbps(id.triad);
  std::printf(
      "\n  %skiln %.1f GB/s = %.0f%% of triad (%.1f GB/s); hand -ffast-math %.0f%%, hand "
      "no-fast-math %.0f%%\n",
      tag.c_str(), s.gbps(id.kiln), 100 * s.gbps(id.kiln) / triad, triad,
      100 * s.gbps(id.hand_fm) / triad, 100 * bytes / ctx.hand_nofm * 1e-9 / triad);
  std::printf(
      "  %sop-by-op / kiln = %.2fx with kiln's block cache, %.2fx with it off (fresh pages per "
      "op)\n",
      tag.c_str(), s.median(id.ops) / s.median(id.kiln), ctx.ops_nocache / s.median(id.kiln));
  v.target(tag + "kiln GB/s as a fraction of triad", s.paired_bandwidth_fraction(id.kiln, id.triad),
           ">=", t.min_of_triad);
  v.target(tag + "kiln time / hand -ffast-math time", s.paired_ratio(id.kiln, id.hand_fm),
           "<=", t.max_vs_hand);
  v.target(tag + "op-by-op time / kiln time", s.paired_ratio(id.ops, id.kiln),
           ">=", t.min_vs_op_by_op);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int reps = quick ? 3 : 9, warmup = quick ? 1 : 2, ctx_reps = quick ? 1 : 3;
  kbench::print_header("bench_elementwise",
                       "fused elementwise chains vs triad, hand loops, op-by-op");
  std::printf("   16M floats per array (64 MiB)\n");
  kbench::Verdicts verdicts;

  // ---- data ----------------------------------------------------------------------------------
  Tensor<float> a({kN}), b({kN}), c({kN}), d({kN}), e({kN}), y({kN}), yref({kN}), yref2({kN});
  kbench::fill_uniform(a.data(), kN, 1, -2, 2);
  kbench::fill_uniform(b.data(), kN, 2, -2, 2);
  kbench::fill_uniform(c.data(), kN, 3, -2, 2);
  kbench::fill_uniform(d.data(), kN, 4, -2, 2);
  kbench::fill_uniform(e.data(), kN, 5, -4, 4);
  std::memset(y.data(), 0, kN * sizeof(float));
  std::memset(yref.data(), 0, kN * sizeof(float));
  std::memset(yref2.data(), 0, kN * sizeof(float));
  // gelu operands: x [4096, 4096] and broadcast rows w, bias [4096]; the flat version uses
  // a, b, c as x, w, bias.
  const Tensor<float> x2 = a.view({kRows, kCols});
  Tensor<float> wrow({kCols}), brow({kCols});
  kbench::fill_uniform(wrow.data(), kCols, 6, -1, 1);
  kbench::fill_uniform(brow.data(), kCols, 7, -1, 1);
  Tensor<float> y2({kRows, kCols});  // its own storage, so that `y2 = expr` writes in place
  std::memset(y2.data(), 0, kN * sizeof(float));
  Tensor<float> y_ops;  // op-by-op results (rebound each call)

  float* const y_data = y.data();
  float* const y2_data = y2.data();
  const double bytes_triad = 3.0 * kN * sizeof(float);
  const double bytes_chain = 6.0 * kN * sizeof(float);
  const double bytes_gelu_rows =
      2.0 * kN * sizeof(float);  // x read, y written (w, bias stay cached)
  const double bytes_gelu_flat = 4.0 * kN * sizeof(float);

  // ---- validation (1 and 2 threads, before timing)
  // ------------------------------------------------
  std::printf("\nvalidation (oracle: the hand loop without -ffast-math)\n");
  for (int threads : {1, 2}) {
    kbench::set_threads(threads);
    const std::string t = " @" + std::to_string(threads) + "t";
    ref::nofm::chain(yref.data(), a.data(), b.data(), c.data(), d.data(), e.data(), kN);
    y = a * b + c * d - kiln::sin(e);
    verdicts.check("chain: kiln fused" + t, kbench::max_rel_err(y.data(), yref.data(), kN), kTol);
    if (y.data() != y_data)
      std::printf("  NOTE: `y = expr` reallocated although y is the sole owner\n");
    ref::fm::chain(yref2.data(), a.data(), b.data(), c.data(), d.data(), e.data(), kN);
    verdicts.check("chain: hand -ffast-math" + t,
                   kbench::max_rel_err(yref2.data(), yref.data(), kN), kTol);
    {
      Tensor<float> t1 = a * b, t2 = c * d, t3 = kiln::sin(e), t4 = t1 + t2;
      y_ops = kiln::eval(t4 - t3);
    }
    verdicts.check("chain: kiln op-by-op" + t, kbench::max_rel_err(y_ops.data(), yref.data(), kN),
                   kTol);
    y = b + kTriadScale * c;
    ref::fm::triad(yref.data(), b.data(), c.data(), kTriadScale, kN);
    verdicts.check("triad: kiln vs hand" + t, kbench::max_rel_err(y.data(), yref.data(), kN), kTol);

    ref::nofm::gelu_rows(yref.data(), a.data(), wrow.data(), brow.data(), kRows, kCols);
    y2 = kiln::gelu(x2 * wrow + brow);
    verdicts.check("gelu rows: kiln fused" + t, kbench::max_rel_err(y2.data(), yref.data(), kN),
                   kTol);
    ref::fm::gelu_rows(yref2.data(), a.data(), wrow.data(), brow.data(), kRows, kCols);
    verdicts.check("gelu rows: hand -ffast-math" + t,
                   kbench::max_rel_err(yref2.data(), yref.data(), kN), kTol);
    {
      Tensor<float> t1 = x2 * wrow, t2 = t1 + brow;
      y_ops = kiln::gelu(t2);
    }
    verdicts.check("gelu rows: kiln op-by-op" + t,
                   kbench::max_rel_err(y_ops.data(), yref.data(), kN), kTol);

    ref::nofm::gelu_flat(yref.data(), a.data(), b.data(), c.data(), kN);
    y = kiln::gelu(a * b + c);
    verdicts.check("gelu flat: kiln fused" + t, kbench::max_rel_err(y.data(), yref.data(), kN),
                   kTol);
    ref::fm::gelu_flat(yref2.data(), a.data(), b.data(), c.data(), kN);
    verdicts.check("gelu flat: hand -ffast-math" + t,
                   kbench::max_rel_err(yref2.data(), yref.data(), kN), kTol);
  }
  if (verdicts.wrong()) return verdicts.finish("bench_elementwise");

  // ---- timing ----------------------------------------------------------------------------------
  for (int threads : {1, 2}) {
    kbench::set_threads(threads);
    kiln::set_num_threads(threads);
    std::printf("\n======== %d thread%s ========\n", threads, threads > 1 ? "s" : "");

    // (a) + (b): y = a*b + c*d - sin(e)
    {
      kbench::Suite s("(b) y = a*b + c*d - sin(e), 16M floats, " + std::to_string(threads) +
                          " thread(s), " + kbench::working_set(bytes_chain),
                      warmup, reps);
      ChainIds id{};
      id.triad = s.add(
          "triad a = b + s*c (hand, roofline)",
          [&] { ref::fm::triad(yref.data(), b.data(), c.data(), kTriadScale, kN); }, bytes_triad);
      s.add(
          "kiln triad y = b + s*c", [&] { y = b + kTriadScale * c; }, bytes_triad);
      id.kiln = s.add(
          "kiln fused", [&] { y = a * b + c * d - kiln::sin(e); }, bytes_chain);
      id.hand_fm = s.add(
          "hand loop -ffast-math",
          [&] {
            ref::fm::chain(yref.data(), a.data(), b.data(), c.data(), d.data(), e.data(), kN);
          },
          bytes_chain);
      auto ops = [&] {
        Tensor<float> t1 = a * b;
        Tensor<float> t2 = c * d;
        Tensor<float> t3 = kiln::sin(e);
        Tensor<float> t4 = t1 + t2;
        y_ops = kiln::eval(t4 - t3);
      };
      id.ops = s.add("kiln op-by-op (5 temporaries)", ops, bytes_chain);
      s.run();
      s.print(id.kiln);
      const Context ctx = run_context(
          "    context, timed apart", "hand loop, no -ffast-math (scalar sinf)",
          [&] {
            ref::nofm::chain(yref.data(), a.data(), b.data(), c.data(), d.data(), e.data(), kN);
          },
          ops, bytes_chain, ctx_reps);
      chain_verdicts(verdicts, s, id, ctx, bytes_chain, "a*b+c*d-sin(e)", threads);
      if (y.data() != y_data)
        std::printf("  NOTE: `y = expr` reallocated although y is the sole owner\n");
    }

    // (c) y = gelu(x*w + b), x [4096, 4096], w and b [4096]
    {
      kbench::Suite s("(c) y = gelu(x*w + b), x [4096, 4096], w, b [4096] broadcast, " +
                          std::to_string(threads) + " thread(s), " +
                          kbench::working_set(bytes_gelu_rows),
                      warmup, reps);
      ChainIds id{};
      id.triad = s.add(
          "triad a = b + s*c (hand, roofline)",
          [&] { ref::fm::triad(yref.data(), b.data(), c.data(), kTriadScale, kN); }, bytes_triad);
      id.kiln = s.add(
          "kiln fused", [&] { y2 = kiln::gelu(x2 * wrow + brow); }, bytes_gelu_rows);
      id.hand_fm = s.add(
          "hand loop -ffast-math (libmvec erff)",
          [&] {
            ref::fm::gelu_rows(yref.data(), a.data(), wrow.data(), brow.data(), kRows, kCols);
          },
          bytes_gelu_rows);
      auto ops = [&] {
        Tensor<float> t1 = x2 * wrow;
        Tensor<float> t2 = t1 + brow;
        y_ops = kiln::eval(kiln::gelu(t2));
      };
      id.ops = s.add("kiln op-by-op (3 temporaries)", ops, bytes_gelu_rows);
      s.run();
      s.print(id.kiln);
      const Context ctx = run_context(
          "    context, timed apart", "hand loop, no -ffast-math (scalar erff)",
          [&] {
            ref::nofm::gelu_rows(yref.data(), a.data(), wrow.data(), brow.data(), kRows, kCols);
          },
          ops, bytes_gelu_rows, ctx_reps);
      chain_verdicts(verdicts, s, id, ctx, bytes_gelu_rows, "gelu(x*w+b) rows", threads);
      if (y2.data() != y2_data)
        std::printf("  NOTE: `y2 = expr` reallocated although y2 is the sole owner\n");
    }

    // (c') the same with every operand [16M]
    {
      kbench::Suite s("(c') y = gelu(x*w + b), x, w, b all [16M], " + std::to_string(threads) +
                          " thread(s), " + kbench::working_set(bytes_gelu_flat),
                      warmup, reps);
      ChainIds id{};
      id.triad = s.add(
          "triad a = b + s*c (hand, roofline)",
          [&] { ref::fm::triad(yref.data(), b.data(), c.data(), kTriadScale, kN); }, bytes_triad);
      id.kiln = s.add(
          "kiln fused", [&] { y = kiln::gelu(a * b + c); }, bytes_gelu_flat);
      id.hand_fm = s.add(
          "hand loop -ffast-math (libmvec erff)",
          [&] { ref::fm::gelu_flat(yref.data(), a.data(), b.data(), c.data(), kN); },
          bytes_gelu_flat);
      auto ops = [&] {
        Tensor<float> t1 = a * b;
        Tensor<float> t2 = t1 + c;
        y_ops = kiln::eval(kiln::gelu(t2));
      };
      id.ops = s.add("kiln op-by-op (3 temporaries)", ops, bytes_gelu_flat);
      s.run();
      s.print(id.kiln);
      const Context ctx = run_context(
          "    context, timed apart", "hand loop, no -ffast-math (scalar erff)",
          [&] { ref::nofm::gelu_flat(yref.data(), a.data(), b.data(), c.data(), kN); }, ops,
          bytes_gelu_flat, ctx_reps);
      chain_verdicts(verdicts, s, id, ctx, bytes_gelu_flat, "gelu(x*w+b) flat", threads);
    }
  }

  // The timed runs must still compute the right thing.
  ref::nofm::chain(yref.data(), a.data(), b.data(), c.data(), d.data(), e.data(), kN);
  y = a * b + c * d - kiln::sin(e);
  std::printf("\n");
  verdicts.check("chain: kiln fused, after timing", kbench::max_rel_err(y.data(), yref.data(), kN),
                 kTol);
  std::printf(
      "\nGB/s count each array read or written once (STREAM convention); x base = time / kiln "
      "fused.\n"
      "PASS/MISS figures are medians of per-round ratios (each round times every variant back to "
      "back).\n"
      "More than 100%% of triad is possible: a write also costs a read (write-allocate), and the\n"
      "triad writes one array in three, the chain one in six.\n"
      "Timing targets are informative on a shared machine: a MISS does not fail the program.\n");
  return verdicts.finish("bench_elementwise");
}
