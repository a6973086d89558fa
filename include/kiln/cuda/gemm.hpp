// SPDX-License-Identifier: BSD-3-Clause
// cuBLAS's GEMM as kiln's CUDA products call it (defined in cuda/matmul.cu), declared
// without CUDA headers.
#pragma once

#include <cstdint>

namespace kiln::cuda::detail {

/// C[i] = alpha * op(A[i]) · op(B[i]) + beta * C[i] for i < batch, all row-major: op(A)
/// [m, k] is A (lda >= k) or, with trans_a, Aᵀ read from an A stored [k, m] (lda >= m);
/// likewise B; matrix i of A starts at a + i * stride_a (0: one matrix for every i). On
/// `device`'s current stream, through cuBLAS (Note [cuBLAS calls] in cuda/matmul.cu).
/// T: float, double, half or bfloat16; half and bfloat16 accumulate in float.
template <class T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t batch, int64_t m, int64_t n,
                          int64_t k, double alpha, const T* a, int64_t lda, int64_t stride_a,
                          const T* b, int64_t ldb, int64_t stride_b, double beta, T* c, int64_t ldc,
                          int64_t stride_c, int device);

}  // namespace kiln::cuda::detail
