// SPDX-License-Identifier: BSD-3-Clause
// The GEMM entry points kiln's ops call: row-major, strided, float and double, backed by
// oneDNN (float) and OpenBLAS (double) inside src/blas.cpp. See Note [GEMM backends].
#pragma once

#include <cstdint>
#include <string>

namespace kiln::blas {

/// C[m, n] = alpha * op(A)[m, k] · op(B)[k, n] + beta * C, all row-major. op(A) is A
/// (lda >= k) or, with trans_a, A^T read from an A stored [k, m] (lda >= m); likewise B.
/// With beta == 0, C is not read (NaN in C does not propagate). Runs on kiln's OpenMP
/// threads; called from inside a parallel region it runs on the calling thread only.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc);

/// `batch` independent GEMMs; matrix i of A starts at a + i * stride_a (likewise B, C).
/// Small products run one per thread across the batch; large ones use every thread each.
template <class T>
void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t m, int64_t n, int64_t k,
                  T alpha, const T* a, int64_t lda, int64_t stride_a, const T* b, int64_t ldb,
                  int64_t stride_b, T beta, T* c, int64_t ldc, int64_t stride_c);

/// Which library runs each GEMM, with its version and the kernels it picked, e.g.
/// "float: oneDNN 2.6.3 (JIT, ISA by CPUID); double: OpenBLAS 0.3.21 (Cooperlake, OpenMP)".
std::string backend_info();

}  // namespace kiln::blas
