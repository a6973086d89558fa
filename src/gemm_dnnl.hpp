// SPDX-License-Identifier: BSD-3-Clause
// Float GEMM on oneDNN's matmul primitive (see Note [oneDNN matmul primitives]).
#pragma once

#include <cstdint>

namespace kiln::blas::detail {

/// Whether a float product of this size runs faster on the matmul primitive than on
/// dnnl_sgemm: up to 2^25 multiply-adds (a training step's layers; 256^3) it is 2-5%
/// faster, and up to 6% slower on large square products (bench_gemm, 512^3 and 2048^3).
inline bool matmul_primitive_pays(int64_t m, int64_t n, int64_t k) {
  return m * n * k <= (int64_t{1} << 25);
}

/// Row-major C = alpha * op(A) * op(B) + beta * C (+ bias[j] on every row when `bias`, a
/// contiguous [n], is not null) on a cached oneDNN matmul primitive.
/// Returns false, having written nothing, when oneDNN offers only a reference
/// implementation for the shape; the caller then uses dnnl_sgemm.
bool sgemm_matmul(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                  int64_t ldc, const float* bias = nullptr);

/// C = op(A) * op(B) + bias (contiguous [n], broadcast over rows), for linear's forward: runs on a
/// matmul primitive with the bias added in its epilogue (no pass over C to preload it). Returns
/// false, having written nothing, where blas::gemm would not use oneDNN's primitive
/// (small products go to OpenBLAS); the caller then preloads C and calls gemm with beta 1.
bool sgemm_bias(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                int64_t lda, const float* b, int64_t ldb, const float* bias, float* c, int64_t ldc);

}  // namespace kiln::blas::detail
