// SPDX-License-Identifier: BSD-3-Clause
// GEMM backends: oneDNN's sgemm for float, OpenBLAS's dgemm for double.
#include "kiln/ops/blas.hpp"

#include <cblas.h>
#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <exception>
#include <mutex>
#include <string>
#include <type_traits>

#include "gemm_dnnl.hpp"
#include "kiln/core/error.hpp"
#include "kiln/core/parallel.hpp"

// Note [GEMM backends]
// float goes to oneDNN's dnnl_sgemm: its JIT kernels pick the ISA from CPUID, so every
// machine gets its AVX-512/AVX2 kernels with no environment tuning. Debian's OpenBLAS
// 0.3.21 chooses its kernels from a CPU-model table at load time and, on models it does
// not know (Emerald Rapids, for one), falls back to SSE3 kernels 4-5x slower, which only
// OPENBLAS_CORETYPE set before the library loads can fix. oneDNN has no double GEMM, so
// double goes to OpenBLAS; backend_info() reports the core it picked, and a one-time
// warning names the fix when that core is older than the CPU (see warn_slow_openblas).
//
// Threads: oneDNN (Debian's build) and the OpenMP variant of OpenBLAS run on the same
// libgomp as kiln, so kiln::set_num_threads governs all three and a GEMM called inside a
// kiln parallel region runs on its calling thread (nested regions get one thread) — no
// oversubscription. The pthread variant of OpenBLAS keeps its own pool: before each call
// it is told kiln's thread count (one inside a parallel region), under a lock held through
// the call so that the pool never changes size under a running GEMM; gemm_batched does
// not spread its double products over threads then (they would only queue on the lock).

extern "C" char* openblas_get_corename(void);
extern "C" int openblas_get_parallel(void);

namespace kiln::blas {
namespace {

void check_dims(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc,
                const char* who) {
  KILN_CHECK(m >= 0 && n >= 0 && k >= 0, ValueError, "[", who, "] negative size: m=", m, " n=", n,
             " k=", k);
  KILN_CHECK(std::max({m, n, k, lda, ldb, ldc}) <= INT_MAX, ValueError, "[", who,
             "] a dimension or leading dimension exceeds 2^31-1, which OpenBLAS cannot index: "
             "m=",
             m, " n=", n, " k=", k, " lda=", lda, " ldb=", ldb, " ldc=", ldc);
}

// beta * C with beta == 0 must overwrite, not scale (0 * NaN is NaN).
template <class T>
void scale_c(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0))
      std::fill(row, row + n, T(0));
    else if (beta != T(1))
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
  }
}

bool openblas_is_openmp() {
  static const bool v = openblas_get_parallel() == 2;
  return v;
}

const char* openblas_core() {
  const char* name = openblas_get_corename();
  return name ? name : "unknown";
}

// OpenBLAS cores that predate AVX2: on a CPU with AVX2 or AVX-512 they mean the library
// did not recognise the CPU model.
bool is_pre_avx2_core(const std::string& core) {
  for (const char* old : {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai",
                          "Coppermine", "Northwood", "Banias", "Opteron", "Barcelona", "Bobcat",
                          "Sandybridge", "Bulldozer", "Piledriver", "Steamroller"})
    if (core == old) return true;
  return false;
}

void warn_slow_openblas() {
  static std::once_flag once;
  std::call_once(once, [] {
    const std::string core = openblas_core();
    const bool avx512 = __builtin_cpu_supports("avx512f");
    const bool avx2 = __builtin_cpu_supports("avx2");
    if ((avx512 || avx2) && is_pre_avx2_core(core))
      std::fprintf(stderr,
                   "kiln: OpenBLAS chose its '%s' kernels for this CPU, which supports %s; "
                   "double-precision GEMM will run several times slower than it could. Set "
                   "OPENBLAS_CORETYPE=%s before starting the program.\n",
                   core.c_str(), avx512 ? "AVX-512" : "AVX2", avx512 ? "SkylakeX" : "Haswell");
  });
}

