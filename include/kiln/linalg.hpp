// SPDX-License-Identifier: BSD-3-Clause
// kiln::linalg: torch.linalg's solvers, decompositions, norms and matrix powers on batches
// of matrices [..., m, n]. Declarations only: the code is compiled into the kiln library
// with Eigen (src/linalg_*.cpp), so no Eigen header reaches a user's file.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string_view>
#include <type_traits>

#include "kiln/core/device.hpp"
#include "kiln/core/error.hpp"
#include "kiln/core/shape.hpp"
#include "kiln/tensor.hpp"

namespace kiln::linalg {

namespace detail {
template <class T>
struct linalg_type {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "kiln::linalg needs float or double tensors; convert with .to<float>() first");
  using type = T;
};
/// T for float and double. Every kiln::linalg function returns through it, so calling one
/// with another dtype stops compilation at the one static_assert above.
template <class T>
using linalg_t = typename linalg_type<T>::type;
}  // namespace detail

// Note [Batches of matrices]
// Every function takes a tensor of shape [..., m, n]: the last two dims are the matrix,
// any leading dims a batch, each matrix handled on its own (and the batch spread over
// kiln's threads). Inputs may be views of any layout; outputs are new contiguous tensors.
// Where two inputs meet (solve, lstsq) their batch dims broadcast as in torch. A batch
// of zero matrices gives empty results; 0 x 0 matrices are allowed where torch allows them.
// On failure for one batch element, the message names the lowest failing index, so it is
// the same for any number of threads.
//
// Autograd: every solver and decomposition but lstsq records its backward when an input
// requires grad, to any order (create_graph); see Note [Linalg autograd] in
// src/linalg_autograd.cpp. slogdet's sign has no gradient; qr's needs Q (not mode "r", nor
// "complete" with m > n); with full_matrices, svd's extra singular vectors must not carry a
// gradient. eigh's and cholesky's gradients are symmetric, as torch's: for a symmetric
// input the change of the loss along a symmetric perturbation E is <grad, E>.

// ---- solvers and inverses --------------------------------------------------------------------

/// X with A X = B (torch.linalg.solve). A: [..., n, n]; B: [..., n, k], or a batch of
/// vectors [..., n] when B is 1-D or B's shape is A's without its last dim (then X is too).
/// Batch dims broadcast. LU with partial pivoting; throws LinAlgError when A is singular
/// (Note [Singular pivots]).
template <class T>
Tensor<detail::linalg_t<T>> solve(const Tensor<T>& A, const Tensor<T>& B);

/// The inverse of each square matrix in A [..., n, n] (torch.linalg.inv); throws
/// LinAlgError when one is singular.
template <class T>
Tensor<detail::linalg_t<T>> inv(const Tensor<T>& A);

/// The determinant of each square matrix in A [..., n, n]: a tensor of shape [...]. A
/// singular matrix gives 0 (or a tiny value), not an error. det of a 0 x 0 matrix is 1.
template <class T>
Tensor<detail::linalg_t<T>> det(const Tensor<T>& A);

/// sign(det A) and log|det A|, each of shape [...]; for a singular matrix sign is 0 and
/// logabsdet is -inf (torch.linalg.slogdet).
template <class T>
struct SlogdetResult {
  Tensor<T> sign;
  Tensor<T> logabsdet;
};
template <class T>
SlogdetResult<detail::linalg_t<T>> slogdet(const Tensor<T>& A);

/// A^n for square A [..., n, n] (torch.linalg.matrix_power): the identity for n = 0,
/// inv(A)^|n| for n < 0 (LinAlgError when A is singular). Repeated squaring.
template <class T>
Tensor<detail::linalg_t<T>> matrix_power(const Tensor<T>& A, int64_t n);

// ---- decompositions -----------------------------------------------------------------------------

/// The Cholesky factor of symmetric positive-definite A [..., n, n] (torch.linalg.cholesky):
/// lower L with A = L L^T, or upper U = L^T with A = U^T U when `upper`. Reads only the
/// lower (upper) triangle. Throws LinAlgError naming the leading minor that is not positive.
template <class T>
Tensor<detail::linalg_t<T>> cholesky(const Tensor<T>& A, bool upper = false);

