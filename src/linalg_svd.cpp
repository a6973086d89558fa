// SPDX-License-Identifier: BSD-3-Clause
// kiln::linalg svd and svdvals with Eigen's BDCSVD (a file of its own: it is the slowest
// Eigen code to compile, and the library's sources build in parallel). The public
// functions, which record them for autograd, are in linalg_autograd.cpp.
#include <Eigen/SVD>

#include "linalg_common.hpp"

namespace kiln::linalg {

namespace detail {

template <class T>
SVDResult<T> svd_impl(const Tensor<T>& A, bool full_matrices) {
  check_matrix(A.shape(), "linalg.svd");
  const Matrices<T> a(A);
  const int64_t m = a.rows(), n = a.cols(), k = std::min(m, n);
  const Shape batch = batch_of(A.shape());
  const int64_t uc = full_matrices ? m : k, vr = full_matrices ? n : k;
  const MatricesOut<T> u(with_tail(batch, {m, uc})), vh(with_tail(batch, {vr, n}));
  Tensor<T> s(with_tail(batch, {k}));
  if (k == 0) {
    fill_identity(u, a.count(), m, uc);
    fill_identity(vh, a.count(), vr, n);
    return {u.tensor(), s, vh.tensor()};
  }
  const unsigned flags = full_matrices ? Eigen::ComputeFullU | Eigen::ComputeFullV
                                       : Eigen::ComputeThinU | Eigen::ComputeThinV;
  Failures fail(a.count());
  for_each_matrix(a.count(), 4 * cubic_cost(m, n), [&](int64_t i) {
    const Eigen::BDCSVD<Mat<T>> d(a[i], flags);
    if (d.info() != Eigen::Success) return fail.set(i, 1);
    u[i] = d.matrixU();
    vh[i] = d.matrixV().transpose();
    Eigen::Map<Vec<T>>(s.data() + i * k, k) = d.singularValues();
  });
  if (const int64_t i = fail.first(); i >= 0)
    throw LinAlgError(::kiln::detail::str_cat("[linalg.svd] ", batch_note(batch, i),
                                              "the algorithm failed to converge because the input "
                                              "matrix contains inf or NaN (A has shape ",
                                              A.shape(), ")"));
  return {u.tensor(), s, vh.tensor()};
}

template <class T>
Tensor<T> svdvals_impl(const Tensor<T>& A) {
  check_matrix(A.shape(), "linalg.svdvals");
  const Matrices<T> a(A);
  const int64_t k = std::min(a.rows(), a.cols());
  const Shape batch = batch_of(A.shape());
  Tensor<T> s(with_tail(batch, {k}));
  if (k == 0) return s;
  Failures fail(a.count());
  for_each_matrix(a.count(), 2 * cubic_cost(a.rows(), a.cols()), [&](int64_t i) {
    const Eigen::BDCSVD<Mat<T>> d(a[i]);
    if (d.info() != Eigen::Success) return fail.set(i, 1);
    Eigen::Map<Vec<T>>(s.data() + i * k, k) = d.singularValues();
  });
  if (const int64_t i = fail.first(); i >= 0)
    throw LinAlgError(::kiln::detail::str_cat("[linalg.svdvals] ", batch_note(batch, i),
                                              "the algorithm failed to converge because the input "
                                              "matrix contains inf or NaN (A has shape ",
                                              A.shape(), ")"));
  return s;
}

}  // namespace detail

#define KILN_LINALG_SVD(T)                                        \
  template SVDResult<T> detail::svd_impl(const Tensor<T>&, bool); \
  template Tensor<T> detail::svdvals_impl(const Tensor<T>&);
KILN_LINALG_SVD(float)
KILN_LINALG_SVD(double)
#undef KILN_LINALG_SVD

}  // namespace kiln::linalg
