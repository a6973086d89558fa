// SPDX-License-Identifier: BSD-3-Clause
// Backward formulas of kiln::linalg ops, for autograd: inv, det, slogdet, solve, cholesky.
#include <Eigen/LU>
#include <Eigen/SVD>

#include "kiln/ops/reduce.hpp"
#include "linalg_common.hpp"

// Note [Linalg backward]
// The formulas are torch's (tools/autograd/templates' FunctionsManual), for real matrices:
//   Y = inv(A):          gA = -Y^T G Y^T
//   d = det(A):          gA = g d A^-T = g adj(A)^T; for a singular A (no inverse) the
//                        cofactor matrix comes from the SVD A = U S V^T:
//                        adj(A)^T = det(U) det(V) U diag(prod_{j != i} s_j) V^T
//   logabsdet(A):        gA = g A^-T
//   X = solve(A, B):     gB = solve(A^T, G), gA = -gB X^T
//   L = cholesky(A):     gA = L^-T Phi(L^T G) L^-1, Phi(M) = (tril(M) + tril(M, -1)^T) / 2
// Each is a gradient with respect to the whole input; cholesky's is symmetric, so a
// symmetric perturbation E of A changes the loss by <gA, E>, as for torch. Inputs that
// were broadcast over a batch get their gradients summed back to their own shape.

namespace kiln::linalg::detail {
namespace {

// Sums `t`, computed in a broadcast shape, back to `shape` (which broadcasts to t's shape).
template <class T>
Tensor<T> sum_to(const Tensor<T>& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  Dims dims;
  const int lead = t.dim() - shape.size();
  for (int d = 0; d < t.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && t.shape()[d] != 1)) dims.push_back(d);
  if (dims.empty()) return t.reshape(shape);
  return kiln::sum(t, dims, /*keepdim=*/true).reshape(shape);
}

void check_same(const Shape& a, const Shape& b, const char* op, const char* what_a,
                const char* what_b) {
  KILN_CHECK(a == b, ShapeError, "[", op, "] ", what_a, " ", a, " and ", what_b, " ", b,
             " must have the same shape");
}

}  // namespace

template <class T>
Tensor<linalg_t<T>> inv_backward(const Tensor<T>& grad, const Tensor<T>& Ainv) {
  const char* op = "linalg.inv_backward";
  check_square(Ainv.shape(), op, "Ainv");
  check_same(grad.shape(), Ainv.shape(), op, "grad", "Ainv");
  const Matrices<T> y(Ainv), g(grad);
  const MatricesOut<T> out(Ainv.shape());
  for_each_matrix(y.count(), 2 * cubic_cost(y.rows(), y.rows()), [&](int64_t i) {
    out[i].noalias() = -(y[i].transpose() * g[i] * y[i].transpose());
  });
  return out.tensor();
}

template <class T>
Tensor<linalg_t<T>> det_backward(const Tensor<T>& grad, const Tensor<T>& A, const Tensor<T>& d) {
  const char* op = "linalg.det_backward";
  check_square(A.shape(), op);
  const Shape batch = batch_of(A.shape());
  check_same(grad.shape(), batch, op, "grad", "det(A)");
  check_same(d.shape(), batch, op, "d", "det(A)");
  const Matrices<T> a(A);
  const Tensor<T> gc = grad.contiguous(), dc = d.contiguous();
  const T *gp = gc.data(), *dp = dc.data();
  const MatricesOut<T> out(A.shape());
  const int64_t n = a.rows();
  if (n > 0)
    for_each_matrix(a.count(), 4 * cubic_cost(n, n), [&](int64_t i) {
      const Eigen::PartialPivLU<Mat<T>> lu(a[i]);
      if (singular_pivot(lu, max_abs(a[i])) < 0) {
        out[i] = (gp[i] * dp[i]) * lu.inverse().transpose();
        return;
      }
      const Eigen::JacobiSVD<Mat<T>> svd(a[i], Eigen::ComputeFullU | Eigen::ComputeFullV);
      const Vec<T>& s = svd.singularValues();
      // c_j = prod_{i != j} s_i from prefix and suffix products (no division by s_j = 0).
      Vec<T> c(n);
      T acc = 1;
      for (Eigen::Index j = 0; j < n; ++j) c(j) = acc, acc *= s(j);
      acc = 1;
      for (Eigen::Index j = n - 1; j >= 0; --j) c(j) *= acc, acc *= s(j);
      const T sign = svd.matrixU().determinant() * svd.matrixV().determinant();
      out[i] = (gp[i] * sign) * svd.matrixU() * c.asDiagonal() * svd.matrixV().transpose();
    });
  return out.tensor();
}

