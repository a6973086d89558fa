// SPDX-License-Identifier: BSD-3-Clause
// The public kiln::linalg solvers and decompositions, and their autograd records: each
// computes its result with grad mode off through the Eigen code of the other linalg_*.cpp
// files, then records one node when an input requires grad (Note [Linalg autograd]).
#include <algorithm>
#include <initializer_list>
#include <string_view>

#include "kiln/expr/ops.hpp"
#include "kiln/ops/matmul.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/tensor/factories.hpp"
#include "linalg_common.hpp"

// Note [Linalg autograd]
// The backward closures are written with kiln's differentiable ops and with the linalg
// functions themselves (solve, inv), so under create_graph they record a graph in turn,
// and saved outputs re-attach to their node (Note [Recording an op]): the second
// derivatives of solve, inv, det, slogdet, cholesky, matrix_power, qr, eigh, eigvalsh,
// svd and svdvals come out of the same formulas (those of Note [Linalg backward], and
// torch's for matrix_power, qr, eigh and svd). When only a first derivative is asked for,
// det, slogdet and cholesky use the Eigen kernels of src/linalg_backward.cpp instead
// (det's also covers singular matrices, where A^-T does not exist).
//
// Gradients the engine fills with zeros (an output the loss does not use) stand for
// "undefined" in torch's formulas: eigh and svd skip the eigenvector / singular vector
// terms when those gradients are all zero, so a loss of the eigenvalues alone stays
// finite for repeated eigenvalues.

