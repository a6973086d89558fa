// SPDX-License-Identifier: BSD-3-Clause
// Hand-written reference loops (plain OpenMP over raw float pointers) that the benchmarks
// compare kiln against. Two builds of the same source: kbench::ref::fm (-ffast-math, so
// GCC vectorises sinf/erff/expf through glibc's libmvec) and kbench::ref::nofm (no
// -ffast-math: scalar libm calls). Row-major [rows, cols] everywhere.
#pragma once

#include <cstdint>

#define KBENCH_REF_DECLS                                                                       \
  /* a[i] = b[i] + s * c[i] (STREAM triad) */                                                  \
  void triad(float* a, const float* b, const float* c, float s, int64_t n);                    \
  /* y = a*b + c*d - sin(e) */                                                                 \
  void chain(float* y, const float* a, const float* b, const float* c, const float* d,         \
             const float* e, int64_t n);                                                       \
  /* gradients of y = a*b + c*d - sin(e) from g: ga = g*b, gb = g*a, gc = g*d, gd = g*c, */    \
  /* ge = -g*cos(e), in one pass */                                                            \
  void chain_backward(float* ga, float* gb, float* gc, float* gd, float* ge, const float* g,   \
                      const float* a, const float* b, const float* c, const float* d,          \
                      const float* e, int64_t n);                                              \
  /* y[i, j] = gelu(x[i, j] * w[j] + bias[j]) (exact erf gelu) */                              \
  void gelu_rows(float* y, const float* x, const float* w, const float* bias, int64_t rows,    \
                 int64_t cols);                                                                \
  /* y = gelu(x * w + bias), all of n elements */                                              \
  void gelu_flat(float* y, const float* x, const float* w, const float* bias, int64_t n);      \
  /* sum of a[i] * b[i] */                                                                     \
  float sum_mul(const float* a, const float* b, int64_t n);                                    \
  /* out[i] = sum_j a[i, j] * b[i, j] */                                                       \
  void row_sum_mul(float* out, const float* a, const float* b, int64_t rows, int64_t cols);    \
  /* out[i] = log(sum_j exp(x[i, j] - m_i)) + m_i, m_i = max_j x[i, j] (two passes per row) */ \
  void row_logsumexp(float* out, const float* x, int64_t rows, int64_t cols);                  \
  /* out[j] = sum_i x[i, j] (each thread streams rows over its own block of columns) */        \
  void col_sum(float* out, const float* x, int64_t rows, int64_t cols);                        \
  /* y[i, :] = softmax(x[i, :]): per row the max, then y = exp(x - max) with its sum, then */  \
  /* y *= 1 / sum while the row is in cache */                                                 \
  void row_softmax(float* y, const float* x, int64_t rows, int64_t cols);

namespace kbench::ref {
namespace fm {
KBENCH_REF_DECLS
}
namespace nofm {
KBENCH_REF_DECLS
}
}  // namespace kbench::ref

#undef KBENCH_REF_DECLS