/// A = Q R (torch.linalg.qr) for A [..., m, n], k = min(m, n). mode "reduced": Q [..., m, k]
/// with orthonormal columns, R [..., k, n] upper triangular; "complete": Q [..., m, m]
/// orthogonal, R [..., m, n]; "r": R as in "reduced" and an empty Q. Householder reflections,
/// so diagonal entries of R may be negative (as LAPACK's).
template <class T>
struct QRResult {
  Tensor<T> Q;
  Tensor<T> R;
};
template <class T>
QRResult<detail::linalg_t<T>> qr(const Tensor<T>& A, std::string_view mode = "reduced");

/// A = U diag(S) Vh (torch.linalg.svd) for A [..., m, n], k = min(m, n): S [..., k]
/// descending and non-negative; with full_matrices U [..., m, m] and Vh [..., n, n], else
/// U [..., m, k] and Vh [..., k, n]. Divide and conquer (Jacobi for small matrices). Throws
/// LinAlgError when A holds inf or NaN.
template <class T>
struct SVDResult {
  Tensor<T> U;
  Tensor<T> S;
  Tensor<T> Vh;
};
template <class T>
SVDResult<detail::linalg_t<T>> svd(const Tensor<T>& A, bool full_matrices = true);

/// The singular values of A [..., m, n], descending: [..., min(m, n)].
template <class T>
Tensor<detail::linalg_t<T>> svdvals(const Tensor<T>& A);

/// Eigenvalues (ascending, [..., n]) and orthonormal eigenvectors (the columns of
/// [..., n, n]) of symmetric A, read from its lower ('L') or upper ('U') triangle
/// (torch.linalg.eigh). Throws LinAlgError when the solver does not converge.
template <class T>
struct EighResult {
  Tensor<T> eigenvalues;
  Tensor<T> eigenvectors;
};
template <class T>
EighResult<detail::linalg_t<T>> eigh(const Tensor<T>& A, char uplo = 'L');

/// The eigenvalues of symmetric A [..., n, n], ascending.
template <class T>
Tensor<detail::linalg_t<T>> eigvalsh(const Tensor<T>& A, char uplo = 'L');

/// Least squares min ||A X - B|| (torch.linalg.lstsq) for A [..., m, n] and B [..., m, k]
/// (or [..., m] when B has one dim fewer than A; batch dims broadcast). Complete orthogonal
/// decomposition (column-pivoted QR, as LAPACK's gelsy, torch's CPU default): any shape and
/// any rank; rank-deficient problems get the minimum-norm solution.
/// - solution: [..., n, k]
/// - residuals: squared column norms of A X - B, [..., k], when m > n and every A has
///   full rank; otherwise empty (shape [0])
/// - rank: the effective rank of each A, [...]: pivots of the column-pivoted R (estimates
///   of the singular values, as in gelsy) at most rcond times the largest count as zero
///   (default rcond: machine epsilon times max(m, n), as torch)
/// - singular_values: empty, as with gelsy
template <class T>
struct LstsqResult {
  Tensor<T> solution;
  Tensor<T> residuals;
  Tensor<int64_t> rank;
  Tensor<T> singular_values;
};
template <class T>
LstsqResult<detail::linalg_t<T>> lstsq(const Tensor<T>& A, const Tensor<T>& B,
                                       std::optional<double> rcond = std::nullopt);

// ---- norms -------------------------------------------------------------------------------------

/// The `ord` of a norm: a number (p, including +-inf) or "fro" / "nuc". Built implicitly,
/// so `norm(A, 2)`, `norm(A, INFINITY)` and `norm(A, "nuc")` all read as in torch.
class NormOrd {
 public:
  enum class Kind { Number, Fro, Nuc };
  template <class N>
  requires std::is_arithmetic_v<N> NormOrd(N p)  // NOLINT: implicit by design
      : kind_(Kind::Number), p_(static_cast<double>(p)) {}
  /// "fro" or "nuc"; any other name throws ValueError.
  NormOrd(std::string_view name);                                 // NOLINT
  NormOrd(const char* name) : NormOrd(std::string_view(name)) {}  // NOLINT
  Kind kind() const { return kind_; }
  bool is_number() const { return kind_ == Kind::Number; }
  double p() const { return p_; }
  friend std::ostream& operator<<(std::ostream& os, const NormOrd& o);