namespace kiln::linalg {
namespace detail {
namespace {

using Grads = std::vector<AnyTensor>;

template <class T>
Tensor<T> mT(const Tensor<T>& x) {
  return x.transpose(-2, -1);
}

/// a @ b with batch dims broadcast; differentiable when an operand requires grad.
template <class T>
Tensor<T> mm(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> r = kiln::matmul(a, b);
  if (r.requires_grad() || !autograd::needs_grad(a, b)) return r;
  // kiln::matmul did not record a node: the product as a broadcast multiply summed over
  // k, which records fused nodes. Only reached under create_graph (or a differentiable
  // backward) while matmul has no backward of its own.
  return kiln::sum(a.unsqueeze(-1) * b.unsqueeze(-3), Dims{-2});
}

/// A constant n x n matrix: 1 where keep(i, j), else 0 (triangles cut by multiplication).
template <class T, class F>
Tensor<T> mask(int64_t n, F keep) {
  Tensor<T> m(Shape{n, n});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) m.data()[i * n + j] = keep(i, j) ? T(1) : T(0);
  return m;
}
template <class T>
Tensor<T> eye_mask(int64_t n) {
  return mask<T>(n, [](int64_t i, int64_t j) { return i == j; });
}

/// tril(M) + tril(M, -1)^T: the lower triangle of M mirrored onto the upper one.
template <class T>
Tensor<T> copy_lower_to_upper(const Tensor<T>& M) {
  const int64_t n = M.size(-1);
  const Tensor<T> lower = mask<T>(n, [](int64_t i, int64_t j) { return j <= i; });
  const Tensor<T> strict = mask<T>(n, [](int64_t i, int64_t j) { return j < i; });
  return M * lower + mT(Tensor<T>(M * strict));
}

/// [...] -> [..., 1, 1], to scale a batch of matrices.
template <class T>
Tensor<T> per_matrix(const Tensor<T>& x) {
  return x.unsqueeze(-1).unsqueeze(-1);
}

/// Whether any element is nonzero (NaN counts): a zero gradient filled in by the engine
/// is treated as absent (Note [Linalg autograd]).
template <class T>
bool any_nonzero(const Tensor<T>& t) {
  AutoGradMode off(false);
  const Tensor<T> c = t.contiguous();
  return std::any_of(c.data(), c.data() + c.numel(), [](T v) { return v != T(0); });
}

/// inv(A) inside a backward, the singular case reported as unsupported double backward.
template <class T>
Tensor<T> inv_in_backward(const Tensor<T>& A, const char* node) {
  try {
    return linalg::inv(A);
  } catch (const LinAlgError& e) {
    KILN_CHECK(false, AutogradError, "[", node,
               "] double backward needs the inverse of the input, which is singular: ", e.what());
  }
  return {};
}

/// Calls f(grads, outputs) with the node's outputs saved without a cycle: the
/// several-outputs form of autograd::record_with_output.
template <class T, class F>
struct WithOutputs {
  F f;
  std::vector<autograd::SavedTensor<T, CPU>> ys;
  Grads operator()(Grads& g) {
    std::vector<Tensor<T>> y;
    for (const auto& s : ys) y.push_back(s.unpack());
    return f(g, y);
  }
};
template <class T, class F>
void record_outputs(const char* name, std::initializer_list<Tensor<T>*> outs,
                    std::vector<autograd::Edge> edges, F f) {
  auto it = outs.begin();
  auto node = autograd::record(name, **it, std::move(edges), WithOutputs<T, F>{std::move(f), {}});
  for (++it; it != outs.end(); ++it) autograd::set_history(**it, node);
  auto& closure = static_cast<autograd::FunctionNode<WithOutputs<T, F>>&>(*node).closure();
  for (Tensor<T>* o : outs) closure.ys.push_back(autograd::save_output(*o));
}

/// Records outputs whose backward is not supported: backward throws `message`.
template <class T>
void record_unsupported(const char* name, std::initializer_list<Tensor<T>*> outs,
                        std::vector<autograd::Edge> edges, std::string message) {
  auto it = outs.begin();
  auto node = autograd::record(name, **it, std::move(edges), [name, message](Grads&) -> Grads {
    KILN_CHECK(false, AutogradError, "[", name, "] ", message);
    return {};
  });
  for (++it; it != outs.end(); ++it) autograd::set_history(**it, node);
}

// ---- backward formulas (differentiable) --------------------------------------------------------

/// A^n, from the gradient of B^e (B = A, or inv(A) for n < 0) through the repeated
/// squaring of the forward: O(log |n|) products.
template <class T>
Tensor<T> matrix_power_backward(const Tensor<T>& G, const Tensor<T>& A, int64_t n) {
  if (n == 0) return zeros<T, CPU>(A.shape());
  const Tensor<T> B = n > 0 ? A : linalg::inv(A);
  // The forward again: base[j] = B^(2^j); result = result @ base[j] for each set bit j,
  // `before` holding the result each such product starts from (undefined: the identity).
  const uint64_t e0 = n < 0 ? uint64_t{0} - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  std::vector<Tensor<T>> base{B}, before;
  std::vector<std::size_t> bits;
  Tensor<T> result;
  std::size_t j = 0;
  for (uint64_t e = e0; e > 0; e >>= 1, ++j) {
    if (j > 0) base.push_back(mm(base[j - 1], base[j - 1]));
    if (e & 1u) {
      bits.push_back(j);
      before.push_back(result);
      result = result.defined() ? mm(result, base[j]) : base[j];
    }
  }
  // Reverse: gradients of the products, then of the squarings.
  auto add = [](Tensor<T>& acc, const Tensor<T>& t) {
    acc = acc.defined() ? Tensor<T>(acc + t) : t;
  };
  std::vector<Tensor<T>> gbase(base.size());
  Tensor<T> gr = G;
  for (std::size_t s = bits.size(); s-- > 0;) {
    const Tensor<T>& rb = before[s];
    add(gbase[bits[s]], rb.defined() ? mm(mT(rb), gr) : gr);
    if (rb.defined()) gr = mm(gr, mT(base[bits[s]]));
  }
  for (std::size_t k = base.size(); k-- > 1;) {
    if (!gbase[k].defined()) continue;
    add(gbase[k - 1], mm(gbase[k], mT(base[k - 1])));
    add(gbase[k - 1], mm(mT(base[k - 1]), gbase[k]));
  }
  if (n > 0) return gbase[0];
  const Tensor<T> Bt = mT(B);  // d inv(A) = -B dA B
  return -mm(mm(Bt, gbase[0]), Bt);
}

/// QR of a matrix with at least as many rows as columns (R square): Walter and Lehmann's
/// gA = (gQ + Q copyltu(M)) R^-T with M = R gR^T - gQ^T Q.
template <class T>
Tensor<T> qr_backward_tall(const Tensor<T>& gQ, const Tensor<T>& gR, const Tensor<T>& Q,
                           const Tensor<T>& R) {
  const Tensor<T> M = mm(R, mT(gR)) - mm(mT(gQ), Q);
  const Tensor<T> b = gQ + mm(Q, copy_lower_to_upper(M));
  return mT(linalg::solve(R, mT(b)));  // b R^-T
}

/// QR of A [..., m, n] (reduced, or complete with m <= n). For m < n, A = [X | Y] with
/// X = Q U square and Y = Q V: X's gradient is the square case's with gQ + Y gV^T, Y's Q gV.
template <class T>
Tensor<T> qr_backward(const Tensor<T>& gQ, const Tensor<T>& gR, const Tensor<T>& Q,
                      const Tensor<T>& R, const Shape& a_shape) {
  const int64_t m = Q.size(-2), n = R.size(-1);
  if (m >= n) return qr_backward_tall(gQ, gR, Q, R);
  const Tensor<T> U = R.narrow(-1, 0, m), V = R.narrow(-1, m, n - m);
  const Tensor<T> gU = gR.narrow(-1, 0, m), gV = gR.narrow(-1, m, n - m);
  const Tensor<T> Y = mm(Q, V);
  const Tensor<T> gX = qr_backward_tall(Tensor<T>(gQ + mm(Y, mT(gV))), gU, Q, U);
  const Tensor<T> gY = mm(Q, gV);
  return autograd::embed(gX, a_shape, [m](const Tensor<T>& z) { return z.narrow(-1, 0, m); }) +
         autograd::embed(gY, a_shape,
                         [m, n](const Tensor<T>& z) { return z.narrow(-1, m, n - m); });
}

/// eigh: gA = V (diag(gL) + F o skew(V^T gV)) V^T with F_ij = 1 / (l_j - l_i) off the
/// diagonal, skew(W) = (W - W^T) / 2. V^T dV is skew-symmetric, so only that part of V^T gV
/// counts; taking it (as torch does) makes gA symmetric.
template <class T>
Tensor<T> eigh_backward(const Tensor<T>& gL, const Tensor<T>& gV, const Tensor<T>& L,
                        const Tensor<T>& V) {
  const int64_t n = L.size(-1);
  const Tensor<T> I = eye_mask<T>(n);
  Tensor<T> inner = gL.unsqueeze(-2) * I;  // diag(gL)
  if (any_nonzero(gV)) {
    const Tensor<T> off = mask<T>(n, [](int64_t i, int64_t j) { return i != j; });
    // l_j - l_i, with 1 on the diagonal (any nonzero: it divides a zero there).
    const Tensor<T> E = L.unsqueeze(-2) - L.unsqueeze(-1) + I;
    const Tensor<T> W = mm(mT(V), gV);
    inner = inner + (W - mT(W)) * T(0.5) * off / E;
  }
  return mm(mm(V, inner), mT(V));
}

/// svd with k = min(m, n) singular vectors (torch's svd_backward, real case):
/// gA = U [(skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS)] V^T
///      + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T),   E_ij = s_j^2 - s_i^2.
template <class T>
Tensor<T> svd_backward(const Tensor<T>& gU, const Tensor<T>& gS, const Tensor<T>& gVh,
                       const Tensor<T>& U, const Tensor<T>& S, const Tensor<T>& Vh) {
  const int64_t m = U.size(-2), n = Vh.size(-1), k = S.size(-1);
  const Tensor<T> V = mT(Vh);
  const bool has_u = any_nonzero(gU), has_v = any_nonzero(gVh);
  const Tensor<T> I = eye_mask<T>(k);
  Tensor<T> inner = gS.unsqueeze(-2) * I;  // diag(gS)
  if (!has_u && !has_v) return mm(mm(U, inner), Vh);
  const Tensor<T> gV = mT(gVh);
  const Tensor<T> S2 = S * S;
  const Tensor<T> E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + I;
  if (has_u) {
    const Tensor<T> UhgU = mm(mT(U), gU);
    inner = inner + (UhgU - mT(UhgU)) * S.unsqueeze(-2) / E;
  }
  if (has_v) {
    const Tensor<T> VhgV = mm(Vh, gV);
    inner = inner + S.unsqueeze(-1) * (VhgV - mT(VhgV)) / E;
  }
  if (m > n && has_u) {  // gA = [U inner + (I - U U^T) gU S^-1] V^T
    const Tensor<T> gUSinv = gU / S.unsqueeze(-2);
    const Tensor<T> left = mm(U, inner) + gUSinv - mm(U, mm(mT(U), gUSinv));
    return mm(left, Vh);
  }
  if (m < n && has_v) {  // gA = U [inner V^T + S^-1 gV^T (I - V V^T)]
    const Tensor<T> SinvgVh = mT(gV) / S.unsqueeze(-1);
    const Tensor<T> right = mm(inner, Vh) + SinvgVh - mm(mm(SinvgVh, V), Vh);
    return mm(U, right);
  }
  return mm(mm(U, inner), Vh);
}

}  // namespace

}  // namespace detail