template <class T>
Tensor<linalg_t<T>> slogdet_backward(const Tensor<T>& grad, const Tensor<T>& A) {
  const char* op = "linalg.slogdet_backward";
  check_square(A.shape(), op);
  check_same(grad.shape(), batch_of(A.shape()), op, "grad", "logabsdet(A)");
  const Matrices<T> y(inv_impl(A, op));
  const Tensor<T> gc = grad.contiguous();
  const T* gp = gc.data();
  const MatricesOut<T> out(A.shape());
  for_each_matrix(y.count(), y.rows() * y.rows(),
                  [&](int64_t i) { out[i] = gp[i] * y[i].transpose(); });
  return out.tensor();
}

template <class T>
SolveGrads<linalg_t<T>> solve_backward(const Tensor<T>& grad, const Tensor<T>& A,
                                       const Tensor<T>& B, const Tensor<T>& X) {
  const char* op = "linalg.solve_backward";
  check_square(A.shape(), op);
  check_same(grad.shape(), X.shape(), op, "grad", "X");
  const bool vector = is_vector_rhs(A.shape(), B.shape());  // the forward's rule
  const Tensor<T> g2 = vector ? grad.unsqueeze(-1) : grad, x2 = vector ? X.unsqueeze(-1) : X;
  check_matrix(g2.shape(), op, "grad");
  // gB = A^-T G, in the broadcast batch shape of X.
  const Tensor<T> gb2 = solve_matrices(A.transpose(-2, -1), g2, op);
  KILN_CHECK(gb2.shape() == x2.shape(), ShapeError, "[", op, "] X ", X.shape(),
             " is not the solution shape of A ", A.shape(), " and B ", B.shape());
  // gA = -gB X^T, one matrix per broadcast batch element.
  const Matrices<T> gb(gb2), x(x2);
  const MatricesOut<T> ga(with_tail(batch_of(x2.shape()), {A.size(-1), A.size(-1)}));
  for_each_matrix(gb.count(), gb.rows() * gb.rows() * gb.cols(),
                  [&](int64_t i) { ga[i].noalias() = -(gb[i] * x[i].transpose()); });
  return {sum_to(ga.tensor(), A.shape()), sum_to(vector ? gb2.squeeze(-1) : gb2, B.shape())};
}

template <class T>
Tensor<linalg_t<T>> cholesky_backward(const Tensor<T>& grad, const Tensor<T>& L, bool upper) {
  const char* op = "linalg.cholesky_backward";
  check_square(L.shape(), op, "L");
  check_same(grad.shape(), L.shape(), op, "grad", "L");
  const Matrices<T> l_in(L), g_in(grad);
  const MatricesOut<T> out(L.shape());
  for_each_matrix(l_in.count(), 2 * cubic_cost(l_in.rows(), l_in.rows()), [&](int64_t i) {
    // With U = L^T the gradient of U is the transpose of that of L.
    const Mat<T> l = upper ? Mat<T>(l_in[i].transpose()) : Mat<T>(l_in[i]);
    const Mat<T> g = upper ? Mat<T>(g_in[i].transpose()) : Mat<T>(g_in[i]);
    // tril(L^T G): the strictly upper part of G never matters (L^T triu(G, 1) is strictly
    // upper triangular), so G need not be masked first.
    const Mat<T> p = (l.transpose() * g).template triangularView<Eigen::Lower>();
    Mat<T> s = p;
    s.template triangularView<Eigen::StrictlyUpper>() =
        p.transpose().template triangularView<Eigen::StrictlyUpper>();
    s *= T(0.5);
    l.transpose().template triangularView<Eigen::Upper>().solveInPlace(s);  // L^-T s
    l.template triangularView<Eigen::Lower>().template solveInPlace<Eigen::OnTheRight>(s);
    out[i] = s;  // ... L^-1
  });
  return out.tensor();
}

#define KILN_LINALG_BACKWARD(T)                                                                  \
  template Tensor<T> inv_backward<T>(const Tensor<T>&, const Tensor<T>&);                        \
  template Tensor<T> det_backward<T>(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&);      \
  template Tensor<T> slogdet_backward<T>(const Tensor<T>&, const Tensor<T>&);                    \
  template SolveGrads<T> solve_backward<T>(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&, \
                                           const Tensor<T>&);                                    \
  template Tensor<T> cholesky_backward<T>(const Tensor<T>&, const Tensor<T>&, bool);
KILN_LINALG_BACKWARD(float)
KILN_LINALG_BACKWARD(double)
#undef KILN_LINALG_BACKWARD

}  // namespace kiln::linalg::detail