// Up to 64^3 multiply-adds, OpenBLAS's sgemm costs less per call than oneDNN's (about
// 1.15x at 64^3 on one thread; bench_gemm's batched case), so small products go there,
// unless OpenBLAS runs outdated kernels on this CPU or is the pthread build inside a
// parallel region (see the Note).
bool small_sgemm_to_openblas(int64_t m, int64_t n, int64_t k) {
  if (m * n * k > (int64_t{1} << 18)) return false;
  static const bool fast_core = !is_pre_avx2_core(openblas_core());
  return fast_core && (openblas_is_openmp() || !omp_in_parallel());
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  check_dims(m, n, k, lda, ldb, ldc, "gemm");
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.f) return scale_c(m, n, beta, c, ldc);
  if (small_sgemm_to_openblas(m, n, k)) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, int(m), int(n), int(k), alpha, a, int(lda), b,
                int(ldb), beta, c, int(ldc));
    return;
  }
  if (detail::matmul_primitive_pays(m, n, k) &&
      detail::sgemm_matmul(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
    return;
  // dnnl_sgemm reads C when beta != 0 only, like BLAS.
  const dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a,
                                      lda, b, ldb, beta, c, ldc);
  KILN_CHECK(st == dnnl_success, ValueError, "[gemm] oneDNN sgemm failed (status ", int(st),
             ") for m=", m, " n=", n, " k=", k, " lda=", lda, " ldb=", ldb, " ldc=", ldc);
}

namespace detail {
bool sgemm_bias(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                int64_t lda, const float* b, int64_t ldb, const float* bias, float* c,
                int64_t ldc) {
  check_dims(m, n, k, lda, ldb, ldc, "gemm");
  if (m == 0 || n == 0 || k == 0 || small_sgemm_to_openblas(m, n, k) ||
      !matmul_primitive_pays(m, n, k))
    return false;
  return sgemm_matmul(trans_a, trans_b, m, n, k, 1.f, a, lda, b, ldb, 0.f, c, ldc, bias);
}
}  // namespace detail

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc) {
  check_dims(m, n, k, lda, ldb, ldc, "gemm");
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0) return scale_c(m, n, beta, c, ldc);
  warn_slow_openblas();
  std::unique_lock<std::mutex> lock;
  if (!openblas_is_openmp()) {
    // The pthread build keeps its own pool, whose size must not change under a running
    // call: match kiln's thread count and hold the lock through the call (see the Note).
    static std::mutex mu;
    lock = std::unique_lock<std::mutex>(mu);
    const int want = omp_in_parallel() ? 1 : kiln::get_num_threads();
    if (openblas_get_num_threads() != want) openblas_set_num_threads(want);
  }
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, int(m), int(n), int(k), alpha, a, int(lda), b,
              int(ldb), beta, c, int(ldc));
}

template <class T>
void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t m, int64_t n, int64_t k,
                  T alpha, const T* a, int64_t lda, int64_t stride_a, const T* b, int64_t ldb,
                  int64_t stride_b, T beta, T* c, int64_t ldc, int64_t stride_c) {
  KILN_CHECK(batch >= 0, ValueError, "[gemm_batched] negative batch ", batch);
  check_dims(m, n, k, lda, ldb, ldc, "gemm_batched");
  // Below ~128^3 multiply-adds a GEMM cannot keep two threads busy, so give each thread
  // whole products instead (not for the pthread OpenBLAS: see the Note).
  const bool small = m * n * k < (int64_t{1} << 21);
  const bool can_split = std::is_same_v<T, float> || openblas_is_openmp();
  auto one = [&](int64_t i) {
    gemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
         c + i * stride_c, ldc);
  };
  if (small && can_split && batch > 1) {
    // Exceptions cannot leave an OpenMP region: the first one (a library failure; input
    // errors are caught above) is carried out and rethrown.
    std::exception_ptr error;
    std::mutex mu;
    kiln::parallel_for(batch, 1, 1, [&](int64_t lo, int64_t hi) {
      try {
        for (int64_t i = lo; i < hi; ++i) one(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
      }
    });
    if (error) std::rethrow_exception(error);
  } else {
    for (int64_t i = 0; i < batch; ++i) one(i);
  }
}

template void gemm_batched<float>(bool, bool, int64_t, int64_t, int64_t, int64_t, float,
                                  const float*, int64_t, int64_t, const float*, int64_t, int64_t,
                                  float, float*, int64_t, int64_t);
template void gemm_batched<double>(bool, bool, int64_t, int64_t, int64_t, int64_t, double,
                                   const double*, int64_t, int64_t, const double*, int64_t, int64_t,
                                   double, double*, int64_t, int64_t);

std::string backend_info() {
  const dnnl_version_t* v = dnnl_version();
  std::string s = "float: oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) +
                  "." + std::to_string(v->patch) + " sgemm (JIT, ISA chosen from CPUID)";
  if (!is_pre_avx2_core(openblas_core())) s += ", OpenBLAS sgemm up to 64^3";
  s += "; double: OpenBLAS dgemm (";
  s += openblas_core();
  s += openblas_is_openmp() ? " kernels, OpenMP threads)" : " kernels, pthreads)";
  return s;
}

}  // namespace kiln::blas