using detail::Grads;
using detail::mm;
using detail::mT;

// ---- solvers and inverses --------------------------------------------------------------------

template <class T>
Tensor<detail::linalg_t<T>> solve(const Tensor<T>& A, const Tensor<T>& B) {
  Tensor<T> X;
  {
    AutoGradMode off(false);
    X = detail::solve_impl(A, B);
  }
  if (autograd::needs_grad(A, B))
    autograd::record_with_output(
        "LinalgSolveBackward", X, autograd::collect_edges(A, B),
        [sa = autograd::save(A), a_shape = A.shape(), b_shape = B.shape(),
         vector = detail::is_vector_rhs(A.shape(), B.shape()), need_a = A.requires_grad(),
         need_b = B.requires_grad()](Grads& g, const Tensor<T>& x) {
          // gB = A^-T G; gA = -gB X^T, each summed over the batch dims it was broadcast to.
          const Tensor<T>& G = g[0].as<T, CPU>();
          const Tensor<T> gB2 = solve(mT(sa.unpack()), vector ? G.unsqueeze(-1) : G);
          Tensor<T> gA, gB;
          if (need_a)
            gA = autograd::sum_to(Tensor<T>(-mm(gB2, mT(vector ? x.unsqueeze(-1) : x))), a_shape);
          if (need_b) gB = autograd::sum_to(vector ? gB2.squeeze(-1) : gB2, b_shape);
          return autograd::grads(gA, gB);
        });
  return X;
}

