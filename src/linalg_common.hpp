// SPDX-License-Identifier: BSD-3-Clause
// Shared by src/linalg_*.cpp: batches of matrices seen as Eigen maps, shape checks, batch
// broadcasting, the parallel loop over a batch and per-element failure reports.
#pragma once

// Note [Linalg determinism]
// Eigen's own OpenMP threading (inside large products) picks block sizes from the thread
// count, so its rounding would depend on it. It is turned off; kiln spreads the *batch*
// over threads instead, and each matrix is computed by one thread in a fixed order, so
// results are bitwise the same for any thread count.
#define EIGEN_DONT_PARALLELIZE
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "kiln/core/parallel.hpp"
#include "kiln/linalg.hpp"

namespace kiln::linalg::detail {

/// A column-major work matrix (the layout Eigen's decompositions are tuned for).
template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

/// All but the last `tail` dims.
inline Shape batch_of(const Shape& s, int tail = 2) {
  Shape b;
  for (int i = 0; i + tail < s.size(); ++i) b.push_back(s[i]);
  return b;
}
/// `batch` followed by `tail`.
inline Shape with_tail(Shape batch, std::initializer_list<int64_t> tail) {
  for (int64_t e : tail) batch.push_back(e);
  return batch;
}

/// Requires `s` to be a (batch of) matrices: at least 2 dims.
inline void check_matrix(const Shape& s, const char* op, const char* name = "A") {
  KILN_CHECK(s.size() >= 2, ShapeError, "[", op, "] ", name,
             " must have at least 2 dimensions (a matrix or a batch of matrices), got shape ", s);
}
/// Requires `s` to be a (batch of) square matrices.
inline void check_square(const Shape& s, const char* op, const char* name = "A") {
  check_matrix(s, op, name);
  KILN_CHECK(s[s.size() - 1] == s[s.size() - 2], ShapeError, "[", op, "] ", name,
             " must be batches of square matrices, but they are ", s[s.size() - 2], " by ",
             s[s.size() - 1], " matrices (shape ", s, ")");
}

/// torch's rule for solve's B: a (batch of) vector(s) when it is 1-D or has A's shape
/// without its last dim; otherwise a (batch of) matrices.
inline bool is_vector_rhs(const Shape& a, const Shape& b) {
  if (b.size() == 1) return true;
  if (b.size() != a.size() - 1) return false;
  for (int d = 0; d < b.size(); ++d)
    if (b[d] != a[d]) return false;
  return true;
}

/// The broadcast batch shape of two inputs whose last `tail_a` / `tail_b` dims are their
/// matrices (or vectors); the message names both full shapes.
inline Shape broadcast_batch(const Shape& a, int tail_a, const Shape& b, int tail_b,
                             const char* op) {
  const Shape ba = batch_of(a, tail_a), bb = batch_of(b, tail_b);
  const int n = std::max(ba.size(), bb.size());
  Shape out(n);
  for (int i = 0; i < n; ++i) {
    const int ia = i - (n - ba.size()), ib = i - (n - bb.size());
    const int64_t ea = ia >= 0 ? ba[ia] : 1, eb = ib >= 0 ? bb[ib] : 1;
    KILN_CHECK(ea == eb || ea == 1 || eb == 1, ShapeError, "[", op, "] the batch dimensions of A ",
               a, " and B ", b, " cannot be broadcast together (batch shapes ", ba, " and ", bb,
               ")");
    out[i] = ea == 1 ? eb : ea;
  }
  return out;
}

/// A batch of matrices read through a contiguous row-major copy (no copy when the tensor
/// is contiguous already). Broadcast (expanded) inputs are materialised.
template <class T>
class Matrices {
 public:
  explicit Matrices(const Tensor<T>& t)
      : t_(t.contiguous()),
        rows_(t.size(-2)),
        cols_(t.size(-1)),
        count_(numel_of(batch_of(t.shape()))) {}
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t count() const { return count_; }
  Eigen::Map<const RowMat<T>> operator[](int64_t i) const {
    return {t_.data() + i * rows_ * cols_, rows_, cols_};
  }

 private:
  Tensor<T> t_;
  int64_t rows_, cols_, count_;
};

/// A new contiguous output tensor whose last two dims are matrices, written through maps.
template <class T>
class MatricesOut {
 public:
  explicit MatricesOut(const Shape& shape)
      : t_(shape), rows_(shape[shape.size() - 2]), cols_(shape[shape.size() - 1]) {}
  Eigen::Map<RowMat<T>> operator[](int64_t i) const {
    return {t_.data() + i * rows_ * cols_, rows_, cols_};
  }
  const Tensor<T>& tensor() const { return t_; }

 private:
  Tensor<T> t_;
  int64_t rows_, cols_;
};

/// Sets every matrix to the (rectangular) identity: torch's convention for the orthogonal
/// factors of empty matrices.
template <class T>
void fill_identity(const MatricesOut<T>& out, int64_t count, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < count; ++i) out[i] = RowMat<T>::Identity(rows, cols);
}

