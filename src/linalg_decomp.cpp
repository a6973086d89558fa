// SPDX-License-Identifier: BSD-3-Clause
// kiln::linalg decompositions: cholesky (LLT), qr (Householder), eigh and eigvalsh
// (SelfAdjointEigenSolver), lstsq (complete orthogonal decomposition). svd: linalg_svd.cpp.
// The public functions, which record them for autograd, are in linalg_autograd.cpp.
#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/QR>

#include "linalg_common.hpp"

namespace kiln::linalg {
namespace detail {
namespace {

// The order (1-based) of the first leading minor of symmetric `a` that is not positive,
// found by an unblocked Cholesky of its lower triangle; 0 if none is found (a borderline
// matrix that Eigen's blocked factorisation rounded differently).
template <class T>
int64_t first_bad_minor(const Mat<T>& a) {
  const Eigen::Index n = a.rows();
  Mat<T> l = Mat<T>::Zero(n, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    T d = a(j, j) - l.row(j).head(j).squaredNorm();
    if (!(d > 0)) return j + 1;  // NaN is not positive either (LAPACK's potrf agrees)
    l(j, j) = std::sqrt(d);
    for (Eigen::Index i = j + 1; i < n; ++i)
      l(i, j) = (a(i, j) - l.row(i).head(j).dot(l.row(j).head(j))) / l(j, j);
  }
  return 0;
}

}  // namespace

template <class T>
Tensor<T> cholesky_impl(const Tensor<T>& A, bool upper) {
  check_square(A.shape(), "linalg.cholesky");
  const Matrices<T> a(A);
  const int64_t n = a.rows();
  const MatricesOut<T> out(A.shape());
  Failures fail(a.count());
  if (n > 0)
    for_each_matrix(a.count(), cubic_cost(n, n), [&](int64_t i) {
      // The lower triangle of A (upper=false) or of A^T, i.e. A's upper one (upper=true).
      const Mat<T> m = upper ? Mat<T>(a[i].transpose()) : Mat<T>(a[i]);
      const Eigen::LLT<Mat<T>, Eigen::Lower> llt(m);
      const Mat<T> l = llt.matrixL();
      // Eigen accepts NaN pivots; LAPACK (and torch) do not.
      if (llt.info() != Eigen::Success || l.diagonal().hasNaN())
        return fail.set(i, first_bad_minor(m) + 1);
      if (upper)
        out[i] = l.transpose();
      else
        out[i] = l;
    });
  if (const int64_t i = fail.first(); i >= 0) {
    const int64_t k = fail.code(i) - 1;
    throw LinAlgError(::kiln::detail::str_cat(
        "[linalg.cholesky] ", batch_note(batch_of(A.shape()), i),
        "the factorization could not be completed because the input is not positive-definite",
        k > 0 ? ::kiln::detail::str_cat(" (the leading minor of order ", k, " is not positive)")
              : std::string(),
        "; A has shape ", A.shape()));
  }
  return out.tensor();
}

template <class T>
QRResult<T> qr_impl(const Tensor<T>& A, std::string_view mode) {
  KILN_CHECK(mode == "reduced" || mode == "complete" || mode == "r", ValueError,
             "[linalg.qr] unrecognized mode '", mode,
             "'; expected one of 'reduced' (default), 'r', or 'complete'");
  check_matrix(A.shape(), "linalg.qr");
  const Matrices<T> a(A);
  const int64_t m = a.rows(), n = a.cols(), k = std::min(m, n);
  const bool complete = mode == "complete", want_q = mode != "r";
  const Shape batch = batch_of(A.shape());
  const int64_t q_cols = complete ? m : k, r_rows = complete ? m : k;
  const MatricesOut<T> q(want_q ? with_tail(batch, {m, q_cols}) : Shape{0, 0});
  const MatricesOut<T> r(with_tail(batch, {r_rows, n}));
  if (k == 0) {  // no reflections: Q is the identity, R is zero
    if (want_q) fill_identity(q, a.count(), m, q_cols);
    r.tensor().zero_();
  } else {
    for_each_matrix(a.count(), cubic_cost(m, n), [&](int64_t i) {
      const Eigen::HouseholderQR<Mat<T>> h(a[i]);
      r[i] = h.matrixQR().topRows(r_rows).template triangularView<Eigen::Upper>();
      if (want_q) {
        Mat<T> qi = Mat<T>::Identity(m, q_cols);
        qi.applyOnTheLeft(h.householderQ());
        q[i] = qi;
      }
    });
  }
  return {want_q ? q.tensor() : Tensor<T>(Shape{0}), r.tensor()};
}

namespace {
// eigh and eigvalsh: eigenvalues into `w` [..., n], eigenvectors into `v` when given.
template <class T>
void eigh_solve(const Tensor<T>& A, char uplo, const char* op, Tensor<T>& w,
                const MatricesOut<T>* v) {
  KILN_CHECK(uplo == 'L' || uplo == 'U', ValueError, "[", op,
             "] expected uplo to be 'L' or 'U', but got '", uplo, "'");
  check_square(A.shape(), op);
  const Matrices<T> a(A);
  const int64_t n = a.rows();
  const Shape batch = batch_of(A.shape());
  w = Tensor<T>(with_tail(batch, {n}));
  if (n == 0) return;
  Failures fail(a.count());
  const int options = v ? Eigen::ComputeEigenvectors : Eigen::EigenvaluesOnly;
  for_each_matrix(a.count(), 4 * cubic_cost(n, n), [&](int64_t i) {
    // The solver reads the lower triangle; A^T's lower triangle is A's upper one.
    const Mat<T> m = uplo == 'U' ? Mat<T>(a[i].transpose()) : Mat<T>(a[i]);
    const Eigen::SelfAdjointEigenSolver<Mat<T>> es(m, options);
    if (es.info() != Eigen::Success) return fail.set(i, 1);
    Eigen::Map<Vec<T>>(w.data() + i * n, n) = es.eigenvalues();  // ascending
    if (v) (*v)[i] = es.eigenvectors();
  });
  if (const int64_t i = fail.first(); i >= 0)
    throw LinAlgError(::kiln::detail::str_cat(
        "[", op, "] ", batch_note(batch, i),
        "the algorithm failed to converge; the input may contain inf or NaN (A has shape ",
        A.shape(), ")"));
}
}  // namespace

template <class T>
EighResult<T> eigh_impl(const Tensor<T>& A, char uplo) {
  check_square(A.shape(), "linalg.eigh");
  const MatricesOut<T> v(A.shape());
  Tensor<T> w;
  eigh_solve(A, uplo, "linalg.eigh", w, &v);
  return {w, v.tensor()};
}

template <class T>
Tensor<T> eigvalsh_impl(const Tensor<T>& A, char uplo) {
  Tensor<T> w;
  eigh_solve<T>(A, uplo, "linalg.eigvalsh", w, nullptr);
  return w;
}

template <class T>
LstsqResult<T> lstsq_impl(const Tensor<T>& A, const Tensor<T>& B, std::optional<double> rcond) {
  check_matrix(A.shape(), "linalg.lstsq");
  // torch's rule: B with one dim fewer than A is a (batch of) vector(s).
  const int64_t diff = A.dim() - B.dim();
  KILN_CHECK(diff == 0 || diff == 1, ShapeError, "[linalg.lstsq] B must have as many dims as A ",
             A.shape(), " or one fewer, got shape ", B.shape());
  const bool vector = diff == 1;
  const Tensor<T> B2 = vector ? B.unsqueeze(-1) : B;
  const int64_t m = A.size(-2), n = A.size(-1), k = B2.size(-1);
  KILN_CHECK(B2.size(-2) == m, ShapeError, "[linalg.lstsq] A ", A.shape(), " has ", m,
             " rows but B ", B.shape(), " has ", B2.size(-2));
  KILN_CHECK(!rcond || !std::isnan(*rcond), ValueError, "[linalg.lstsq] rcond must not be NaN");
  const Shape batch = broadcast_batch(A.shape(), 2, B2.shape(), 2, "linalg.lstsq");
  const Matrices<T> a(A.expand(with_tail(batch, {m, n})));
  const Matrices<T> b(B2.expand(with_tail(batch, {m, k})));
  const MatricesOut<T> x(with_tail(batch, {n, k}));
  Tensor<int64_t> rank(batch);
  int64_t* rk = rank.data();
  const T threshold =
      rcond ? static_cast<T>(*rcond)
            : std::numeric_limits<T>::epsilon() * static_cast<T>(std::max<int64_t>(m, n));
  // Squared residual column norms (kept only when m > n and every A has full rank).
  const MatricesOut<T> res(with_tail(batch, {1, k}));
  for_each_matrix(a.count(), cubic_cost(m, n) + m * n * k, [&](int64_t i) {
    if (m == 0 || n == 0) {  // nothing to fit: the minimum-norm solution is 0
      x[i].setZero();
      rk[i] = 0;
      if (m > n) res[i] = b[i].colwise().squaredNorm();
      return;
    }
    Eigen::CompleteOrthogonalDecomposition<Mat<T>> cod(m, n);
    cod.setThreshold(threshold);  // before compute(): the rank is fixed while factoring
    cod.compute(a[i]);
    x[i] = cod.solve(b[i]);
    rk[i] = cod.rank();
    if (m > n) res[i] = (a[i] * x[i] - b[i]).colwise().squaredNorm();
  });
  bool full_rank = m > n;
  for (int64_t i = 0; i < a.count() && full_rank; ++i) full_rank = rk[i] == n;
  Tensor<T> residuals = full_rank ? res.tensor().reshape(vector ? batch : with_tail(batch, {k}))
                                  : Tensor<T>(Shape{0});
  return {vector ? x.tensor().squeeze(-1) : x.tensor(), residuals, rank, Tensor<T>(Shape{0})};
}

}  // namespace detail

#define KILN_LINALG_DECOMP(T)                                                    \
  template Tensor<T> detail::cholesky_impl(const Tensor<T>&, bool);              \
  template QRResult<T> detail::qr_impl(const Tensor<T>&, std::string_view);      \
  template EighResult<T> detail::eigh_impl(const Tensor<T>&, char);              \
  template Tensor<T> detail::eigvalsh_impl(const Tensor<T>&, char);              \
  template LstsqResult<T> detail::lstsq_impl(const Tensor<T>&, const Tensor<T>&, \
                                             std::optional<double>);
KILN_LINALG_DECOMP(float)
KILN_LINALG_DECOMP(double)
#undef KILN_LINALG_DECOMP

}  // namespace kiln::linalg