template <class T>
Tensor<detail::linalg_t<T>> inv(const Tensor<T>& A) {
  Tensor<T> Y;
  {
    AutoGradMode off(false);
    Y = detail::inv_impl(A, "linalg.inv");
  }
  if (autograd::needs_grad(A))
    autograd::record_with_output(
        "LinalgInvBackward", Y, autograd::collect_edges(A), [](Grads& g, const Tensor<T>& y) {
          const Tensor<T> Yt = mT(y);  // gA = -Y^T G Y^T
          return autograd::grads(Tensor<T>(-mm(mm(Yt, g[0].as<T, CPU>()), Yt)));
        });
  return Y;
}

template <class T>
Tensor<detail::linalg_t<T>> det(const Tensor<T>& A) {
  Tensor<T> d;
  {
    AutoGradMode off(false);
    d = detail::det_impl(A);
  }
  if (autograd::needs_grad(A))
    autograd::record_with_output(
        "LinalgDetBackward", d, autograd::collect_edges(A),
        [sa = autograd::save(A)](Grads& g, const Tensor<T>& y) {
          const Tensor<T>& gd = g[0].as<T, CPU>();
          const Tensor<T> a = sa.unpack();
          if (!autograd::GradMode::is_enabled())
            return autograd::grads(detail::det_backward(gd, a, y));
          // g d A^-T through the differentiable inv (A must be invertible).
          return autograd::grads(Tensor<T>(detail::per_matrix(Tensor<T>(gd * y)) *
                                           mT(detail::inv_in_backward(a, "LinalgDetBackward"))));
        });
  return d;
}

template <class T>
SlogdetResult<detail::linalg_t<T>> slogdet(const Tensor<T>& A) {
  SlogdetResult<T> r;
  {
    AutoGradMode off(false);
    r = detail::slogdet_impl(A);
  }
  // sign is piecewise constant: only logabsdet is differentiable.
  if (autograd::needs_grad(A))
    autograd::record(
        "LinalgSlogdetBackward", r.logabsdet, autograd::collect_edges(A),
        [sa = autograd::save(A)](Grads& g) {
          const Tensor<T>& gl = g[0].as<T, CPU>();
          const Tensor<T> a = sa.unpack();
          if (!autograd::GradMode::is_enabled())
            return autograd::grads(detail::slogdet_backward(gl, a));
          return autograd::grads(Tensor<T>(
              detail::per_matrix(gl) * mT(detail::inv_in_backward(a, "LinalgSlogdetBackward"))));
        });
  return r;
}

