// SPDX-License-Identifier: BSD-3-Clause
// A small timing harness shared by kiln's benchmark programs: variants are timed in
// interleaved rounds (so drift on a shared machine hits every variant alike), after a
// warm-up, and reported as median / min / max with aligned tables and PASS/MISS lines.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kiln/core/config.hpp"
#include "kiln/expr/math.hpp"
#include "kiln/expr/simd.hpp"

namespace kbench {

/// Keeps the compiler from discarding a value or the writes behind a pointer.
template <class T>
inline void do_not_optimize(const T& v) {
  asm volatile("" : : "g"(&v) : "memory");
}
inline void clobber_memory() { asm volatile("" : : : "memory"); }

inline double now_s() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

/// Timings of one variant, in seconds per call.
struct Stats {
  double median = 0, min = 0, max = 0;
  int reps = 0;
};

inline Stats summarize(std::vector<double> t) {
  Stats s;
  if (t.empty()) return s;
  std::sort(t.begin(), t.end());
  const std::size_t n = t.size();
  s.median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
  s.min = t.front();
  s.max = t.back();
  s.reps = static_cast<int>(n);
  return s;
}

/// A set of variants timed together. Each round calls every variant once, in the order
/// they were added; `calls` > 1 times a batch of calls and divides (for nanosecond ops).
class Suite {
 public:
  struct Variant {
    std::string name;
    std::function<void()> fn;
    double bytes = 0;   // bytes moved per call (STREAM convention), 0 if not a bandwidth figure
    int64_t calls = 1;  // calls per timed sample
    std::vector<double> samples;
    Stats stats;
  };

  explicit Suite(std::string title, int warmup = 2, int reps = 9)
      : title_(std::move(title)), warmup_(warmup), reps_(reps) {}

  int add(std::string name, std::function<void()> fn, double bytes = 0, int64_t calls = 1) {
    variants_.push_back(Variant{std::move(name), std::move(fn), bytes, calls, {}, {}});
    return static_cast<int>(variants_.size()) - 1;
  }

  void run() {
    for (int r = 0; r < warmup_ + reps_; ++r) {
      for (Variant& v : variants_) {
        const double t0 = now_s();
        for (int64_t k = 0; k < v.calls; ++k) v.fn();
        const double t = (now_s() - t0) / static_cast<double>(v.calls);
        if (r >= warmup_) v.samples.push_back(t);
      }
    }
    for (Variant& v : variants_) v.stats = summarize(v.samples);
  }

  const Stats& stats(int id) const { return variants_.at(static_cast<std::size_t>(id)).stats; }
  double bytes(int id) const { return variants_.at(static_cast<std::size_t>(id)).bytes; }
  /// Median over rounds of time(a) / time(b). Both were timed back to back in each round,
  /// so this is steadier than a ratio of medians when other jobs slow the machine down.
  double paired_ratio(int a, int b) const {
    const auto& sa = variants_.at(static_cast<std::size_t>(a)).samples;
    const auto& sb = variants_.at(static_cast<std::size_t>(b)).samples;
    std::vector<double> r;
    for (std::size_t i = 0; i < std::min(sa.size(), sb.size()); ++i) r.push_back(sa[i] / sb[i]);
    return summarize(r).median;
  }
  /// GB/s of `a` as a fraction of GB/s of `b`, from paired_ratio.
  double paired_bandwidth_fraction(int a, int b) const {
    return paired_ratio(b, a) * bytes(a) / bytes(b);
  }
  double median(int id) const { return stats(id).median; }
  /// GB/s (1e9 bytes) at the median time.
  double gbps(int id) const {
    const Variant& v = variants_.at(static_cast<std::size_t>(id));
    return v.bytes > 0 && v.stats.median > 0 ? v.bytes / v.stats.median * 1e-9 : 0;
  }

