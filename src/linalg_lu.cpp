// SPDX-License-Identifier: BSD-3-Clause
// LU-based kiln::linalg computations: solve, inv, det, slogdet, matrix_power (and the
// batched product they and the gradients share). The public functions, which record them
// for autograd, are in linalg_autograd.cpp.
#include <Eigen/LU>

#include "linalg_common.hpp"

namespace kiln::linalg {
namespace detail {
namespace {

[[noreturn]] void throw_singular(const char* op, const Shape& shape, int64_t i, int64_t pivot) {
  throw LinAlgError(::kiln::detail::str_cat("[", op, "] ", batch_note(batch_of(shape), i),
                                            "the input matrix is singular: pivot ", pivot,
                                            " of its LU factorization is zero to "
                                            "working precision (A has shape ",
                                            shape, "; Note [Singular pivots])"));
}

}  // namespace

template <class T>
Tensor<T> solve_matrices(const Tensor<T>& A, const Tensor<T>& B, const char* op) {
  const int64_t n = A.size(-1), k = B.size(-1);
  const Shape batch = broadcast_batch(A.shape(), 2, B.shape(), 2, op);
  const Matrices<T> a(A.expand(with_tail(batch, {n, n})));
  const Matrices<T> b(B.expand(with_tail(batch, {n, k})));
  const MatricesOut<T> x(with_tail(batch, {n, k}));
  Failures fail(a.count());
  if (n > 0)
    for_each_matrix(a.count(), cubic_cost(n, n) + n * n * k, [&](int64_t i) {
      const Eigen::PartialPivLU<Mat<T>> lu(a[i]);
      const int64_t p = singular_pivot(lu, max_abs(a[i]));
      if (p >= 0) return fail.set(i, p + 1);
      x[i] = lu.solve(b[i]);
    });
  if (const int64_t i = fail.first(); i >= 0) throw_singular(op, A.shape(), i, fail.code(i) - 1);
  return x.tensor();
}

template <class T>
Tensor<T> inv_impl(const Tensor<T>& A, const char* op) {
  check_square(A.shape(), op);
  const Matrices<T> a(A);
  const MatricesOut<T> x(A.shape());
  Failures fail(a.count());
  if (a.rows() > 0)
    for_each_matrix(a.count(), cubic_cost(a.rows(), a.rows()), [&](int64_t i) {
      const Eigen::PartialPivLU<Mat<T>> lu(a[i]);
      const int64_t p = singular_pivot(lu, max_abs(a[i]));
      if (p >= 0) return fail.set(i, p + 1);
      x[i] = lu.inverse();
    });
  if (const int64_t i = fail.first(); i >= 0) throw_singular(op, A.shape(), i, fail.code(i) - 1);
  return x.tensor();
}

template <class T>
Tensor<T> batched_matmul(const Tensor<T>& a_t, const Tensor<T>& b_t) {
  const Matrices<T> a(a_t), b(b_t);
  KILN_ASSERT(a.cols() == b.rows() && a.count() == b.count());
  const MatricesOut<T> c(with_tail(batch_of(a_t.shape()), {a.rows(), b.cols()}));
  for_each_matrix(a.count(), a.rows() * a.cols() * b.cols(),
                  [&](int64_t i) { c[i].noalias() = a[i] * b[i]; });
  return c.tensor();
}

template <class T>
Tensor<T> solve_impl(const Tensor<T>& A, const Tensor<T>& B) {
  check_square(A.shape(), "linalg.solve");
  const bool vector = is_vector_rhs(A.shape(), B.shape());
  const Tensor<T> B2 = vector ? B.unsqueeze(-1) : B;
  KILN_CHECK(B2.dim() >= 2 && B2.size(-2) == A.size(-1), ShapeError,
             "[linalg.solve] incompatible shapes of A ", A.shape(), " and B ", B.shape(),
             ": B must be [..., ", A.size(-1), "] or [..., ", A.size(-1), ", k]");
  const Tensor<T> X = solve_matrices(A, B2, "linalg.solve");
  return vector ? X.squeeze(-1) : X;
}

template <class T>
Tensor<T> det_impl(const Tensor<T>& A) {
  check_square(A.shape(), "linalg.det");
  const Matrices<T> a(A);
  Tensor<T> out(batch_of(A.shape()));
  T* o = out.data();
  for_each_matrix(a.count(), cubic_cost(a.rows(), a.rows()), [&](int64_t i) {
    o[i] = a.rows() == 0 ? T(1) : Eigen::PartialPivLU<Mat<T>>(a[i]).determinant();
  });
  return out;
}

template <class T>
SlogdetResult<T> slogdet_impl(const Tensor<T>& A) {
  check_square(A.shape(), "linalg.slogdet");
  const Matrices<T> a(A);
  Tensor<T> sign(batch_of(A.shape())), logabs(batch_of(A.shape()));
  T *s = sign.data(), *l = logabs.data();
  for_each_matrix(a.count(), cubic_cost(a.rows(), a.rows()), [&](int64_t i) {
    T sg = 1, la = 0;
    if (a.rows() > 0) {
      const Eigen::PartialPivLU<Mat<T>> lu(a[i]);
      sg = static_cast<T>(lu.permutationP().determinant());
      for (Eigen::Index j = 0; j < a.rows(); ++j) {
        const T u = lu.matrixLU()(j, j);
        sg *= u > 0 ? T(1) : u < 0 ? T(-1) : u == 0 ? T(0) : u;  // NaN propagates
        la += std::log(std::abs(u));
      }
    }
    s[i] = sg;
    l[i] = la;
  });
  return {sign, logabs};
}

template <class T>
Tensor<T> matrix_power_impl(const Tensor<T>& A, int64_t n) {
  check_square(A.shape(), "linalg.matrix_power");
  const Matrices<T> a(n < 0 ? inv_impl(A, "linalg.matrix_power") : A);
  const MatricesOut<T> out(A.shape());
  // |n| without overflow for INT64_MIN.
  const uint64_t e0 = n < 0 ? uint64_t{0} - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  int64_t steps = 1;
  for (uint64_t e = e0; e > 1; e >>= 1) ++steps;
  for_each_matrix(a.count(), 2 * steps * cubic_cost(a.rows(), a.rows()), [&](int64_t i) {
    Mat<T> result = Mat<T>::Identity(a.rows(), a.rows()), base = a[i], tmp;
    // Repeated squaring: result = base^e0 in O(log e0) products.
    for (uint64_t e = e0; e > 0; e >>= 1) {
      if (e & 1u) {
        tmp.noalias() = result * base;
        result.swap(tmp);
      }
      if (e > 1) {
        tmp.noalias() = base * base;
        base.swap(tmp);
      }
    }
    out[i] = result;
  });
  return out.tensor();
}

}  // namespace detail

#define KILN_LINALG_LU(T)                                                                     \
  template Tensor<T> detail::solve_matrices(const Tensor<T>&, const Tensor<T>&, const char*); \
  template Tensor<T> detail::inv_impl(const Tensor<T>&, const char*);                         \
  template Tensor<T> detail::batched_matmul(const Tensor<T>&, const Tensor<T>&);              \
  template Tensor<T> detail::solve_impl(const Tensor<T>&, const Tensor<T>&);                  \
  template Tensor<T> detail::det_impl(const Tensor<T>&);                                      \
  template SlogdetResult<T> detail::slogdet_impl(const Tensor<T>&);                           \
  template Tensor<T> detail::matrix_power_impl(const Tensor<T>&, int64_t);
KILN_LINALG_LU(float)
KILN_LINALG_LU(double)
#undef KILN_LINALG_LU

}  // namespace kiln::linalg