template <class T>
Tensor<detail::linalg_t<T>> matrix_power(const Tensor<T>& A, int64_t n) {
  Tensor<T> P;
  {
    AutoGradMode off(false);
    P = detail::matrix_power_impl(A, n);
  }
  if (autograd::needs_grad(A))
    autograd::record(
        "LinalgMatrixPowerBackward", P, autograd::collect_edges(A),
        [sa = autograd::save(A), n](Grads& g) {
          return autograd::grads(detail::matrix_power_backward(g[0].as<T, CPU>(), sa.unpack(), n));
        });
  return P;
}

// ---- decompositions -----------------------------------------------------------------------------

template <class T>
Tensor<detail::linalg_t<T>> cholesky(const Tensor<T>& A, bool upper) {
  Tensor<T> F;
  {
    AutoGradMode off(false);
    F = detail::cholesky_impl(A, upper);
  }
  if (autograd::needs_grad(A))
    autograd::record_with_output("LinalgCholeskyBackward", F, autograd::collect_edges(A),
                                 [upper](Grads& g, const Tensor<T>& y) {
                                   const Tensor<T>& G = g[0].as<T, CPU>();
                                   if (!autograd::GradMode::is_enabled())
                                     return autograd::grads(detail::cholesky_backward(G, y, upper));
                                   // L^-T Phi(L^T G) L^-1, Phi(M) = (tril(M) + tril(M, -1)^T) / 2;
                                   // U = L^T.
                                   const Tensor<T> L = upper ? mT(y) : y, GL = upper ? mT(G) : G;
                                   const Tensor<T> phi =
                                       detail::copy_lower_to_upper(mm(mT(L), GL)) * T(0.5);
                                   const Tensor<T> Linv = inv(L);
                                   return autograd::grads(mm(mm(mT(Linv), phi), Linv));
                                 });
  return F;
}

template <class T>
QRResult<detail::linalg_t<T>> qr(const Tensor<T>& A, std::string_view mode) {
  QRResult<T> r;
  {
    AutoGradMode off(false);
    r = detail::qr_impl(A, mode);
  }
  if (!autograd::needs_grad(A)) return r;
  const int64_t m = A.size(-2), n = A.size(-1);
  if (mode == "r") {
    detail::record_unsupported<T>("LinalgQrBackward", {&r.R}, autograd::collect_edges(A),
                                  "the derivative of linalg.qr depends on Q, which is not "
                                  "computed when mode='r'; use mode='reduced'");
  } else if (mode == "complete" && m > n) {
    detail::record_unsupported<T>("LinalgQrBackward", {&r.Q, &r.R}, autograd::collect_edges(A),
                                  "the QR decomposition is not differentiable when "
                                  "mode='complete' and nrows > ncols");
  } else {
    detail::record_outputs<T>("LinalgQrBackward", {&r.Q, &r.R}, autograd::collect_edges(A),
                              [a_shape = A.shape()](Grads& g, const std::vector<Tensor<T>>& y) {
                                return autograd::grads(detail::qr_backward(
                                    g[0].as<T, CPU>(), g[1].as<T, CPU>(), y[0], y[1], a_shape));
                              });
  }
  return r;
}