  /// Prints one table: name, median/min/max time, GB/s, and time relative to `base`
  /// (a variant id, or -1 for none).
  void print(int base = -1, const char* unit = "ms") const {
    const double scale = std::string(unit) == "ns" ? 1e9 : std::string(unit) == "us" ? 1e6 : 1e3;
    std::size_t w = 8;
    for (const Variant& v : variants_) w = std::max(w, v.name.size());
    std::printf("\n%s  (%d warm-up + %d timed rounds, interleaved)\n", title_.c_str(), warmup_,
                reps_);
    std::printf("  %-*s %11s %11s %11s %9s %10s\n", static_cast<int>(w), "variant",
                (std::string("median ") + unit).c_str(), "min", "max", "GB/s",
                base >= 0 ? "x base" : "");
    for (std::size_t i = 0; i < variants_.size(); ++i) {
      const Variant& v = variants_[i];
      char gb[32] = "-", rel[32] = "";
      if (v.bytes > 0) std::snprintf(gb, sizeof gb, "%.1f", gbps(static_cast<int>(i)));
      if (base >= 0) std::snprintf(rel, sizeof rel, "%.2f", v.stats.median / median(base));
      std::printf("  %-*s %11.3f %11.3f %11.3f %9s %10s\n", static_cast<int>(w), v.name.c_str(),
                  v.stats.median * scale, v.stats.min * scale, v.stats.max * scale, gb, rel);
    }
  }

 private:
  std::string title_;
  int warmup_, reps_;
  std::vector<Variant> variants_;
};

/// Collects PASS/MISS verdicts for performance targets and failures of validation.
class Verdicts {
 public:
  /// A target "value <op> limit" where op is "<=" or ">=".
  void target(const std::string& what, double value, const char* op, double limit,
              const char* fmt = "%.2f") {
    const bool ok = std::string(op) == "<=" ? value <= limit : value >= limit;
    char v[64], l[64];
    std::snprintf(v, sizeof v, fmt, value);
    std::snprintf(l, sizeof l, fmt, limit);
    std::printf("  %-4s %-58s %10s  (target %s %s)\n", ok ? "PASS" : "MISS", what.c_str(), v, op,
                l);
    ok ? ++pass_ : ++miss_;
  }
  /// Validation of a result: max error against a reference and its tolerance.
  bool check(const std::string& what, double err, double tol) {
    const bool ok = err <= tol && !std::isnan(err);
    std::printf("  check %-52s max err %.3g (tol %.3g)  %s\n", what.c_str(), err, tol,
                ok ? "ok" : "WRONG");
    if (!ok) ++wrong_;
    return ok;
  }
  int wrong() const { return wrong_; }
  /// Summary line; returns the process exit code (non-zero only when a result was wrong:
  /// timing targets are noisy on shared machines and never fail the program).
  int finish(const char* program) const {
    std::printf("\n%s: %d target(s) PASS, %d MISS; validation %s\n", program, pass_, miss_,
                wrong_ ? "FAILED (results are wrong, figures are meaningless)" : "ok");
    return wrong_ ? 1 : 0;
  }