 private:
  Kind kind_;
  double p_ = 0;
};

/// The p-norm of x over `dims` (all dims when empty) as one vector (torch.linalg.vector_norm):
/// ord 2 (default), 1, inf (max |x|), -inf (min |x|), 0 (count of nonzeros), or any other
/// real p: (sum |x|^p)^(1/p).
template <class T>
Tensor<detail::linalg_t<T>> vector_norm(const Tensor<T>& x, double ord = 2, const Dims& dims = {},
                                        bool keepdim = false);

/// A matrix norm over the two `dims` (rows, columns) of A (torch.linalg.matrix_norm):
/// "fro" (default), "nuc" (sum of singular values), inf / -inf (max / min row sum of |a|),
/// 1 / -1 (max / min column sum), 2 / -2 (largest / smallest singular value).
template <class T>
Tensor<detail::linalg_t<T>> matrix_norm(const Tensor<T>& A, NormOrd ord = "fro",
                                        const Dims& dims = {-2, -1}, bool keepdim = false);

/// torch.linalg.norm: a vector norm when `dims` has one dim, a matrix norm when it has two.
/// Without dims: the 2-norm of all elements when ord is absent too, otherwise x must be
/// 1-D (vector norm) or 2-D (matrix norm; ord defaults to "fro").
template <class T>
Tensor<detail::linalg_t<T>> norm(const Tensor<T>& x, std::optional<NormOrd> ord = std::nullopt,
                                 std::optional<Dims> dims = std::nullopt, bool keepdim = false);

// ---- gradients ---------------------------------------------------------------------------------
// Backward formulas for autograd (Note [Linalg backward] in src/linalg_backward.cpp). Each
// takes the gradient of the op's output and what the forward saw or produced, and returns
// gradients of the inputs' shapes (broadcast batch dims summed back).
namespace detail {

/// inv: A^-1 = Ainv [..., n, n], grad G -> -Ainv^T G Ainv^T.
template <class T>
Tensor<linalg_t<T>> inv_backward(const Tensor<T>& grad, const Tensor<T>& Ainv);

/// det: d = det(A) [...], grad g [...] -> g d A^-T, computed as g times the cofactor matrix
/// through an SVD when A is singular (where A^-T does not exist but the gradient does).
template <class T>
Tensor<linalg_t<T>> det_backward(const Tensor<T>& grad, const Tensor<T>& A, const Tensor<T>& d);

/// slogdet: grad g of logabsdet [...] -> g A^-T (sign is piecewise constant: no gradient).
template <class T>
Tensor<linalg_t<T>> slogdet_backward(const Tensor<T>& grad, const Tensor<T>& A);

/// solve: X = solve(A, B), grad G (X's shape) -> gB = solve(A^T, G), gA = -gB X^T, each
/// summed to the shape of A and B.
template <class T>
struct SolveGrads {
  Tensor<T> grad_A;
  Tensor<T> grad_B;
};
template <class T>
SolveGrads<linalg_t<T>> solve_backward(const Tensor<T>& grad, const Tensor<T>& A,
                                       const Tensor<T>& B, const Tensor<T>& X);

/// cholesky: factor L (or U = L^T when `upper`), grad G -> the symmetric
/// L^-T Phi(L^T G) L^-1 with Phi(M) = (tril(M) + tril(M, -1)^T) / 2 (Murray 2016; torch's
/// cholesky_backward).
template <class T>
Tensor<linalg_t<T>> cholesky_backward(const Tensor<T>& grad, const Tensor<T>& L, bool upper);

}  // namespace detail
}  // namespace kiln::linalg