template <class T>
SVDResult<detail::linalg_t<T>> svd(const Tensor<T>& A, bool full_matrices) {
  SVDResult<T> r;
  {
    AutoGradMode off(false);
    r = detail::svd_impl(A, full_matrices);
  }
  if (autograd::needs_grad(A))
    detail::record_outputs<T>(
        "LinalgSvdBackward", {&r.U, &r.S, &r.Vh}, autograd::collect_edges(A),
        [](Grads& g, const std::vector<Tensor<T>>& y) {
          // With full_matrices the columns of U (rows of Vh) past k are not unique: as in
          // torch, only the first k may carry a gradient.
          const int64_t k = y[1].size(-1);
          Tensor<T> gU = g[0].as<T, CPU>(), gVh = g[2].as<T, CPU>(), U = y[0], Vh = y[2];
          if (U.size(-1) > k) {
            KILN_CHECK(!detail::any_nonzero(gU.narrow(-1, k, U.size(-1) - k)), AutogradError,
                       "[LinalgSvdBackward] the singular vectors of U past min(m, n) = ", k,
                       " are not unique, so the loss must not depend on them; use "
                       "full_matrices=false");
            gU = gU.narrow(-1, 0, k);
            U = U.narrow(-1, 0, k);
          }
          if (Vh.size(-2) > k) {
            KILN_CHECK(!detail::any_nonzero(gVh.narrow(-2, k, Vh.size(-2) - k)), AutogradError,
                       "[LinalgSvdBackward] the rows of Vh past min(m, n) = ", k,
                       " are not unique, so the loss must not depend on them; use "
                       "full_matrices=false");
            gVh = gVh.narrow(-2, 0, k);
            Vh = Vh.narrow(-2, 0, k);
          }
          return autograd::grads(detail::svd_backward(gU, g[1].as<T, CPU>(), gVh, U, y[1], Vh));
        });
  return r;
}

template <class T>
Tensor<detail::linalg_t<T>> svdvals(const Tensor<T>& A) {
  // With a gradient: the singular values of svd's node, so every order comes from its
  // backward (which skips the singular vector terms: their gradients are zero).
  if (autograd::needs_grad(A)) return svd(A, /*full_matrices=*/false).S;
  AutoGradMode off(false);
  return detail::svdvals_impl(A);
}

template <class T>
EighResult<detail::linalg_t<T>> eigh(const Tensor<T>& A, char uplo) {
  EighResult<T> r;
  {
    AutoGradMode off(false);
    r = detail::eigh_impl(A, uplo);
  }
  if (autograd::needs_grad(A))
    detail::record_outputs<T>("LinalgEighBackward", {&r.eigenvalues, &r.eigenvectors},
                              autograd::collect_edges(A),
                              [](Grads& g, const std::vector<Tensor<T>>& y) {
                                return autograd::grads(detail::eigh_backward(
                                    g[0].as<T, CPU>(), g[1].as<T, CPU>(), y[0], y[1]));
                              });
  return r;
}

template <class T>
Tensor<detail::linalg_t<T>> eigvalsh(const Tensor<T>& A, char uplo) {
  // The gradient needs the eigenvectors: eigh's node gives every order.
  if (autograd::needs_grad(A)) return eigh(A, uplo).eigenvalues;
  AutoGradMode off(false);
  return detail::eigvalsh_impl(A, uplo);
}

template <class T>
LstsqResult<detail::linalg_t<T>> lstsq(const Tensor<T>& A, const Tensor<T>& B,
                                       std::optional<double> rcond) {
  // Not differentiable (yet): the results do not require grad.
  AutoGradMode off(false);
  return detail::lstsq_impl(A, B, rcond);
}

#define KILN_LINALG_PUBLIC(T)                                      \
  template Tensor<T> solve<T>(const Tensor<T>&, const Tensor<T>&); \
  template Tensor<T> inv<T>(const Tensor<T>&);                     \
  template Tensor<T> det<T>(const Tensor<T>&);                     \
  template SlogdetResult<T> slogdet<T>(const Tensor<T>&);          \
  template Tensor<T> matrix_power<T>(const Tensor<T>&, int64_t);   \
  template Tensor<T> cholesky<T>(const Tensor<T>&, bool);          \
  template QRResult<T> qr<T>(const Tensor<T>&, std::string_view);  \
  template SVDResult<T> svd<T>(const Tensor<T>&, bool);            \
  template Tensor<T> svdvals<T>(const Tensor<T>&);                 \
  template EighResult<T> eigh<T>(const Tensor<T>&, char);          \
  template Tensor<T> eigvalsh<T>(const Tensor<T>&, char);          \
  template LstsqResult<T> lstsq<T>(const Tensor<T>&, const Tensor<T>&, std::optional<double>);
KILN_LINALG_PUBLIC(float)
KILN_LINALG_PUBLIC(double)
#undef KILN_LINALG_PUBLIC

}  // namespace kiln::linalg