/// Runs f(i) for every i in [0, count), spread over kiln's threads when the batch is large
/// enough for it to pay. `flops` is a rough cost of one item. f must not throw: failures
/// are recorded in a Failures and thrown after the loop.
template <class F>
void for_each_matrix(int64_t count, int64_t flops, F&& f) {
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(flops, 1));
  parallel_for(count, grain, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) f(i);
  });
}
/// A cost estimate of an O(n^3) factorisation of an m x n matrix.
inline int64_t cubic_cost(int64_t m, int64_t n) {
  return m * n * std::max<int64_t>(std::min(m, n), 1);
}

/// Per-batch-element failure codes (0 = fine), so the reported element is the lowest
/// failing index whatever the thread count.
class Failures {
 public:
  explicit Failures(int64_t count) : code_(static_cast<std::size_t>(count), 0) {}
  void set(int64_t i, int64_t code) { code_[static_cast<std::size_t>(i)] = code; }
  /// The lowest failing index, or -1.
  int64_t first() const {
    for (std::size_t i = 0; i < code_.size(); ++i)
      if (code_[i] != 0) return static_cast<int64_t>(i);
    return -1;
  }
  int64_t code(int64_t i) const { return code_[static_cast<std::size_t>(i)]; }

 private:
  std::vector<int64_t> code_;
};

/// "(batch element 3) " when the input is batched, else "".
inline std::string batch_note(const Shape& batch, int64_t i) {
  return batch.empty() ? std::string() : ::kiln::detail::str_cat("(batch element ", i, ") ");
}

// Note [Singular pivots]
// LU with partial pivoting of a singular matrix rarely meets an exact zero pivot: rounding
// leaves a pivot of the order of eps times the matrix's scale, and solving with it returns
// garbage of size 1/eps. A pivot |u_jj| <= n * eps * max|a_ij| is therefore treated as zero
// and solve/inv throw LinAlgError. The test is scale-invariant (A and 1e-30 A agree); a
// matrix that passes has a condition number below roughly 1/(n eps). A NaN pivot is not
// singular: NaN and inf inputs give NaN results, as in torch.

/// Index of the first pivot of an LU factor that counts as zero, or -1.
template <class T, class LU>
int64_t singular_pivot(const LU& lu, T scale) {
  // inf or NaN entries: no meaningful scale; they propagate into the result as in torch.
  if (!std::isfinite(scale)) return -1;
  const auto& f = lu.matrixLU();
  const T tol = static_cast<T>(f.rows()) * std::numeric_limits<T>::epsilon() * scale;
  for (Eigen::Index j = 0; j < f.rows(); ++j)
    if (std::abs(f(j, j)) <= tol) return j;
  return -1;
}

/// max |a_ij| (0 for an empty matrix).
template <class Derived>
auto max_abs(const Eigen::MatrixBase<Derived>& a) {
  using T = typename Derived::Scalar;
  return a.size() == 0 ? T(0) : a.cwiseAbs().maxCoeff();
}

// ---- internals shared between files ----------------------------------------------------------
/// X with A X = B for matrix-shaped B [..., n, k]; errors name `op`.
template <class T>
Tensor<T> solve_matrices(const Tensor<T>& A, const Tensor<T>& B, const char* op);
/// inv(A) with errors naming `op`.
template <class T>
Tensor<T> inv_impl(const Tensor<T>& A, const char* op);
/// a @ b for two batches of the same batch shape (no broadcasting).
template <class T>
Tensor<T> batched_matmul(const Tensor<T>& a, const Tensor<T>& b);

// The computations behind the public functions, which record them for autograd
// (src/linalg_autograd.cpp). Called with grad mode off; each is the function of that name.
template <class T>
Tensor<T> solve_impl(const Tensor<T>& A, const Tensor<T>& B);
template <class T>
Tensor<T> det_impl(const Tensor<T>& A);
template <class T>
SlogdetResult<T> slogdet_impl(const Tensor<T>& A);
template <class T>
Tensor<T> matrix_power_impl(const Tensor<T>& A, int64_t n);
template <class T>
Tensor<T> cholesky_impl(const Tensor<T>& A, bool upper);
template <class T>
QRResult<T> qr_impl(const Tensor<T>& A, std::string_view mode);
template <class T>
SVDResult<T> svd_impl(const Tensor<T>& A, bool full_matrices);
template <class T>
Tensor<T> svdvals_impl(const Tensor<T>& A);
template <class T>
EighResult<T> eigh_impl(const Tensor<T>& A, char uplo);
template <class T>
Tensor<T> eigvalsh_impl(const Tensor<T>& A, char uplo);
template <class T>
LstsqResult<T> lstsq_impl(const Tensor<T>& A, const Tensor<T>& B, std::optional<double> rcond);

}  // namespace kiln::linalg::detail
