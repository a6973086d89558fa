// SPDX-License-Identifier: BSD-3-Clause
// Matrix products: kiln::mm / bmm against OpenBLAS called directly and against the FMA
// peak measured by this program, in GFLOP/s, at 1 and 2 threads.
//   sgemm, dgemm  square n = 256, 512, 1024, 2048
//   bmm           [256, 64, 64] · [256, 64, 64] and [16, 256, 256] · [16, 256, 256]
//   nesting       two GEMMs run from inside a 2-thread OpenMP region vs one after the other
// Run: build/bench/benchmarks/bench_gemm [--quick]

#include <cblas.h>
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "harness.hpp"
#include "kiln/kiln.hpp"
#include "kiln/ops/blas.hpp"

extern "C" char* openblas_get_corename(void);

namespace {

using kiln::Tensor;

// Peak: 12 independent FMA chains per thread on the widest vectors the build targets.
double fma_peak_gflops(int threads) {
  using V = kiln::simd::vf;
  constexpr int kLanes = kiln::simd::kBytes / 4, kChains = 12;
  constexpr int64_t kIters = 20'000'000;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = kbench::now_s();
#pragma omp parallel num_threads(threads)
    {
      V acc[kChains];
      for (int c = 0; c < kChains; ++c) acc[c] = V{} + 1.0f + c * 1e-3f;
      const V m = V{} + 0.999999f, a = V{} + 1e-7f;
      for (int64_t i = 0; i < kIters; ++i)
        for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * m + a;
      float s = 0;
      for (int c = 0; c < kChains; ++c)
        for (int l = 0; l < kLanes; ++l) s += acc[c][l];
      kbench::do_not_optimize(s);
    }
    const double t = kbench::now_s() - t0;
    best = std::max(best, 2.0 * kLanes * kChains * kIters * threads / t / 1e9);
  }
  return best;
}

template <class T>
double max_err_vs_blas(const Tensor<T>& c, const std::vector<T>& ref) {
  double m = 0;
  for (int64_t i = 0; i < c.numel(); ++i)
    m = std::max(m,
                 std::abs(double(c.data()[i]) - double(ref[i])) / (1 + std::abs(double(ref[i]))));
  return m;
}