 private:
  int pass_ = 0, miss_ = 0, wrong_ = 0;
};

/// Last-level cache sizes in bytes (0 when unknown): what sysfs reports for this core
/// (under a hypervisor often one CCD's slice) and what glibc's sysconf reports.
struct L3Sizes {
  long sysfs = 0, sysconf = 0;
  long largest() const { return std::max(sysfs, sysconf); }
};
inline L3Sizes l3_sizes() {
  L3Sizes r;
  std::ifstream f("/sys/devices/system/cpu/cpu0/cache/index3/size");
  std::string v;
  if (f >> v && !v.empty()) {
    const long n = std::atol(v.c_str());
    const char unit = v.back();
    r.sysfs = unit == 'K' ? n << 10 : unit == 'M' ? n << 20 : n;
  }
#ifdef _SC_LEVEL3_CACHE_SIZE
  r.sysconf = std::max(sysconf(_SC_LEVEL3_CACHE_SIZE), 0L);
#endif
  return r;
}

/// "working set N MiB", with a warning when it is not larger than the largest reported L3.
inline std::string working_set(double bytes) {
  char buf[200];
  const long l3 = l3_sizes().largest();
  std::snprintf(buf, sizeof buf, "working set %.0f MiB%s", bytes / (1 << 20),
                l3 > 0 && bytes <= static_cast<double>(l3)
                    ? " (not above the L3 size: may be partly cache-resident)"
                    : "");
  return buf;
}

/// Prints the 1-minute load average against the CPU count: other jobs on the machine
/// depress absolute figures (ratios of interleaved variants hold up better).
inline void print_load() {
  double load = -1;
  std::ifstream f("/proc/loadavg");
  if (!(f >> load)) return;
  const unsigned ncpu = std::thread::hardware_concurrency();
  std::printf("   load average %.2f on %u CPUs%s\n", load, ncpu,
              load > 0.5 * ncpu
                  ? ": other jobs are running, absolute figures are depressed; compare ratios"
                  : "");
}

/// Prints what every figure depends on: SIMD width, threads, build mode, FP environment.
inline void print_header(const char* program, const char* what) {
  std::printf("== %s: %s\n", program, what);
#if KILN_SIMD
  std::printf("   kiln SIMD: %d-byte packets (%s)", kiln::simd::kBytes,
              KILN_LIBMVEC ? "SLEEF + libmvec for erf/tanh/sin/cos" : "SLEEF");
#else
  std::printf("   kiln SIMD: off (scalar loops)");
#endif
#ifdef _OPENMP
  std::printf(", OpenMP max threads %d", omp_get_max_threads());
#else
  std::printf(", no OpenMP");
#endif
#ifdef NDEBUG
  std::printf(", NDEBUG\n");
#else
  std::printf(", assertions ON (not a release build: figures are not representative)\n");
#endif
#if defined(__x86_64__) || defined(__i386__)
  // A -ffast-math link pulls in crtfastmath.o, which turns on flush-to-zero for the whole
  // process and would silently change kiln's results; the reference loops are compiled
  // with -ffast-math but must not be linked with it.
  const unsigned csr = _mm_getcsr();
  std::printf("   MXCSR flush-to-zero %s, denormals-are-zero %s\n",
              (csr & 0x8000) ? "ON (!)" : "off", (csr & 0x0040) ? "ON (!)" : "off");
#endif
  if (const char* e = std::getenv("OMP_NUM_THREADS"))
    std::printf("   OMP_NUM_THREADS=%s (overridden per section)\n", e);
  const L3Sizes l3 = l3_sizes();
  std::printf("   L3 cache: %.0f MiB per sysfs, %.0f MiB per sysconf\n",
              static_cast<double>(l3.sysfs) / (1 << 20),
              static_cast<double>(l3.sysconf) / (1 << 20));
  print_load();
}

/// Sets the thread count used by kiln and by the OpenMP reference loops (one runtime).
inline void set_threads(int n) {
#ifdef _OPENMP
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

/// Deterministic pseudo-random floats in [lo, hi), filled in parallel (first touch by
/// the threads that later stream the data).
inline void fill_uniform(float* p, int64_t n, uint64_t seed, float lo, float hi) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    uint64_t z =
        (static_cast<uint64_t>(i) + 1) * 0x9E3779B97F4A7C15ull ^ (seed * 0xD1B54A32D192ED03ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const float u = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
    p[i] = lo + (hi - lo) * u;
  }
}

/// max_i |x[i] - ref[i]| / (1 + |ref[i]|): absolute near 0, relative for large values.
inline double max_rel_err(const float* x, const float* ref, int64_t n) {
  double m = 0;
#pragma omp parallel for reduction(max : m) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const double r = ref[i];
    double d = std::fabs(static_cast<double>(x[i]) - r) / (1.0 + std::fabs(r));
    if (d != d) d = INFINITY;  // NaN where the reference is finite counts as wrong
    m = std::max(m, d);
  }
  return m;
}

}  // namespace kbench