void cblas(int n, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a, n, b, n, 0.f, c, n);
}
void cblas(int n, const double* a, const double* b, double* c) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int reps = quick ? 3 : 7, warmup = quick ? 1 : 2;
  kbench::print_header("bench_gemm", "matrix products vs OpenBLAS and the FMA peak");
  std::printf("   kiln GEMM backends: %s\n", kiln::blas::backend_info().c_str());
  std::printf(
      "   reference: OpenBLAS cblas_*gemm called directly ('%s' kernels; OPENBLAS_CORETYPE=%s)\n",
      openblas_get_corename(),
      std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "unset");
  kbench::Verdicts verdicts;

  for (int threads : {1, 2}) {
    kbench::set_threads(threads);
    kiln::set_num_threads(threads);
    openblas_set_num_threads(threads);
    const double peak = fma_peak_gflops(threads);
    std::printf("\n======== %d thread%s: FMA peak %.0f GFLOP/s (fp32; fp64 is half) ========\n",
                threads, threads > 1 ? "s" : "", peak);
    const std::string tag = " @" + std::to_string(threads) + "t";
    for (int n : {256, 512, 1024, 2048}) {
      const double flops = 2.0 * n * n * n;
      kiln::manual_seed(n);
      const Tensor<float> a = kiln::randn<float>({n, n}), b = kiln::randn<float>({n, n});
      const Tensor<double> ad = a.to<double>(), bd = b.to<double>();
      std::vector<float> cref(size_t(n) * n);
      std::vector<double> cdref(size_t(n) * n);
      Tensor<float> ck;
      Tensor<double> cdk;
      kbench::Suite s("n = " + std::to_string(n) + tag, warmup, reps);
      const int k_s = s.add("kiln mm float (oneDNN)", [&] { ck = kiln::mm(a, b); });
      const int o_s = s.add("OpenBLAS sgemm", [&] { cblas(n, a.data(), b.data(), cref.data()); });
      const int k_d = s.add("kiln mm double (OpenBLAS)", [&] { cdk = kiln::mm(ad, bd); });
      const int o_d =
          s.add("OpenBLAS dgemm", [&] { cblas(n, ad.data(), bd.data(), cdref.data()); });
      s.run();
      s.print(o_s);
      // Two correct float GEMMs that sum in different orders differ by up to a few units
      // of rounding per term of the k-long dot products: the bound grows with n.
      verdicts.check("sgemm n=" + std::to_string(n) + tag + " vs OpenBLAS",
                     max_err_vs_blas(ck, cref), 4.0 * n * 0x1p-24);
      verdicts.check("dgemm n=" + std::to_string(n) + tag + " vs OpenBLAS",
                     max_err_vs_blas(cdk, cdref), 1e-12);
      const double gk = flops / s.median(k_s) / 1e9, go = flops / s.median(o_s) / 1e9;
      const double gkd = flops / s.median(k_d) / 1e9, god = flops / s.median(o_d) / 1e9;
      std::printf(
          "  GFLOP/s: kiln float %.0f (%.0f%% of peak), OpenBLAS float %.0f; kiln double %.0f, "
          "OpenBLAS double %.0f\n",
          gk, 100 * gk / peak, go, gkd, god);
      verdicts.target("kiln sgemm / OpenBLAS sgemm speed, n=" + std::to_string(n) + tag,
                      1.0 / s.paired_ratio(k_s, o_s), ">=", 0.9);
    }

    // Batched products: kiln's bmm against a loop of OpenBLAS calls.
    for (auto [batch, n] : {std::pair<int, int>{256, 64}, std::pair<int, int>{16, 256}}) {
      const double flops = 2.0 * batch * n * n * n;
      const Tensor<float> a = kiln::randn<float>({batch, n, n}),
                          b = kiln::randn<float>({batch, n, n});
      std::vector<float> cref(size_t(batch) * n * n);
      Tensor<float> ck;
      kbench::Suite s("bmm [" + std::to_string(batch) + ", " + std::to_string(n) + ", " +
                          std::to_string(n) + "]" + tag,
                      warmup, reps);
      const int k = s.add("kiln bmm float", [&] { ck = kiln::bmm(a, b); });
      const int o = s.add("loop of OpenBLAS sgemm", [&] {
        for (int i = 0; i < batch; ++i)
          cblas(n, a.data() + size_t(i) * n * n, b.data() + size_t(i) * n * n,
                cref.data() + size_t(i) * n * n);
      });
      s.run();
      s.print(o);
      verdicts.check("bmm " + std::to_string(batch) + "x" + std::to_string(n) + tag,
                     max_err_vs_blas(ck, cref), 1e-4);
      std::printf("  GFLOP/s: kiln %.0f, OpenBLAS loop %.0f\n", flops / s.median(k) / 1e9,
                  flops / s.median(o) / 1e9);
      verdicts.target("kiln bmm / OpenBLAS loop speed, " + std::to_string(batch) + "x" +
                          std::to_string(n) + tag,
                      1.0 / s.paired_ratio(k, o), ">=", 0.9);
    }
  }

  // Nesting: GEMMs called from inside kiln's (OpenMP) threads must not spawn more threads
  // than cores. Two 512^3 products, from a 2-thread region, against the same two one after
  // the other with 2 threads each.
  {
    kbench::set_threads(2);
    kiln::set_num_threads(2);
    openblas_set_num_threads(2);
    constexpr int n = 512;
    const Tensor<float> a = kiln::randn<float>({2, n, n}), b = kiln::randn<float>({2, n, n});
    const Tensor<double> ad = a.to<double>(), bd = b.to<double>();
    Tensor<float> c0, c1;
    Tensor<double> d0, d1;
    int inner_threads = 0;
    kbench::Suite s("nesting: two 512^3 GEMMs on 2 threads", warmup, reps);
    const int seq = s.add("float: one after the other (2 threads each)", [&] {
      c0 = kiln::mm(a.select(0, 0), b.select(0, 0));
      c1 = kiln::mm(a.select(0, 1), b.select(0, 1));
    });
    const int nest = s.add("float: both at once from a 2-thread region", [&] {
#pragma omp parallel num_threads(2)
      {
        const int t = omp_get_thread_num();
        (t ? c1 : c0) = kiln::mm(a.select(0, t), b.select(0, t));
#pragma omp atomic write
        inner_threads = omp_get_max_threads() > 1 && !omp_in_parallel() ? 2 : 1;
      }
    });
    const int dseq = s.add("double: one after the other (2 threads each)", [&] {
      d0 = kiln::mm(ad.select(0, 0), bd.select(0, 0));
      d1 = kiln::mm(ad.select(0, 1), bd.select(0, 1));
    });
    const int dnest = s.add("double: both at once from a 2-thread region", [&] {
#pragma omp parallel num_threads(2)
      {
        const int t = omp_get_thread_num();
        (t ? d1 : d0) = kiln::mm(ad.select(0, t), bd.select(0, t));
      }
    });
    s.run();
    s.print(seq);
    (void)inner_threads;
    verdicts.target("nested float GEMMs / sequential, time", s.paired_ratio(nest, seq), "<=", 1.15);
    verdicts.target("nested double GEMMs / sequential, time", s.paired_ratio(dnest, dseq),
                    "<=", 1.15);
  }
  return verdicts.finish("bench_gemm");
}
